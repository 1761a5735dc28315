// The telemetry histogram (issue 10): inclusive upper bounds, +Inf, cumulative snapshot, count and sum.
import { describe, expect, it } from "vitest";
import { Histogram, INTERRUPTION_BOUNDS_MS, RTT_BOUNDS_MS } from "../../../src/core/histogram.ts";

describe("Histogram", () => {
  it("puts a value on a bound into that bucket and one just above into the next (le is inclusive)", () => {
    const h = new Histogram([1, 2, 5]);
    h.observe(1);
    h.observe(1.001);
    h.observe(5);
    h.observe(0);
    expect(h.snapshot()).toEqual({ le: { "1": 2, "2": 3, "5": 4, "+Inf": 4 }, count: 4, sum: 7.001 });
  });

  it("counts values above the last bound in +Inf only, and in count and sum", () => {
    const h = new Histogram(RTT_BOUNDS_MS);
    h.observe(5001);
    h.observe(1e9);
    const s = h.snapshot();
    expect(s.le["5000"]).toBe(0);
    expect(s.le["+Inf"]).toBe(2);
    expect(s.count).toBe(2);
    expect(s.sum).toBe(1e9 + 5001);
  });

  it("publishes the bounds in order with +Inf last", () => {
    expect(Object.keys(new Histogram(RTT_BOUNDS_MS).snapshot().le)).toEqual([...RTT_BOUNDS_MS.map(String), "+Inf"]);
    expect(Object.keys(new Histogram(INTERRUPTION_BOUNDS_MS).snapshot().le)).toEqual([...INTERRUPTION_BOUNDS_MS.map(String), "+Inf"]);
  });

  it("is cumulative: each bucket holds every observation at or below its bound", () => {
    const h = new Histogram(RTT_BOUNDS_MS);
    for (const v of [0.4, 7, 7, 15, 300, 300, 300, 9000]) h.observe(v);
    const le = h.snapshot().le;
    expect(le).toMatchObject({ "1": 1, "2": 1, "5": 1, "10": 3, "20": 4, "50": 4, "200": 4, "500": 7, "5000": 7, "+Inf": 8 });
  });

  it("ignores negative and non-finite values", () => {
    const h = new Histogram([1]);
    h.observe(-1);
    h.observe(Number.NaN);
    h.observe(Number.POSITIVE_INFINITY);
    expect(h.snapshot()).toEqual({ le: { "1": 0, "+Inf": 0 }, count: 0, sum: 0 });
  });

  it("adds another histogram of the same bounds, and refuses one of other bounds", () => {
    const a = new Histogram([1, 10]);
    const b = new Histogram([1, 10]);
    a.observe(0.5);
    b.observe(5);
    b.observe(50);
    a.add(b);
    expect(a.snapshot()).toEqual({ le: { "1": 1, "10": 2, "+Inf": 3 }, count: 3, sum: 55.5 });
    expect(() => a.add(new Histogram([1, 20]))).toThrow(RangeError);
  });

  it("refuses bounds that do not increase", () => {
    expect(() => new Histogram([1, 1])).toThrow(RangeError);
    expect(() => new Histogram([5, 2])).toThrow(RangeError);
  });
});
