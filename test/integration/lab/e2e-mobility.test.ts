// End to end in the lab (issue 5): an MN moving from AN1 to AN2 under traffic (the HA
// revokes AN1, which acknowledges and lets go; the MN keeps its address), and an AN
// restarted under a live session (the daemon's stateFile resume: the MN keeps its
// address and its traffic resumes without a new attach).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnConfigFile, AnIndex, AnProcess, HaProcess, MnMonitor } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { anEvents, attach, eventOf, startAn, waitAnEvent } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab e2e mobility: skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("lab end to end: handover and AN restart", () => {
  let t: Topology;
  let ha: HaProcess;
  let daemon: string;
  const ans: Partial<Record<AnIndex, AnProcess>> = {};
  const config = (i: AnIndex): AnConfigFile => t.anConfig(i, { stateFile: t.file(`an${i}-state.json`), shutdown: { deregister: false } });

  beforeAll(async () => {
    t = Topology.create({ label: "labmob", mns: 2 });
    ha = await t.startHomeAgent();
    daemon = t.buildDaemon();
    [ans[1], ans[2]] = await Promise.all([startAn(t, 1, daemon, config(1)), startAn(t, 2, daemon, config(2))]);
    await t.startEcho(t.cnNs);
    await Promise.all(t.mns.map((mn) => t.startEcho(mn.ns)));
  }, 60_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  /** No deletion, no new tentative or failed state of `address` in the MN's kernel since `since`. */
  const keptAddress = (m: MnMonitor, address: string, since: number) =>
    m.events.filter((e) => e.t >= since && e.kind === "address" && e.text.includes(` ${address}/`) && (e.deleted || /tentative|dadfailed/.test(e.text)));

  it("handover AN1 -> AN2 under a ping stream: the HA revokes AN1, AN1 acknowledges and releases; the MN keeps its address; traffic resumes through AN2", async () => {
    const mn = t.mns[0]!;
    const an1 = ans[1]!;
    const an2 = ans[2]!;
    const address = await attach(t, mn, 1, an1);
    const monitor = await t.monitorMn(mn);
    const stream = await t.pingStream(mn.ns, LAB.cn, { intervalMs: 20, waitMs: 500 });
    await waitFor(() => (stream.replies.length >= 10 ? true : undefined), 5_000, "ping replies through AN1");

    const moved = Date.now();
    t.moveMn(mn, 2);
    const registered = await waitAnEvent(an2, "registered", mn.mac);
    const ack = await ha.waitFor("ack-received", (e) => e.nai === mn.nai, 5_000);
    const revoked = await waitAnEvent(an1, "revoked", mn.mac, 5_000);
    const released = await waitAnEvent(an1, "released", mn.mac, 5_000);
    const boundAt2 = Date.parse(String(registered.time));
    await waitFor(() => (stream.replies.filter((r) => r.t > boundAt2).length >= 10 ? true : undefined), 5_000, "ping replies through AN2");
    const summary = await stream.stop();

    // The HA: the binding moved to AN2's CoA; AN1's old one revoked (handover) and acknowledged.
    const coa1 = t.an(1).coas[0]!;
    const coa2 = t.an(2).coas[0]!;
    expect(ha.events("registration-accepted").filter((e) => e.nai === mn.nai)).toMatchObject([
      { coa: coa1, binding: "new" },
      { coa: coa2, binding: "moved", v6: true },
    ]);
    const revocations = ha.events("revocation-sent").filter((e) => e.nai === mn.nai);
    expect(revocations).toMatchObject([{ coa: coa1, reason: "handover", attempt: 1, revocationId: ack.revocationId }]);
    expect(ack).toMatchObject({ coa: coa1 });
    expect(ha.events("revocation-unacknowledged")).toEqual([]);
    // AN1: the verified revocation, then the release; it does not deregister (the binding is AN2's now).
    expect(eventOf(revoked)).toMatchObject({ revocationId: ack.revocationId, dadFailure: false });
    expect(eventOf(released)).toMatchObject({ reason: "revoked" });
    expect(ha.events("deregistered").filter((e) => e.nai === mn.nai)).toEqual([]);
    // Whatever frame the MN sent first at AN2 started the session there (an MLD report, or its NS for the router).
    expect(anEvents(an2, "session-started", mn.mac)).toMatchObject([{ event: { careOf: coa2 } }]);

    // The MN: same address, never deleted nor probed again.
    expect(keptAddress(monitor, address, moved)).toEqual([]);
    expect(t.mnAddresses(mn).find((a) => a.local === address)).toMatchObject({ tentative: false, dadfailed: false });
    // Traffic: the stream came back (a short gap), and goes through AN2's tunnel now, both ways.
    expect(summary.received).toBeGreaterThanOrEqual(20);
    expect(summary.maxGapMs).toBeLessThan(2_000);
    const since = Date.now();
    expect(await t.ping(t.cnNs, address, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
    expect(await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
    const rx = ha.events("tunnel-rx").filter((e) => e.t >= since && e.src === address);
    expect(rx.length).toBeGreaterThanOrEqual(6);
    expect(rx.every((e) => e.coa === coa2)).toBe(true);
    expect(ha.events("tunnel-tx").filter((e) => e.t >= since && e.dst === address).every((e) => e.coa === coa2)).toBe(true);
    console.info(`lab handover: ${summary.lost}/${summary.sent} probes lost, largest reply gap ${summary.maxGapMs} ms`);
  });

  it("AN restarted mid-session (SIGKILL, then started again): it resumes from its stateFile; the MN keeps its address and traffic resumes", async () => {
    const mn = t.mns[1]!;
    const an1 = ans[1]!;
    const address = await attach(t, mn, 1, an1);
    const monitor = await t.monitorMn(mn);
    expect(await t.ping(mn.ns, LAB.cn, { count: 2, intervalMs: 50 })).toMatchObject({ received: 2 });
    // The daemon writes its state at most once a second after a change: wait for this MN's context (with the HA's MAC from the RA).
    const stateFile = t.file("an1-state.json");
    await waitFor(
      () => {
        try {
          const s = JSON.parse(readFileSync(stateFile, "utf8")) as { contexts: { mac: string; haLinkLayer: string | null }[] };
          return s.contexts.some((c) => c.mac === mn.mac && c.haLinkLayer === LAB.haMac) ? true : undefined;
        } catch {
          return undefined;
        }
      },
      5_000,
      "AN1's state file to hold the MN's context",
    );
    const { coa } = await ha.waitFor("registration-accepted", (e) => e.nai === mn.nai, 5_000);

    const killedAt = Date.now();
    an1.child.kill("SIGKILL");
    await waitFor(() => (an1.exited ? true : undefined), 5_000, "AN1 to die");
    expect((await t.ping(mn.ns, LAB.cn, { count: 1, waitMs: 300 })).received).toBe(0); // no AN, no service

    const again = await startAn(t, 1, daemon, config(1));
    ans[1] = again;
    const restored = await again.waitForLog((l) => l.msg === "state restored", "state restored", 5_000);
    expect(restored).toMatchObject({ restored: 1, of: 1 });
    // The same session, same CoA: bound at once (renewing) and refreshed with the HA; no new attach.
    expect(anEvents(again, "session-started", mn.mac)).toMatchObject([{ event: { trigger: "context-import", careOf: coa } }]);
    await waitAnEvent(again, "refreshed", mn.mac, 5_000);
    expect(anEvents(again, "registered", mn.mac)).toEqual([]);
    // (The HA's line and the AN's travel through different pipes: wait for the HA's.)
    expect(await ha.waitFor("registration-accepted", (e) => e.nai === mn.nai && e.t >= killedAt, 5_000)).toMatchObject({ coa, binding: "renewed" });
    expect(ha.events("registration-accepted").filter((e) => e.nai === mn.nai && e.t >= killedAt)).toHaveLength(1);

    expect(await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
    expect(await t.ping(t.cnNs, address, { count: 3, intervalMs: 50 })).toMatchObject({ received: 3 });
    expect(keptAddress(monitor, address, killedAt)).toEqual([]);
    expect(t.mnAddresses(mn).find((a) => a.local === address)).toMatchObject({ tentative: false, dadfailed: false });
  });
});
