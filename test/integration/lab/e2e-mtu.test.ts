// Full-size packets end to end (issue 9 item 5; RFC 4213 3.2): the real Linux MN sends
// 1500-byte IPv6 packets to the CN through a 1500-byte uplink, the HA's RA carrying
// no MTU option. DF clear (AN1, the default): the AN fragments the outer IPv4, a
// capture in the core sees the fragments, tshark reassembles them, replies arrive
// whole. DF set (AN2): the MN gets ICMPv6 Packet Too Big with the tunnel MTU, its
// kernel lowers the route's MTU and the next packets (IPv6-fragmented by the MN) fit.
// AN1 runs 6in4 (pool mode, 20-byte outer header), AN2 GRE with keys (shared CoA, 28 bytes).
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet } from "../../../src/wire/ethernet.ts";
import { parseIpv4Header } from "../../../src/wire/ipv4.ts";
import { formatIpv4 } from "../../../src/wire/ipv4-address.ts";
import { formatIpv6 } from "../../../src/wire/ipv6-address.ts";
import { formatMac } from "../../../src/wire/mac.ts";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess } from "../../lab/topology.ts";
import { netnsUnavailableReason } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";
import { attach, startAn } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e (MTU): skipped: ${skipReason}`);

/** UDP payload that makes the MN's IPv6 packet 1500 bytes: 1500 - 40 (IPv6) - 8 (UDP). */
const FULL_SIZE_PAYLOAD = 1452;

interface OuterIpv4 {
  readonly src: string;
  readonly dst: string;
  readonly id: number;
  readonly df: boolean;
  readonly mf: boolean;
  readonly offset: number;
  readonly length: number;
  readonly protocol: number;
}

function outerPackets(pcap: Uint8Array): OuterIpv4[] {
  const out: OuterIpv4[] = [];
  for (const r of readPcap(pcap).records) {
    const eth = parseEthernet(r.data);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV4) continue;
    const ip = parseIpv4Header(r.data, eth.length);
    if (!ip.ok) continue;
    const h = ip.value;
    out.push({ src: formatIpv4(h.src), dst: formatIpv4(h.dst), id: h.identification, df: h.dontFragment, mf: h.moreFragments, offset: h.fragmentOffset * 8, length: h.totalLength, protocol: h.protocol });
  }
  return out;
}

/** tshark as the independent decoder: reassembles the IPv4 fragments and reads the IPv6/UDP inside. */
function tsharkUdpInTunnel(file: string): { src: string; dst: string; plen: number }[] {
  const text = execFileSync("tshark", ["-r", file, "-o", "ip.defragment:TRUE", "-Y", `udp.port == ${LAB.echoPort}`, "-T", "fields", "-E", "separator=,", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen"], { encoding: "utf8" });
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [src, dst, plen] = l.split(",");
      return { src: src!, dst: dst!, plen: Number(plen) };
    });
}

async function telemetry(an: AnProcess): Promise<Record<string, unknown>> {
  const before = new Set(an.logs.filter((l) => l.msg === "telemetry"));
  an.child.kill("SIGUSR2");
  const line = await an.waitForLog((l) => l.msg === "telemetry" && !before.has(l), "telemetry line", 5_000);
  return (line.telemetry as { datapath: { mtu: Record<string, unknown> } }).datapath.mtu;
}

describe.skipIf(skipReason !== undefined)("lab end to end: 1500-byte IPv6 packets through a 1500-byte uplink, no MTU option in the RA", () => {
  let t: Topology;
  let ha: HaProcess;
  let an1: AnProcess;
  let an2: AnProcess;

  beforeAll(async () => {
    t = Topology.create({ mns: 2, label: "mtu" });
    ha = await t.startHomeAgent({ ra: { mtuOption: false } });
    const daemon = t.buildDaemon();
    an1 = await startAn(t, 1, daemon);
    an2 = await startAn(t, 2, daemon, t.anConfig(2, { tunnel: { dontFragment: true } }, "shared"));
    await t.startEcho(t.cnNs);
  }, 90_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("the lab's links are 1500 bytes and the RA has no MTU option", async () => {
    for (const [ns, dev] of [[t.an(1).ns, "up0"], [t.haNs, "eth0"], [t.haNs, LAB.tun], [t.cnNs, "eth0"]] as const) {
      expect(t.exec(ns, "cat", `/sys/class/net/${dev}/mtu`).trim(), `${ns} ${dev}`).toBe("1500");
    }
  });

  it("DF clear (default): the AN fragments the outer IPv4 packets, tshark reassembles them, the replies reach the MN whole", async () => {
    const mn = t.mns[0]!;
    await attach(t, mn, 1, an1);
    expect(ha.events("ra-sent").filter((e) => e.nai === mn.nai).every((e) => e.mtu === null)).toBe(true);
    expect(t.mnRoutes(mn).find((r) => r.dst === "default")?.mtu).toBeUndefined();
    const core = await t.capture(t.core, "p-an1", "ip proto 41");
    const atMn = await t.capture(mn.ns, "eth0", "udp");
    const r = await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 200, size: FULL_SIZE_PAYLOAD });
    const onWire = outerPackets(await core.stop());
    const mnFrames = readPcap(await atMn.stop()).records;
    expect(r.received).toBe(3);

    const coa = t.an(1).coas[0]!;
    // Uplink: each 1520-byte tunnel packet as a 1500-byte first fragment (MF) and a 40-byte second one, one Identification.
    const up = onWire.filter((p) => p.src === coa && p.dst === LAB.ha);
    const firsts = up.filter((p) => p.mf && p.offset === 0);
    expect(firsts.length).toBeGreaterThanOrEqual(3);
    for (const f of firsts) {
      expect(f.length).toBe(1500);
      expect(f.df).toBe(false);
      const rest = up.filter((p) => p.id === f.id && p.offset > 0);
      expect(rest).toEqual([{ ...f, mf: false, offset: 1480, length: 40 }]);
    }
    expect(up.every((p) => p.length <= 1500 && (p.offset % 8 === 0))).toBe(true);
    // Downlink: the HA fragments too; the AN's kernel reassembles before the raw socket.
    expect(onWire.filter((p) => p.src === LAB.ha && p.dst === coa && p.mf).length).toBeGreaterThanOrEqual(3);
    const decoded = tsharkUdpInTunnel(core.file);
    expect(decoded.filter((d) => d.src === mn.homeAddress && d.dst === LAB.cn && d.plen === 1460).length).toBeGreaterThanOrEqual(3);
    expect(decoded.filter((d) => d.src === LAB.cn && d.dst === mn.homeAddress && d.plen === 1460).length).toBeGreaterThanOrEqual(3);
    // At the MN: the CN's replies as whole 1500-byte IPv6 packets.
    const replies = mnFrames.filter((f) => {
      const eth = parseEthernet(f.data);
      return eth.ok && eth.value.etherType === ETHERTYPE_IPV6 && formatIpv6(f.data, eth.length + 8) === LAB.cn && f.data.length - eth.length === 1500;
    });
    expect(replies.length).toBe(3);

    const m = await telemetry(an1);
    expect(m).toMatchObject({ uplinkMtu: 1500, tooBig: 0, packetTooBigSent: 0 });
    expect(m.fragmented).toBeGreaterThanOrEqual(3);
    expect(m.fragments).toBe(2 * (m.fragmented as number));
    console.log(`MTU e2e, DF clear: ${r.received}/${r.sent} replies; AN1 fragmented ${String(m.fragmented)} packets into ${String(m.fragments)} fragments; tshark reassembled ${decoded.length} 1500-byte packets`);
  });

  it("DF set, GRE with key: the MN receives Packet Too Big (MTU 1500 - 28 = 1472, from the HA's link-local and MAC), its route's MTU drops and its next packets get through", async () => {
    const mn = t.mns[1]!;
    await attach(t, mn, 2, an2);
    const atMn = await t.capture(mn.ns, "eth0", "icmp6");
    const core = await t.capture(t.core, "p-an2", "ip proto 47");
    const r = await t.ping(mn.ns, LAB.cn, { count: 4, intervalMs: 300, size: FULL_SIZE_PAYLOAD });
    const ptbs = readPcap(await atMn.stop())
      .records.map((f) => f.data)
      .filter((d) => d.length > 14 + 48 && d[12] === 0x86 && d[13] === 0xdd && d[14 + 6] === 58 && d[14 + 40] === 2);
    const onWire = outerPackets(await core.stop());

    expect(ptbs.length).toBeGreaterThanOrEqual(1);
    const p = ptbs[0]!;
    expect(formatMac(p, 6)).toBe(LAB.haMac);
    expect(formatMac(p, 0)).toBe(mn.mac);
    expect(formatIpv6(p, 14 + 8)).toBe(LAB.haLinkLocal);
    expect(formatIpv6(p, 14 + 24)).toBe(mn.homeAddress);
    expect(new DataView(p.buffer, p.byteOffset).getUint32(14 + 44)).toBe(1472);
    // The quote is the MN's own packet: its source and destination.
    expect(formatIpv6(p, 14 + 48 + 8)).toBe(mn.homeAddress);
    expect(formatIpv6(p, 14 + 48 + 24)).toBe(LAB.cn);
    // tshark agrees it is a well-formed PTB with a good checksum.
    const tshark = execFileSync("tshark", ["-r", atMn.file, "-Y", "icmpv6.type == 2", "-T", "fields", "-E", "separator=,", "-e", "icmpv6.type", "-e", "icmpv6.mtu", "-e", "icmpv6.checksum.status"], { encoding: "utf8" })
      .trim()
      .split("\n")[0];
    expect(tshark).toBe("2,1472,1");

    const route = t.exec(mn.ns, "ip", "-6", "route", "get", LAB.cn);
    expect(route).toMatch(/\bmtu 1472\b/);
    expect(r.lost).toBeLessThanOrEqual(1);
    expect(r.lostSeqs.every((s) => s === 0)).toBe(true);
    // Nothing left AN2 above 1500 or without DF; the packets after the PTB were IPv6 fragments (next header 44) that fit.
    const coa = t.an(2).coas[0]!;
    const up = onWire.filter((q) => q.src === coa && q.dst === LAB.ha);
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((q) => q.df && !q.mf && q.offset === 0 && q.length <= 1500)).toBe(true);
    // The CN's 1500-byte replies came as GRE fragments from the HA and reached the MN reassembled.
    expect(onWire.filter((q) => q.src === LAB.ha && q.dst === coa && q.mf).length).toBeGreaterThanOrEqual(3);

    const m = await telemetry(an2);
    expect(m.packetTooBigSent).toBeGreaterThanOrEqual(1);
    expect(m.tooBig).toBe(m.packetTooBigSent);
    expect(m.fragmented).toBe(0);
    console.log(`MTU e2e, DF set: ${String(m.packetTooBigSent)} Packet Too Big sent; MN route: ${route.trim()}; ${r.received}/${r.sent} replies (lost: ${r.lostSeqs.join(",") || "none"})`);
  });

  it("DF set: an ICMPv4 'fragmentation needed' (next-hop MTU 1400) from inside the tunnel lowers the path MTU for that HA; the MN's next PTB says 1372 and its packets fit again", async () => {
    const mn = t.mns[1]!;
    const coa = t.an(2).coas[0]!;
    ha.command({ op: "frag-needed", coa, mtu: 1400 });
    const logged = await an2.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("ICMPv4 error 3/4 from 10.64.0.1"), "AN2 logs the ICMPv4 error", 5_000);
    expect(logged).toMatchObject({ pathMtu: 1400 });
    const core = await t.capture(t.core, "p-an2", "ip proto 47");
    const r = await t.ping(mn.ns, LAB.cn, { count: 4, intervalMs: 300, size: FULL_SIZE_PAYLOAD });
    const onWire = outerPackets(await core.stop());
    expect(t.exec(mn.ns, "ip", "-6", "route", "get", LAB.cn)).toMatch(/\bmtu 1372\b/);
    expect(r.lost).toBeLessThanOrEqual(1);
    const up = onWire.filter((q) => q.src === coa && q.dst === LAB.ha);
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((q) => q.df && q.length <= 1400)).toBe(true);
    const m = await telemetry(an2);
    expect(m).toMatchObject({ icmpErrors: 1, icmpFragmentationNeeded: 1, pathMtuLowered: 1, loweredPaths: 1, icmpIgnored: 0 });
    console.log(`MTU e2e, ICMPv4 frag needed 1400: MN route mtu 1372, ${r.received}/${r.sent} replies, largest outer packet ${Math.max(...up.map((q) => q.length))}`);
  });
});

