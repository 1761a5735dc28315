// Reconnect backoff (exponential, capped, jittered downwards) and the events' token bucket.
import { describe, expect, it } from "vitest";
import { reconnectDelayMs } from "../../../src/io/mqtt-link.ts";
import { TokenBucket } from "../../../src/app/token-bucket.ts";

const policy = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.5 };

describe("reconnect backoff", () => {
  it("doubles from the initial delay up to the cap without jitter", () => {
    const p = { ...policy, jitter: 0 };
    expect([0, 1, 2, 3, 5, 6, 7, 100].map((a) => reconnectDelayMs(p, a, () => 0.9))).toEqual([1000, 2000, 4000, 8000, 32_000, 60_000, 60_000, 60_000]);
  });

  it("cuts each delay by up to the jitter fraction, never more, never below 1 ms", () => {
    expect(reconnectDelayMs(policy, 3, () => 0)).toBe(8000);
    expect(reconnectDelayMs(policy, 3, () => 0.999999)).toBe(4000);
    expect(reconnectDelayMs(policy, 3, () => 0.5)).toBe(6000);
    expect(reconnectDelayMs({ ...policy, jitter: 1 }, 0, () => 1)).toBe(1);
  });

  it("spreads a fleet: different random draws give different delays for the same attempt", () => {
    const delays = new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((r) => reconnectDelayMs(policy, 4, () => r)));
    expect(delays.size).toBe(5);
  });
});

describe("token bucket", () => {
  it("admits a burst, then the rate", () => {
    const b = new TokenBucket(10, 20);
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (b.take(0)) admitted++;
    expect(admitted).toBe(20);
    // One second later: ten more, not more.
    admitted = 0;
    for (let i = 0; i < 100; i++) if (b.take(1000)) admitted++;
    expect(admitted).toBe(10);
  });

  it("does not refill when the clock goes backwards", () => {
    const b = new TokenBucket(1, 1);
    expect(b.take(5000)).toBe(true);
    expect(b.take(1000)).toBe(false);
    expect(b.take(5999)).toBe(false);
    expect(b.take(6000)).toBe(true);
  });
});
