// Named timers: one slot per timer, the earliest in the heap, fired by name.
import { describe, expect, it } from "vitest";
import { dueTimer, earliest, newTimers, TIMER_ORDER, timerAt, TimerWheel } from "../../../src/core/session-timers.ts";
import type { TimerOwner } from "../../../src/core/session-timers.ts";

const owner = (): TimerOwner => ({ timers: newTimers(), deadlineAt: undefined, deadlineSlot: -1 });

describe("SessionTimers", () => {
  it("has one slot per named timer, each name once", () => {
    expect(newTimers()).toHaveLength(TIMER_ORDER.length);
    expect(new Set(TIMER_ORDER).size).toBe(TIMER_ORDER.length);
    expect([...TIMER_ORDER].sort()).toEqual(["cleanup", "expiry", "holdOff", "idle", "refresh", "retransmit"]);
  });

  it("starts with nothing armed", () => {
    expect(earliest(newTimers())).toBe(Infinity);
    expect(dueTimer(newTimers(), 1e15)).toBeUndefined();
  });

  it("fires the earlier timer of one owner first, by name", () => {
    const w = new TimerWheel<TimerOwner>();
    const a = owner();
    w.set(a, "refresh", 500);
    w.set(a, "expiry", 900);
    expect(w.next()).toBe(500);
    expect(w.popDue(499)).toBeUndefined();
    expect(w.popDue(600)?.name).toBe("refresh");
    w.sync(a);
    expect(w.popDue(600)).toBeUndefined();
    expect(w.popDue(1000)?.name).toBe("expiry");
    w.sync(a);
    expect(w.popDue(1000)).toBeUndefined();
    expect(w.next()).toBeUndefined();
  });

  it("fires by TIMER_ORDER when several of one owner are due (expiry before refresh)", () => {
    const w = new TimerWheel<TimerOwner>();
    const a = owner();
    w.set(a, "refresh", 100);
    w.set(a, "expiry", 150);
    expect(w.popDue(200)?.name).toBe("expiry");
  });

  it("only() disarms the others, clear() all of them", () => {
    const w = new TimerWheel<TimerOwner>();
    const a = owner();
    w.set(a, "refresh", 100);
    w.set(a, "idle", 50);
    w.only(a, "retransmit", 300);
    expect(timerAt(a.timers, "refresh")).toBe(Infinity);
    expect(timerAt(a.timers, "idle")).toBe(Infinity);
    expect(timerAt(a.timers, "retransmit")).toBe(300);
    expect(w.next()).toBe(300);
    w.clear(a);
    expect(w.next()).toBeUndefined();
    expect(earliest(a.timers)).toBe(Infinity);
  });

  it("orders timers across owners", () => {
    const w = new TimerWheel<TimerOwner>();
    const a = owner();
    const b = owner();
    w.set(a, "holdOff", 700);
    w.set(b, "cleanup", 200);
    const first = w.popDue(1000);
    expect(first?.owner).toBe(b);
    expect(first?.name).toBe("cleanup");
    w.sync(b);
    expect(w.popDue(1000)?.owner).toBe(a);
  });
});
