// Issue 9 (field behaviour), the engine's part: every test here fails on the
// engine before the fix (see the numbered findings and smaller points).
import { describe, expect, it } from "vitest";
import { DEFAULT_REGISTRATION_TIMING } from "../../../src/core/config.ts";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import { dadNeighborSolicitation, ip6, linkLocalOf, mac, mldReport, neighborAdvertisementPacket, routerAdvertisementPacket } from "../../support/frames.ts";
import { answer, registrationRevocation } from "../../support/home-agent-messages.ts";
import { CODEC, COA_POOL, derivedNaiOf, eventsOf, HA, HA_MAC, Harness, KEY, makeConfig, MN1, MN2, ofKind, parsedRequest, requestsIn, sends, WALL } from "./harness.ts";

const HA_LLA = ip6("fe80::1");
const target = linkLocalOf(mac(MN1));
const timing = { ...DEFAULT_REGISTRATION_TIMING, jitter: 0, refreshJitter: 0 };

function revocation(id = 0x6850_0000, coa = COA_POOL[0]!): Uint8Array {
  return registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: coa, revocationId: id, nai: derivedNaiOf(MN1), key: KEY, codec: CODEC });
}
const defendingNa = (): Uint8Array => neighborAdvertisementPacket({ src: HA_LLA, target, tlla: HA_MAC });

/** MN1 bound, with a DAD probe for its link-local outstanding. */
function probing(h = new Harness()): Harness {
  h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
  h.answerLast();
  return h;
}

describe("item 1: the defending NA and the revocation, in either order", () => {
  it("revocation first, NA a moment later: the NA still reaches the MN and makes it a DAD failure (detach, hold-off)", () => {
    const h = probing();
    const rev = h.fromHa(revocation(), 1200);
    expect(eventsOf(rev, "revoked")[0]?.dadFailure).toBe(false);
    expect(h.engine.sessionCount).toBe(0);
    const down = h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1205);
    expect(ofKind(down, "to-mn")).toHaveLength(1);
    expect(ofKind(down, "to-mn")[0]!.dst).toEqual(mac(MN1));
    expect(eventsOf(down, "dad-failure")).toEqual([{ type: "dad-failure", mac: MN1, revocationId: 0x6850_0000, order: "revocation-first" }]);
    expect(ofKind(down, "detach")).toEqual([{ kind: "detach", mac: MN1 }]);
    expect(eventsOf(down, "entry-held-off")).toEqual([{ type: "entry-held-off", mac: MN1, holdOffS: 60, reason: "dad-failure" }]);
    expect(h.engine.counters).toMatchObject({ dadFailureDetaches: 1, dadFailuresRevocationFirst: 1, revokedLingerDelivered: 1, entryHoldOffs: 1 });
    // A second copy of the NA is delivered, but detaches nothing more.
    const again = h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1300);
    expect(ofKind(again, "to-mn")).toHaveLength(1);
    expect(ofKind(again, "detach")).toEqual([]);
  });

  it("while the revoked session lingers with its probe unanswered, the station starts no new session (its NA may yet come)", () => {
    const h = probing();
    h.fromHa(revocation(), 1200);
    const early = h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6("2001:db8:1::7") }), 1300);
    expect(eventsOf(early, "refused")).toMatchObject([{ mac: MN1, reason: "revocation-linger" }]);
    h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1600);
    expect(h.engine.sessionCount).toBe(0);
    // Without a DAD failure the MN may start again once the linger is over.
    const h2 = probing();
    h2.fromHa(revocation(), 1200);
    expect(requestsIn(h2.frame(dadNeighborSolicitation(mac(MN1)), 3201))).toHaveLength(1);
  });


  it("a probe heard long before a slow bind still counts from the bind: the HA's NA after the revocation is a DAD failure", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    h.handle({ kind: "deadline" }, 2500); // retransmissions: the HA answers only the third request
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 2500); // the probe reached the HA with the bind, 2.5 s after the MN sent it
    expect(h.engine.sessionState(MN1)).toBe("bound");
    h.fromHa(revocation(), 3000);
    const early = h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6("2001:db8:1::7") }), 3100);
    expect(eventsOf(early, "refused")).toMatchObject([{ mac: MN1, reason: "revocation-linger" }]);
    const down = h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 3200);
    expect(ofKind(down, "detach")).toEqual([{ kind: "detach", mac: MN1 }]);
    expect(h.engine.counters.dadFailureDetaches).toBe(1);
  });

  it("a revoked session whose DAD probes are older than the linger holds no new start back (an MN moving back after a handover registers at once)", () => {
    const h = probing(); // probed at 0 ms, bound since
    h.fromHa(revocation(), 2500); // revoked (another AN took the MN over) 2.5 s after its last probe
    const back = h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6("2001:db8:1::7") }), 2700);
    expect(eventsOf(back, "refused")).toEqual([]);
    expect(requestsIn(back)).toHaveLength(1);
  });
  it("the RA that follows a revocation is delivered too; the linger ends after revocationLingerMs", () => {
    const h = probing();
    h.fromHa(revocation(), 1200);
    expect(ofKind(h.tunnel(routerAdvertisementPacket({ src: HA_LLA, slla: HA_MAC }), { outerDst: COA_POOL[0]! }, 3000), "to-mn")).toHaveLength(1);
    expect(h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 3201)).toEqual([]);
    expect(h.engine.counters.packetsFromTunnelUnmatched).toBe(1);
  });

  it("with the linger off (0), a late NA is dropped: the old behaviour", () => {
    const h = probing(new Harness(makeConfig({ revocationLingerMs: 0 })));
    h.fromHa(revocation(), 1200);
    expect(h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1205)).toEqual([]);
  });

  it("a lingering session takes packets only from its HA", () => {
    const h = probing();
    h.fromHa(revocation(), 1200);
    expect(h.tunnel(defendingNa(), { outerSrc: HA + 7, outerDst: COA_POOL[0]! }, 1205)).toEqual([]);
  });

  it("NA first: the dad-failure event says so, and the station is held off", () => {
    const h = probing();
    h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1200);
    const rev = h.fromHa(revocation(), 1201);
    expect(eventsOf(rev, "dad-failure")).toEqual([{ type: "dad-failure", mac: MN1, revocationId: 0x6850_0000, order: "na-first" }]);
    expect(eventsOf(rev, "entry-held-off")).toHaveLength(1);
  });
});

describe("item 2: a DAD-failure detach stops entry for the hold-off", () => {
  it("the station's next NS starts nothing until dadFailureHoldOffMs passed (refused, counted), then it may register", () => {
    const h = probing();
    h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1200);
    h.fromHa(revocation(), 1201);
    const refused = h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6("2001:db8:1::99") }), 1800);
    expect(requestsIn(refused)).toEqual([]);
    expect(eventsOf(refused, "refused")).toMatchObject([{ mac: MN1, reason: "entry-hold-off" }]);
    expect(h.engine.sessionCount).toBe(0);
    // Another station is not affected.
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN2)), 2000))).toHaveLength(1);
    h.frame(dadNeighborSolicitation(mac(MN1)), 60_000);
    expect(h.engine.counters.refusedEntryHoldOff).toBe(2);
    // After the hold-off (60 s in the harness) MN1 registers again.
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN1)), 61_201))).toHaveLength(1);
  });

  it("a hold-off of 0 disables it", () => {
    const h = probing(new Harness(makeConfig({ dadFailureHoldOffMs: 0 })));
    h.tunnel(defendingNa(), { outerDst: COA_POOL[0]! }, 1200);
    const rev = h.fromHa(revocation(), 1201);
    expect(eventsOf(rev, "entry-held-off")).toEqual([]);
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN1)), 2300))).toHaveLength(1);
  });
});

describe("item 3: an HA outage", () => {
  it("after a registration timeout the same NAI gets its quarantined CoA back; another NAI does not", () => {
    const h = new Harness(makeConfig({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] }, registration: timing }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.advanceTo(24_000); // 5 tries unanswered
    expect(h.engine.sessionState(MN1)).toBe("failed");
    h.advanceTo(60_000); // hold-off over: released, the CoA quarantined (the HA may hold a binding)
    expect(h.engine.sessionCount).toBe(0);
    const other = h.frame(dadNeighborSolicitation(mac(MN2)), 60_100);
    expect(eventsOf(other, "refused")).toMatchObject([{ mac: MN2, reason: "coa-exhausted" }]);
    const back = h.frame(dadNeighborSolicitation(mac(MN1)), 60_200);
    expect(eventsOf(back, "session-started")).toMatchObject([{ mac: MN1, careOf: "203.0.113.10" }]);
    expect(requestsIn(back)).toHaveLength(1);
  });

  it("a bound MN's renewal keeps retrying past the expiry, at most outageRetryMaxMs apart, until the HA answers", () => {
    const h = new Harness(makeConfig({ registration: { ...timing, lifetimeS: 30 }, idleTimeoutMs: 1_800_000 }));
    h.register(MN1, 0);
    const sentAt: number[] = [];
    for (let i = 0; i < 40 && h.now < 120_000; i++) if (requestsIn(h.fireNext()).length > 0) sentAt.push(h.now);
    expect(h.engine.sessionState(MN1)).toBe("renewing");
    expect(sentAt.at(-1)).toBeGreaterThan(30_000); // past the expiry at 30 s
    expect(eventsOf(h.log, "binding-lapsed")).toEqual([{ type: "binding-lapsed", mac: MN1, attempts: expect.any(Number) as number }]);
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    for (const g of gaps.slice(5)) {
      expect(g).toBeGreaterThanOrEqual(1000);
      expect(g).toBeLessThanOrEqual(3000);
    }
    // The HA is back: the next retry is accepted and the session is bound again.
    const answer = h.answerLast();
    expect(eventsOf(answer, "refreshed")).toHaveLength(1);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("an idle MN whose HA is silent is let go by the idle timer, not retried for ever", () => {
    const h = new Harness(makeConfig({ registration: { ...timing, lifetimeS: 30 }, idleTimeoutMs: 100_000 }));
    h.register(MN1, 0);
    h.advanceTo(104_000); // noticed at the first retry deadline after 100 s (retries at most 3 s apart)
    expect(eventsOf(h.log, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "idle" }]);
    expect(h.engine.counters.idleTimeouts).toBe(1);
  });
});

describe("item 4: leaving", () => {
  it("station-left is counted and its lifetime-0 deregistration follows", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const left = h.handle({ kind: "station-left", mac: MN1 }, 5000);
    expect(eventsOf(left, "station-left")).toEqual([{ type: "station-left", mac: MN1, cause: "link" }]);
    expect(parsedRequest(requestsIn(left)[0]!.bytes).message.lifetime).toBe(0);
    expect(h.engine.counters).toMatchObject({ stationsLeft: 1, deregistrationsSent: 1 });
  });
});

describe("item 5: smaller points", () => {
  it("renewals and deregistrations carry the IPv4 home address the HA assigned (RFC 5944 3.6.1.2); the initial request does not", () => {
    const h = new Harness(makeConfig({ registration: timing }));
    h.register(MN1, 0, { homeAddress: 0x0a00_0005 });
    expect(parsedRequest(h.lastRequest()).message.homeAddress).toBe(0);
    const renewal = requestsIn(h.fireNext());
    expect(parsedRequest(renewal[0]!.bytes).message.homeAddress).toBe(0x0a00_0005);
    h.answerLast({ homeAddress: 0x0a00_0005 });
    const left = h.handle({ kind: "station-left", mac: MN1 }, h.now + 2000);
    expect(parsedRequest(requestsIn(left)[0]!.bytes).message).toMatchObject({ lifetime: 0, homeAddress: 0x0a00_0005 });
  });

  it("the 1 s minimum between requests holds at shutdown: the deregistration waits for its slot", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const down = h.handle({ kind: "shutdown", deregister: true }, 200);
    expect(requestsIn(down)).toEqual([]);
    expect(h.engine.shutdownPending).toBe(1);
    expect(h.engine.nextDeadline()).toBe(1000);
    const late = h.fireNext();
    expect(parsedRequest(requestsIn(late)[0]!.bytes).message.lifetime).toBe(0);
    expect(h.now).toBe(1000);
    expect(h.engine.shutdownPending).toBe(0);
    expect(h.engine.nextDeadline()).toBeUndefined();
    // No new session after shutdown.
    expect(h.frame(dadNeighborSolicitation(mac(MN2)), 1100)).toEqual([]);
  });

  it("the cleanup deregistration at shutdown waits for its slot too, and is an event", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ ipv6Hoa: false });
    expect(requestsIn(h.handle({ kind: "shutdown", deregister: true }, 300))).toEqual([]);
    const late = h.fireNext();
    expect(h.now).toBe(1000);
    expect(eventsOf(late, "registration-sent")).toMatchObject([{ mac: MN1, lifetime: 0, cleanup: true }]);
  });

  it("the cleanup deregistration (no-service) is a registration-sent event", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ ipv6Hoa: false });
    const cleanup = h.fireNext();
    expect(requestsIn(cleanup)).toHaveLength(1);
    expect(eventsOf(cleanup, "registration-sent")).toMatchObject([{ mac: MN1, lifetime: 0, initial: false, cleanup: true }]);
  });

  it("after a 133 resync the next identification is greater than the one the HA last accepted (RFC 3344 5.7)", () => {
    const h = new Harness(makeConfig({ registration: timing }));
    h.register(MN1, 0);
    const accepted = parsedRequest(h.lastRequest()).message.identification;
    h.fireNext(); // renewal at 480 s
    // The HA's clock now reads 2 s before the accepted request (it stepped back):
    // resynchronised to it alone, the next request would fall below the accepted id.
    h.answerLast({ code: ReplyCode.IdentificationMismatch, haWallMs: WALL - 2000 });
    const resent = requestsIn(h.fireNext());
    expect(resent).toHaveLength(1);
    expect(parsedRequest(resent[0]!.bytes).message.identification).toBeGreaterThan(accepted);
  });

  it("the revocation acknowledgement leaves from the address the revocation was sent to (RFC 3543)", () => {
    const h = probing();
    const local = COA_POOL[2]!;
    const out = h.fromHa(revocation(), 1500, HA, 434, local);
    expect(sends(out)[0]).toMatchObject({ from: local, to: HA });
  });

  it("an MLD report from an unknown station is counted apart (normal before the first NS)", () => {
    const h = new Harness();
    h.frame(mldReport(mac(MN1)), 0);
    expect(h.engine.counters).toMatchObject({ framesUnknownMnMld: 1, framesUnknownMnNonTrigger: 0 });
  });
});
