// The restart's resume check (src/app/resume-check.ts) over a real mosquitto with
// real agents: many resumed MACs, each fetched once (bounded concurrency, no
// fleet-wide subscription), the ones another AN wrote after our save superseded;
// every MAC gets exactly one verdict even when the bound runs out first; the look
// leaves the replay window alone, so a later handover fetch of the same record
// still imports it. The daemon-level test is resume-superseded.test.ts.
import { describe, expect, it } from "vitest";
import { checkResumes } from "../../../src/app/resume-check.ts";
import { createLogger } from "../../../src/app/logger.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { sampleContext } from "../../support/contexts.ts";
import { cleanupsAfterEach, startAgent, TEST_PREFIX, TWO_AN_KEYS } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups = cleanupsAfterEach();
const P = TEST_PREFIX;
const fleetKeys = TWO_AN_KEYS;
const macOf = (i: number): string => `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
const silent = createLogger("fatal");

describe.skipIf(skip !== undefined)(`resume check over mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("300 resumed MACs: one verdict each, the ones another AN wrote after our save superseded, ours and older ones resumed", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const { a: us } = await startAgent(broker.url, P, "an-1", 1, fleetKeys, (stop) => cleanups.push(stop));
    const { a: other } = await startAgent(broker.url, P, "an-2", 2, fleetKeys, (stop) => cleanups.push(stop));
    const macs = Array.from({ length: 300 }, (_, i) => macOf(i));
    const savedAt = Date.now() - 1;
    // an-2 bound these after our save; we wrote these ourselves.
    const moved = new Set([macOf(3), macOf(150), macOf(299)]);
    for (const m of moved) expect(other.publishContext(sampleContext({ mac: m, nai: `${m.replace(/:/g, "")}@example.net` }))).toBe(true);
    for (const m of [macOf(4), macOf(5)]) expect(us.publishContext(sampleContext({ mac: m }))).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // the retained records are stored (publishes are QoS 1, unacked here)

    const verdicts = new Map<string, (string | undefined)[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await checkResumes({
      macs,
      savedAtWallMs: savedAt,
      self: "an-1",
      whenConnected: (ms) => us.whenConnected(ms),
      fetch: async (m, t) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await us.fetchRecord(m, t, { remember: false });
        } finally {
          inFlight--;
        }
      },
      verdict: (m, by) => verdicts.set(m, [...(verdicts.get(m) ?? []), by]),
      nowMs: () => performance.now(),
      log: silent,
      boundMs: 20_000,
      concurrency: 16,
    });
    expect(result).toEqual({ checked: 300, superseded: 3, unchecked: 0 });
    expect([...verdicts.values()].every((v) => v.length === 1)).toBe(true);
    expect(verdicts.size).toBe(300);
    expect([...verdicts].filter(([, v]) => v[0] !== undefined)).toEqual([...moved].sort().map((m) => [m, ["an-2"]]));
    expect(maxInFlight).toBeLessThanOrEqual(16);

    // Written before our save: not newer than what we resumed.
    const older = await checkResumes({
      macs: [...moved],
      savedAtWallMs: Date.now() + 60_000,
      self: "an-1",
      whenConnected: (ms) => us.whenConnected(ms),
      fetch: (m, t) => us.fetchRecord(m, t, { remember: false }),
      verdict: () => undefined,
      nowMs: () => performance.now(),
      log: silent,
    });
    expect(older).toEqual({ checked: 3, superseded: 0, unchecked: 0 });
    // The looks left the replay window alone: a handover fetch still takes the record.
    expect((await us.fetchRecord(macOf(3)))?.signer).toBe("an-2");
    expect(us.stats().recordsRejected.replayed).toBe(0);
  }, 60_000);

  it("the bound runs out (or no broker): every MAC still gets exactly one verdict, to resume", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const { a: us } = await startAgent(broker.url, P, "an-1", 1, fleetKeys, (stop) => cleanups.push(stop));
    const macs = Array.from({ length: 2000 }, (_, i) => macOf(i));
    const verdicts = new Map<string, number>();
    const r = await checkResumes({
      macs,
      savedAtWallMs: 0,
      self: "an-1",
      whenConnected: (ms) => us.whenConnected(ms),
      fetch: (m, t) => us.fetchRecord(m, t, { remember: false }),
      verdict: (m, by) => {
        expect(by).toBeUndefined();
        verdicts.set(m, (verdicts.get(m) ?? 0) + 1);
      },
      nowMs: () => performance.now(),
      log: silent,
      boundMs: 300,
      concurrency: 8,
    });
    // 8 at once, about 100 ms each without a record: far from 2000 within 300 ms.
    expect(r.unchecked).toBeGreaterThan(0);
    expect(r.checked + r.unchecked).toBe(2000);
    expect(verdicts.size).toBe(2000);
    expect([...verdicts.values()].every((n) => n === 1)).toBe(true);

    await broker.stop();
    await new Promise((res) => setTimeout(res, 200));
    const down = await checkResumes({
      macs: macs.slice(0, 10),
      savedAtWallMs: 0,
      self: "an-1",
      whenConnected: (ms) => us.whenConnected(ms),
      fetch: (m, t) => us.fetchRecord(m, t, { remember: false }),
      verdict: () => undefined,
      nowMs: () => performance.now(),
      log: silent,
      boundMs: 300,
    });
    expect(down).toEqual({ checked: 0, superseded: 0, unchecked: 10 });
  }, 60_000);
});
