// Issue 10, orders we had not chosen, end to end in the lab: the MN flaps between two
// APs (AN1 -> AN2 -> AN1 -> ... within seconds, each stay well inside the forward
// window), with the HA still sending to the CoA it moved from for 200 ms
// (oldCareOfDownlinkMs). Each AN has a pool of 4 CoAs; each return needs one while
// the old binding's is quarantined. Every move must register at the new AN (no
// coa-exhausted refusal: before, the 5th return was refused for the rest of a
// lifetime), the AN left must serve the signed release (naming the session the other
// took over), and at the end the MN is reachable through AN1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnConfigFile, AnIndex, AnProcess } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { anEvents, attach, startAn, waitAnEvent } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason() ?? mosquittoUnavailableReason();
if (skipReason) console.warn(`lab e2e handover flapping: skipped: ${skipReason}`);

const ROUND_TRIPS = 5;

describe.skipIf(skipReason !== undefined)("lab end to end: an MN flapping between two APs", () => {
  let t: Topology;
  let daemon: string;

  beforeAll(async () => {
    t = Topology.create({ label: "labflap", mns: 1 });
    await t.startBroker();
    await t.startHomeAgent({ oldCareOfDownlinkMs: 200 });
    daemon = t.buildDaemon();
    await t.startEcho(t.cnNs);
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  const config = (i: AnIndex): AnConfigFile => {
    const c = t.anConfig(i, { shutdown: { deregister: false }, datapath: { backend: "userspace" } });
    return { ...c, fleet: { ...c.fleet!, releaseForwardMs: 2000 } };
  };
  const served = (an: AnProcess, mac: string) => an.logs.filter((l) => l.msg === "release requested by another AN" && l.mac === mac);

  it(`${ROUND_TRIPS} round trips AN1 -> AN2 -> AN1: every move registers at once, every release is served, the MN is reachable at the end`, async () => {
    const mn = t.mns[0]!;
    const [an1, an2] = await Promise.all([startAn(t, 1, daemon, config(1)), startAn(t, 2, daemon, config(2))]);
    try {
      for (const an of [an1, an2]) await an.waitForLog((l) => l.msg === "fleet broker connected", "broker connected", 15_000);
      const address = await attach(t, mn, 1, an1);
      await t.startEcho(mn.ns);
      // AN1's record (with the MN's address) is on the broker once AN1 has bound the MN.
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 1; i <= ROUND_TRIPS; i++) {
        t.moveMn(mn, 2);
        await waitAnEvent(an2, "registered", mn.mac, 10_000, i);
        await waitFor(() => (served(an1, mn.mac).length >= i ? true : undefined), 10_000, `AN1 serves release #${i}`);
        t.moveMn(mn, 1);
        await waitAnEvent(an1, "registered", mn.mac, 10_000, i + 1);
        await waitFor(() => (served(an2, mn.mac).length >= i ? true : undefined), 10_000, `AN2 serves release #${i}`);
      }
      const refused = [...anEvents(an1, "refused", mn.mac), ...anEvents(an2, "refused", mn.mac)];
      expect(refused).toEqual([]);
      expect(served(an1, mn.mac).map((l) => l.released)).toEqual(Array(ROUND_TRIPS).fill(true));
      expect(served(an2, mn.mac).map((l) => l.released)).toEqual(Array(ROUND_TRIPS).fill(true));
      // Reachable through AN1 at the end.
      const stream = await t.pingStream(t.cnNs, address, { intervalMs: 20, waitMs: 500 });
      await waitFor(() => (stream.replies.length >= 10 ? true : undefined), 10_000, "probes answered through AN1 at the end");
      const summary = await stream.stop();
      console.info(`lab flapping: ${ROUND_TRIPS} round trips, ${summary.sent - summary.lost}/${summary.sent} probes answered at the end (CN ${LAB.cn})`);
      expect(summary.sent - summary.lost).toBeGreaterThanOrEqual(10);
    } finally {
      await Promise.all([an1.stop(), an2.stop()]);
    }
  }, 120_000);
});
