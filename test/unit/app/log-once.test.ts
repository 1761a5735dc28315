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

  it("summarises a cause suppressed for a window (once per window), so a flood that stops is still accounted for", () => {
    let now = 0;
    const o = new OncePerCause(1000, () => now);
    o.admit("forged reply");
    for (let i = 0; i < 99; i++) o.admit("forged reply");
    o.admit("malformed frame");
    now = 999;
    expect(o.summaries()).toEqual([]);
    now = 1000;
    // The malformed one had nothing suppressed: no summary.
    expect(o.summaries()).toEqual([{ cause: "forged reply", suppressed: 99, total: 100 }]);
    expect(o.summaries()).toEqual([]);
    // The window starts again at the summary: the next one within it is suppressed, then summarised.
    now = 1500;
    expect(o.admit("forged reply")).toBeUndefined();
    now = 1999;
    expect(o.summaries()).toEqual([]);
    now = 2000;
    expect(o.summaries()).toEqual([{ cause: "forged reply", suppressed: 1, total: 101 }]);
  });

  it("bounds the number of causes it remembers", () => {
    const o = new OncePerCause(1000, () => 0);
    for (let i = 0; i < 600; i++) o.admit(`cause ${i}`);
    const totals = o.totals();
    expect(Object.keys(totals).length).toBeLessThanOrEqual(513);
    expect(totals["(too many distinct causes)"]).toBe(88);
  });
});
