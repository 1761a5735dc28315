// A stand-in AN for checking the lab without the daemon: run in an AN namespace,
// it registers one NAI with the home agent over real UDP 434 from a care-of
// address (the core's own request builder and signer), takes the RA the HA sends
// down the IPv6-in-IPv4 tunnel, optionally hands it to an MN as an Ethernet frame
// on the access link, sends one UDP datagram from a home address to the CN through
// the tunnel and waits for the CN's echo to come back the same way, then
// deregisters. With greKey it does all that in shared-CoA GRE mode. Prints one JSON line per step; exits 1 on a missing step.
//   an-probe '{"ha":..,"coa":..,"nai":..,"spi":..,"keyHex":..,"src":..,"cn":..,"cnPort":..,"accessIf":..}'
import { createSocket } from "node:dgram";
import { AccessLinkSocket } from "../../../src/io/access-link-socket.ts";
import { TunnelSocket } from "../../../src/io/tunnel-socket.ts";
import { registrationRequest, signedRegistrationRequest } from "../../../src/core/signalling-messages.ts";
import { finishChecksum, ipv6PseudoHeaderSum, sumWords } from "../../../src/wire/checksum.ts";
import { encodeEthernet, ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV6 } from "../../../src/wire/ethernet.ts";
import { formatIpv4, parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { IPPROTO_UDP } from "../../../src/wire/ipv4.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH } from "../../../src/wire/ipv6.ts";
import { ALL_NODES_MULTICAST, formatIpv6, parseIpv6, writeIpv6MulticastMac } from "../../../src/wire/ipv6-address.ts";
import { verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { nextIdentification } from "../../../src/wire/mip-identification.ts";
import { parseRegistrationReply } from "../../../src/wire/mip-registration.ts";
import { parseNdPacket } from "../../../src/wire/ndisc.ts";
import { parseTunnelPacket, tunnelHeaderLength, writeTunnelHeaders } from "../../../src/wire/tunnel.ts";

interface ProbeConfig {
  readonly ha: string;
  readonly coa: string;
  readonly nai: string;
  readonly spi: number;
  readonly keyHex: string;
  /** Home address to send from, and the CN's UDP echo. */
  readonly src: string;
  readonly cn: string;
  readonly cnPort: number;
  /** Access interface to hand the RA to the MNs on (optional). */
  readonly accessIf?: string;
  /** Shared-CoA mode: ask for GRE with this key (downlink); send uplink with the HA's key. */
  readonly greKey?: number;
}

const cfg = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const fail = (step: string, why: string): never => {
  out({ step, ok: false, why });
  process.exit(1);
};
const must = <T>(v: T | null, what: string): T => v ?? fail("config", `bad ${what}`);
const ha = must(parseIpv4(cfg.ha), "ha");
const coa = must(parseIpv4(cfg.coa), "coa");
const src = must(parseIpv6(cfg.src), "src");
const cn = must(parseIpv6(cfg.cn), "cn");
const key = { spi: cfg.spi, secret: Uint8Array.from(Buffer.from(cfg.keyHex, "hex")) };
const codec = DEFAULT_MIP_CODEC_OPTIONS;

const greKey = cfg.greKey ?? null;
/** Inner packets from the HA, with the GRE key they came with (null: IPv6-in-IPv4). */
const inner: { readonly bytes: Uint8Array; readonly key: number | null }[] = [];
const waiters = new Set<() => void>();
const tunnels = [TunnelSocket.open(41), TunnelSocket.open(47)] as const;
for (const tunnel of tunnels) {
  tunnel.onBatch(
    (batch) => {
      for (let i = 0; i < batch.count; i++) {
        const bytes = batch.packet(i);
        const p = parseTunnelPacket(bytes);
        if (!p.ok || p.value.dst !== coa || p.value.src !== ha) continue;
        inner.push({ bytes: bytes.slice(p.value.innerOffset, p.value.innerOffset + p.value.innerLength), key: p.value.key });
      }
      for (const w of [...waiters]) w();
    },
    (e) => out({ step: "tunnel", ok: false, why: e.message }),
  );
}

function waitInner(pred: (p: Uint8Array) => boolean, ms: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const check = (): void => {
      const found = inner.find((p) => p.key === greKey && pred(p.bytes));
      if (!found) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found.bytes);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      resolve(undefined);
    }, ms);
    waiters.add(check);
    check();
  });
}

const udp = createSocket("udp4");
const replies: Uint8Array[] = [];
udp.on("message", (m) => replies.push(new Uint8Array(m)));
await new Promise<void>((r) => udp.bind({ address: cfg.coa, port: 434 }, r));

let lastId: bigint | undefined;
async function register(lifetimeS: number, initial: boolean): Promise<Uint8Array> {
  lastId = nextIdentification(Date.now(), 0, lastId);
  const msg = registrationRequest({ nai: cfg.nai, homeAgent: ha, careOf: coa, greKey, lifetimeS, identification: lastId, initial, revocationSupport: true, revocationTimestamp: Math.floor(Date.now() / 1000) });
  replies.length = 0;
  udp.send(signedRegistrationRequest(msg, codec, key), 434, cfg.ha);
  for (let i = 0; i < 60 && replies.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return replies[0] ?? fail(lifetimeS === 0 ? "deregistration" : "registration", "no reply in 3 s");
}

const replyBytes = await register(60, true);
const reply = parseRegistrationReply(replyBytes, codec);
let uplinkKey: number | null = null;
if (!reply.ok) fail("registration", reply.error.detail);
else {
  const m = reply.value.message;
  const k = m.extensions.find((e) => e.kind === "gre-key");
  uplinkKey = k?.kind === "gre-key" ? k.key : null;
  out({ step: "registration", ok: m.code === 0, code: m.code, lifetime: m.lifetime, v6: m.extensions.some((e) => e.kind === "ipv6-hoa"), auth: verifyMnHaAuth(replyBytes, reply.value, key).ok, uplinkKey });
}

const ra = await waitInner((p) => p[6] === 58 && p[40] === 134, 3000);
if (!ra) fail("ra", "no RA through the tunnel in 3 s");
else {
  const nd = parseNdPacket(ra);
  const slla = nd.ok && nd.value.message.kind === "ra" ? nd.value.message.options.find((o) => o.kind === "slla") : undefined;
  const mtu = nd.ok && nd.value.message.kind === "ra" ? nd.value.message.options.find((o) => o.kind === "mtu") : undefined;
  out({ step: "ra", ok: nd.ok, src: nd.ok ? formatIpv6(nd.value.ip.src) : null, mtu: mtu?.kind === "mtu" ? mtu.mtu : null, hex: Buffer.from(ra).toString("hex") });
  if (cfg.accessIf !== undefined && slla?.kind === "slla") {
    // What the AN does (draft 5.2.2): the HA's MAC as the source, the group's MAC as the destination.
    const access = AccessLinkSocket.open(cfg.accessIf, { filter: "all" });
    const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + ra.length);
    const dst = new Uint8Array(6);
    writeIpv6MulticastMac(ALL_NODES_MULTICAST, 0, dst, 0);
    encodeEthernet({ dst, src: slla.address, vlan: null, etherType: ETHERTYPE_IPV6 }, frame, 0);
    frame.set(ra, ETHERNET_HEADER_LENGTH);
    out({ step: "ra-forwarded", ok: access.send(frame) });
    access.close();
  }
}

// One UDP datagram from the home address to the CN's echo, up the tunnel.
const payload = new TextEncoder().encode("lab probe");
const packet = new Uint8Array(IPV6_HEADER_LENGTH + 8 + payload.length);
encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: 8 + payload.length, nextHeader: IPPROTO_UDP, hopLimit: 64, src, dst: cn }, packet, 0);
const u = new DataView(packet.buffer, IPV6_HEADER_LENGTH);
u.setUint16(0, 40000);
u.setUint16(2, cfg.cnPort);
u.setUint16(4, 8 + payload.length);
packet.set(payload, IPV6_HEADER_LENGTH + 8);
const sum = sumWords(packet, IPV6_HEADER_LENGTH, packet.length, ipv6PseudoHeaderSum(src, cn, 8 + payload.length, IPPROTO_UDP));
u.setUint16(6, finishChecksum(sum) || 0xffff);
const params = { src: coa, dst: ha, ttl: 64, dontFragment: false, identification: 7, gre: greKey === null ? null : { key: uplinkKey } };
const hdr = tunnelHeaderLength(params);
const outer = new Uint8Array(hdr + packet.length);
outer.set(packet, hdr);
writeTunnelHeaders(outer, 0, params, packet.length);
tunnels[greKey === null ? 0 : 1].send(outer);
const echo = await waitInner((p) => p[6] === IPPROTO_UDP && formatIpv6(p, 8) === formatIpv6(cn), 3000);
if (!echo) fail("echo", "no echo from the CN through the tunnel in 3 s");
else out({ step: "echo", ok: true, src: formatIpv6(echo, 8), dst: formatIpv6(echo, 24), hopLimit: echo[7], payload: new TextDecoder().decode(echo.subarray(48)) });

const dereg = parseRegistrationReply(await register(0, false), codec);
out({ step: "deregistration", ok: dereg.ok && dereg.value.message.code === 0, coa: formatIpv4(coa) });
for (const tunnel of tunnels) tunnel.close();
udp.close();
process.exit(0);
