// Named timers: one slot per timer, the earliest in the heap, fired by name.
import { describe, expect, it } from "vitest";
import { TIMER_ORDER, TimerWheel } from "../../../src/core/session-timers.ts";
import type { TimerOwner } from "../../../src/core/session-timers.ts";

const owner = (): TimerOwner => ({ timerRow: -1, deadlineAt: undefined, deadlineSlot: -1 });

describe("SessionTimers", () => {
  it("has one slot per named timer, each name once", () => {
    expect(new Set(TIMER_ORDER).size).toBe(TIMER_ORDER.length);
    expect([...TIMER_ORDER].sort()).toEqual(["cleanup", "expiry", "holdOff", "idle", "leaveHold", "refresh", "retransmit"]);
  });

  it("starts with nothing armed", () => {
    const w = new TimerWheel<TimerOwner>();
    const a = owner();
    expect(w.earliest(a)).toBe(Infinity);
    expect(w.dueTimer(a, 1e15)).toBeUndefined();
    for (const name of TIMER_ORDER) expect(w.at(a, name)).toBe(Infinity);
  });

  it("keeps a row only while a timer is armed, and reuses rows given back", () => {
    const w = new TimerWheel<TimerOwner>();
    const owners = Array.from({ length: 1500 }, owner); // more than one chunk
    owners.forEach((o, i) => w.set(o, "refresh", 1000 + i));
    expect(w.rowsInUse).toBe(1500);
    owners.forEach((o, i) => expect(w.at(o, "refresh")).toBe(1000 + i));
    w.clear(owners[0]!);
    w.disarm(owners[1]!, "refresh");
    expect(w.rowsInUse).toBe(1498);
    const late = owner();
    w.set(late, "expiry", 5);
    expect(w.rowsInUse).toBe(1499);
    // A reused row starts disarmed: nothing of its previous owner shows.
    expect(w.at(late, "refresh")).toBe(Infinity);
    expect(w.dueTimer(late, 10)).toBe("expiry");
    expect(w.at(owners[0]!, "refresh")).toBe(Infinity);
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
    expect(w.at(a, "refresh")).toBe(Infinity);
    expect(w.at(a, "idle")).toBe(Infinity);
    expect(w.at(a, "retransmit")).toBe(300);
    expect(w.next()).toBe(300);
    w.clear(a);
    expect(w.next()).toBeUndefined();
    expect(w.earliest(a)).toBe(Infinity);
    expect(w.rowsInUse).toBe(0);
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
