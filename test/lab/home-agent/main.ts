// The lab home agent as a process: `node ha.mjs CONFIG.json` inside the HA's
// network namespace (the lab bundles this file with esbuild; the native addon
// comes from $AN_NATIVE_ADDON). A thin shell around HomeAgent: UDP 434, raw IPv4
// sockets for protocols 41 and 47, and the TUN facing the correspondent.
//
// stdout: one JSON object per line, {"event": <type>, ...fields, "t": <ms since 1970>}:
// "ready" once listening, then every HaEvent (events.ts); "packet" fields become
// hex strings when the config says hexDumps, else are left out; "error" on a
// fatal error (exit 1). stdin (optional): JSON lines {"op": "revoke", "nai": ...},
// {"op": "bindings"} (answers {"event": "bindings", "bindings": [...]}), {"op": "exit"},
// {"op": "frag-needed", "coa": "10.64.0.121", "mtu": 1400} (an ICMPv4 "fragmentation
// needed" about the last tunnel packet from that CoA, as a narrower router would send).
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { nativeAddon } from "../../../src/io/native-addon.ts";
import type { NativeEndpoint } from "../../../src/io/native-addon.ts";
import { TunDevice } from "../../../src/io/tun-device.ts";
import { TunnelSocket } from "../../../src/io/tunnel-socket.ts";
import type { PacketBatch } from "../../../src/io/packet-batch.ts";
import { encodeIcmpv4Error, ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_FRAGMENTATION_NEEDED } from "../../../src/wire/icmpv4.ts";
import { encodeIpv4Header, IPPROTO_ICMP } from "../../../src/wire/ipv4.ts";
import { formatIpv4, parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { ipv4FragmentCount, writeIpv4Fragment } from "../../../src/wire/ipv4-fragment.ts";
import { MIP_UDP_PORT } from "../../../src/wire/mip-types.ts";
import { parseTunnelPacket, tunnelHeaderLength, writeTunnelHeaders } from "../../../src/wire/tunnel.ts";
import { loadHaConfig } from "./config.ts";
import type { HaInput, HaOutput } from "./events.ts";
import { HomeAgent } from "./home-agent.ts";

function line(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields, t: Date.now() })}\n`);
}

function fatal(error: unknown): never {
  line("error", { message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

process.on("uncaughtException", fatal);

const file = process.argv[2];
if (file === undefined) fatal(new Error("usage: ha.mjs CONFIG.json"));
const { config, io } = loadHaConfig(JSON.parse(readFileSync(file, "utf8")) as unknown);
const ha = new HomeAgent(config, { wallOffsetMs: io.clockOffsetMs });
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

const udp = createSocket("udp4");
const tunnels = { 41: TunnelSocket.open(41), 47: TunnelSocket.open(47) };
const tun = TunDevice.open(io.tun);
let ipId = 1;
let timer: NodeJS.Timeout | undefined;
/** The start of the last full-size (>= 1300 bytes) tunnel packet from each CoA: what a "fragmentation needed" quotes. */
const lastFrom = new Map<number, Uint8Array>();
let icmpSocket: NativeEndpoint | undefined;

/**
 * Plays a router inside the tunnel whose next hop is narrower (RFC 1191): ICMPv4
 * 3/4 from the HA's address to the CoA, quoting its last tunnel packet (IPv4
 * header + 48 bytes), next-hop MTU `mtu`.
 */
function sendFragmentationNeeded(coa: number, mtu: number): void {
  const last = lastFrom.get(coa);
  if (last === undefined) return line("dropped", { what: "frag-needed", reason: `no tunnel packet from ${formatIpv4(coa)} yet` });
  icmpSocket ??= nativeAddon().openRawIPv4(IPPROTO_ICMP);
  const out = new Uint8Array(20 + 8 + last.length);
  encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: out.length, identification: ipId, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ICMP, checksum: 0, src: config.address, dst: coa, options: new Uint8Array(0) }, out, 0);
  ipId = (ipId + 1) & 0xffff || 1;
  encodeIcmpv4Error(out, 20, ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_FRAGMENTATION_NEEDED, mtu & 0xffff, last);
  icmpSocket.send(out);
  line("frag-needed-sent", { coa: formatIpv4(coa), mtu, quotedLength: (last[2]! << 8) | last[3]! });
}

// Issue 9: outputs leave in the order HomeAgent gave them. A datagram's send is
// asynchronous (dgram) while a tunnel send is not, so the queue waits for each
// datagram's callback before it carries on: "revocation, then NA" is that on the wire.
const queue: HaOutput[] = [];
let waitingForSend = false;

function pump(): void {
  while (!waitingForSend && queue.length > 0) perform(queue.shift()!);
}

function perform(o: HaOutput): void {
  switch (o.kind) {
    case "send-signalling":
      waitingForSend = true;
      udp.send(o.bytes, o.toPort, formatIpv4(o.to), () => {
        waitingForSend = false;
        pump();
      });
      return;
    case "to-tunnel": {
      const t = o.tunnel;
      const p = { src: config.address, dst: t.careOf, ttl: io.tunnelTtl, dontFragment: false, identification: ipId, gre: t.gre ? { key: t.greKey } : null };
      ipId = (ipId + 1) & 0xffff || 1;
      const hdr = tunnelHeaderLength(p);
      const out = new Uint8Array(hdr + o.packet.length);
      out.set(o.packet, hdr);
      writeTunnelHeaders(out, 0, p, o.packet.length);
      try {
        // The raw socket never fragments (EMSGSIZE above the MTU): the HA does, with the AN's fragmenter.
        const n = ipv4FragmentCount(out, 0, io.tunnelMtu);
        const frag = new Uint8Array(io.tunnelMtu);
        for (let k = 0; k < n; k++) {
          const len = n === 1 ? out.length : writeIpv4Fragment(out, 0, io.tunnelMtu, k, frag, 0);
          tunnels[t.gre ? 47 : 41].send(n === 1 ? out : frag.subarray(0, len));
        }
        if (n > 1) line("tunnel-fragmented", { nai: o.nai, length: out.length, fragments: n });
      } catch (e) {
        line("dropped", { what: "to-tunnel", reason: e instanceof Error ? e.message : String(e), nai: o.nai });
      }
      return;
    }
    case "to-home-link":
      try {
        tun.send(o.packet);
      } catch (e) {
        line("dropped", { what: "to-home-link", reason: e instanceof Error ? e.message : String(e), nai: o.nai });
      }
      return;
    case "event": {
      const { type, ...fields } = o.event;
      if ("packet" in fields) {
        const { packet, ...rest } = fields;
        line(type, io.hexDumps ? { ...rest, hex: hex(packet) } : rest);
      } else line(type, fields);
      return;
    }
  }
}

function handle(input: HaInput): void {
  // Queued ones are copied: packets may be views of a receive batch, which is reused.
  for (const o of ha.handle(Date.now(), input)) {
    if (!waitingForSend && queue.length === 0) perform(o);
    else queue.push(structuredClone(o));
  }
  if (timer) clearTimeout(timer);
  const at = ha.nextDeadline();
  timer = at === undefined ? undefined : setTimeout(() => handle({ kind: "deadline" }), Math.max(0, at - Date.now()));
}

function onTunnelBatch(batch: PacketBatch): void {
  for (let i = 0; i < batch.count; i++) {
    const bytes = batch.packet(i);
    const p = parseTunnelPacket(bytes);
    if (!p.ok) {
      line("dropped", { what: "tunnel-packet", reason: `${p.error.kind}: ${p.error.detail}` });
      continue;
    }
    const v = p.value;
    if (v.dst !== config.address) continue; // another local address's traffic
    if (bytes.length >= 1300) lastFrom.set(v.src, bytes.slice(0, 20 + 48));
    handle({ kind: "tunnel-packet", outerSrc: v.src, gre: v.kind === "gre", greKey: v.key, packet: bytes.subarray(v.innerOffset, v.innerOffset + v.innerLength) });
  }
}

const onIoError = (what: string) => (error: Error, stopped: boolean) => line("io-error", { what, message: error.message, stopped });
tunnels[41].onBatch(onTunnelBatch, onIoError("tunnel-41"));
tunnels[47].onBatch(onTunnelBatch, onIoError("tunnel-47"));
tun.onBatch((batch) => {
  for (let i = 0; i < batch.count; i++) handle({ kind: "from-home-link", packet: batch.packet(i) });
}, onIoError("tun"));

udp.on("message", (msg, rinfo) => {
  const from = parseIpv4(rinfo.address);
  if (from !== null) handle({ kind: "signalling", from, fromPort: rinfo.port, bytes: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength) });
});
udp.on("error", fatal);
udp.bind({ address: formatIpv4(config.address), port: MIP_UDP_PORT }, () => {
  line("ready", { address: formatIpv4(config.address), port: MIP_UDP_PORT, tun: tun.name, pid: process.pid });
});

function stop(): void {
  if (timer) clearTimeout(timer);
  for (const s of [tunnels[41], tunnels[47], tun]) s.close();
  icmpSocket?.close();
  udp.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

createInterface({ input: process.stdin }).on("line", (text) => {
  let cmd: { op?: unknown; nai?: unknown; coa?: unknown; mtu?: unknown };
  try {
    cmd = JSON.parse(text) as { op?: unknown; nai?: unknown; coa?: unknown; mtu?: unknown };
  } catch {
    line("dropped", { what: "command", reason: "not JSON" });
    return;
  }
  if (cmd.op === "revoke" && typeof cmd.nai === "string") handle({ kind: "revoke", nai: cmd.nai });
  else if (cmd.op === "bindings") line("bindings", { bindings: ha.bindingsSnapshot() });
  else if (cmd.op === "frag-needed" && typeof cmd.coa === "string" && typeof cmd.mtu === "number" && parseIpv4(cmd.coa) !== null) sendFragmentationNeeded(parseIpv4(cmd.coa)!, cmd.mtu);
  else if (cmd.op === "exit") stop();
  else line("dropped", { what: "command", reason: `unknown op ${String(cmd.op)}` });
});
