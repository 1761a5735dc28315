// The MN goes: link-layer leave, idle timeout, handover to another AN, shutdown.
import { describe, expect, it } from "vitest";
import { DEFAULT_REGISTRATION_TIMING } from "../../../src/core/config.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac } from "../../support/frames.ts";
import { COA_POOL, eventsOf, expectIndependentlyAuthenticated, HA, Harness, KEY, kinds, makeConfig, MN1, MN2, ofKind, parsedRequest, requestsIn } from "./harness.ts";

const ROUTER = mac("02:00:5e:00:53:99");
const data = (seq: number) => dataFrame(mac(MN1), ROUTER, ip6("2001:db8::1"), seq);

function expectDeregistration(bytes: Uint8Array, coa = COA_POOL[0]) {
  const rrq = parsedRequest(bytes).message;
  expect(rrq.lifetime).toBe(0);
  expect(rrq.careOfAddress).toBe(coa);
  expect(rrq.homeAgent).toBe(HA);
  expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "revocation-support", "auth"]);
  expectIndependentlyAuthenticated(bytes, KEY);
  return rrq;
}

describe("station-left", () => {
  it("while bound: unbind at once, lifetime-0 RRQ, released when the HA accepts it", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const boundId = parsedRequest(h.lastRequest()).message.identification;
    const left = h.handle({ kind: "station-left", mac: MN1 }, 5000);
    expect(kinds(left)).toEqual(["event:station-left", "unbind", "send-signalling", "event:registration-sent"]);
    const rrq = expectDeregistration(requestsIn(left)[0]!.bytes);
    expect(rrq.identification).toBeGreaterThan(boundId);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    expect(h.engine.counters.deregistrationsSent).toBe(1);
    // Frames still in flight from the MN go nowhere.
    expect(h.frame(data(1), 5100)).toEqual([]);
    expect(h.engine.counters.framesDroppedDeregistering).toBe(1);
    const done = h.answerLast({ lifetime: 0 });
    expect(kinds(done)).toEqual(["event:released"]);
    expect(eventsOf(done, "released")[0]?.reason).toBe("deregistered");
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.nextDeadline()).toBeUndefined();
  });

  it("while bound and the HA silent: released after the configured tries", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 5000);
    const retry = h.fireNext();
    expect(h.now).toBe(6000);
    expectDeregistration(requestsIn(retry)[0]!.bytes);
    const end = h.fireNext();
    expect(h.now).toBe(8000);
    expect(requestsIn(end)).toEqual([]);
    expect(eventsOf(end, "released")).toHaveLength(1);
    // The unbind went out when the MN left, not again.
    expect(ofKind(h.log, "unbind")).toHaveLength(1);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.deregistrationsSent).toBe(2);
  });

  it("a repeated leave (hostapd reports disassociation and deauthentication) sends no extra request within the second", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 5000);
    const again = h.handle({ kind: "station-left", mac: MN1 }, 5001);
    // RFC 5944 3.6.3: the minimum time between Registration Requests MUST NOT be less than 1 s.
    expect(requestsIn(again)).toEqual([]);
    // ...and the retry ladder is unchanged: second try at 6 s.
    expect(h.engine.nextDeadline()).toBe(6000);
    expect(requestsIn(h.fireNext())).toHaveLength(1);
  });

  it("a denied deregistration also ends the session", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 5000);
    h.answerLast({ code: 128 });
    expect(h.engine.sessionCount).toBe(0);
  });

  it("while registering: deregisters (the HA may hold a binding whose reply was lost), no unbind", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const left = h.handle({ kind: "station-left", mac: MN1 }, 500);
    expect(ofKind(left, "unbind")).toEqual([]);
    expect(h.engine.heldFrames).toBe(0);
    // RFC 5944 3.6.3: no second request within 1 s of the first; it goes at 1000.
    expect(requestsIn(left)).toEqual([]);
    expect(h.engine.nextDeadline()).toBe(1000);
    expectDeregistration(requestsIn(h.fireNext())[0]!.bytes);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
  });

  it("while registering, a second later: deregisters at once", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    expectDeregistration(requestsIn(h.handle({ kind: "station-left", mac: MN1 }, 1000))[0]!.bytes);
  });

  it("while failed: released at once without signalling", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ code: 129 });
    const left = h.handle({ kind: "station-left", mac: MN1 }, 500);
    expect(kinds(left)).toEqual(["event:station-left", "event:released"]);
    expect(eventsOf(left, "released")[0]?.reason).toBe("left");
  });

  it("for an unknown or malformed MAC does nothing", () => {
    const h = new Harness();
    h.register(MN1, 0);
    expect(h.handle({ kind: "station-left", mac: MN2 })).toEqual([]);
    expect(h.handle({ kind: "station-left", mac: "not a mac" })).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });
});

describe("idle timeout", () => {
  it("deregisters an MN heard from for longer than the timeout, not one that keeps talking", () => {
    const h = new Harness(makeConfig({ idleTimeoutMs: 60_000 }));
    h.register(MN1, 0);
    expect(h.engine.nextDeadline()).toBe(60_000);
    h.frame(data(1), 50_000);
    // The deadline at 60 s finds it active and re-arms for 110 s.
    expect(h.advanceTo(60_000)).toEqual([]);
    expect(h.engine.nextDeadline()).toBe(110_000);
    const idle = h.advanceTo(110_000);
    expect(kinds(idle)).toEqual(["event:station-left", "unbind", "send-signalling", "event:registration-sent"]);
    expectDeregistration(requestsIn(idle)[0]!.bytes);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
  });

  it("is off when configured 0", () => {
    const h = new Harness(makeConfig({ idleTimeoutMs: 0 }));
    h.register(MN1, 0);
    expect(h.engine.nextDeadline()).toBe(480_000);
  });
});

describe("hand-over and shutdown", () => {
  it("hand-over releases without deregistering (the HA revokes the old binding)", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const out = h.handle({ kind: "hand-over", mac: MN1 }, 1000);
    expect(kinds(out)).toEqual(["unbind", "event:released"]);
    expect(eventsOf(out, "released")[0]?.reason).toBe("handed-over");
    expect(requestsIn(out)).toEqual([]);
  });

  it("shutdown with deregister sends one lifetime-0 RRQ per active MN and releases all", () => {
    const h = new Harness(makeConfig({ registration: { ...DEFAULT_REGISTRATION_TIMING, jitter: 0 } }));
    h.register(MN1, 0);
    h.frame(dadNeighborSolicitation(mac(MN2)), 100);
    // 1 s after the newest request (RFC 5944 3.6.3 holds at shutdown too: shutdown-pacing.test.ts)
    const out = h.handle({ kind: "shutdown", deregister: true }, 1100);
    const reqs = requestsIn(out);
    expect(reqs).toHaveLength(2);
    for (const r of reqs) expect(parsedRequest(r.bytes).message.lifetime).toBe(0);
    expect(ofKind(out, "unbind")).toEqual([{ kind: "unbind", mac: MN1 }]);
    expect(eventsOf(out, "released").map((e) => [e.mac, e.reason])).toEqual([
      [MN1, "shutdown"],
      [MN2, "shutdown"],
    ]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.nextDeadline()).toBeUndefined();
    expect(h.engine.heldFrames).toBe(0);
  });

  it("shutdown without deregister just lets go", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const out = h.handle({ kind: "shutdown", deregister: false }, 200);
    expect(requestsIn(out)).toEqual([]);
    expect(kinds(out)).toEqual(["unbind", "event:released"]);
  });
});
