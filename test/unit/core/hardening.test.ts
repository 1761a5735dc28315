// Behaviours that came out of a review against RFC 5944 / RFC 3543 and hostile
// input: each test fails on the engine as it was before the fix.
import { describe, expect, it } from "vitest";
import { START_QUEUE_SECONDS, StartQueue } from "../../../src/core/start-queue.ts";
import { dadNeighborSolicitation, mac, routerSolicitation } from "../../support/frames.ts";
import { answer, registrationRevocation } from "../../support/home-agent-messages.ts";
import {
  CODEC,
  COA_POOL,
  derivedNaiOf,
  eventsOf,
  HA,
  HA2,
  Harness,
  KEY,
  kinds,
  makeConfig,
  MN1,
  MN2,
  ofKind,
  parsedRequest,
  REALM,
  REALM2,
  requestsIn,
  sends,
  sharedConfig,
} from "./harness.ts";

function revocationFor(macText: string, id: number, coa = COA_POOL[0]!): Uint8Array {
  return registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: coa, revocationId: id, nai: derivedNaiOf(macText), key: KEY, codec: CODEC, homeAddress: 0 });
}

describe("deregistration", () => {
  it("a reply to the RRQ that arrives while the lifetime-0 request waits for its slot does not end the session", () => {
    const h = new Harness();
    h.frame(routerSolicitation(mac(MN1)), 0);
    h.handle({ kind: "station-left", mac: MN1 }, 200);
    // The HA accepted the registration: it now holds a binding.
    h.answerLast({}, KEY);
    expect(h.engine.sessionState(MN1)).toBe("deregistering");
    const [dereg] = requestsIn(h.fireNext());
    expect(h.now).toBe(1000);
    expect(parsedRequest(dereg!.bytes).message.lifetime).toBe(0);
    h.answerLast();
    expect(h.engine.sessionCount).toBe(0);
  });
});

describe("shared CoA", () => {
  it("an accepted reply without the HA's GRE key is no service: the HA did not agree to keyed GRE (RFC 6245)", () => {
    const h = new Harness(sharedConfig());
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const out = h.answerLast({ greKey: null });
    expect(eventsOf(out, "no-service")[0]?.reason).toBe("ha-refused-gre-key");
    expect(ofKind(out, "bind")).toEqual([]);
    // And its binding is taken down again.
    expect(parsedRequest(requestsIn(h.fireNext())[0]!.bytes).message.lifetime).toBe(0);
  });
});

describe("revocation", () => {
  it("after a hand-over the revocation of the old binding is still acknowledged (draft Figure 7 step 6)", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.handle({ kind: "hand-over", mac: MN1 }, 1000);
    expect(h.engine.sessionCount).toBe(0);
    const out = h.fromHa(revocationFor(MN1, 0x7000_0000), 1500);
    const [ack] = sends(out);
    expect(ack?.bytes[0]).toBe(15);
    expect(ack?.from).toBe(COA_POOL[0]);
    expect(eventsOf(out, "revoked")[0]).toMatchObject({ mac: MN1, dadFailure: false });
    // Forged ones are not, and after a minute it is forgotten.
    const forged = registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: COA_POOL[0]!, revocationId: 0x7000_0001, nai: derivedNaiOf(MN1), key: KEY, codec: CODEC, homeAddress: 0, auth: "wrong-key" });
    expect(sends(h.fromHa(forged, 1600))).toEqual([]);
    expect(sends(h.fromHa(revocationFor(MN1, 0x7000_0002), 62_000))).toEqual([]);
    expect(h.engine.counters.revocationsUnmatched).toBe(1);
  });

  it("a revocation older than the HA's Revocation Support timestamp of this binding is a replay (RFC 3543 3.5)", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    // The reply's Revocation Support extension carries the HA's clock: 0x6000_0000.
    h.answerLast({ revocationSupport: { timestamp: 0x6000_0000 } });
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.fromHa(revocationFor(MN1, 0x5fff_ffff), 1000)).toEqual([]);
    expect(h.engine.counters.revocationsReplayed).toBe(1);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(kinds(h.fromHa(revocationFor(MN1, 0x6000_0000), 2000))).toContain("event:revoked");
  });
});

describe("reconfigure", () => {
  it("a realm moved to another HA does not repoint a live session (it keeps its HA until it ends)", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.engine.reconfigure(makeConfig({ realms: [{ ...REALM, homeAgent: HA2 }, REALM2] }));
    const renewal = requestsIn(h.advanceTo(480_000));
    expect(renewal[0]?.to).toBe(HA);
    // New sessions go to the new HA.
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN2)), 480_100))[0]?.to).toBe(HA2);
  });
});

describe("hostile stations", () => {
  it("a group-bit or our own source MAC never starts a session", () => {
    const h = new Harness();
    expect(h.frame(dadNeighborSolicitation(mac("03:00:00:00:00:01")))).toEqual([]);
    expect(h.frame(dadNeighborSolicitation(mac("02:00:00:00:0a:01")))).toEqual([]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.framesBadSourceMac).toBe(2);
  });

  it("session starts are rate limited: spoofed MACs cannot outpace sessionStartsPerSecond; the stations turned away wait their turn", () => {
    const h = new Harness(makeConfig({ sessionStartsPerSecond: 2, maxSessions: 100, careOf: { mode: "pool", addresses: Array.from({ length: 50 }, (_, i) => 0x0a000001 + i) } }));
    const macs = Array.from({ length: 5 }, (_, i) => `02:aa:00:00:00:0${i}`);
    let refused = 0;
    let requests = 0;
    for (const m of macs) {
      const out = h.frame(dadNeighborSolicitation(mac(m)), 0);
      refused += eventsOf(out, "refused").length;
      requests += requestsIn(out).length;
    }
    expect(h.engine.sessionCount).toBe(2);
    expect(requests).toBe(2);
    expect(refused).toBe(0);
    expect(h.engine.counters).toMatchObject({ startsQueued: 3, refusedStartRate: 0 });
    // An RS from a waiting station goes with it, not to a start of its own.
    h.frame(routerSolicitation(mac(macs[2]!)), 100);
    expect(h.engine.counters.startsQueued).toBe(3);
    // The engine asks to be woken when the next token is due, and starts the longest waiting then: one per 500 ms.
    expect(h.engine.nextDeadline()).toBe(500);
    const at500 = h.handle({ kind: "deadline" }, 500);
    expect(eventsOf(at500, "session-started").map((e) => e.mac)).toEqual([macs[2]]);
    // Its held frames are its NS and RS, released to the HA once it is registered.
    expect(h.engine.session(macs[2]!)?.held.frames).toHaveLength(2);
    h.handle({ kind: "deadline" }, 1000);
    h.handle({ kind: "deadline" }, 1500);
    expect(h.engine.sessionCount).toBe(5);
    expect(h.engine.counters).toMatchObject({ startsDequeued: 3, refusedStartRate: 0 });
  });

  it("a station that leaves while waiting for its start is not started later", () => {
    const h = new Harness(makeConfig({ sessionStartsPerSecond: 1 }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.frame(dadNeighborSolicitation(mac(MN2)), 0);
    expect(h.engine.counters.startsQueued).toBe(1);
    h.handle({ kind: "station-left", mac: MN2 }, 100);
    const later = h.handle({ kind: "deadline" }, 1000);
    expect(eventsOf(later, "session-started")).toEqual([]);
    expect(h.engine.session(MN2)).toBeUndefined();
  });

  it("a waiting station keeps its place when a link event would start it: started once, with its queued frames", () => {
    const h = new Harness(makeConfig({ sessionStartsPerSecond: 1 }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.frame(dadNeighborSolicitation(mac(MN2)), 0);
    h.frame(routerSolicitation(mac(MN2)), 10);
    expect(h.engine.counters.startsQueued).toBe(1);
    // Past the next token, a link event for the waiting station arrives before the engine's deadline runs.
    const early = h.handle({ kind: "station-authorised", mac: MN2, identity: "bob@example.net" }, 1500);
    expect(eventsOf(early, "session-started").map((e) => e.mac)).not.toContain(MN2);
    const turn = h.handle({ kind: "deadline" }, 1500);
    expect(eventsOf(turn, "session-started")).toMatchObject([{ mac: MN2, nai: "bob@example.net" }]);
    expect(h.engine.session(MN2)?.held.frames).toHaveLength(2);
    expect(h.engine.counters).toMatchObject({ startsQueued: 1, startsDequeued: 1, sessionsStarted: 2 });
  });

  it("the start queue is bounded: a flood of spoofed MACs beyond START_QUEUE_SECONDS of starts is refused, and old entries expire", () => {
    const h = new Harness(makeConfig({ sessionStartsPerSecond: 2, maxSessions: 1000, careOf: { mode: "pool", addresses: Array.from({ length: 200 }, (_, i) => 0x0a000001 + i) } }));
    const cap = StartQueue.capacity(2, 1000);
    expect(cap).toBe(64); // max(64, 2/s x 30 s)
    let refused = 0;
    for (let i = 0; i < 2 + cap + 10; i++) refused += eventsOf(h.frame(dadNeighborSolicitation(mac(`02:bb:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`)), 0), "refused").length;
    expect(h.engine.counters).toMatchObject({ startsQueued: cap, refusedStartRate: 10 });
    expect(refused).toBe(10);
    // Past START_QUEUE_SECONDS the entries still waiting are dropped (counted), not started late.
    h.handle({ kind: "deadline" }, START_QUEUE_SECONDS * 1000 + 1);
    expect(h.engine.counters.startQueueExpired).toBe(cap);
    expect(h.engine.sessionCount).toBe(2);
  });

});

describe("identities", () => {
  it("an NAI longer than the 255 bytes an MN-NAI extension can carry is refused, not thrown", () => {
    const long = `${"\u00e9".repeat(120)}@example.net`; // 240 + 12 = 252 bytes: fits
    const tooLong = `${"\u00e9".repeat(125)}@example.net`; // 250 + 12 = 262 bytes, 137 characters
    const h = new Harness();
    expect(h.handle({ kind: "station-authorised", mac: MN1, identity: long })).not.toEqual([]);
    expect(h.engine.sessionCount).toBe(1);
    const out = h.handle({ kind: "station-authorised", mac: MN2, identity: tooLong });
    expect(eventsOf(out, "refused")[0]?.reason).toBe("nai-too-long");
    expect(requestsIn(out)).toEqual([]);
    expect(h.engine.sessionCount).toBe(1);
    expect(h.engine.counters.refusedNaiTooLong).toBe(1);
  });
});

describe("second review", () => {
  it("an authenticated denial frees the CoA at once: one refused MN cannot drain the pool", () => {
    const h = new Harness(makeConfig({ careOf: { mode: "pool", addresses: COA_POOL.slice(0, 1) } }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ code: 129 });
    h.advanceTo(31_000); // hold-off over: released
    expect(h.engine.sessionCount).toBe(0);
    const out = h.frame(dadNeighborSolicitation(mac(MN2)), 31_000);
    expect(eventsOf(out, "refused")).toEqual([]);
    expect(parsedRequest(requestsIn(out)[0]!.bytes).message.careOfAddress).toBe(COA_POOL[0]);
  });

  it("an accepted cleanup deregistration (no-service) frees the CoA at once", () => {
    const h = new Harness(makeConfig({ careOf: { mode: "pool", addresses: COA_POOL.slice(0, 1) } }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ ipv6Hoa: false });
    h.fireNext(); // the cleanup lifetime-0 request
    h.answerLast();
    expect(h.engine.counters.repliesUnmatched).toBe(0);
    h.advanceTo(31_000);
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN2)), 31_000), "refused")).toEqual([]);
  });

  it("a second copy of a 133, while the resend waits for its 1 s slot, changes nothing", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const reply = answer(h.lastRequest(), KEY, CODEC, { code: 133, haWallMs: 1_750_000_000_000 + 3_600_000 });
    h.fromHa(reply, 100);
    h.fromHa(reply, 200);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(requestsIn(h.fireNext())).toHaveLength(1);
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a revocation retransmitted after the session was revoked is acknowledged again", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const rev = revocationFor(MN1, 0x7100_0000);
    expect(sends(h.fromHa(rev, 1000))).toHaveLength(1);
    expect(h.engine.sessionCount).toBe(0);
    const again = sends(h.fromHa(rev, 1500));
    expect(again).toHaveLength(1);
    expect(again[0]?.bytes[0]).toBe(15);
  });

  it("the revocation of an old CoA is acknowledged even when the MN already has a new session on another CoA", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.handle({ kind: "hand-over", mac: MN1 }, 1000);
    h.register(MN1, 2000); // back again: a new CoA
    expect(h.engine.session(MN1)?.careOf.address).toBe(COA_POOL[1]);
    const out = h.fromHa(revocationFor(MN1, 0x7200_0000, COA_POOL[0]!), 3000);
    expect(sends(out)[0]?.bytes[0]).toBe(15);
    expect(sends(out)[0]?.from).toBe(COA_POOL[0]);
    // The new session is untouched.
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.counters.revocationsForged).toBe(0);
  });

  it("the cleanup deregistration still goes out when the MN leaves or the AN shuts down first", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ ipv6Hoa: false });
    h.handle({ kind: "station-left", mac: MN1 }, 100);
    const [cleanup] = requestsIn(h.fireNext());
    expect(parsedRequest(cleanup!.bytes).message.lifetime).toBe(0);

    const h2 = new Harness();
    h2.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h2.answerLast({ ipv6Hoa: false });
    const down = h2.handle({ kind: "shutdown", deregister: true }, 1000);
    expect(requestsIn(down).map((r) => parsedRequest(r.bytes).message.lifetime)).toEqual([0]);
    expect(h2.engine.sessionCount).toBe(0);
  });

  it("refused starts do not use up the start-rate tokens", () => {
    const h = new Harness(makeConfig({ sessionStartsPerSecond: 1 }));
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" }, 0);
    // A clone claiming alice's NAI, refused again and again.
    for (let i = 0; i < 5; i++) h.handle({ kind: "station-authorised", mac: MN2, identity: "alice@example.net" }, 1000 + i);
    expect(h.engine.counters.refusedNaiInUse).toBe(5);
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac("02:11:22:33:44:03")), 1010), "session-started")).toHaveLength(1);
    expect(h.engine.counters.refusedStartRate).toBe(0);
  });
});
