// End to end in the lab (issue 9, items 3 and 4): the home agent away for 30 s
// under two registered MNs, and an MN whose link goes away on a per-station wired
// access port.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess } from "../../lab/topology.ts";
import { netnsUnavailableReason } from "../../support/netns.ts";
import { anEvents, attach, eventOf, startAn, waitAnEvent } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e outage/leave: skipped: ${skipReason}`);

// 10 s (the schema's minimum): the bindings lapse during the outage, the field case.
const LIFETIME_S = 10;
const OUTAGE_MS = 30_000;

describe.skipIf(skipReason !== undefined)("lab end to end: HA outage and leaving", () => {
  let t: Topology;
  let ha: HaProcess;
  let an1: AnProcess;
  let daemon: string;

  beforeAll(async () => {
    t = Topology.create({ label: "labout", mns: 3 });
    ha = await t.startHomeAgent();
    daemon = t.buildDaemon();
    an1 = await startAn(t, 1, daemon, t.anConfig(1, { registration: { lifetimeS: LIFETIME_S } }));
    await t.startEcho(t.cnNs);
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("HA stopped for 30 s under two registered MNs: both re-register and pass traffic within seconds of its return, with no help from the MNs", async () => {
    const mns = t.mns.slice(0, 2);
    await Promise.all(mns.map((mn) => attach(t, mn, 1, an1)));
    for (const mn of mns) expect(await t.ping(mn.ns, LAB.cn, { count: 2, intervalMs: 50, waitMs: 500 })).toMatchObject({ received: 2 });

    await ha.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    ha = await t.startHomeAgent();
    const backAt = Date.now();

    const figures = await Promise.all(
      mns.map(async (mn) => {
        const accepted = await ha.waitFor("registration-accepted", (e) => e.nai === mn.nai, 20_000);
        let trafficAt: number | undefined;
        for (let i = 0; i < 40 && trafficAt === undefined; i++) {
          if ((await t.ping(mn.ns, LAB.cn, { count: 1, waitMs: 300 })).received === 1) trafficAt = Date.now();
        }
        return { mac: mn.mac, registeredS: (accepted.t - backAt) / 1000, trafficS: trafficAt === undefined ? undefined : (trafficAt - backAt) / 1000 };
      }),
    );
    console.log(`HA outage of ${((backAt - stoppedAt) / 1000).toFixed(1)} s: after its return ${figures.map((f) => `${f.mac} re-registered in ${f.registeredS.toFixed(2)} s, traffic in ${f.trafficS?.toFixed(2) ?? "never"} s`).join("; ")}`);
    for (const f of figures) {
      expect(f.trafficS, `${f.mac} passes traffic again`).toBeDefined();
      expect(f.trafficS!).toBeLessThan(20); // generous: a couple of seconds expected (retries at most 3 s apart)
    }
    // The bindings lapsed during the outage and the sessions kept retrying (no new session, no RS needed).
    for (const mn of mns) {
      expect(anEvents(an1, "binding-lapsed", mn.mac).length).toBeGreaterThanOrEqual(1);
      expect(anEvents(an1, "session-started", mn.mac)).toHaveLength(1);
    }
  }, 120_000);

  it("the MN's link goes away on a per-station wired port: the AN sees the carrier go, the HA gets the lifetime-0 deregistration", async () => {
    const mn = t.mns[2]!;
    const an2 = await startAn(t, 2, daemon, t.anConfig(2, { access: { interface: "acc0", promiscuous: true, perStationPort: true } }));
    await attach(t, mn, 2, an2);
    const capture = await t.capture(t.haNs, "eth0", "udp port 434");
    // The station's cable is pulled: the MN is gone and AN2's access port loses its carrier.
    t.moveMn(mn, null);
    t.exec(t.sw, "ip", "link", "set", "a2", "down");
    try {
      const left = await waitAnEvent(an2, "station-left", mn.mac, 5_000);
      expect(eventOf(left)).toMatchObject({ cause: "link" });
      await an2.waitForLog((l) => l.msg === "access port lost its carrier: its stations left", "AN2 carrier loss", 5_000);
      await ha.waitFor("deregistered", (e) => e.nai === mn.nai && e.removed, 10_000);
      // dumpcap hands packets over per (TPACKET_V3) block, at latest after its timeout.
      await new Promise((r) => setTimeout(r, 1500));
      const pcap = await capture.stop();
      // tshark, an independent decoder, reads the deregistration: a Registration Request (type 1) with lifetime 0.
      const out = execFileSync("tshark", ["-r", capture.file, "-Y", "mip.type == 1 && mip.life == 0", "-T", "fields", "-e", "ip.src", "-e", "mip.life"], { encoding: "utf8" });
      expect(pcap.length).toBeGreaterThan(24);
      expect(out.trim().split("\n")[0]).toBe(`${t.an(2).coas[0]}\t0`);
      expect((await an2.waitForLog((l) => l.msg === "released" && eventOf(l).mac === mn.mac, "AN2 released", 5_000)).event).toMatchObject({ reason: "deregistered" });
    } finally {
      t.exec(t.sw, "ip", "link", "set", "a2", "up");
    }
  }, 60_000);
});
