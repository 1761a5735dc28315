// Registration Revocation (RFC 3543) from the HA, and the DAD-failure detach of draft 3.2.4.
import { describe, expect, it } from "vitest";
import { verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import { addressResolutionSolicitation, dadNeighborSolicitation, ip6, linkLocalOf, mac, neighborAdvertisementPacket } from "../../support/frames.ts";
import { registrationRevocation } from "../../support/home-agent-messages.ts";
import type { RevocationFields } from "../../support/home-agent-messages.ts";
import {
  CODEC,
  COA_POOL,
  derivedNaiOf,
  eventsOf,
  expectIndependentlyAuthenticated,
  HA,
  HA2,
  Harness,
  KEY,
  KEY2,
  kinds,
  makeConfig,
  MN1,
  MN2,
  ofKind,
  parsedAck,
  sends,
  STRANGER,
} from "./harness.ts";

const HA_LLA = ip6("fe80::1");

function revocation(o: Partial<RevocationFields> = {}): Uint8Array {
  return registrationRevocation({
    homeDomainAddress: HA,
    foreignDomainAddress: COA_POOL[0]!,
    revocationId: 0x6850_0000,
    nai: derivedNaiOf(MN1),
    key: KEY,
    codec: CODEC,
    homeAddress: 0x0a000005,
    ...o,
  });
}

function bound(): Harness {
  const h = new Harness();
  h.register(MN1, 0);
  return h;
}

describe("a verified revocation", () => {
  it("is acknowledged (type 15, same id, authenticated), releases the session and unbinds", () => {
    const h = bound();
    const actions = h.fromHa(revocation(), 10_000, HA, 4343);
    expect(kinds(actions)).toEqual(["send-signalling", "event:revoked", "unbind", "event:released"]);
    const [ack] = sends(actions);
    // Sent back to where the revocation came from, from the CoA.
    expect(ack).toMatchObject({ from: COA_POOL[0], to: HA, toPort: 4343 });
    const parsed = parsedAck(ack!.bytes);
    expect(ack!.bytes[0]).toBe(15);
    expect(parsed.message).toMatchObject({ iBit: false, homeAddress: 0x0a000005, revocationId: 0x6850_0000 });
    expect(parsed.message.extensions.map((e) => e.kind)).toEqual(["mn-nai", "auth"]);
    expect(parsed.message.extensions[0]).toEqual({ kind: "mn-nai", nai: derivedNaiOf(MN1) });
    expectIndependentlyAuthenticated(ack!.bytes, KEY);
    expect(verifyMnHaAuth(ack!.bytes, parsed, KEY).ok).toBe(true);
    expect(eventsOf(actions, "revoked")).toEqual([{ type: "revoked", mac: MN1, revocationId: 0x6850_0000, dadFailure: false }]);
    expect(eventsOf(actions, "released")[0]?.reason).toBe("revoked");
    expect(ofKind(actions, "detach")).toEqual([]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters).toMatchObject({ revocationsReceived: 1, acknowledgementsSent: 1, revocationsForged: 0 });
  });

  it("without an NAI is matched by the care-of address", () => {
    const h = bound();
    h.fromHa(revocation({ nai: null }), 10_000);
    expect(h.engine.sessionCount).toBe(0);
  });

  it("of a registering session releases it too", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const actions = h.fromHa(revocation(), 100);
    expect(ofKind(actions, "unbind")).toEqual([]);
    expect(eventsOf(actions, "released")[0]?.reason).toBe("revoked");
  });

  it("uses the realm's key and HA for an MN of another realm", () => {
    const h = new Harness();
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@other.org" }, 0);
    h.answerLast({}, KEY2, HA2);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    // Signed with the other realm's key: forged for this MN.
    const wrong = h.fromHa(revocation({ nai: "alice@other.org", homeDomainAddress: HA2 }), 100, HA2);
    expect(eventsOf(wrong, "forged")).toHaveLength(1);
    const right = h.fromHa(revocation({ nai: "alice@other.org", homeDomainAddress: HA2, key: KEY2 }), 200, HA2);
    expectIndependentlyAuthenticated(sends(right)[0]!.bytes, KEY2);
    expect(h.engine.sessionCount).toBe(0);
  });
});

describe("revocations the engine must not act on", () => {
  it.each<[string, Partial<RevocationFields>, number]>([
    ["an authenticator under another key", { auth: "wrong-key" }, HA],
    ["a corrupted authenticator", { auth: "corrupt" }, HA],
    ["another SPI", { auth: "wrong-spi" }, HA],
    ["no authentication", { auth: "missing" }, HA],
    ["an extension after the authentication", { auth: "not-last" }, HA],
    ["the A bit clear (a reflection)", { aBit: false }, HA],
    ["another care-of address", { foreignDomainAddress: COA_POOL[1]! }, HA],
    ["another home domain address", { homeDomainAddress: STRANGER }, HA],
    ["another source address", {}, STRANGER],
  ])("one with %s is ignored, counted and reported as forged", (_name, o, from) => {
    const h = bound();
    const actions = h.fromHa(revocation(o), 10_000, from);
    expect(kinds(actions)).toEqual(["event:forged"]);
    expect(eventsOf(actions, "forged")[0]?.what).toBe("revocation");
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.counters.revocationsForged).toBe(1);
    expect(h.engine.counters.acknowledgementsSent).toBe(0);
  });

  it("one for an unknown MN is counted as unmatched", () => {
    const h = bound();
    expect(h.fromHa(revocation({ nai: derivedNaiOf(MN2) }), 10_000)).toEqual([]);
    expect(h.fromHa(revocation({ nai: null, foreignDomainAddress: COA_POOL[2]! }), 10_000)).toEqual([]);
    expect(h.engine.counters.revocationsUnmatched).toBe(2);
  });

  it("a malformed one is counted", () => {
    const h = bound();
    const actions = h.fromHa(Uint8Array.of(7, 0, 0x80, 0, 1, 2), 10_000);
    expect(eventsOf(actions, "malformed")[0]?.what).toBe("registration-revocation");
    expect(h.engine.counters.revocationsMalformed).toBe(1);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a replayed revocation id is ignored, also by the MN's next session (RFC 3543 3.5: per agent, not per binding)", () => {
    // One address in the pool, so the next session has the same CoA as the revoked one.
    const h = new Harness(makeConfig({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    h.register(MN1, 0);
    const captured = revocation({ revocationId: 5000 });
    h.fromHa(captured, 10_000);
    expect(h.engine.sessionCount).toBe(0);
    // The MN registers again, with the same CoA; an attacker replays the old revocation.
    h.register(MN1, 20_000);
    expect(h.engine.session(MN1)?.careOf.address).toBe(COA_POOL[0]);
    const firstAck = sends(h.log).find((a) => a.bytes[0] === 15)!;
    const replay = h.fromHa(captured, 30_000);
    // The same id is taken as the HA retransmitting (its ack was lost): the same ack
    // again, and nothing else: the new binding is untouched.
    expect(sends(replay)).toEqual([{ ...firstAck }]);
    expect(kinds(replay)).toEqual(["send-signalling"]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.counters.acknowledgementsResent).toBe(1);
    // An older id is a replay: ignored.
    expect(h.fromHa(revocation({ revocationId: 4999 }), 30_001)).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.counters.revocationsReplayed).toBe(1);
    // A newer one is honoured.
    h.fromHa(revocation({ revocationId: 5001 }), 30_002);
    expect(h.engine.sessionCount).toBe(0);
  });
});

describe("DAD failure (draft 3.2.4)", () => {
  const target = linkLocalOf(mac(MN1));

  it("the HA's NA for the probed target goes to the MN; the revocation then detaches it", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    const bindActions = h.answerLast();
    // The held DAD NS reaches the HA only now (draft Figure 6 step 8).
    expect(ofKind(bindActions, "to-tunnel")).toHaveLength(1);
    const na = neighborAdvertisementPacket({ src: HA_LLA, target, tlla: mac("02:99:99:99:99:99") });
    const down = h.tunnel(na, { outerDst: COA_POOL[0]! }, 1200);
    expect(ofKind(down, "to-mn")).toHaveLength(1);
    expect(ofKind(down, "to-mn")[0]!.packet).toBe(na);
    const actions = h.fromHa(revocation(), 1500);
    expect(kinds(actions)).toEqual(["send-signalling", "event:revoked", "unbind", "event:released", "event:dad-failure", "detach", "event:detach", "event:entry-held-off"]);
    expect(eventsOf(actions, "revoked")[0]?.dadFailure).toBe(true);
    expect(ofKind(actions, "detach")).toEqual([{ kind: "detach", mac: MN1 }]);
    expect(eventsOf(actions, "detach")).toEqual([{ type: "detach", mac: MN1, reason: "dad-failure" }]);
    expect(h.engine.counters.dadFailureDetaches).toBe(1);
  });

  it("without the NA a revocation does not detach", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    h.answerLast();
    const actions = h.fromHa(revocation(), 1500);
    expect(ofKind(actions, "detach")).toEqual([]);
    expect(eventsOf(actions, "revoked")[0]?.dadFailure).toBe(false);
  });

  it("an NA for an address the MN did not probe does not count", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    h.answerLast();
    h.tunnel(neighborAdvertisementPacket({ src: HA_LLA, target: ip6("fe80::99"), tlla: null }), { outerDst: COA_POOL[0]! }, 1200);
    expect(ofKind(h.fromHa(revocation(), 1500), "detach")).toEqual([]);
  });

  it("a revocation long after the NA (outside the window) does not detach", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    h.answerLast();
    h.tunnel(neighborAdvertisementPacket({ src: HA_LLA, target, tlla: null }), { outerDst: COA_POOL[0]! }, 1200);
    expect(ofKind(h.fromHa(revocation(), 1200 + 10_001), "detach")).toEqual([]);
  });

  it("a forged revocation after the NA neither releases nor detaches", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1), { target }), 0);
    h.answerLast();
    h.tunnel(neighborAdvertisementPacket({ src: HA_LLA, target, tlla: null }), { outerDst: COA_POOL[0]! }, 1200);
    const actions = h.fromHa(revocation({ auth: "corrupt" }), 1500);
    expect(ofKind(actions, "detach")).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("only probes from :: are DAD: the target of an address-resolution NS is not, and its NA does not detach", () => {
    const h = new Harness();
    h.register(MN1, 0);
    expect(h.engine.session(MN1)?.dadTargets).toEqual(["fe80::11:22ff:fe33:4401"]);
    h.frame(addressResolutionSolicitation(mac(MN1), HA_LLA), 100);
    expect(h.engine.session(MN1)?.dadTargets).toEqual(["fe80::11:22ff:fe33:4401"]);
    h.tunnel(neighborAdvertisementPacket({ src: HA_LLA, dst: target, target: HA_LLA, tlla: mac("02:99:99:99:99:99"), solicited: true }), { outerDst: COA_POOL[0]! }, 200);
    expect(ofKind(h.fromHa(revocation(), 300), "detach")).toEqual([]);
  });
});
