// The session start bucket (start-rate.ts): take, available and nextAt agree (one
// token formula, tokensAt), so the start queue's drain (available, then take) never
// finds a start available that take then refuses, nor waits past nextAt. And the
// session start takes no copy of the MAC's bytes: the session keeps a number.
import { describe, expect, it } from "vitest";
import { StartRate } from "../../../src/core/start-rate.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { Harness, makeConfig, MN1, MN2 } from "./harness.ts";

describe("StartRate", () => {
  it("full at first, then rate per second; available() says what take() will do, nextAt() when it will", () => {
    const r = new StartRate();
    const rate = 3;
    let now = 1000;
    for (let i = 0; i < 3; i++) expect(r.take(now, rate)).toBe(true);
    expect(r.available(now, rate)).toBe(false);
    expect(r.take(now, rate)).toBe(false);
    // Walk forward in uneven steps: available() before each take() predicts it exactly.
    let taken = 0;
    for (let step = 0; step < 200; step++) {
      now += [7, 113, 333, 334, 1][step % 5]!;
      const predicted = r.available(now, rate);
      if (!predicted) expect(r.nextAt(rate)).toBeGreaterThan(now);
      else expect(r.nextAt(rate)).toBeLessThanOrEqual(now);
      expect(r.take(now, rate)).toBe(predicted);
      if (predicted) taken++;
    }
    // 200 steps over 788 * 40 ms = 31.52 s: at most rate per second plus a token's rounding.
    expect(taken).toBeLessThanOrEqual(Math.ceil(31.52 * rate) + 1);
    expect(taken).toBeGreaterThanOrEqual(Math.floor(31.52 * rate) - 1);
  });

  it("rate 0 is unlimited", () => {
    const r = new StartRate();
    for (let i = 0; i < 1000; i++) expect(r.take(0, 0)).toBe(true);
    expect(r.available(0, 0)).toBe(true);
  });
});

describe("a session's MAC and the caller's frame buffer", () => {
  it("the caller reusing its buffer after the start does not change the session's MAC (the session keeps a number, not the view)", () => {
    const h = new Harness(makeConfig());
    const frame = dadNeighborSolicitation(mac(MN1));
    h.frame(frame, 0);
    // The receive path reuses its buffer: the next frame (another station) overwrites it.
    frame.set(mac(MN2), 6);
    expect(h.engine.session(MN1)!.macBytes).toEqual(mac(MN1));
    expect(h.engine.session(MN2)).toBeUndefined();
  });
});
