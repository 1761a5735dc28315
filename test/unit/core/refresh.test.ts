// Keeping a binding: refresh at the refresh fraction (renewals carry no IPv6 HoA
// Request, draft 4.3), retries bounded by the binding's expiry, expiry itself.
import { describe, expect, it } from "vitest";
import { DEFAULT_REGISTRATION_TIMING } from "../../../src/core/config.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac } from "../../support/frames.ts";
import { eventsOf, expectIndependentlyAuthenticated, Harness, KEY, kinds, makeConfig, MN1, MN2, ofKind, parsedRequest, requestsIn } from "./harness.ts";

const ROUTER = mac("02:00:5e:00:53:99");

function bound(at = 1000, config = makeConfig()): Harness {
  const h = new Harness(config);
  h.register(MN1, at);
  return h;
}

describe("refresh", () => {
  it("renews at 80% of the lifetime without the IPv6 HoA Request, and an accepted reply extends the binding", () => {
    const h = bound(1000);
    const initialId = parsedRequest(h.lastRequest()).message.identification;
    expect(h.engine.nextDeadline()).toBe(1000 + 480_000);
    const renew = h.fireNext();
    expect(h.now).toBe(481_000);
    expect(h.engine.sessionState(MN1)).toBe("renewing");
    const [send] = requestsIn(renew);
    const rrq = parsedRequest(send!.bytes).message;
    expect(rrq.lifetime).toBe(600);
    expect(rrq.flags.D).toBe(true);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "revocation-support", "auth"]);
    expect(rrq.identification).toBeGreaterThan(initialId);
    expectIndependentlyAuthenticated(send!.bytes, KEY);
    expect(eventsOf(renew, "registration-sent")[0]).toMatchObject({ initial: false, attempt: 1, lifetime: 600 });
    // No unbind: the MN keeps forwarding while the renewal is out.
    expect(ofKind(renew, "unbind")).toEqual([]);
    expect(ofKind(h.frame(dataFrame(mac(MN1), ROUTER, ip6("2001:db8::1")), 481_500), "to-tunnel")).toHaveLength(1);

    const accepted = h.answerLast({}, KEY);
    // Only the lifetime changed: no context write per refresh (flash wear on the AP).
    expect(kinds(accepted)).toEqual(["event:refreshed"]);
    expect(eventsOf(accepted, "refreshed")).toEqual([{ type: "refreshed", mac: MN1, lifetime: 600 }]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    // RFC 5944 3.6.2.2: the granted lifetime runs from when the renewal was sent (481 000).
    expect(h.engine.session(MN1)?.expiresAt).toBe(481_000 + 600_000);
    expect(h.engine.nextDeadline()).toBe(481_000 + 480_000);
    expect(h.engine.counters.refreshes).toBe(1);
  });

  it("an accepted renewal that repeats the IPv6 HoA extension is fine too", () => {
    const h = bound();
    h.fireNext();
    h.answerLast({ ipv6Hoa: true });
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("refresh jitter moves the renewal earlier, never later", () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const h = new Harness(makeConfig({ registration: DEFAULT_REGISTRATION_TIMING }), seed);
      h.register(MN1, 0);
      const at = h.engine.nextDeadline()!;
      expect(at).toBeGreaterThanOrEqual(450_000);
      expect(at).toBeLessThanOrEqual(480_000);
    }
  });

  it("an unanswered renewal with the idle timer off retries past the expiry, and ends once nothing was heard for a lifetime", () => {
    const h = bound(0);
    h.frame(dadNeighborSolicitation(mac(MN1)), 300_000); // the MN was last heard at 300 s
    h.fireNext(); // renewal at 480 s
    const retryTimes: number[] = [];
    let end: ReturnType<Harness["handle"]> = [];
    while (h.engine.sessionState(MN1) === "renewing") {
      end = h.fireNext();
      if (requestsIn(end).length > 0) retryTimes.push(h.now);
    }
    // issue 9 item 3: doubling up to outageRetryMaxMs (3 s); after maxTries (5) at most that, never below 1 s.
    expect(retryTimes.slice(0, 4)).toEqual([481_000, 483_000, 486_000, 489_000]);
    for (let i = 4; i < retryTimes.length; i++) {
      expect(retryTimes[i]! - retryTimes[i - 1]!).toBeLessThanOrEqual(3000);
      expect(retryTimes[i]! - retryTimes[i - 1]!).toBeGreaterThanOrEqual(1000);
    }
    // issue 9 item 3: the expiry at 600 s is noted (binding-lapsed) and the retries go on;
    // with idleTimeoutMs 0, a lifetime (600 s) after the MN was last heard (at 0) it ends.
    expect(eventsOf(h.log, "binding-lapsed")).toHaveLength(1);
    expect(retryTimes.filter((t) => t > 600_000).length).toBeGreaterThan(0);
    expect(h.now).toBeGreaterThanOrEqual(900_000);
    expect(h.now).toBeLessThanOrEqual(903_000);
    expect(kinds(end)).toEqual(["unbind", "event:released"]);
    expect(eventsOf(end, "released")).toEqual([{ type: "released", mac: MN1, reason: "expired" }]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.expiries).toBe(1);
    const ids = eventsOf(h.log, "registration-sent").map((e) => BigInt(e.identification));
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    // Frames after the release start a new session rather than entering a dead tunnel.
    expect(ofKind(h.frame(dadNeighborSolicitation(mac(MN1)), h.now + 100), "to-tunnel")).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("registering");
  });

  it("a denied renewal releases the binding", () => {
    const h = bound();
    h.fireNext();
    const actions = h.answerLast({ code: 130 });
    expect(eventsOf(actions, "registration-denied")[0]?.code).toBe(130);
    expect(ofKind(actions, "unbind")).toEqual([{ kind: "unbind", mac: MN1 }]);
    expect(eventsOf(actions, "released")).toEqual([{ type: "released", mac: MN1, reason: "denied" }]);
  });

  it("a 133 during renewal resyncs and stays renewing", () => {
    const h = bound();
    h.fireNext();
    const actions = h.answerLast({ code: 133, haWallMs: 0 });
    expect(requestsIn(actions)).toHaveLength(0);
    expect(h.engine.sessionState(MN1)).toBe("renewing");
    // The resynced renewal goes 1 s after the rejected one (RFC 5944 3.6.3).
    expect(requestsIn(h.fireNext())).toHaveLength(1);
    expect(h.now).toBe(482_000);
  });

  it("a bound session whose lifetime runs out without a refresh (lifetime shorter than a refresh step) expires", () => {
    const h = new Harness(makeConfig({ registration: { ...DEFAULT_REGISTRATION_TIMING, jitter: 0, refreshJitter: 0, lifetimeS: 1 } }));
    h.register(MN1, 0);
    const end = h.advanceTo(1000);
    expect(eventsOf(end, "released")[0]?.reason).toBe("expired");
    expect(ofKind(end, "unbind")).toHaveLength(1);
  });

  it("renewals of two MNs are independent", () => {
    const h = bound(0);
    h.register(MN2, 10_000);
    h.advanceTo(480_000);
    expect(h.engine.sessionState(MN1)).toBe("renewing");
    expect(h.engine.sessionState(MN2)).toBe("bound");
    expect(h.engine.nextDeadline()).toBe(481_000);
  });
});
