// End to end in the lab (issue 5): the AN daemon (bundled from the current source)
// between a real Linux MN and the lab's home agent, the CN behind the HA.
import { readlinkSync, realpathSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ETHERTYPE_IPV6, parseEthernet } from "../../../src/wire/ethernet.ts";
import { IPPROTO_UDP } from "../../../src/wire/ipv4.ts";
import { formatIpv6 } from "../../../src/wire/ipv6-address.ts";
import { daemonOverride, LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess, MnNode } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e: skipped: ${skipReason}`);

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The IPv6 packets of UDP datagrams to `port` in a pcap of Ethernet frames. */
function udpPackets(pcap: Uint8Array, dst: string, port: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of readPcap(pcap).records) {
    const eth = parseEthernet(r.data);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV6) continue;
    const p = r.data.subarray(eth.length);
    if (p[6] !== IPPROTO_UDP || formatIpv6(p, 24) !== dst || ((p[42]! << 8) | p[43]!) !== port) continue;
    out.push(p.slice(0, 40 + ((p[4]! << 8) | p[5]!)));
  }
  return out;
}

describe.skipIf(skipReason !== undefined)("lab end to end: AN daemon, real MN, HA peer, CN", () => {
  let t: Topology;
  let mn: MnNode;
  let ha: HaProcess;
  let an1: AnProcess;

  beforeAll(async () => {
    t = Topology.create({ mns: 3 });
    mn = t.mns[0]!;
    ha = await t.startHomeAgent({ hexDumps: true });
    const daemon = t.buildDaemon();
    an1 = t.startAn(1, t.anConfig(1), { daemon });
    await an1.waitForLog((l) => l.msg === "started", "AN1 started", 15_000);
    await t.startEcho(t.cnNs);
    await t.startEcho(mn.ns);
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("runs the firmware it was given: $AN_DAEMON (CI: the x64 single executable) when set, else node with a bundle", () => {
    const exe = readlinkSync(`/proc/${an1.child.pid}/exe`);
    const override = daemonOverride();
    expect(exe).toBe(realpathSync(override ?? process.execPath));
  });

  it("attach: registered, the MN autoconfigures its home address, pings go both ways; the HA gets the MN's packets byte for byte and the CN one hop less", async () => {
    const atMn = await t.capture(mn.ns, "eth0", "udp");
    const atCn = await t.capture(t.cnNs, "eth0", "udp");
    t.moveMn(mn, 1);
    const address = await t.waitForGlobalAddress(mn, 15_000);
    expect(address).toBe(mn.homeAddress);
    expect(ha.events("registration-accepted")).toMatchObject([{ nai: mn.nai, coa: t.an(1).coas[0], v6: true, binding: "new" }]);

    const up = await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 100 });
    expect(up.received).toBe(3);
    const down = await t.ping(t.cnNs, address, { count: 3, intervalMs: 100 });
    expect(down.received).toBe(3);

    const sent = udpPackets(await atMn.stop(), LAB.cn, LAB.echoPort);
    const atCnPackets = udpPackets(await atCn.stop(), LAB.cn, LAB.echoPort);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    const tunnelled = new Set(ha.events("tunnel-rx").map((e) => e.hex));
    for (const p of sent) {
      expect(tunnelled.has(hex(p)), "the AN changed no bit of the MN's packet").toBe(true);
      const routed = p.slice();
      routed[7] = p[7]! - 1;
      expect(atCnPackets.map(hex)).toContain(hex(routed));
    }
  });

  it("legacy HA: accepted without the IPv6 HoA extension; the AN says why the MN gets no service and takes the binding down", async () => {
    await ha.stop();
    ha = await t.startHomeAgent({ legacy: true });
    const mn2 = t.mns[1]!;
    t.moveMn(mn2, 1);
    const noService = await an1.waitForLog((l) => l.msg === "no-service", "AN1 no-service", 10_000);
    expect(noService.event).toMatchObject({ mac: mn2.mac, nai: mn2.nai, reason: "ha-lacks-v6-over-v4" });
    await ha.waitFor("deregistered", (e) => e.nai === mn2.nai && e.removed);
    expect(ha.events("registration-accepted")).toMatchObject([{ nai: mn2.nai, v6: false }]);
    expect(ha.events("ra-sent")).toEqual([]);
    expect(t.mnAddresses(mn2).filter((a) => a.scope === "global")).toEqual([]);
    t.moveMn(mn2, null);
  });

  it("proxy DAD failure: the HA's NA reaches the MN (its kernel marks the address duplicate), the HA revokes, the AN acknowledges and detaches the MN from the link", async () => {
    const mn3 = t.mns[2]!;
    const lla = mn3.linkLocal;
    await ha.stop();
    ha = await t.startHomeAgent({ usedAddresses: [lla] });
    t.moveMn(mn3, 1);
    expect(t.carrier(mn3)).toBe(true);
    await ha.waitFor("proxy-dad", (e) => e.nai === mn3.nai && e.result === "duplicate");
    const ack = await ha.waitFor("ack-received", (e) => e.nai === mn3.nai, 5_000);
    expect(ha.events("revocation-sent")).toMatchObject([{ nai: mn3.nai, reason: "dad-failure", revocationId: ack.revocationId }]);
    const revoked = await an1.waitForLog((l) => l.msg === "revoked", "AN1 revoked", 5_000);
    expect(revoked.event).toMatchObject({ mac: mn3.mac, dadFailure: true });
    await an1.waitForLog((l) => l.msg === "detach", "AN1 detach", 5_000);
    const dad = await waitFor(() => t.mnAddresses(mn3).find((a) => a.local === lla && a.dadfailed), 5_000, "the MN's kernel to mark its link-local duplicate");
    expect(dad.dadfailed).toBe(true);
    // The detach is carried out (the lab's detach script, stationControl.detachCommand): the MN is off the link.
    const performed = await an1.waitForLog((l) => typeof l.msg === "string" && /^detach (performed|failed|refused)/.test(l.msg), "AN1 detach outcome", 10_000);
    expect(performed).toMatchObject({ msg: "detach performed", mac: mn3.mac, reason: "dad-failure", performed: true, exitCode: 0 });
    await waitFor(() => (t.carrier(mn3) ? undefined : true), 5_000, "the MN's eth0 to lose its carrier", 50);
    const link = t.exec(mn3.ns, "ip", "-o", "link", "show", "dev", "eth0");
    expect(link).toContain("NO-CARRIER");
    expect(link).not.toMatch(/[<,]LOWER_UP[,>]/);
    expect(an1.logs.filter((l) => l.msg === "detach performed")).toHaveLength(1);
  });
});
