// Issue 10 "nothing is lost" before the release, in the lab: the MN leaves AN1 with
// a link-layer leave signal before it arrives at AN2. AN1's access port is a
// per-station wired port (access.perStationPort): the MN's cable is pulled and
// AN1's port loses its carrier, which the daemon's carrier watch reports as the
// station leaving (station-left, cause "link"). 100 ms later the MN is plugged in
// at AN2, which imports its signed record, registers and asks AN1 for the release.
// CN->MN probes every 10 ms all along. With the leave hold (fleet.leaveHoldMs) AN1
// keeps the binding, holds what the HA sends meanwhile and forwards it to AN2 with
// the release: no probe sent after the leave is lost. The same run with the hold off
// (leaveHoldMs 0: AN1 deregisters at the leave) loses the probes of that gap: the
// test can fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Topology } from "../../lab/topology.ts";
import type { AnConfigFile, AnIndex, HaProcess, MnNode } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { anEvents, attach, eventOf, sendTimes, startAn, telemetry, waitAnEvent, waitForRecord } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason() ?? mosquittoUnavailableReason();
if (skipReason) console.warn(`lab e2e leave hold: skipped: ${skipReason}`);

const PROBE_MS = 10;
const LEAVE_HOLD_MS = 2000;
/** Between the leave at AN1 and the plug-in at AN2 (a roam's gap). */
const GAP_MS = 100;

describe.skipIf(skipReason !== undefined)("lab end to end: the MN leaves AN1's link (carrier) before it arrives at AN2", () => {
  let t: Topology;
  let daemon: string;
  let ha: HaProcess;

  beforeAll(async () => {
    t = Topology.create({ label: "lableave", mns: 5 });
    await t.startBroker();
    ha = await t.startHomeAgent();
    daemon = t.buildDaemon();
    await t.startEcho(t.cnNs);
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  const config = (i: AnIndex, leaveHoldMs: number, backend: "kernel" | "userspace", inFleet: boolean): AnConfigFile => {
    const c = t.anConfig(i, {
      shutdown: { deregister: false },
      datapath: { backend },
      access: { interface: t.an(i).access, promiscuous: true, perStationPort: i === 1 },
      // 10 ms probes for the gap and the fetch, on a loaded CI machine: more than the default 32 frames.
      limits: { hold: { framesPerMn: 256 } },
      linkLayer: { leaveHoldMs },
    });
    if (inFleet) return { ...c, fleet: { ...c.fleet!, releaseForwardMs: 2000 } };
    // Stand-alone ANs: no record to fetch, so AN2 starts the moved MN on its first frame (the lab's non-fleet trigger).
    const { fleet: _none, ...alone } = c;
    return { ...alone, triggerOn: "any-ipv6" };
  };

  async function run(mn: MnNode, leaveHoldMs: number, backend: "kernel" | "userspace" = "kernel", inFleet = true) {
    const [an1, an2] = await Promise.all([startAn(t, 1, daemon, config(1, leaveHoldMs, backend, inFleet)), startAn(t, 2, daemon, config(2, leaveHoldMs, backend, inFleet))]);
    try {
      if (inFleet) for (const an of [an1, an2]) await an.waitForLog((l) => l.msg === "fleet broker connected", "broker connected", 15_000);
      for (const an of [an1, an2]) expect(an.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend });
      const address = await attach(t, mn, 1, an1);
      await t.startEcho(mn.ns);
      if (inFleet) await waitForRecord(t, daemon, an1, mn, "an1", address);
      const stream = await t.pingStream(t.cnNs, address, { intervalMs: PROBE_MS, waitMs: 500 });
      await waitFor(() => (stream.replies.length >= 10 ? true : undefined), 5_000, "probes answered through AN1");
      // The cable is pulled: the MN is off the link and AN1's access port loses its carrier.
      t.moveMn(mn, null);
      t.exec(t.sw, "ip", "link", "set", `a${1}`, "down");
      const left = await waitAnEvent(an1, "station-left", mn.mac, 5_000);
      await new Promise((r) => setTimeout(r, GAP_MS));
      t.moveMn(mn, 2);
      // Without the hold AN1's deregistration also clears the record: AN2 registers from scratch, and no release is asked.
      if (inFleet && leaveHoldMs > 0) await an2.waitForLog((l) => l.msg === "context record imported: registering at once" && l.mac === mn.mac, "AN2 imports the record", 10_000);
      const registered = await waitAnEvent(an2, "registered", mn.mac);
      // Stand-alone, the binding moved at the HA, which revokes AN1's (draft 3.2.3 step 5).
      const revoked = !inFleet && leaveHoldMs > 0 ? await waitAnEvent(an1, "revoked", mn.mac, 5_000) : undefined;
      const served = inFleet && leaveHoldMs > 0 ? await an1.waitForLog((l) => l.msg === "release requested by another AN" && l.mac === mn.mac, "AN1 serves the signed release", 5_000) : undefined;
      // The gap ends with the release (the hold), or with AN2's registration (without it).
      const gapEnd = Date.parse(String((served ?? registered).time));
      const boundAt2 = Date.parse(String(registered.time));
      const throughAn2 = () => stream.replies.filter((r) => r.t > boundAt2 + 200).length;
      // Without the hold the HA dropped the binding with the MN's addresses (bound by its DAD probes, which a
      // moved Linux MN does not send again): AN2's fresh registration may not bring the probes back; watch 1 s.
      if (leaveHoldMs > 0) await waitFor(() => (throughAn2() >= 30 ? true : undefined), 10_000, "probes answered through AN2");
      else await new Promise((r) => setTimeout(r, 1000));
      const summary = await stream.stop();
      const [t1, t2] = [await telemetry(an1), await telemetry(an2)];
      const sentAt = sendTimes(stream.replies, summary.sent, PROBE_MS);
      const leftAt = Date.parse(String(left.time));
      // A probe sent before the leave was seen may have gone to the port that had just lost its carrier.
      const lostAfterLeave = summary.lostSeqs.filter((s) => sentAt[s]! > leftAt + 2);
      const sentAfterLeave = sentAt.filter((at) => at > leftAt + 2 && at <= gapEnd).length;
      const deregistrations = anEvents(an1, "registration-sent", mn.mac).filter((l) => eventOf(l).lifetime === 0);
      // The HA's own account: did AN2's registration move the binding (addresses kept) or make a new one?
      const acceptedAt2 = ha.events("registration-accepted").filter((e) => e.nai === mn.nai && e.coa !== undefined && t.an(2).coas.includes(String(e.coa)));
      const removedAt1 = ha.events("deregistered").filter((e) => e.nai === mn.nai && e.removed);
      return { revoked, acceptedAt2, removedAt1, answeredThroughAn2: throughAn2(), summary, c1: t1.engine, c2: t2.engine, left: eventOf(left), lostAfterLeave, sentAfterLeave, leaveToReleaseMs: gapEnd - leftAt, served, deregistrations, ended: anEvents(an1, "leave-hold-ended", mn.mac).map(eventOf), an1 };
    } catch (e) {
      // Context for a failure: what each AN logged about the MN.
      for (const an of [an1, an2]) console.error(`AN${an.site.index}:\n${an.logs.filter((l) => l.mac === mn.mac || eventOf(l).mac === mn.mac).map((l) => JSON.stringify(l)).join("\n")}`);
      throw e;
    } finally {
      t.exec(t.sw, "ip", "link", "set", `a${1}`, "up");
      await Promise.all([an1.stop(), an2.stop()]);
    }
  }

  for (const [i, backend] of [
    [0, "kernel"],
    [1, "userspace"],
  ] as const) {
    it(`${backend} datapath, with the leave hold: AN1 keeps the binding, holds the downlink after the leave and forwards it with the release; no probe sent after the leave is lost`, async () => {
      const r = await run(t.mns[i]!, LEAVE_HOLD_MS, backend);
      console.info(
        `lab leave hold (${backend}, CN->MN probes every ${PROBE_MS} ms, ${GAP_MS} ms off-link): ${r.summary.lost}/${r.summary.sent} lost in all, ${r.lostAfterLeave.length} sent after the leave lost (${r.sentAfterLeave} sent between the leave and the release, ${r.leaveToReleaseMs} ms); AN1 held ${r.c1.framesLeaveHeld}, forwarded ${r.c1.framesLeaveHeldForwarded} of them with the release (${r.c1.framesForwardedToPeer} to AN2 in all), AN2 delivered ${r.c2.framesForwardedFromPeer}; ended ${JSON.stringify(r.ended)}`,
      );
      expect(r.left).toMatchObject({ cause: "link", holdMs: LEAVE_HOLD_MS });
      expect(r.served).toMatchObject({ by: "an2", released: true });
      expect(r.deregistrations).toEqual([]);
      expect(r.c1.leaveHolds).toBe(1);
      expect(r.c1.framesLeaveHeld).toBeGreaterThan(0);
      expect(r.c1.framesLeaveHeldForwarded).toBe(r.c1.framesLeaveHeld);
      expect(r.ended).toMatchObject([{ outcome: "forwarded", frames: r.c1.framesLeaveHeld }]);
      expect(r.c2.framesForwardedFromPeer).toBeGreaterThanOrEqual(r.c1.framesLeaveHeldForwarded!);
      expect(r.sentAfterLeave).toBeGreaterThan(0);
      expect(r.lostAfterLeave).toEqual([]);
    }, 90_000);
  }

  it("the same with the hold off (leaveHoldMs 0): AN1 deregisters at the leave and the probes of the gap are lost (the test can fail)", async () => {
    const r = await run(t.mns[2]!, 0);
    console.info(`lab leave without the hold: ${r.summary.lost}/${r.summary.sent} lost in all, ${r.lostAfterLeave.length} sent after the leave lost (${r.sentAfterLeave} sent between the leave and AN2's registration, ${r.leaveToReleaseMs} ms); ${r.answeredThroughAn2} answered through AN2 from 200 ms after its registration on`);
    expect(r.left).toMatchObject({ cause: "link" });
    expect(r.left.holdMs).toBeUndefined();
    expect(r.deregistrations.length).toBeGreaterThan(0);
    expect(r.c1.framesLeaveHeld ?? 0).toBe(0);
    expect(r.lostAfterLeave.length).toBeGreaterThan(0);
  }, 90_000);
  it("stand-alone ANs (no fleet) with linkLayer.leaveHoldMs: AN1 keeps the binding after the leave, AN2's registration moves it and the HA revokes AN1, the MN's addresses kept at the HA: the MN is reached through AN2", async () => {
    const r = await run(t.mns[3]!, LEAVE_HOLD_MS, "kernel", false);
    console.info(`lab leave hold without a fleet: ${r.summary.lost}/${r.summary.sent} lost in all, ${r.answeredThroughAn2} answered through AN2 from 200 ms after its registration on; AN1 ended ${JSON.stringify(r.ended)}`);
    expect(r.left).toMatchObject({ cause: "link", holdMs: LEAVE_HOLD_MS });
    expect(r.revoked).toBeDefined();
    expect(r.deregistrations).toEqual([]);
    expect(r.removedAt1).toEqual([]);
    expect(r.acceptedAt2).toMatchObject([{ binding: "moved" }]);
    expect(r.answeredThroughAn2).toBeGreaterThanOrEqual(30);
  }, 90_000);

  it("stand-alone ANs without the hold (the default there): AN1's deregistration at the leave deletes the binding and the addresses the HA learned from the MN's DAD; AN2's registration finds no binding to move (the test can fail)", async () => {
    const r = await run(t.mns[4]!, 0, "kernel", false);
    console.info(`lab leave without a fleet or the hold: ${r.summary.lost}/${r.summary.sent} lost in all, ${r.answeredThroughAn2} answered through AN2 from 200 ms after its registration on`);
    expect(r.deregistrations.length).toBeGreaterThan(0);
    // The HA deleted the binding at AN1's deregistration, so AN2's registration made a new one, without the
    // addresses it had learned from the MN's DAD. Whether the lab HA then reaches the MN is its policy (printed above).
    expect(r.removedAt1.length).toBeGreaterThan(0);
    expect(r.acceptedAt2).toMatchObject([{ binding: "new" }]);
  }, 90_000);
});
