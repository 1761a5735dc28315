// Registration Replies (RFC 5944 3.4, 3.6.2; draft 5.2.1): every outcome of the
// initial registration, and the replies the engine must not believe.
import { describe, expect, it } from "vitest";
import { ntpFromUnixMs } from "../../../src/wire/mip-identification.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac, routerSolicitation } from "../../support/frames.ts";
import { answer, registrationReply } from "../../support/home-agent-messages.ts";
import type { AuthMode } from "../../support/home-agent-messages.ts";
import {
  CODEC,
  COA_POOL,
  derivedNaiOf,
  eventsOf,
  expectIndependentlyAuthenticated,
  HA,
  Harness,
  KEY,
  kinds,
  MN1,
  MN2,
  ofKind,
  parsedRequest,
  requestsIn,
  STRANGER,
  WALL,
} from "./harness.ts";

function started(t = 1000): Harness {
  const h = new Harness();
  h.frame(dadNeighborSolicitation(mac(MN1)), t);
  return h;
}

describe("accepted", () => {
  it("with the empty IPv6 HoA extension: bind, registered, held frames, bound until the lifetime", () => {
    const h = started();
    const actions = h.answerLast({ homeAddress: 0x0a000005 }, KEY, HA);
    expect(ofKind(actions, "bind")).toEqual([
      { kind: "bind", mac: MN1, macBytes: mac(MN1), tunnel: { careOf: COA_POOL[0], homeAgent: HA, greKey: null }, downlinkKey: null },
    ]);
    expect(eventsOf(actions, "registered")).toEqual([
      { type: "registered", mac: MN1, nai: derivedNaiOf(MN1), homeAgent: "192.0.2.1", careOf: "203.0.113.10", lifetime: 600, greKey: null, heldFramesReleased: 1 },
    ]);
    expect(ofKind(actions, "to-tunnel")).toHaveLength(1);
    expect(ofKind(actions, "context-changed")).toEqual([{ kind: "context-changed", mac: MN1 }]);
    const s = h.engine.session(MN1)!;
    expect(s.state).toBe("bound");
    expect(s.expiresAt).toBe(1000 + 600_000);
    expect(s.homeAddress).toBe(0x0a000005);
    expect(h.engine.counters.repliesAccepted).toBe(1);
  });

  it("code 1 (no simultaneous bindings) is an acceptance too", () => {
    const h = started();
    h.answerLast({ code: 1 });
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("takes a shorter lifetime granted by the HA", () => {
    const h = started();
    const actions = h.answerLast({ lifetime: 120 });
    expect(eventsOf(actions, "registered")[0]?.lifetime).toBe(120);
    expect(h.engine.session(MN1)?.expiresAt).toBe(1000 + 120_000);
  });

  it("matches a reply without the NAI by its identification", () => {
    const h = started();
    h.answerLast({ nai: null });
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a reply without the NAI for an older identification is unmatched", () => {
    const h = started();
    const first = h.lastRequest();
    h.fireNext(); // retransmission: a new identification
    h.fromHa(answer(first, KEY, CODEC, { nai: null }));
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(h.engine.counters.repliesUnmatched).toBe(1);
  });

  it("without the IPv6 HoA extension: no-service event, a lifetime-0 deregistration, no tunnel traffic", () => {
    const h = started();
    h.frame(routerSolicitation(mac(MN1)), 1500);
    const actions = h.answerLast({ ipv6Hoa: false });
    expect(eventsOf(actions, "no-service")).toEqual([{ type: "no-service", mac: MN1, nai: derivedNaiOf(MN1), reason: "ha-lacks-v6-over-v4" }]);
    expect(ofKind(actions, "to-tunnel")).toEqual([]);
    expect(ofKind(actions, "bind")).toEqual([]);
    // The lifetime-0 request that takes the HA's binding down goes 1 s after the RRQ (RFC 5944 3.6.3).
    expect(requestsIn(actions)).toEqual([]);
    expect(h.engine.nextDeadline()).toBe(2000);
    const [dereg] = requestsIn(h.fireNext());
    const rrq = parsedRequest(dereg!.bytes).message;
    expect(rrq.lifetime).toBe(0);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "auth"]);
    expectIndependentlyAuthenticated(dereg!.bytes, KEY);
    expect(h.engine.sessionState(MN1)).toBe("no-service");
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.counters.noService).toBe(1);
    // Frames from the MN go nowhere while it has no service; its ND cannot re-trigger.
    expect(ofKind(h.frame(routerSolicitation(mac(MN1)), 2050), "to-tunnel")).toEqual([]);
    expect(h.engine.counters.refusedHoldOff).toBe(1);
    expect(ofKind(h.frame(dataFrame(mac(MN1), mac("02:00:5e:00:53:01"), ip6("2001:db8::1")), 2100), "to-tunnel")).toEqual([]);
    expect(h.engine.counters.framesDroppedNoService).toBe(1);
    // After the hold-off the session is released.
    expect(h.engine.nextDeadline()).toBe(1500 + 30_000);
    const later = h.advanceTo(1500 + 30_000);
    expect(eventsOf(later, "released")).toEqual([{ type: "released", mac: MN1, reason: "hold-off-over" }]);
    expect(h.engine.sessionCount).toBe(0);
  });

  it("with lifetime 0 grants no binding: the registration fails", () => {
    const h = started();
    const actions = h.answerLast({ lifetime: 0 });
    expect(ofKind(actions, "bind")).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(eventsOf(actions, "registration-denied")).toEqual([{ type: "registration-denied", mac: MN1, code: 0, codeName: "accepted-with-zero-lifetime" }]);
  });
});

describe("code 133, identification mismatch", () => {
  it("resynchronises to the HA's clock and resends 1 s after the first request, once", () => {
    const h = started(1000);
    const first = parsedRequest(h.lastRequest()).message.identification;
    // The HA's clock is an hour ahead of ours.
    const haWall = WALL + 1000 + 3_600_000;
    const actions = h.answerLast({ code: 133, haWallMs: haWall }, KEY, HA);
    expect(eventsOf(actions, "identification-resync")).toEqual([{ type: "identification-resync", mac: MN1, offsetMs: 3_600_500 }]);
    // RFC 5944 3.6.3: not two requests within 1 s.
    expect(requestsIn(actions)).toEqual([]);
    expect(h.engine.nextDeadline()).toBe(2000);
    const [resent] = requestsIn(h.fireNext());
    const rrq = parsedRequest(resent!.bytes).message;
    expect(rrq.identification).toBeGreaterThan(first);
    // High word: the HA's seconds (RFC 5944 5.7.1), i.e. our clock plus the offset.
    expect(rrq.identification >> 32n).toBe(ntpFromUnixMs(haWall + 1000 + 500) >> 32n);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "revocation-support", "auth"]);
    expect(eventsOf(h.log, "registration-sent")[1]?.attempt).toBe(1);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(h.engine.counters.identificationResyncs).toBe(1);
    // The resent request is answered: bound.
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("resynchronises when our clock runs ahead of the HA's: the rejected time is no floor", () => {
    const h = started(1000);
    const first = parsedRequest(h.lastRequest()).message.identification;
    // The HA's clock is an hour behind ours.
    const haWall = WALL + 1000 - 3_600_000;
    h.answerLast({ code: 133, haWallMs: haWall }, KEY, HA);
    const [resent] = requestsIn(h.fireNext());
    const id = parsedRequest(resent!.bytes).message.identification;
    expect(id >> 32n).toBe(ntpFromUnixMs(haWall + 1000 + 500) >> 32n);
    expect(id).toBeLessThan(first);
    // The low word still differs: a late reply to the rejected request cannot match.
    expect(id & 0xffff_ffffn).not.toBe(first & 0xffff_ffffn);
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
    // A second MN of the same HA starts with the learned offset: no 133 round trip.
    const second = requestsIn(h.frame(dadNeighborSolicitation(mac(MN2)), 3000));
    expect(parsedRequest(second[0]!.bytes).message.identification >> 32n).toBe(ntpFromUnixMs(haWall + 2000 + 500) >> 32n);
  });

  it("a second 133 fails the registration", () => {
    const h = started(1000);
    h.answerLast({ code: 133, haWallMs: WALL + 1000 + 3_600_000 });
    h.fireNext();
    const actions = h.answerLast({ code: 133, haWallMs: WALL + 1000 + 7_200_000 });
    expect(eventsOf(actions, "registration-denied")).toEqual([{ type: "registration-denied", mac: MN1, code: 133, codeName: "ha-identification-mismatch" }]);
    expect(requestsIn(actions)).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(h.engine.counters.identificationResyncs).toBe(1);
  });
});

describe("denials", () => {
  it.each([
    [64, "fa-reason-unspecified"],
    [128, "ha-reason-unspecified"],
    [129, "ha-administratively-prohibited"],
    [130, "ha-insufficient-resources"],
    [131, "ha-mobile-node-failed-authentication"],
    [134, "ha-poorly-formed-request"],
    [135, "ha-too-many-bindings"],
    [136, "ha-unknown-home-agent-address"],
    [200, "unknown-200"],
  ])("code %i fails the registration, then holds the MN off", (code, codeName) => {
    const h = started(1000);
    const actions = h.answerLast({ code });
    expect(eventsOf(actions, "registration-denied")).toEqual([{ type: "registration-denied", mac: MN1, code, codeName }]);
    expect(ofKind(actions, "bind")).toEqual([]);
    expect(ofKind(actions, "to-tunnel")).toEqual([]);
    expect(requestsIn(actions)).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(h.engine.counters.repliesDenied).toBe(1);
    expect(h.engine.nextDeadline()).toBe(1000 + 30_000);

    // During the hold-off a new NS does not trigger.
    const during = h.frame(dadNeighborSolicitation(mac(MN1)), 20_000);
    expect(requestsIn(during)).toEqual([]);
    expect(h.engine.counters.sessionsStarted).toBe(1);

    // When it is over the session goes, and the next NS starts afresh.
    expect(eventsOf(h.advanceTo(31_000), "released")).toEqual([{ type: "released", mac: MN1, reason: "hold-off-over" }]);
    const after = h.frame(dadNeighborSolicitation(mac(MN1)), 31_500);
    expect(requestsIn(after)).toHaveLength(1);
    expect(h.engine.sessionState(MN1)).toBe("registering");
  });
});

describe("replies the engine must not act on", () => {
  it.each<[string, AuthMode]>([
    ["an authenticator under another key", "wrong-key"],
    ["a corrupted authenticator", "corrupt"],
    ["another SPI", "wrong-spi"],
    ["no MN-HA authentication", "missing"],
    ["an extension after the authentication", "not-last"],
  ])("a reply with %s is dropped as forged", (_name, auth) => {
    const h = started();
    const actions = h.answerLast({ auth });
    expect(kinds(actions)).toEqual(["event:forged"]);
    expect(eventsOf(actions, "forged")[0]).toMatchObject({ what: "reply", from: "192.0.2.1" });
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(h.engine.counters.repliesForged).toBe(1);
    // Nothing changed: the genuine reply still binds.
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a correctly signed reply from another source address is dropped as forged", () => {
    const h = started();
    const actions = h.answerLast({}, KEY, STRANGER);
    expect(eventsOf(actions, "forged")).toEqual([{ type: "forged", what: "reply", from: "192.0.2.66", reason: "not from the MN's home agent" }]);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(h.engine.counters.repliesForged).toBe(1);
  });

  it("a forged denial does not fail the registration either", () => {
    const h = started();
    h.answerLast({ code: 131, auth: "wrong-key" });
    h.answerLast({ code: 133, auth: "corrupt", haWallMs: 0 });
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(h.engine.session(MN1)?.clockOffsetMs).toBe(0);
    expect(h.engine.counters.repliesForged).toBe(2);
  });

  it("a reply to an earlier identification is unmatched", () => {
    const h = started();
    const old = h.lastRequest();
    h.fireNext(); // retransmission with a new identification
    const actions = h.fromHa(answer(old, KEY, CODEC));
    expect(actions).toEqual([]);
    expect(h.engine.counters.repliesUnmatched).toBe(1);
    expect(h.engine.sessionState(MN1)).toBe("registering");
  });

  it("a reply for an unknown NAI is unmatched", () => {
    const h = started();
    const rrq = parsedRequest(h.lastRequest()).message;
    const reply = registrationReply({ code: 0, lifetime: 600, homeAgent: HA, identification: rrq.identification, nai: "stranger@example.net", ipv6Hoa: true, key: KEY, codec: CODEC });
    expect(h.fromHa(reply)).toEqual([]);
    expect(h.engine.counters.repliesUnmatched).toBe(1);
  });

  it("a duplicate of the accepted reply changes nothing", () => {
    const h = started();
    const reply = answer(h.lastRequest(), KEY, CODEC);
    h.fromHa(reply, 1100);
    const expires = h.engine.session(MN1)?.expiresAt;
    expect(h.fromHa(reply, 1200)).toEqual([]);
    expect(h.engine.session(MN1)?.expiresAt).toBe(expires);
    expect(h.engine.counters.repliesUnmatched).toBe(1);
  });

  it.each([
    ["truncated", Uint8Array.of(3, 0, 0, 1, 0, 0)],
    ["with an unknown non-skippable extension", Uint8Array.of(3, 0, 2, 88, 0, 0, 0, 0, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 99, 2, 0, 0)],
  ])("a reply %s is counted as malformed", (_name, bytes) => {
    const h = started();
    const actions = h.fromHa(bytes);
    expect(eventsOf(actions, "malformed")[0]).toMatchObject({ what: "registration-reply", from: "192.0.2.1" });
    expect(h.engine.counters.repliesMalformed).toBe(1);
    expect(h.engine.sessionState(MN1)).toBe("registering");
  });

  it("other message types on UDP 434 are counted", () => {
    const h = started();
    expect(h.fromHa(h.lastRequest())).toEqual([]);
    expect(h.fromHa(new Uint8Array(0))).toEqual([]);
    expect(h.engine.counters.signallingUnexpectedType).toBe(2);
  });
});
