// End to end in the lab (issue 5): several MNs at one AN. In pool mode each MN gets
// a care-of address, and so a tunnel, of its own; in shared-CoA mode they share one
// care-of address and the tunnels are told apart by GRE keys (RFC 5845 / RFC 6245).
// AN1 runs in pool mode, AN2 in shared mode, in one topology.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess, MnNode } from "../../lab/topology.ts";
import { netnsUnavailableReason } from "../../support/netns.ts";
import { attach, startAn, udpFrames } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e tunnels: skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("lab end to end: several MNs at one AN", () => {
  let t: Topology;
  let ha: HaProcess;
  let an1: AnProcess;
  let an2: AnProcess;

  beforeAll(async () => {
    t = Topology.create({ label: "labtun", mns: 4 });
    ha = await t.startHomeAgent();
    const daemon = t.buildDaemon();
    [an1, an2] = await Promise.all([startAn(t, 1, daemon), startAn(t, 2, daemon, t.anConfig(2, {}, "shared"))]);
    await t.startEcho(t.cnNs);
    await Promise.all(t.mns.map((mn) => t.startEcho(mn.ns)));
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("pool mode: two MNs at once, each in its own tunnel (its own CoA); each MN's packets reach the HA in its tunnel and each gets only its own replies", async () => {
    const mns = [t.mns[0]!, t.mns[1]!] as const;
    const addresses = await Promise.all(mns.map((mn) => attach(t, mn, 1, an1)));
    expect(addresses).toEqual(mns.map((mn) => mn.homeAddress));
    const accepted = await Promise.all(mns.map((mn) => ha.waitFor("registration-accepted", (e) => e.nai === mn.nai, 5_000)));
    expect(accepted).toMatchObject(mns.map(() => ({ v6: true, greKey: null, binding: "new" })));
    const coas = accepted.map((e) => e.coa);
    expect(new Set(coas).size).toBe(2);
    expect(coas.every((c) => t.an(1).coas.includes(c))).toBe(true);

    const caps = await Promise.all(mns.map((mn) => t.capture(mn.ns, "eth0", "udp")));
    const since = Date.now();
    // Both MNs at the same time, both directions.
    const [up0, up1, down0, down1] = await Promise.all([
      t.ping(mns[0].ns, LAB.cn, { count: 10, intervalMs: 20 }),
      t.ping(mns[1].ns, LAB.cn, { count: 10, intervalMs: 20 }),
      t.ping(t.cnNs, mns[0].homeAddress, { count: 10, intervalMs: 20 }),
      t.ping(t.cnNs, mns[1].homeAddress, { count: 10, intervalMs: 20 }),
    ]);
    for (const s of [up0, up1, down0, down1]) expect(s).toMatchObject({ sent: 10, received: 10, duplicates: 0 });
    const frames = await Promise.all(caps.map((c) => c.stop()));

    mns.forEach((mn, i) => {
      // At the HA: every packet from this MN came through its own tunnel, and every packet for it went down that tunnel.
      const rx = ha.events("tunnel-rx").filter((e) => e.t >= since && e.src === mn.homeAddress);
      expect(rx.length).toBeGreaterThanOrEqual(20); // 10 probes + 10 echo replies
      expect(rx.every((e) => e.nai === mn.nai && e.coa === coas[i] && e.greKey === null)).toBe(true);
      const tx = ha.events("tunnel-tx").filter((e) => e.t >= since && e.dst === mn.homeAddress);
      expect(tx.length).toBeGreaterThanOrEqual(20);
      expect(tx.every((e) => e.nai === mn.nai && e.coa === coas[i])).toBe(true);
      expect(ha.events("tunnel-rx").filter((e) => e.t >= since && e.nai === mn.nai).every((e) => e.coa === coas[i])).toBe(true);
      // At the MN: what the AN delivered to its MAC is its own traffic only, all of it.
      const other = mns[1 - i]!;
      const toMe = udpFrames(frames[i]!).filter((f) => f.ethDst === mn.mac);
      expect(toMe.filter((f) => f.src === LAB.cn && f.dst === mn.homeAddress).length).toBe(20); // 10 echo replies + 10 probes
      expect(toMe.filter((f) => f.dst !== mn.homeAddress)).toEqual([]);
      expect(udpFrames(frames[i]!).filter((f) => f.dst === other.homeAddress && f.ethDst === mn.mac)).toEqual([]);
    });
  });

  it("shared-CoA GRE mode: two MNs behind one CoA, one GRE key each; attach, ping both ways, the HA sees GRE with the negotiated keys", async () => {
    const mns = [t.mns[2]!, t.mns[3]!] as const;
    const shared = t.an(2).coas[0]!;
    const addresses = await Promise.all(mns.map((mn: MnNode) => attach(t, mn, 2, an2)));
    expect(addresses).toEqual(mns.map((mn) => mn.homeAddress));
    const accepted = await Promise.all(mns.map((mn) => ha.waitFor("registration-accepted", (e) => e.nai === mn.nai, 5_000)));
    for (const e of accepted) {
      expect(e).toMatchObject({ coa: shared, v6: true, binding: "new" });
      expect(e.greKey).toBeGreaterThanOrEqual(0x2000); // AN2's key range (anConfig: first 0x1000 * index)
      expect(e.greKey).toBeLessThan(0x2000 + 256);
      expect(e.uplinkKey).not.toBeNull();
    }
    expect(new Set(accepted.map((e) => e.greKey)).size).toBe(2);
    expect(new Set(accepted.map((e) => e.uplinkKey)).size).toBe(2);
    // The AN logged the same keys it asked for.
    for (const mn of mns) {
      const reg = an2.logs.find((l) => l.msg === "registered" && (l.event as { mac?: string }).mac === mn.mac);
      expect(reg?.event).toMatchObject({ careOf: shared, greKey: accepted[mns.indexOf(mn)]!.greKey });
    }
    // The RA's MTU option accounts for GRE with a key: 1500 - 20 - 8.
    expect(ha.events("ra-sent").filter((e) => mns.some((mn) => mn.nai === e.nai)).every((e) => e.mtu === 1472)).toBe(true);
    expect(t.lab.readSysctl(mns[0].ns, "net.ipv6.conf.eth0.mtu")).toBe("1472");

    const since = Date.now();
    const results = await Promise.all([
      ...mns.map((mn) => t.ping(mn.ns, LAB.cn, { count: 5, intervalMs: 20 })),
      ...mns.map((mn) => t.ping(t.cnNs, mn.homeAddress, { count: 5, intervalMs: 20 })),
    ]);
    for (const s of results) expect(s).toMatchObject({ sent: 5, received: 5, duplicates: 0 });
    mns.forEach((mn, i) => {
      const a = accepted[i]!;
      // Uplink: GRE from the shared CoA with the HA's key for this MN; downlink: GRE with the AN's key.
      const rx = ha.events("tunnel-rx").filter((e) => e.t >= since && e.src === mn.homeAddress);
      expect(rx.length).toBeGreaterThanOrEqual(10);
      expect(rx.every((e) => e.coa === shared && e.greKey === a.uplinkKey && e.nai === mn.nai)).toBe(true);
      const tx = ha.events("tunnel-tx").filter((e) => e.t >= since && e.dst === mn.homeAddress);
      expect(tx.length).toBeGreaterThanOrEqual(10);
      expect(tx.every((e) => e.coa === shared && e.greKey === a.greKey)).toBe(true);
    });
  });
});
