// The kernel fast path's classification, frame by frame (src/bpf/an_fastpath.bpf.c):
// the kernel datapath in one namespace (access and uplink), the MN and HA ends in
// another. What goes fast arrives encapsulated (or stripped) with the inner IPv6
// packet byte for byte and never reaches the daemon's sockets; what the engine must
// see (ND, extension headers, unbound MACs, oversize, a wrong HA, fragments) takes
// the slow path. Unbind stops it at once.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ETH_IPV4, ETH_IPV6, ethernet, fromHex, ipv4, ipv6, mac, toHex } from "./frames.ts";
import type { Agent, AgentEvent } from "./netns-lab.ts";
import { Lab, labGate, repoRoot, sleep } from "./netns-lab.ts";

const gate = labGate();
const OBJECT = join(repoRoot, "dist/an_fastpath.bpf.o");
const MN = "02:00:00:00:77:01";
const OTHER = "02:00:00:00:77:02";
const COA = "10.99.0.2";
const HA = "10.99.0.1";
const ip4 = (a: string): number => a.split(".").reduce((n, b) => n * 256 + Number(b), 0);

/** An IPv6 packet with next header `nh` and (for ICMPv6) a first payload byte `type`. */
function withNext(nh: number, type: number, payloadLength = 24): Uint8Array {
  const p = ipv6(0x5a5a0000, payloadLength);
  p[6] = nh;
  p[40] = type;
  return p;
}

describe.skipIf(!gate.run)("kernel fast path (tc-BPF) classification", () => {
  const lab = new Lab();
  let an: Agent;
  let peer: Agent;
  let acc = "";
  let up = "";
  let accMac: Uint8Array = new Uint8Array(6);
  let upMac: Uint8Array = new Uint8Array(6);
  let mnTx = 0;
  let mnRx = 0;
  let haTx = 0;
  let haRx = 0;
  let haMac = "";

  const fpEvents = (kind: string): AgentEvent[] => an.events.filter((e) => e.event === kind);
  const fpHex = (kind: string): string[] => fpEvents(kind).map((e) => (e as unknown as { hex: string }).hex);

  beforeAll(async () => {
    if (!existsSync(OBJECT)) throw new Error(`${OBJECT} missing: npm run build:bpf`);
    const nsAn = lab.namespace();
    const nsPeer = lab.namespace();
    const a = lab.veth(nsAn, nsPeer);
    const u = lab.veth(nsAn, nsPeer);
    acc = a.a;
    up = u.a;
    lab.ip(nsPeer, "link", "set", a.b, "address", MN);
    lab.ip(nsAn, "addr", "add", `${COA}/24`, "dev", up);
    lab.ip(nsPeer, "addr", "add", `${HA}/24`, "dev", u.b);
    // The tunnel MTU: 1300 on the uplink, so 1281+ bytes of IPv6 (plus 20) are oversize.
    lab.ip(nsAn, "link", "set", up, "mtu", "1300");
    an = await lab.agent(nsAn);
    peer = await lab.agent(nsPeer);
    // From the object's bytes, as a firmware image embeds it (the lab tests load the file).
    const attached = await an.request<{ attach: string }>("fastpathOpen", { access: acc, uplink: up, objectPath: OBJECT, fromBytes: true });
    expect(["tcx", "tc"]).toContain(attached.attach);
    accMac = fromHex(lab.ip(nsAn, "-br", "link", "show", acc).trim().split(/\s+/)[2]!.replace(/:/g, ""));
    upMac = fromHex(lab.ip(nsAn, "-br", "link", "show", up).trim().split(/\s+/)[2]!.replace(/:/g, ""));
    const open = async (name: string): Promise<{ handle: number; mac: string | null }> =>
      await peer.request<{ handle: number; mac: string | null }>("open", { kind: "access", name, options: { filter: "all" } });
    mnTx = (await open(a.b)).handle;
    mnRx = (await open(a.b)).handle;
    const ha = await open(u.b);
    haTx = ha.handle;
    haMac = ha.mac ?? "";
    haRx = (await open(u.b)).handle;
    await peer.request("receive", { handle: mnRx });
    await peer.request("receive", { handle: haRx });
    await an.request("fastpathBind", { mac: MN, careOf: ip4(COA), homeAgent: ip4(HA), greKey: null, downlinkKey: null });
  }, 60_000);

  afterAll(async () => {
    await an?.request("fastpathClose", {}).catch(() => undefined);
    lab.cleanup();
  });

  /** The protocol-41 payloads that reached the HA end from the CoA. */
  const atHa = (): string[] =>
    peer
      .received(haRx)
      .map((p) => fromHex(p.hex))
      .filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 41 && toHex(f.subarray(26, 30)) === toHex(Uint8Array.of(10, 99, 0, 2)))
      .map((f) => toHex(f.subarray(34)));

  it("uplink: a bound MN's plain IPv6 goes fast (6in4 to the HA, inner byte for byte); ND, extension headers, unbound MACs and oversize go slow", async () => {
    const plain = ipv6(0x11110000, 64);
    const ns = withNext(58, 135);
    const hopByHop = withNext(0, 0);
    const oversize = ipv6(0x22220000, 1290 - 40);
    const fromOther = ipv6(0x33330000, 32);
    const send = (src: string, p: Uint8Array): Promise<unknown> => peer.request("send", { handle: mnTx, hex: toHex(ethernet(accMac, mac(src), ETH_IPV6, p)) });
    await send(MN, plain);
    await send(MN, ns);
    await send(MN, hopByHop);
    await send(MN, oversize);
    await send(OTHER, fromOther);
    await peer.waitUntil(() => atHa().includes(toHex(plain)), "the 6in4 packet at the HA");
    await an.waitUntil(() => fpEvents("fp-frame").length >= 4, "four slow-path frames");
    await sleep(200);
    expect(atHa()).toEqual([toHex(plain)]);
    const slow = fpHex("fp-frame").map((h) => h.slice(28));
    expect(slow).toEqual([toHex(ns), toHex(hopByHop), toHex(oversize), toHex(fromOther)]);
    // The outer header as the userspace datapath writes it: TTL 64, DF clear, id 0, to the HA's MAC.
    const f = fromHex(peer.received(haRx).find((p) => p.hex.endsWith(toHex(plain)))!.hex);
    expect(toHex(f.subarray(0, 6))).toBe(haMac); // the next hop's MAC, from the neighbour table
    expect([f[14], f[18], f[19], f[20], f[21], f[22]]).toEqual([0x45, 0, 0, 0, 0, 64]);
    expect(toHex(f.subarray(6, 12))).toBe(toHex(upMac));
    const stats = await an.request<{ fastPath: { uplinkPackets: number; slow: Record<string, number> } }>("fastpathStats", {});
    expect(stats.fastPath.uplinkPackets).toBe(1);
    expect(stats.fastPath.slow).toMatchObject({ upNd: 1, upOtherSlow: 1, upOversize: 1, upUnbound: 1 });
  });

  it("downlink: 6in4 from the HA to the CoA goes fast (stripped, to the MN's MAC); RA, a wrong HA and fragments do not", async () => {
    const data = ipv6(0x44440000, 48);
    const ra = withNext(58, 134);
    const fromWrongHa = ipv6(0x55550000, 16);
    const fragment = ipv6(0x66660000, 16);
    const tunnel = (src: string, p: Uint8Array, frag = false): Uint8Array => {
      const pkt = ipv4({ src, dst: COA, protocol: 41, payload: p, id: 7 });
      if (frag) {
        pkt[6] = 0x20; // MF
        // header checksum over the changed flags
        pkt[10] = 0;
        pkt[11] = 0;
        let sum = 0;
        for (let i = 0; i < 20; i += 2) sum += (pkt[i]! << 8) | pkt[i + 1]!;
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        pkt[10] = (~sum >> 8) & 0xff;
        pkt[11] = ~sum & 0xff;
      }
      return ethernet(upMac, fromHex("020000000099"), ETH_IPV4, pkt);
    };
    for (const f of [tunnel(HA, data), tunnel(HA, ra), tunnel("10.99.0.3", fromWrongHa), tunnel(HA, fragment, true)]) await peer.request("send", { handle: haTx, hex: toHex(f) });
    const toMn = (): Uint8Array[] => peer.received(mnRx).map((p) => fromHex(p.hex)).filter((f) => f[12] === 0x86 && f[13] === 0xdd);
    await peer.waitUntil(() => toMn().length >= 1, "the stripped packet at the MN");
    await an.waitUntil(() => fpEvents("fp-tunnel").length >= 2, "RA and the wrong-HA packet on the slow path");
    await sleep(200);
    const delivered = toMn();
    expect(delivered.map((f) => toHex(f.subarray(14)))).toEqual([toHex(data)]);
    expect(toHex(delivered[0]!.subarray(0, 6))).toBe(toHex(mac(MN)));
    expect(toHex(delivered[0]!.subarray(6, 12))).toBe(toHex(accMac)); // no RA source learned yet: ours
    expect(fpHex("fp-tunnel")).toEqual([toHex(ra), toHex(fromWrongHa)]);
    const stats = await an.request<{ fastPath: { downlinkPackets: number; slow: Record<string, number> } }>("fastpathStats", {});
    expect(stats.fastPath.downlinkPackets).toBe(1);
    expect(stats.fastPath.slow).toMatchObject({ downNd: 1, downUnbound: 1, downOtherSlow: 1 });
  });

  it("unbind: the next frame of the MN takes the slow path at once", async () => {
    await an.request("fastpathUnbind", { mac: MN });
    const before = atHa().length;
    const frames = fpEvents("fp-frame").length;
    const p = ipv6(0x77770000, 64);
    await peer.request("send", { handle: mnTx, hex: toHex(ethernet(accMac, mac(MN), ETH_IPV6, p)) });
    await an.waitUntil(() => fpEvents("fp-frame").length > frames, "the frame on the slow path");
    await sleep(100);
    expect(fpHex("fp-frame").at(-1)!.slice(28)).toBe(toHex(p));
    expect(atHa().length).toBe(before);
  });
});
