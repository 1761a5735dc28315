// One timer for all sessions: the DeadlineQueue, and the engine's nextDeadline.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeadlineQueue } from "../../../src/core/deadlines.ts";
import type { DeadlineOwner } from "../../../src/core/deadlines.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { propertyRuns } from "../../support/runs.ts";
import { Harness, MN1, MN2, MN3 } from "./harness.ts";

interface Owner extends DeadlineOwner {
  readonly name: string;
}

const owner = (name: string): Owner => ({ name, deadlineAt: undefined, deadlineSlot: -1 });

function popAll(q: DeadlineQueue<Owner>, now: number): string[] {
  const out: string[] = [];
  for (let o = q.popDue(now); o; o = q.popDue(now)) out.push(o.name);
  return out;
}

describe("DeadlineQueue", () => {
  it("pops due owners earliest first, and only those due", () => {
    const q = new DeadlineQueue<Owner>();
    const [a, b, c] = [owner("a"), owner("b"), owner("c")];
    q.arm(b, 20);
    q.arm(a, 10);
    q.arm(c, 30);
    expect(q.next()).toBe(10);
    expect(q.armedCount).toBe(3);
    expect(popAll(q, 25)).toEqual(["a", "b"]);
    expect(a.deadlineAt).toBeUndefined();
    expect(q.next()).toBe(30);
    expect(q.armedCount).toBe(1);
    expect(popAll(q, 29)).toEqual([]);
    expect(popAll(q, 30)).toEqual(["c"]);
    expect(q.next()).toBeUndefined();
    expect(q.armedCount).toBe(0);
  });

  it("cancel removes an owner; cancelling twice or an unarmed owner is harmless", () => {
    const q = new DeadlineQueue<Owner>();
    const [a, b] = [owner("a"), owner("b")];
    q.arm(a, 10);
    q.arm(b, 20);
    q.cancel(a);
    q.cancel(a);
    q.cancel(owner("z"));
    expect(q.armedCount).toBe(1);
    expect(q.next()).toBe(20);
    expect(popAll(q, 100)).toEqual(["b"]);
  });

  it("re-arming moves an owner, earlier or later, and it pops once", () => {
    const q = new DeadlineQueue<Owner>();
    const [a, b] = [owner("a"), owner("b")];
    q.arm(a, 10);
    q.arm(b, 15);
    q.arm(a, 30);
    expect(q.next()).toBe(15);
    expect(a.deadlineAt).toBe(30);
    q.arm(b, 5);
    expect(q.armedCount).toBe(2);
    expect(popAll(q, 100)).toEqual(["b", "a"]);
  });

  it("re-arming moves owners in place: one heap slot per owner, order kept", () => {
    const q = new DeadlineQueue<Owner>();
    const owners = Array.from({ length: 10 }, (_, i) => owner(`o${i}`));
    // Many re-arms, earlier and later: no stale entries pile up.
    for (let round = 0; round < 50; round++) owners.forEach((o, i) => q.arm(o, 1000 + ((i * 7 + round) % 10) * 10 + i));
    expect(q.size).toBe(10);
    expect(q.armedCount).toBe(10);
    const expected = [...owners].sort((x, y) => x.deadlineAt! - y.deadlineAt!).map((o) => o.name);
    expect(popAll(q, 10_000)).toEqual(expected);
  });

  it("agrees with a sorted model under random arm/cancel/pop (property)", () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant("arm" as const), who: fc.nat({ max: 7 }), at: fc.nat({ max: 1000 }) }),
      fc.record({ k: fc.constant("cancel" as const), who: fc.nat({ max: 7 }) }),
      fc.record({ k: fc.constant("pop" as const), now: fc.nat({ max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new DeadlineQueue<Owner>();
        const owners = Array.from({ length: 8 }, (_, i) => owner(`o${i}`));
        const model = new Map<Owner, number>();
        for (const o of ops) {
          if (o.k === "arm") {
            q.arm(owners[o.who]!, o.at);
            model.set(owners[o.who]!, o.at);
          } else if (o.k === "cancel") {
            q.cancel(owners[o.who]!);
            model.delete(owners[o.who]!);
          } else {
            const popped = q.popDue(o.now);
            const due = [...model.entries()].filter(([, at]) => at <= o.now);
            if (due.length === 0) expect(popped).toBeUndefined();
            else {
              const min = Math.min(...due.map(([, at]) => at));
              expect(popped).toBeDefined();
              expect(model.get(popped!)).toBe(min);
              model.delete(popped!);
            }
          }
          const min = model.size === 0 ? undefined : Math.min(...model.values());
          expect(q.next()).toBe(min);
          expect(q.armedCount).toBe(model.size);
        }
      }),
      { numRuns: Math.min(propertyRuns(), 5000) },
    );
  });
});

describe("Engine.nextDeadline", () => {
  it("is the earliest deadline of all sessions", () => {
    const h = new Harness();
    expect(h.engine.nextDeadline()).toBeUndefined();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0); // retransmit at 1000
    h.frame(dadNeighborSolicitation(mac(MN2)), 300); // at 1300
    h.frame(dadNeighborSolicitation(mac(MN3)), 600); // at 1600
    expect(h.engine.nextDeadline()).toBe(1000);
    h.answerLast(); // MN3 bound at 600: refresh at 480600
    expect(h.engine.nextDeadline()).toBe(1000);
    h.handle({ kind: "hand-over", mac: MN1 }, 700);
    expect(h.engine.nextDeadline()).toBe(1300);
    h.handle({ kind: "hand-over", mac: MN2 }, 800);
    expect(h.engine.nextDeadline()).toBe(480_600);
  });

  it("a deadline input before anything is due does nothing", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    expect(h.handle({ kind: "deadline" }, 999)).toEqual([]);
    expect(h.engine.nextDeadline()).toBe(1000);
  });
});
