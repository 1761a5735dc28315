// End to end in the lab (issue 5): the home agent restarted under live sessions. The
// new HA process has an empty binding cache; nothing in MIPv4 tells the AN (the HA
// does not know whom to tell), so the AN's next refresh re-registers each session.
// The ANs here ask for a 10 s lifetime (the schema's minimum), so that refresh comes
// 7.5-8 s after the grant (refreshFraction 0.8, jitter 0.05) instead of minutes later.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { anEvents, attach, startAn } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e HA restart: skipped: ${skipReason}`);

const LIFETIME_S = 10;

describe.skipIf(skipReason !== undefined)("lab end to end: HA restart", () => {
  let t: Topology;
  let ha: HaProcess;
  let an1: AnProcess;

  beforeAll(async () => {
    t = Topology.create({ label: "labhar", mns: 2 });
    ha = await t.startHomeAgent();
    an1 = await startAn(t, 1, t.buildDaemon(), t.anConfig(1, { registration: { lifetimeS: LIFETIME_S } }));
    await t.startEcho(t.cnNs);
    await Promise.all(t.mns.map((mn) => t.startEcho(mn.ns)));
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("HA restarted mid-session: the AN's refreshes re-register both sessions with the new HA and traffic resumes both ways", async () => {
    const mns = t.mns;
    const addresses = await Promise.all(mns.map((mn) => attach(t, mn, 1, an1)));
    // Quickly (all at once): the HA must restart well before the first refresh, 7.5 s after the grant.
    const before = await Promise.all(mns.flatMap((mn, i) => [t.ping(mn.ns, LAB.cn, { count: 2, intervalMs: 50, waitMs: 300 }), t.ping(t.cnNs, addresses[i]!, { count: 2, intervalMs: 50, waitMs: 300 })]));
    for (const s of before) expect(s).toMatchObject({ received: 2 });
    const coas = (await Promise.all(mns.map((mn) => ha.waitFor("registration-accepted", (e) => e.nai === mn.nai, 5_000)))).map((e) => e.coa);

    expect(anEvents(an1, "refreshed")).toEqual([]);
    await ha.stop();
    ha = await t.startHomeAgent();
    const restartedAt = Date.now();
    // The new HA knows nobody: the MN's packets are dropped at the tunnel, the CN's find no binding.
    expect((await t.ping(mns[0]!.ns, LAB.cn, { count: 1, waitMs: 200 })).received).toBe(0);
    await ha.waitFor("dropped", (e) => e.what === "tunnel-packet" && e.from === coas[0], 5_000);

    // Each session's next refresh (at most 0.8 x lifetime after its grant) registers it anew, at the same CoA.
    for (const [i, mn] of mns.entries()) {
      const e = await ha.waitFor("registration-accepted", (x) => x.nai === mn.nai, (LIFETIME_S + 2) * 1000);
      expect(e).toMatchObject({ coa: coas[i], binding: "new", initial: false });
      await waitFor(() => (anEvents(an1, "refreshed", mn.mac).some((l) => Date.parse(String(l.time)) >= restartedAt) ? true : undefined), 5_000, `AN1 refreshed ${mn.mac}`);
    }
    // Sessions continued at the AN (no new session, no new attach) and the MNs kept their addresses.
    for (const mn of mns) expect(anEvents(an1, "session-started", mn.mac)).toHaveLength(1);
    for (const [i, mn] of mns.entries()) expect(t.mnAddresses(mn).find((a) => a.local === addresses[i])).toMatchObject({ tentative: false, dadfailed: false });

    // Traffic resumes. The new HA learns each MN's address from its first packet through
    // the tunnel (its proxy-DAD records died with the old process), so the MN speaks first.
    for (const [i, mn] of mns.entries()) {
      expect(await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
      await ha.waitFor("address-learned", (e) => e.nai === mn.nai && e.address === addresses[i], 5_000);
      expect(await t.ping(t.cnNs, addresses[i]!, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
    }
  });
});
