// Issue 10, the orders we had not chosen (the handover over the fleet, core side):
// the MN coming back to the old AN within the forward window (A -> B -> A), two new
// ANs asking for the same MN (flapping), the revocation long before the release or
// never, and the old AN's forwarded 6in4 duplicated and reordered at the new AN.
// Plain function calls with `now`: every order is exact, nothing waits.
import { describe, expect, it } from "vitest";
import type { EngineConfig } from "../../../src/core/config.ts";
import { dadNeighborSolicitation, echoRequestPacket, ip6, mac } from "../../support/frames.ts";
import { sampleContext } from "../../support/contexts.ts";
import { registrationRevocation } from "../../support/home-agent-messages.ts";
import { CODEC, COA_POOL, derivedNaiOf, eventsOf, HA, HA_MAC, Harness, KEY, makeConfig, MN1, ofKind, v4 } from "./harness.ts";

const B_COA = v4("198.18.0.20");
const C_COA = v4("198.18.0.30");
const MN_ADDRESS = "2001:db8:1::11";
const CN = ip6("2001:db8:2::2");
const dadNs = (m: string) => dadNeighborSolicitation(mac(m));
const downlink = (seq: number): Uint8Array => echoRequestPacket(CN, ip6(MN_ADDRESS), seq);
const forwarding = (over: Partial<EngineConfig> = {}) => makeConfig({ releaseForwardMs: 2000, peerForwardAcceptMs: 3000, ...over });
/** The record another AN wrote for MN1 (its CoA `coa`). */
const recordFrom = (coa: number) => sampleContext({ mac: MN1, nai: derivedNaiOf(MN1), homeAgent: HA, careOf: { address: coa, greKey: null }, addresses: [MN_ADDRESS], heldFrames: [] });
const revocation = (coa: number, id = 0x6850_0000) => registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: coa, revocationId: id, nai: derivedNaiOf(MN1), key: KEY, codec: CODEC, homeAddress: 0 });

describe("A -> B -> A within the forward window (the old AN again)", () => {
  it("what the HA still sends to the first CoA goes to the MN here, no longer to the AN it left", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const first = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    expect(ofKind(a.tunnel(downlink(1), { outerDst: first }, 1100), "to-peer")).toHaveLength(1);
    // Back at 1500 (B's record), registering anew from another CoA (the first is quarantined).
    a.handle({ kind: "import-context", context: recordFrom(B_COA), resume: false }, 1500);
    const again = a.engine.session(MN1)!;
    expect(again.careOf.address).not.toBe(first);
    // The HA has not seen the new registration yet: it still sends to the first CoA.
    const out = a.tunnel(downlink(2), { outerDst: first }, 1600);
    expect(ofKind(out, "to-peer")).toEqual([]);
    expect(ofKind(out, "to-mn")).toEqual([{ kind: "to-mn", dst: again.macBytes, src: HA_MAC, packet: downlink(2) }]);
    // B forwards what the HA sent it to our new CoA: taken too (the accept window of B's record).
    expect(ofKind(a.tunnel(downlink(3), { outerSrc: B_COA, outerDst: again.careOf.address }, 1700), "to-mn")).toHaveLength(1);
    expect(a.engine.counters).toMatchObject({ framesForwardedToPeer: 1, forwardReturnedToMn: 1, framesForwardedFromPeer: 1, packetsFromTunnelUnmatched: 0 });
    // After the window nothing of the first CoA is taken any more.
    expect(kindsOf(a.tunnel(downlink(4), { outerDst: first }, 3001))).toEqual([]);
    expect(a.engine.counters.packetsFromTunnelUnmatched).toBe(1);
  });

  it("the MN back here and then gone from the link again (leave hold): what the HA still sends to the first CoA is held with its downlink, not sent to the empty link", () => {
    const a = new Harness(forwarding({ leaveHoldMs: 1500 }));
    a.register(MN1, 0);
    const first = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    a.handle({ kind: "import-context", context: recordFrom(B_COA), resume: false }, 1500);
    a.answerLast({}, KEY);
    expect(a.engine.sessionState(MN1)).toBe("bound");
    a.handle({ kind: "station-left", mac: MN1 }, 1600);
    expect(a.engine.session(MN1)!.away).toBe(true);
    const out = a.tunnel(downlink(5), { outerDst: first }, 1700);
    expect(ofKind(out, "to-mn")).toEqual([]);
    expect(ofKind(out, "to-peer")).toEqual([]);
    expect(a.engine.counters).toMatchObject({ forwardReturnedToMn: 1, framesLeaveHeld: 1 });
    // Back on the link within the window: delivered then.
    expect(ofKind(a.handle({ kind: "frame-from-mn", frame: dadNs(MN1) }, 1800), "to-mn").map((o) => o.packet)).toContainEqual(downlink(5));
  });

  it("a late release of the first session (retried over a broker outage) does not cut off the MN back here: only the session on the record's CoA is released", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const first = { ...a.engine.session(MN1)!.careOf };
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA, careOf: first }, 1000);
    a.handle({ kind: "import-context", context: recordFrom(B_COA), resume: false }, 1500);
    a.answerLast({}, KEY);
    const again = { ...a.engine.session(MN1)!.careOf };
    // B's request again (a retry after its answer was lost), naming the first session's CoA.
    expect(a.engine.releasable(2000, MN1, first)).toBe(false);
    expect(a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA, careOf: first }, 2000)).toEqual([]);
    expect(a.engine.sessionState(MN1)).toBe("bound");
    expect(a.engine.counters).toMatchObject({ releasesNotOurs: 1, handoversOut: 1 });
    // A request naming the session here (the MN went to B again) releases it.
    expect(a.engine.releasable(3000, MN1, again)).toBe(true);
    expect(eventsOf(a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA, careOf: again }, 3000), "released")).toMatchObject([{ reason: "handed-over" }]);
    expect(a.engine.counters.handoversOut).toBe(2);
  });

  it("a release naming the CoA of a revoked session still lingering takes it (the other order with the HA)", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const coa = { ...a.engine.session(MN1)!.careOf };
    a.fromHa(revocation(coa.address), 900, HA, 434, coa.address);
    expect(a.engine.releasable(1000, MN1, { address: B_COA, greKey: null })).toBe(false);
    expect(eventsOf(a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA, careOf: coa }, 1000), "forwarding-to-peer")).toHaveLength(1);
  });

  it("a late revocation of the first binding after the return acknowledges it and leaves the new session alone", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const first = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    a.handle({ kind: "import-context", context: recordFrom(B_COA), resume: false }, 1500);
    const out = a.fromHa(revocation(first), 1600, HA, 434, first);
    expect(ofKind(out, "send-signalling")).toHaveLength(1); // the acknowledgement
    expect(eventsOf(out, "released")).toEqual([]);
    expect(a.engine.sessionState(MN1)).toBe("registering");
  });
});

describe("two new ANs ask for the same MN at once (flapping between APs)", () => {
  it("release by B then by C: C is refused (nothing left to release), only B gets the window", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    expect(eventsOf(a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000), "forwarding-to-peer")).toHaveLength(1);
    // The app asks releasable() before feeding the hand-over (daemon-fleet.ts): C's answer is released: false.
    expect(a.engine.releasable(1010, MN1)).toBe(false);
    expect(a.handle({ kind: "hand-over", mac: MN1, forwardTo: C_COA }, 1010)).toEqual([]);
    expect(ofKind(a.tunnel(downlink(1), { outerDst: coa }, 1100), "to-peer")).toMatchObject([{ tunnel: { homeAgent: B_COA } }]);
    expect(a.engine.counters).toMatchObject({ forwardWindowsOpened: 1, framesForwardedToPeer: 1, handoversOut: 1 });
  });

  it("revoked first (lingering), then B and C: the later release supersedes, one window, to C only", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.fromHa(revocation(coa), 900, HA, 434, coa);
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    expect(a.engine.releasable(1010, MN1)).toBe(true);
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: C_COA }, 1010);
    const out = a.tunnel(downlink(1), { outerDst: coa }, 1100);
    expect(ofKind(out, "to-peer")).toMatchObject([{ tunnel: { homeAgent: C_COA } }]);
    expect(ofKind(out, "to-mn")).toEqual([]);
    expect(a.engine.counters).toMatchObject({ forwardWindowsOpened: 2, framesForwardedToPeer: 1, forwardEntriesDropped: 0 });
    // Both windows end with the later one: nothing stays.
    expect(a.tunnel(downlink(2), { outerDst: coa }, 3011)).toEqual([]);
    expect(a.engine.counters.packetsFromTunnelUnmatched).toBe(1);
  });

  it("the new AN that lost (revoked by the HA for the other one's binding) drops the old AN's 6in4 and can take the MN again later", () => {
    const b = new Harness(forwarding({ careOf: { mode: "pool", addresses: [B_COA] } }));
    b.handle({ kind: "import-context", context: recordFrom(COA_POOL[2]!), resume: false }, 100);
    b.answerLast({}, KEY);
    expect(b.engine.sessionState(MN1)).toBe("bound");
    b.fromHa(revocation(B_COA), 200, HA, 434, B_COA);
    expect(b.engine.sessionCount).toBe(0);
    expect(ofKind(b.tunnel(downlink(1), { outerSrc: COA_POOL[2]!, outerDst: B_COA }, 300), "to-mn")).toEqual([]);
    expect(b.engine.counters.framesForwardedFromPeer).toBe(0);
    // The MN flaps back to B (after the linger): a new import, a new window from that record's CoA.
    b.handle({ kind: "import-context", context: recordFrom(C_COA), resume: false }, 2500);
    const coa = b.engine.session(MN1)!.careOf.address;
    expect(ofKind(b.tunnel(downlink(2), { outerSrc: C_COA, outerDst: coa }, 2600), "to-mn")).toHaveLength(1);
    expect(ofKind(b.tunnel(downlink(3), { outerSrc: COA_POOL[2]!, outerDst: coa }, 2600), "to-mn")).toEqual([]);
  });
});

describe("an MN flapping between two APs: the old AN's care-of addresses", () => {
  /** A at `t`: the MN handed over to B, (optionally) the HA's revocation of the old binding, the MN back at t + 500. */
  const flap = (a: Harness, t: number, revoke: boolean) => {
    const coa = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, t);
    if (revoke) a.fromHa(revocation(coa, 0x6850_0000 + t), t + 10, HA, 434, coa);
    const back = a.handle({ kind: "import-context", context: recordFrom(B_COA), resume: false }, t + 500);
    if (a.engine.session(MN1)) a.answerLast({}, KEY);
    return eventsOf(back, "refused");
  };

  for (const revoke of [true, false]) {
    it(`a pool of two, back and forth four times within a lifetime (${revoke ? "the HA revokes each old binding" : "an HA that never revokes"}): never refused`, () => {
      const a = new Harness(forwarding({ careOf: { mode: "pool", addresses: COA_POOL.slice(0, 2) } }));
      a.register(MN1, 0);
      for (let i = 0; i < 4; i++) {
        expect(flap(a, 1000 + 1000 * i, revoke)).toEqual([]);
        expect(a.engine.sessionState(MN1)).toBe("bound");
      }
      expect(a.engine.counters.refusedCoaExhausted).toBe(0);
    });
  }

  it("a handed-over CoA goes to another MN only once the HA revoked the old binding (and the linger is over), not before", () => {
    const a = new Harness(forwarding({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    const other = "02:11:22:33:44:02";
    // Not confirmed: the HA may still bind the old MN to it.
    expect(eventsOf(a.frame(dadNs(other), 1005), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    a.fromHa(revocation(coa), 1010, HA, 434, coa);
    // Confirmed gone: it rests revocationLingerMs (2000) for what is in flight, then it is free.
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:03"), 3000), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:04"), 3011), "session-started")).toMatchObject([{ careOf: "203.0.113.10" }]);
  });
});

describe("a handed-over CoA and its forward window", () => {
  it("the HA's revocation ends the quarantine, but not before the forward window of that CoA is over (revocationLingerMs shorter than releaseForwardMs)", () => {
    // The forward entry still claims the first CoA (what the HA sends to it goes to B, or to the MN
    // back here): another MN on it would have its downlink matched to the old MN's entry.
    const a = new Harness(forwarding({ releaseForwardMs: 5000, revocationLingerMs: 0, careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    a.fromHa(revocation(coa), 1010, HA, 434, coa);
    expect(a.engine.counters.acknowledgementsSent).toBe(1);
    // Within the window (until 6000): not another MN's.
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:03"), 1020), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:04"), 5999), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    // The window over: free.
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:05"), 6000), "session-started")).toMatchObject([{ careOf: "203.0.113.10" }]);
  });

  it("revoked (lingering), then the release opens a window on its CoA: the CoA rests until that window is over, not only until the linger is", () => {
    const a = new Harness(forwarding({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.fromHa(revocation(coa), 1000, HA, 434, coa); // lingers, the CoA rests, both until 3000
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 2500); // the window: until 4500
    expect(a.engine.counters.forwardWindowsOpened).toBe(1);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:03"), 3000), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:04"), 4500), "session-started")).toMatchObject([{ careOf: "203.0.113.10" }]);
  });

  it("handed over near the end of its binding: the CoA rests until the forward window is over, not only until the binding would have run out", () => {
    const a = new Harness(forwarding({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    a.register(MN1, 0);
    const s = a.engine.session(MN1)!;
    const t = s.expiresAt! - 500; // the binding's last half second
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, t);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:03"), t + 600), "refused")).toMatchObject([{ reason: "coa-exhausted" }]);
    expect(eventsOf(a.frame(dadNs("02:11:22:33:44:04"), t + 2000), "session-started")).toMatchObject([{ careOf: "203.0.113.10" }]);
  });
});

describe("the revocation long before the release, late, or never", () => {
  it("revoked, the linger over, then the release: nothing to release, nothing opened, the CoA free again", () => {
    const a = new Harness(forwarding({ careOf: { mode: "pool", addresses: [COA_POOL[0]!] } }));
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.fromHa(revocation(coa), 1000, HA, 434, coa);
    expect(a.engine.releasable(3001, MN1)).toBe(false);
    expect(a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 5000)).toEqual([]);
    expect(a.engine.counters.forwardWindowsOpened).toBe(0);
    a.handle({ kind: "tunnel-packet", outerSrc: HA, outerDst: coa, greKey: null, packet: downlink(1) }, 5100);
    expect(a.engine.counters).toMatchObject({ framesForwardedToPeer: 0, packetsFromTunnelUnmatched: 1 });
    // The one CoA serves the next MN.
    a.register("02:11:22:33:44:02", 5200);
  });

  it("no revocation ever (an HA without RFC 3543): the window ends by itself; a revocation after it is still acknowledged", () => {
    const a = new Harness(forwarding());
    a.register(MN1, 0);
    const coa = a.engine.session(MN1)!.careOf.address;
    a.handle({ kind: "hand-over", mac: MN1, forwardTo: B_COA }, 1000);
    expect(a.engine.nextDeadline()).toBeUndefined(); // nothing left armed for the MN
    expect(ofKind(a.tunnel(downlink(1), { outerDst: coa }, 3000), "to-peer")).toHaveLength(1);
    expect(a.tunnel(downlink(2), { outerDst: coa }, 3001)).toEqual([]);
    const late = a.fromHa(revocation(coa), 30_000, HA, 434, coa);
    expect(ofKind(late, "send-signalling")).toHaveLength(1);
    expect(eventsOf(late, "revoked")).toMatchObject([{ mac: MN1 }]);
    expect(a.engine.counters).toMatchObject({ acknowledgementsSent: 1, revocationsForged: 0 });
  });
});

describe("the old AN's 6in4 duplicated and reordered at the new AN", () => {
  it("each copy is delivered as it comes, counted once per copy, before and after the bind", () => {
    const b = new Harness(forwarding({ careOf: { mode: "pool", addresses: [B_COA] } }));
    const old = COA_POOL[2]!;
    b.handle({ kind: "import-context", context: recordFrom(old), resume: false }, 100);
    const order = [3, 1, 2, 2, 1, 3];
    const got: Uint8Array[] = [];
    order.forEach((n, i) => got.push(...ofKind(b.tunnel(downlink(n), { outerSrc: old, outerDst: B_COA }, 200 + i), "to-mn").map((x) => x.packet)));
    b.answerLast({}, KEY);
    got.push(...ofKind(b.tunnel(downlink(1), { outerSrc: old, outerDst: B_COA }, 300), "to-mn").map((x) => x.packet));
    // The HA's own copy of a packet the old AN forwarded too: both go to the MN (duplicates are the network's business).
    got.push(...ofKind(b.tunnel(downlink(2), { outerDst: B_COA }, 310), "to-mn").map((x) => x.packet));
    expect(got).toEqual([...order, 1, 2].map((n) => downlink(n)));
    expect(b.engine.counters).toMatchObject({ framesForwardedFromPeer: 7, framesToMn: 8, packetsFromTunnelWrongSource: 0, packetsFromTunnelUnmatched: 0 });
    expect(b.engine.sessionState(MN1)).toBe("bound");
  });
});

function kindsOf(actions: readonly { kind: string }[]): string[] {
  return actions.map((x) => x.kind);
}

