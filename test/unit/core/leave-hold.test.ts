// Issue 10, "nothing is lost" before the release: a fleet AN (releaseForwardMs on)
// that hears a bound MN leave the link keeps the binding for leaveHoldMs and holds
// its downlink, for the new AN's release (held frames forwarded), the MN's return
// (delivered), or the HA's revocation followed by a release; with nothing by the
// window's end it deregisters as before. Plain calls with made-up times.
import { describe, expect, it } from "vitest";
import type { EngineConfig } from "../../../src/core/config.ts";
import { dadNeighborSolicitation, dataFrame, echoRequestPacket, ip6, mac } from "../../support/frames.ts";
import { registrationRevocation } from "../../support/home-agent-messages.ts";
import { CODEC, derivedNaiOf, eventsOf, HA, HA_MAC, Harness, KEY, kinds, makeConfig, MN1, MN2, ofKind, parsedRequest, requestsIn, STRANGER, v4 } from "./harness.ts";

const NEW_AN_COA = v4("198.18.0.20");
const MN_ADDRESS = "2001:db8:1::11";
const CN = ip6("2001:db8:2::2");
const HOLD_MS = 1500;

const downlink = (seq: number): Uint8Array => echoRequestPacket(CN, ip6(MN_ADDRESS), seq);
const fleet = (over: Partial<EngineConfig> = {}) => makeConfig({ releaseForwardMs: 2000, leaveHoldMs: HOLD_MS, ...over });

function revocation(nai: string, coa: number, id = 0x6850_0000): Uint8Array {
  return registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: coa, revocationId: id, nai, key: KEY, codec: CODEC, homeAddress: 0 });
}

/** MN1 bound at 0, its station left at 1000: returns the harness, its CoA and what the leave produced. */
function leftAt1000(config: EngineConfig = fleet()) {
  const h = new Harness(config);
  if (config.linkLayer) h.handle({ kind: "station-authorised", mac: MN1 }, 0);
  h.register(MN1, 0);
  const coa = h.engine.session(MN1)!.careOf.address;
  const left = h.handle({ kind: "station-left", mac: MN1 }, 1000);
  return { h, coa, left };
}

describe("leave hold at a fleet AN", () => {
  it("a bound station leaving the link: no deregistration, unbound, told with the window; the HA's packets are held, not sent to the link", () => {
    const { h, coa, left } = leftAt1000();
    expect(kinds(left)).toEqual(["event:station-left", "unbind"]);
    expect(eventsOf(left, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "link", holdMs: HOLD_MS }]);
    expect(requestsIn(left)).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    for (let i = 0; i < 3; i++) expect(h.tunnel(downlink(i), { outerDst: coa }, 1010 + i)).toEqual([]);
    expect(h.engine.heldFrames).toBe(3);
    expect(h.engine.counters).toMatchObject({ stationsLeft: 1, leaveHolds: 1, framesLeaveHeld: 3, framesToMn: 0 });
    // A second leave report changes nothing (the first window runs).
    expect(h.handle({ kind: "station-left", mac: MN1 }, 1020)).toEqual([]);
    expect(h.engine.counters.stationsLeft).toBe(1);
  });

  it("(a) a release within the window: the held frames go to the new AN first, in order, then what follows; nothing to the link", () => {
    const { h, coa } = leftAt1000();
    const held = [downlink(1), downlink(2)];
    for (const p of held) h.tunnel(p, { outerDst: coa }, 1100);
    expect(h.engine.releasable(1200, MN1)).toBe(true);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1200);
    expect(ofKind(out, "to-peer").map((a) => a.packet)).toEqual(held);
    expect(ofKind(out, "to-peer")[0]!.tunnel).toEqual({ careOf: coa, homeAgent: NEW_AN_COA, greKey: null });
    expect(eventsOf(out, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "forwarded", frames: 2 }]);
    expect(eventsOf(out, "released")).toMatchObject([{ reason: "handed-over" }]);
    expect(requestsIn(out)).toEqual([]); // no deregistration: the new AN's registration replaces the binding
    expect(ofKind(h.tunnel(downlink(3), { outerDst: coa }, 1300), "to-peer")).toHaveLength(1);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters).toMatchObject({ leaveHoldsForwarded: 1, framesLeaveHeldForwarded: 2, framesForwardedToPeer: 3, framesToMn: 0 });
    // The window's timer went with the session: nothing fires at its end.
    expect(h.advanceTo(1000 + HOLD_MS + 10).filter((a) => a.kind === "event" && a.event.type === "leave-hold-ended")).toEqual([]);
  });

  it("(b) the station comes back within the window (authorised again): bound again in the datapath, the held frames delivered, no registration", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    const back = h.handle({ kind: "station-authorised", mac: MN1 }, 1200);
    expect(kinds(back)).toEqual(["bind", "to-mn", "event:leave-hold-ended"]);
    expect(ofKind(back, "to-mn")[0]!.packet).toEqual(downlink(1));
    expect(eventsOf(back, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "returned", frames: 1 }]);
    expect(requestsIn(back)).toEqual([]);
    expect(ofKind(h.tunnel(downlink(2), { outerDst: coa }, 1300), "to-mn")).toHaveLength(1);
    // The window's end passes without a deregistration.
    expect(requestsIn(h.advanceTo(1000 + HOLD_MS + 100))).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.counters).toMatchObject({ leaveHoldsReturned: 1, framesLeaveHeldDelivered: 1, leaveHoldsExpired: 0, sessionsStarted: 1 });
  });

  it("(b) the station comes back with a frame: the frame goes to the tunnel, the held downlink to the MN", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    const back = h.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8:2::2")), 1200);
    expect(kinds(back)).toEqual(["bind", "to-mn", "event:leave-hold-ended", "to-tunnel"]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("(b) with 802.1X required, a frame from a station not authorised again does not end the hold", () => {
    const { h, coa } = leftAt1000(fleet({ linkLayer: { requireAuthorised: true, registerOnAuthorised: false } }));
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    expect(h.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8:2::2")), 1200)).toEqual([]);
    expect(h.engine.counters.framesUnauthorised).toBe(1);
    expect(ofKind(h.handle({ kind: "station-authorised", mac: MN1 }, 1300), "to-mn")).toHaveLength(1);
  });

  it("(c) the HA's revocation first (the new AN registered), then the release within the window: held frames and those that came after go to the new AN", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    const revoked = h.fromHa(revocation(derivedNaiOf(MN1), coa), 1150);
    expect(eventsOf(revoked, "released")).toMatchObject([{ reason: "revoked" }]);
    expect(ofKind(revoked, "send-signalling")).toHaveLength(1); // the acknowledgement
    // What the HA still sends to the old CoA is held too, not sent to the empty link (the lingering session would).
    expect(h.tunnel(downlink(2), { outerDst: coa }, 1160)).toEqual([]);
    expect(h.engine.releasable(1200, MN1)).toBe(true);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1200);
    expect(ofKind(out, "to-peer").map((a) => a.packet)).toEqual([downlink(1), downlink(2)]);
    expect(eventsOf(out, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "forwarded", frames: 2, revoked: true }]);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters).toMatchObject({ leaveHoldsRevoked: 1, leaveHoldsForwarded: 1, framesLeaveHeldForwarded: 2, revokedLingerDelivered: 0, framesToMn: 0 });
  });

  it("(c) the same without the revocation linger (revocationLingerMs 0): the hold alone knows where to forward", () => {
    const { h, coa } = leftAt1000(fleet({ revocationLingerMs: 0 }));
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    h.fromHa(revocation(derivedNaiOf(MN1), coa), 1150);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1200);
    expect(ofKind(out, "to-peer").map((a) => a.packet)).toEqual([downlink(1)]);
  });

  it("(c) revoked and no release by the window's end: the held frames are dropped (counted, told on time)", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    h.fromHa(revocation(derivedNaiOf(MN1), coa), 1150);
    expect(h.engine.nextDeadline()).toBe(1000 + HOLD_MS + 1); // the hold is live through its last ms
    const end = h.advanceTo(1000 + HOLD_MS + 1);
    expect(eventsOf(end, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "expired", frames: 1, revoked: true }]);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.releasable(1150 + 2000 + 1, MN1)).toBe(false); // after the revocation linger too
    expect(h.engine.counters).toMatchObject({ leaveHoldsExpired: 1, framesLeaveHeldDropped: 1 });
  });

  it("(d) nothing within the window: the held frames are dropped (counted) and the session deregisters, the left step as before", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    h.tunnel(downlink(2), { outerDst: coa }, 1200);
    expect(requestsIn(h.advanceTo(1000 + HOLD_MS - 1))).toEqual([]);
    const end = h.advanceTo(1000 + HOLD_MS);
    expect(eventsOf(end, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "expired", frames: 2 }]);
    expect(requestsIn(end)).toHaveLength(1); // lifetime 0
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters).toMatchObject({ leaveHoldsExpired: 1, framesLeaveHeldDropped: 2, framesToMn: 0 });
    h.answerLast({ lifetime: 0 });
    expect(h.engine.sessionCount).toBe(0);
    expect(eventsOf(h.log, "released")).toMatchObject([{ mac: MN1, reason: "deregistered" }]); // as a leave without the window
  });

  it("the session ends otherwise during the window (shutdown): the held frames are dropped, counted, told as ended", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    const out = h.handle({ kind: "shutdown", deregister: true }, 1200);
    expect(eventsOf(out, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "ended", frames: 1 }]);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters).toMatchObject({ leaveHoldsEnded: 1, framesLeaveHeldDropped: 1, leaveHoldsExpired: 0 });
  });

  it("is bounded by the hold caps: frames beyond the per-MN cap are dropped and counted by cap", () => {
    const { h, coa } = leftAt1000(fleet({ hold: { framesPerMn: 2, bytesPerMn: 1 << 20, framesTotal: 3, bytesTotal: 1 << 20 } }));
    for (let i = 0; i < 5; i++) h.tunnel(downlink(i), { outerDst: coa }, 1100 + i);
    expect(h.engine.heldFrames).toBe(2);
    expect(h.engine.counters).toMatchObject({ framesLeaveHeld: 2, leaveHoldDropPerMnFrames: 3 });
    // A second MN away at once: the total cap refuses its second frame.
    h.register(MN2, 1200);
    const coa2 = h.engine.session(MN2)!.careOf.address;
    h.handle({ kind: "station-left", mac: MN2 }, 1210);
    h.tunnel(downlink(10), { outerDst: coa2 }, 1220);
    h.tunnel(downlink(11), { outerDst: coa2 }, 1221);
    expect(h.engine.heldFrames).toBe(3);
    expect(h.engine.counters).toMatchObject({ framesLeaveHeld: 3, leaveHoldDropTotalFrames: 1 });
    // The released frames are what was held, in order.
    expect(ofKind(h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1300), "to-peer").map((a) => a.packet)).toEqual([downlink(0), downlink(1)]);
  });

  it("outside a fleet too when configured (the HA's revocation ends it): a registration elsewhere moves the binding, our deregistration would have deleted it", () => {
    const { h, left, coa } = leftAt1000(fleet({ releaseForwardMs: 0 }));
    expect(eventsOf(left, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "link", holdMs: HOLD_MS }]);
    expect(kinds(left)).not.toContain("send-signalling");
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    expect(h.engine.counters).toMatchObject({ leaveHolds: 1, framesLeaveHeld: 1 });
  });

  it("not with leaveHoldMs 0 (or absent), nor for a session still registering: deregistering at once", () => {
    for (const config of [fleet({ leaveHoldMs: 0 }), fleet({ leaveHoldMs: undefined })]) {
      const { h, left } = leftAt1000(config);
      expect(kinds(left)).toEqual(["event:station-left", "unbind", "send-signalling", "event:registration-sent"]);
      expect(eventsOf(left, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "link" }]);
      expect(h.engine.counters.leaveHolds).toBe(0);
    }
    const h = new Harness(fleet());
    h.frame(dadNeighborSolicitation(mac(MN1)), 0); // registering: no binding to keep
    const left = h.handle({ kind: "station-left", mac: MN1 }, 500);
    expect(eventsOf(left, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "link" }]);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    expect(h.engine.counters.leaveHolds).toBe(0);
  });

  it("downlink from another source than the MN's HA is not held", () => {
    const { h, coa } = leftAt1000();
    h.tunnel(downlink(1), { outerSrc: STRANGER, outerDst: coa }, 1100);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters.packetsFromTunnelWrongSource).toBe(1);
  });
});

// Review of the leave hold against the rest of the session's life: a window that
// overlaps a renewal, an idle timer, a revocation after a renewal.
describe("leave hold across the session's other timers", () => {
  /** MN1 bound at 0 (lifetime 600 s: refresh at 480 s), its renewal sent at 480 000, its station left 100 ms later. */
  function leftWhileRenewing(config: EngineConfig = fleet()) {
    const h = new Harness(config);
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    expect(requestsIn(h.advanceTo(480_000))).toHaveLength(1);
    expect(h.engine.sessionState(MN1)).toBe("renewing");
    h.handle({ kind: "station-left", mac: MN1 }, 480_100);
    return { h, coa, leftAt: 480_100 };
  }

  it("a renewal answered during the window does not cancel the window's end: the session still deregisters then", () => {
    const { h, coa, leftAt } = leftWhileRenewing();
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
    h.tunnel(downlink(1), { outerDst: coa }, 480_200);
    const end = h.advanceTo(leftAt + HOLD_MS);
    expect(eventsOf(end, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "expired", frames: 1 }]);
    expect(requestsIn(end)).toHaveLength(1); // lifetime 0
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    expect(h.engine.heldFrames).toBe(0);
  });

  it("a renewal still unanswered: its retransmission waits out the window, which ends on time with the deregistration", () => {
    const { h, leftAt } = leftWhileRenewing();
    expect(requestsIn(h.advanceTo(leftAt + HOLD_MS - 1))).toEqual([]);
    const end = h.advanceTo(leftAt + HOLD_MS);
    expect(eventsOf(end, "leave-hold-ended")).toMatchObject([{ outcome: "expired" }]);
    expect(requestsIn(end).map((r) => parsedRequest(r.bytes).message.lifetime)).toEqual([0]);
    expect(h.engine.session(MN1)?.away).toBe(false);
  });

  it("revoked after a renewal's reply during the window: the revoked hold still ends with the window (not kept for ever)", () => {
    const { h, coa, leftAt } = leftWhileRenewing();
    h.answerLast();
    h.tunnel(downlink(1), { outerDst: coa }, 480_200);
    h.fromHa(revocation(derivedNaiOf(MN1), coa), 480_300);
    expect(h.engine.nextDeadline()).toBe(leftAt + HOLD_MS + 1);
    const end = h.advanceTo(leftAt + HOLD_MS + 1);
    expect(eventsOf(end, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "expired", frames: 1, revoked: true }]);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.releasable(leftAt + 10_000, MN1)).toBe(false);
  });

  // RFC 5944 3.8.2.2 (S bit clear, as our requests are): a nonzero lifetime from the
  // old CoA replaces every binding of the MN, the new AN's too; a lifetime 0 for the
  // old CoA deletes only that one. So no renewal leaves while the MN may be elsewhere.
  it("a refresh coming due during the window sends no renewal (it would take the binding back from the new AN): only the deregistration at the end", () => {
    const h = new Harness(fleet());
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 479_500);
    expect(requestsIn(h.advanceTo(479_500 + HOLD_MS - 1))).toEqual([]);
    const end = h.advanceTo(479_500 + HOLD_MS + 10);
    expect(requestsIn(end).map((r) => parsedRequest(r.bytes).message.lifetime)).toEqual([0]);
  });

  it("a refresh deferred by the window, the MN back within it: the renewal goes out right after the window's end", () => {
    const h = new Harness(fleet());
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 479_500);
    h.advanceTo(480_500);
    h.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8:2::2")), 480_500);
    expect(requestsIn(h.advanceTo(479_500 + HOLD_MS))).toEqual([]);
    const renewal = h.advanceTo(479_500 + HOLD_MS + 1);
    expect(requestsIn(renewal).map((r) => parsedRequest(r.bytes).message.lifetime)).toEqual([600]);
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a refresh passed over by a release during the window: no renewal, the session is handed over", () => {
    const h = new Harness(fleet());
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 479_500);
    expect(requestsIn(h.advanceTo(480_200))).toEqual([]);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 480_300);
    expect(requestsIn(out)).toEqual([]);
    expect(requestsIn(h.advanceTo(490_000))).toEqual([]);
    expect(h.engine.sessionCount).toBe(0);
  });
});

describe("leave hold and the idle timer", () => {
  it("the idle timer coming due during the window does not end it: the release that follows still gets the held frames", () => {
    const h = new Harness(fleet({ idleTimeoutMs: 10_000 }));
    h.register(MN1, 0); // last heard at 0: idle due at 10 000
    const coa = h.engine.session(MN1)!.careOf.address;
    h.handle({ kind: "station-left", mac: MN1 }, 9_500);
    h.tunnel(downlink(1), { outerDst: coa }, 9_600);
    const idle = h.advanceTo(10_400);
    expect(requestsIn(idle)).toEqual([]);
    expect(eventsOf(idle, "station-left")).toEqual([]);
    expect(h.engine.counters.idleTimeouts).toBe(0);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 10_500);
    expect(ofKind(out, "to-peer").map((a) => a.packet)).toEqual([downlink(1)]);
    expect(eventsOf(out, "leave-hold-ended")).toMatchObject([{ outcome: "forwarded", frames: 1 }]);
  });

  it("back from the window, the idle timer judges from the return", () => {
    const h = new Harness(fleet({ idleTimeoutMs: 10_000 }));
    h.register(MN1, 0);
    h.handle({ kind: "station-left", mac: MN1 }, 9_500);
    h.advanceTo(10_400);
    h.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8:2::2")), 10_500);
    expect(requestsIn(h.advanceTo(20_499))).toEqual([]);
    const idle = h.advanceTo(20_500 + 10_000);
    expect(eventsOf(idle, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "idle" }]);
  });
});

describe("leave hold and the identity of a station back on the link", () => {
  const dot1x = () => fleet({ linkLayer: { requireAuthorised: true, registerOnAuthorised: false } });
  function aliceLeft() {
    const h = new Harness(dot1x());
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" }, 0);
    h.register(MN1, 0);
    expect(h.engine.session(MN1)?.nai).toBe("alice@example.net");
    const coa = h.engine.session(MN1)!.careOf.address;
    h.handle({ kind: "station-left", mac: MN1 }, 1000);
    h.tunnel(downlink(1), { outerDst: coa }, 1100);
    return { h, coa };
  }

  it("authorised again with the same identity: the session resumes", () => {
    const { h } = aliceLeft();
    const back = h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" }, 1200);
    expect(ofKind(back, "to-mn")).toHaveLength(1);
    expect(eventsOf(back, "leave-hold-ended")).toMatchObject([{ outcome: "returned" }]);
  });

  it("authorised again as someone else (a log-off, another user's log-on on the same MAC): alice's held downlink and binding are not given to bob; deregistered as without the window", () => {
    const { h } = aliceLeft();
    const back = h.handle({ kind: "station-authorised", mac: MN1, identity: "bob@example.net" }, 1200);
    expect(ofKind(back, "to-mn")).toEqual([]);
    expect(ofKind(back, "bind")).toEqual([]);
    expect(eventsOf(back, "leave-hold-ended")).toEqual([{ type: "leave-hold-ended", mac: MN1, outcome: "ended", frames: 1 }]);
    expect(requestsIn(back).map((r) => parsedRequest(r.bytes).message.lifetime)).toEqual([0]);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    // bob's frames are not bridged into alice's tunnel.
    expect(ofKind(h.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8:2::2")), 1300), "to-tunnel")).toEqual([]);
    expect(h.engine.heldFrames).toBe(0);
  });
});
