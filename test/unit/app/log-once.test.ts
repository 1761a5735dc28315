import { describe, expect, it } from "vitest";
import { OncePerCause } from "../../../src/app/log-once.ts";

describe("OncePerCause", () => {
  it("logs the first of each cause per window, counts all, and reports what it suppressed", () => {
    let now = 0;
    const o = new OncePerCause(1000, () => now);
    expect(o.admit("forged reply")).toEqual({ suppressed: 0, total: 1 });
    expect(o.admit("forged reply")).toBeUndefined();
    expect(o.admit("malformed frame")).toEqual({ suppressed: 0, total: 1 });
    now = 999;
    expect(o.admit("forged reply")).toBeUndefined();
    now = 1000;
    expect(o.admit("forged reply")).toEqual({ suppressed: 2, total: 4 });
    expect(o.totals()).toEqual({ "forged reply": 4, "malformed frame": 1 });
  });

  it("bounds the number of causes it remembers", () => {
    const o = new OncePerCause(1000, () => 0);
    for (let i = 0; i < 600; i++) o.admit(`cause ${i}`);
    const totals = o.totals();
    expect(Object.keys(totals).length).toBeLessThanOrEqual(513);
    expect(totals["(too many distinct causes)"]).toBe(88);
  });
});
