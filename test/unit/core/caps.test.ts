// Resource exhaustion: the session cap, the CoA pool, the GRE key space.
import { describe, expect, it } from "vitest";
import { CareOfAllocator } from "../../../src/core/care-of.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { COA_POOL, eventsOf, FIRST_KEY, Harness, makeConfig, MN1, MN2, MN3, MN4, parsedRequest, requestsIn, sharedConfig, SHARED_COA, v4 } from "./harness.ts";

describe("session cap", () => {
  it("refuses the MN beyond maxSessions with an event and a counter, and sends nothing", () => {
    const h = new Harness(makeConfig({ maxSessions: 2 }));
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.frame(dadNeighborSolicitation(mac(MN2)));
    const third = h.frame(dadNeighborSolicitation(mac(MN3)));
    expect(eventsOf(third, "refused")).toEqual([{ type: "refused", mac: MN3, reason: "session-cap", detail: "2 sessions" }]);
    expect(requestsIn(third)).toEqual([]);
    expect(h.engine.sessionCount).toBe(2);
    expect(h.engine.heldFrames).toBe(2);
    expect(h.engine.counters.refusedSessionCap).toBe(1);
    // Room again once one goes.
    h.handle({ kind: "hand-over", mac: MN1 });
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN3))))).toHaveLength(1);
  });
});

describe("CoA pool", () => {
  it("refuses when every address is in use, and reuses one once released", () => {
    const h = new Harness();
    for (const m of [MN1, MN2, MN3]) h.frame(dadNeighborSolicitation(mac(m)));
    const fourth = h.frame(dadNeighborSolicitation(mac(MN4)));
    expect(eventsOf(fourth, "refused")).toEqual([{ type: "refused", mac: MN4, reason: "coa-exhausted" }]);
    expect(h.engine.counters.refusedCoaExhausted).toBe(1);
    expect(h.engine.sessionCount).toBe(3);
    h.handle({ kind: "hand-over", mac: MN2 });
    // The HA may hold a binding to MN2's CoA (its request may have been accepted, the
    // reply lost): a new MN must not get that CoA, or it would receive MN2's traffic.
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN4)), 10), "refused")[0]?.reason).toBe("coa-exhausted");
    // Once a binding from that request would have run out (lifetime 600 s), it is reused.
    h.advanceTo(600_000);
    const again = requestsIn(h.frame(dadNeighborSolicitation(mac(MN4)), 600_000));
    expect(parsedRequest(again[0]!.bytes).message.careOfAddress).toBe(COA_POOL[1]);
  });

  it("a CoA whose binding the HA confirmed gone is reused at once, others go to the back of the pool", () => {
    const h = new Harness(makeConfig({ careOf: { mode: "pool", addresses: COA_POOL.slice(0, 2) } }));
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 2000);
    h.answerLast(); // the lifetime-0 request accepted: the HA has let go
    expect(h.engine.sessionCount).toBe(0);
    const next = requestsIn(h.frame(dadNeighborSolicitation(mac(MN2)), 2100));
    // FIFO: the address never used comes first; the confirmed one is free again behind it.
    expect(parsedRequest(next[0]!.bytes).message.careOfAddress).toBe(COA_POOL[1]);
    const third = requestsIn(h.frame(dadNeighborSolicitation(mac(MN3)), 2200));
    expect(parsedRequest(third[0]!.bytes).message.careOfAddress).toBe(COA_POOL[0]);
  });
});

describe("GRE key space (shared CoA)", () => {
  it("refuses when every key is in use", () => {
    const h = new Harness(sharedConfig({ careOf: { mode: "shared", address: SHARED_COA, firstKey: FIRST_KEY, keyCount: 2 } }));
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.frame(dadNeighborSolicitation(mac(MN2)));
    const third = h.frame(dadNeighborSolicitation(mac(MN3)));
    expect(eventsOf(third, "refused")[0]?.reason).toBe("coa-exhausted");
    expect(h.engine.counters.refusedCoaExhausted).toBe(1);
  });

  it("does not hand a just-released key to the next MN", () => {
    const h = new Harness(sharedConfig());
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.handle({ kind: "hand-over", mac: MN1 });
    const next = eventsOf(h.frame(dadNeighborSolicitation(mac(MN2))), "session-started");
    expect(next[0]?.greKey).toBe(FIRST_KEY + 1);
  });
});

describe("CareOfAllocator", () => {
  it("pool: lowest first, claim and release", () => {
    const a = new CareOfAllocator({ mode: "pool", addresses: [v4("10.0.0.3"), v4("10.0.0.1"), v4("10.0.0.2")] });
    expect(a.allocate(0)).toEqual({ address: v4("10.0.0.1"), greKey: null });
    expect(a.claim({ address: v4("10.0.0.3"), greKey: null })).toEqual({ address: v4("10.0.0.3"), greKey: null });
    expect(a.claim({ address: v4("10.0.0.3"), greKey: null })).toBeUndefined();
    expect(a.claim({ address: v4("10.0.0.9"), greKey: null })).toBeUndefined();
    expect(a.claim({ address: v4("10.0.0.2"), greKey: 5 })).toBeUndefined();
    expect(a.allocate(0)).toEqual({ address: v4("10.0.0.2"), greKey: null });
    expect(a.allocate(0)).toBeUndefined();
    expect(a.inUse).toBe(3);
    a.release({ address: v4("10.0.0.3"), greKey: null });
    expect(a.allocate(0)?.address).toBe(v4("10.0.0.3"));
  });

  it("pool: quarantined addresses come back only when their time is up, in order", () => {
    const a = new CareOfAllocator({ mode: "pool", addresses: [v4("10.0.0.1"), v4("10.0.0.2")] });
    const one = a.allocate(0)!;
    const two = a.allocate(0)!;
    a.release(one, 100, 5000);
    a.release(two, 200, 0);
    expect(a.quarantined).toBe(1);
    expect(a.allocate(300)?.address).toBe(v4("10.0.0.2"));
    expect(a.allocate(5099)).toBeUndefined();
    expect(a.allocate(5100)?.address).toBe(v4("10.0.0.1"));
    expect(a.quarantined).toBe(0);
  });

  it("pool: a reset keeps addresses in use and drops removed ones on release", () => {
    const a = new CareOfAllocator({ mode: "pool", addresses: [v4("10.0.0.1"), v4("10.0.0.2")] });
    const first = a.allocate(0)!;
    a.reset({ mode: "pool", addresses: [v4("10.0.0.2"), v4("10.0.0.3")] });
    expect(a.allocate(0)?.address).toBe(v4("10.0.0.2"));
    expect(a.allocate(0)?.address).toBe(v4("10.0.0.3"));
    a.release(first);
    expect(a.allocate(0)).toBeUndefined();
  });

  it("shared: keys inside the range only, claim refuses keys outside or in use", () => {
    const a = new CareOfAllocator({ mode: "shared", address: SHARED_COA, firstKey: 100, keyCount: 3 });
    expect(a.claim({ address: SHARED_COA, greKey: 101 })).toEqual({ address: SHARED_COA, greKey: 101 });
    expect(a.claim({ address: SHARED_COA, greKey: 101 })).toBeUndefined();
    expect(a.claim({ address: SHARED_COA, greKey: 103 })).toBeUndefined();
    expect(a.claim({ address: SHARED_COA + 1, greKey: 100 })).toBeUndefined();
    expect(a.claim({ address: SHARED_COA, greKey: null })).toBeUndefined();
    expect([a.allocate(0)?.greKey, a.allocate(0)?.greKey, a.allocate(0)]).toEqual([100, 102, undefined]);
  });
});
