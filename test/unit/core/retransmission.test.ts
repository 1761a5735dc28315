// The retransmission ladder (RFC 5944 3.6.3): timeouts, new identification each
// time, give-up after maxTries, and the 1 s floor.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { refreshDelayMs, retransmitTimeoutMs } from "../../../src/core/backoff.ts";
import { DEFAULT_REGISTRATION_TIMING } from "../../../src/core/config.ts";
import type { RegistrationTiming } from "../../../src/core/config.ts";
import { seededRandom } from "../../../src/core/random.ts";
import type { RandomSource } from "../../../src/core/random.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { propertyRuns } from "../../support/runs.ts";
import { eventsOf, expectIndependentlyAuthenticated, Harness, KEY, makeConfig, MN1, parsedRequest, requestsIn } from "./harness.ts";

interface Sent {
  at: number;
  identification: bigint;
  bytes: Uint8Array;
}

/** Lets the HA stay silent: fires deadlines until the session leaves "registering". */
function ladder(h: Harness, start: number): { sent: Sent[]; end: ReturnType<Harness["handle"]> } {
  const sent: Sent[] = [];
  const record = (actions: ReturnType<Harness["handle"]>) => {
    for (const r of requestsIn(actions)) sent.push({ at: h.now, identification: parsedRequest(r.bytes).message.identification, bytes: r.bytes });
  };
  record(h.frame(dadNeighborSolicitation(mac(MN1)), start));
  let last: ReturnType<Harness["handle"]> = [];
  while (h.engine.sessionState(MN1) === "registering") {
    last = h.fireNext();
    record(last);
  }
  return { sent, end: last };
}

const gaps = (sent: Sent[], endAt: number) => [...sent.map((s) => s.at), endAt].slice(1).map((t, i) => t - sent[i]!.at);

describe("retransmission ladder", () => {
  it("with jitter 0 retries after 1, 2, 4, 8 s, gives up 8 s after the fifth, each with a new identification", () => {
    const h = new Harness(makeConfig());
    const { sent, end } = ladder(h, 10_000);
    expect(sent).toHaveLength(5);
    expect(gaps(sent, h.now)).toEqual([1000, 2000, 4000, 8000, 8000]);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.identification).toBeGreaterThan(sent[i - 1]!.identification);
    // Low words differ too: a late reply to an earlier try cannot match a later one.
    expect(new Set(sent.map((s) => s.identification & 0xffff_ffffn)).size).toBe(5);
    for (const s of sent) {
      const rrq = parsedRequest(s.bytes).message;
      // Every try is a complete initial request.
      expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "revocation-support", "auth"]);
      expect(rrq.lifetime).toBe(600);
      expectIndependentlyAuthenticated(s.bytes, KEY);
    }
    expect(eventsOf(end, "registration-timeout")).toEqual([{ type: "registration-timeout", mac: MN1, attempts: 5 }]);
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(h.engine.counters).toMatchObject({ requestsSent: 5, retransmissions: 4, registrationTimeouts: 1 });
    expect(eventsOf(h.log, "registration-sent").map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([1, 2, 3, 4, 5])("with the default jitter stays within [base, base * 1.1] (seed %i)", (seed) => {
    const h = new Harness(makeConfig({ registration: DEFAULT_REGISTRATION_TIMING }), seed);
    const { sent } = ladder(h, 0);
    const base = [1000, 2000, 4000, 8000, 8000];
    gaps(sent, h.now).forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(base[i]!);
      expect(g).toBeLessThanOrEqual(Math.round(base[i]! * 1.1));
    });
  });

  it("never waits less than 1 s, even when configured to", () => {
    const h = new Harness(makeConfig({ registration: { ...DEFAULT_REGISTRATION_TIMING, initialTimeoutMs: 100, maxTimeoutMs: 400, jitter: 0, maxTries: 4 } }));
    const { sent } = ladder(h, 0);
    expect(gaps(sent, h.now)).toEqual([1000, 1000, 1000, 1000]);
  });

  it("the held frames are dropped when the registration times out", () => {
    const h = new Harness();
    ladder(h, 0);
    expect(h.engine.heldFrames).toBe(0);
  });
});

describe("backoff", () => {
  const anyTiming = fc.record({
    initialTimeoutMs: fc.integer({ min: 0, max: 5000 }),
    backoffFactor: fc.double({ min: 1, max: 4, noNaN: true }),
    maxTimeoutMs: fc.integer({ min: 0, max: 60_000 }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  const fixed = (f: number): RandomSource => ({ fraction: () => f, uint32: () => 0 });

  it("retransmitTimeoutMs is never below 1000 ms and never above the jittered ceiling", () => {
    fc.assert(
      fc.property(anyTiming, fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (t, attempt, f) => {
        const timing: RegistrationTiming = { ...DEFAULT_REGISTRATION_TIMING, ...t };
        const ms = retransmitTimeoutMs(timing, attempt, fixed(f));
        expect(ms).toBeGreaterThanOrEqual(1000);
        expect(ms).toBeLessThanOrEqual(Math.max(1000, Math.round(t.maxTimeoutMs * (1 + t.jitter))));
      }),
      { numRuns: Math.min(propertyRuns(), 10_000) },
    );
  });

  it("refreshDelayMs lands in [fraction - jitter, fraction] of the lifetime, at least 1 s after the grant and 1 s before the end", () => {
    const r = seededRandom(9);
    for (const lifetime of [2, 10, 600, 65535]) {
      for (let i = 0; i < 50; i++) {
        const d = refreshDelayMs(DEFAULT_REGISTRATION_TIMING, lifetime, r);
        expect(d).toBeGreaterThanOrEqual(Math.min(1000, lifetime * 1000 - 1000));
        expect(d).toBeLessThanOrEqual(Math.max(1000, lifetime * 1000 - 1000));
        if (lifetime >= 100) {
          expect(d).toBeGreaterThanOrEqual(Math.round(lifetime * 1000 * 0.75));
          expect(d).toBeLessThanOrEqual(Math.round(lifetime * 1000 * 0.8));
        }
      }
    }
    expect(refreshDelayMs({ ...DEFAULT_REGISTRATION_TIMING, refreshJitter: 0 }, 600, r)).toBe(480_000);
  });
});
