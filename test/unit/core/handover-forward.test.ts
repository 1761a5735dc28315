// Issue 10 "nothing is lost": the old AN forwards a released MN's downlink to the
// new AN (6in4 from the old CoA) for a bounded window, in either order with the HA's
// revocation; the new AN takes such packets from the old AN's CoA (the signed
// record's) for that MN's addresses only. The inner packet is never changed.
import { describe, expect, it } from "vitest";
import type { EngineConfig } from "../../../src/core/config.ts";
import { dadNeighborSolicitation, echoRequestPacket, ip6, mac, routerAdvertisementPacket } from "../../support/frames.ts";
import { sampleContext } from "../../support/contexts.ts";
import { registrationRevocation } from "../../support/home-agent-messages.ts";
import { CODEC, COA_POOL, derivedNaiOf, eventsOf, HA, HA_MAC, Harness, KEY, makeConfig, MN1, MN2, MN3, ofKind, sharedConfig, STRANGER, v4 } from "./harness.ts";

const NEW_AN_COA = v4("198.18.0.20");
const OLD_AN_COA = v4("198.18.0.10");
const MN_ADDRESS = "2001:db8:1::11";
const CN = ip6("2001:db8:2::2");

const downlink = (seq: number, dst = MN_ADDRESS): Uint8Array => echoRequestPacket(CN, ip6(dst), seq);
const forwarding = (over: Partial<EngineConfig> = {}) => makeConfig({ releaseForwardMs: 2000, ...over });

function revocation(nai: string, coa: number, id = 0x6850_0000): Uint8Array {
  return registrationRevocation({ homeDomainAddress: HA, foreignDomainAddress: coa, revocationId: id, nai, key: KEY, codec: CODEC, homeAddress: 0 });
}

describe("handover forwarding at the old AN", () => {
  it("a release naming the new AN's CoA forwards the HA's packets for the old CoA to it as 6in4, unchanged, and not to the access link", () => {
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    expect(h.engine.releasable(1000, MN1)).toBe(true);
    const released = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1000);
    expect(eventsOf(released, "released")).toMatchObject([{ reason: "handed-over" }]);
    expect(eventsOf(released, "forwarding-to-peer")).toEqual([{ type: "forwarding-to-peer", mac: MN1, target: "198.18.0.20", windowMs: 2000 }]);
    expect(ofKind(released, "unbind")).toHaveLength(1);
    const packet = downlink(1);
    const copy = packet.slice();
    const out = h.tunnel(packet, { outerDst: coa }, 1100);
    expect(ofKind(out, "to-peer")).toEqual([{ kind: "to-peer", tunnel: { careOf: coa, homeAgent: NEW_AN_COA, greKey: null }, packet }]);
    expect(ofKind(out, "to-peer")[0]!.packet).toEqual(copy);
    expect(ofKind(out, "to-mn")).toEqual([]);
    expect(h.engine.counters).toMatchObject({ framesForwardedToPeer: 1, forwardWindowsOpened: 1, packetsFromTunnelUnmatched: 0 });
  });

  it("the window ends: after releaseForwardMs the packets are unmatched again", () => {
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1000);
    expect(ofKind(h.tunnel(downlink(1), { outerDst: coa }, 3000), "to-peer")).toHaveLength(1);
    expect(ofKind(h.tunnel(downlink(2), { outerDst: coa }, 3001), "to-peer")).toEqual([]);
    expect(h.engine.counters).toMatchObject({ framesForwardedToPeer: 1, packetsFromTunnelUnmatched: 1 });
  });

  it("nothing is forwarded without a target, with the window off, or from another source than the MN's HA", () => {
    for (const [config, forwardTo] of [
      [forwarding(), undefined],
      [forwarding({ releaseForwardMs: 0 }), NEW_AN_COA],
    ] as const) {
      const h = new Harness(config);
      h.register(MN1, 0);
      const coa = h.engine.session(MN1)!.careOf.address;
      const released = h.handle({ kind: "hand-over", mac: MN1, ...(forwardTo === undefined ? {} : { forwardTo }) }, 1000);
      expect(eventsOf(released, "released")).toHaveLength(1);
      expect(eventsOf(released, "forwarding-to-peer")).toEqual([]);
      expect(ofKind(h.tunnel(downlink(1), { outerDst: coa }, 1100), "to-peer")).toEqual([]);
      expect(h.engine.counters.framesForwardedToPeer).toBe(0);
    }
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1000);
    expect(ofKind(h.tunnel(downlink(1), { outerSrc: STRANGER, outerDst: coa }, 1100), "to-peer")).toEqual([]);
    expect(h.engine.counters).toMatchObject({ framesForwardedToPeer: 0, packetsFromTunnelUnmatched: 1 });
  });

  it("a release for an MAC with neither session nor lingering revocation opens nothing", () => {
    const h = new Harness(forwarding());
    expect(h.engine.releasable(0, MN1)).toBe(false);
    expect(h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 0)).toEqual([]);
    expect(h.engine.counters.forwardWindowsOpened).toBe(0);
  });

  it("is bounded: at most maxSessions forwarding entries, the oldest dropped first (counted)", () => {
    const h = new Harness(forwarding({ maxSessions: 2 }));
    h.register(MN1, 0);
    h.register(MN2, 10);
    const [coa1, coa2] = [h.engine.session(MN1)!.careOf.address, h.engine.session(MN2)!.careOf.address];
    h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 100);
    h.handle({ kind: "hand-over", mac: MN2, forwardTo: NEW_AN_COA }, 110);
    h.register(MN3, 120);
    const coa3 = h.engine.session(MN3)!.careOf.address;
    expect(new Set([coa1, coa2, coa3]).size).toBe(3);
    h.handle({ kind: "hand-over", mac: MN3, forwardTo: NEW_AN_COA }, 130);
    expect(h.engine.counters.forwardEntriesDropped).toBe(1);
    expect(ofKind(h.tunnel(downlink(1), { outerDst: coa1 }, 200), "to-peer")).toEqual([]);
    expect(ofKind(h.tunnel(downlink(2), { outerDst: coa2 }, 200), "to-peer")).toHaveLength(1);
    expect(ofKind(h.tunnel(downlink(3), { outerDst: coa3 }, 200), "to-peer")).toHaveLength(1);
  });

  it("revocation first, then the release: the lingering session's packets go to the access link until the release, to the new AN after", () => {
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    h.fromHa(revocation(derivedNaiOf(MN1), coa), 1000);
    expect(h.engine.sessionCount).toBe(0);
    expect(ofKind(h.tunnel(downlink(1), { outerDst: coa }, 1010), "to-mn")).toHaveLength(1);
    expect(h.engine.releasable(1020, MN1)).toBe(true);
    const r = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1020);
    expect(eventsOf(r, "forwarding-to-peer")).toHaveLength(1);
    const out = h.tunnel(downlink(2), { outerDst: coa }, 1030);
    expect(ofKind(out, "to-mn")).toEqual([]);
    expect(ofKind(out, "to-peer")).toMatchObject([{ tunnel: { careOf: coa, homeAgent: NEW_AN_COA, greKey: null } }]);
    expect(h.engine.counters).toMatchObject({ framesForwardedToPeer: 1, revokedLingerDelivered: 1 });
  });

  it("release first, then the revocation: forwarding goes on", () => {
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1000);
    h.fromHa(revocation(derivedNaiOf(MN1), coa), 1010);
    const out = h.tunnel(downlink(1), { outerDst: coa }, 1020);
    expect(ofKind(out, "to-peer")).toHaveLength(1);
    expect(ofKind(out, "to-mn")).toEqual([]);
    expect(h.engine.counters.framesForwardedToPeer).toBe(1);
  });

  it("downlink still held for a registering session goes to the new AN at the release", () => {
    const h = new Harness(forwarding());
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const coa = h.engine.session(MN1)!.careOf.address;
    const ra = routerAdvertisementPacket({ src: ip6("fe80::1"), slla: HA_MAC });
    h.tunnel(ra, { outerDst: coa }, 10);
    expect(h.engine.counters.downlinkHeld).toBe(1);
    const out = h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 20);
    expect(ofKind(out, "to-peer")).toMatchObject([{ tunnel: { careOf: coa, homeAgent: NEW_AN_COA, greKey: null } }]);
    expect(ofKind(out, "to-peer")[0]!.packet).toEqual(ra);
  });

  it("shared CoA with GRE keys: matched by the key, forwarded as plain 6in4 from the shared address", () => {
    const h = new Harness(sharedConfig({ releaseForwardMs: 2000 }));
    h.register(MN1, 0);
    const { address, greKey } = h.engine.session(MN1)!.careOf;
    expect(greKey).not.toBeNull();
    h.handle({ kind: "hand-over", mac: MN1, forwardTo: NEW_AN_COA }, 1000);
    expect(ofKind(h.tunnel(downlink(1), { outerDst: address, greKey }, 1100), "to-peer")).toMatchObject([{ tunnel: { careOf: address, homeAgent: NEW_AN_COA, greKey: null } }]);
    expect(ofKind(h.tunnel(downlink(2), { outerDst: address, greKey: greKey! + 1 }, 1100), "to-peer")).toEqual([]);
  });
});

describe("the record names what the new AN accepts", () => {
  it("a bound MN's newly probed address changes its context (the record is written again); one already known does not", () => {
    const h = new Harness(forwarding());
    h.register(MN1, 0);
    const dad = dadNeighborSolicitation(mac(MN1), { target: ip6(MN_ADDRESS) });
    expect(ofKind(h.frame(dad, 100), "context-changed")).toEqual([{ kind: "context-changed", mac: MN1 }]);
    expect(h.engine.exportContext(100, MN1)?.addresses).toContain(MN_ADDRESS);
    expect(ofKind(h.frame(dad, 200), "context-changed")).toEqual([]);
  });
});

describe("handover forwarding at the new AN", () => {
  const context = (over = {}) => sampleContext({ mac: MN1, nai: derivedNaiOf(MN1), homeAgent: HA, careOf: { address: OLD_AN_COA, greKey: null }, addresses: [MN_ADDRESS], ...over });
  const imported = (resume = false, over: Partial<EngineConfig> = {}) => {
    const h = new Harness(makeConfig({ peerForwardAcceptMs: 3000, ...over }));
    h.handle({ kind: "import-context", context: context(), resume }, 100);
    return h;
  };

  it("6in4 from the old AN's CoA (the record's) to the new CoA for the MN's address goes to the MN, unchanged", () => {
    const h = imported();
    const coa = h.engine.session(MN1)!.careOf.address;
    const packet = downlink(1);
    const copy = packet.slice();
    const out = h.tunnel(packet, { outerSrc: OLD_AN_COA, outerDst: coa }, 200);
    expect(ofKind(out, "to-mn")).toEqual([{ kind: "to-mn", dst: mac(MN1), src: HA_MAC, packet }]);
    expect(packet).toEqual(copy);
    // Bound by now: still taken (the old AN may forward after the new binding).
    h.answerLast({}, KEY);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(ofKind(h.tunnel(downlink(2), { outerSrc: OLD_AN_COA, outerDst: coa }, 300), "to-mn")).toHaveLength(1);
    expect(h.engine.counters).toMatchObject({ framesForwardedFromPeer: 2, acceptWindowsOpened: 1, packetsFromTunnelWrongSource: 0 });
  });

  it("a wrong source, another inner destination, GRE, another outer destination or after the window: dropped as before", () => {
    const h = imported();
    const coa = h.engine.session(MN1)!.careOf.address;
    expect(ofKind(h.tunnel(downlink(1), { outerSrc: STRANGER, outerDst: coa }, 200), "to-mn")).toEqual([]);
    expect(ofKind(h.tunnel(downlink(2, "2001:db8:1::99"), { outerSrc: OLD_AN_COA, outerDst: coa }, 200), "to-mn")).toEqual([]);
    expect(ofKind(h.tunnel(downlink(3), { outerSrc: OLD_AN_COA, outerDst: coa, greKey: 7 }, 200), "to-mn")).toEqual([]);
    const other = COA_POOL.find((a) => a !== coa)!;
    expect(ofKind(h.tunnel(downlink(4), { outerSrc: OLD_AN_COA, outerDst: other }, 200), "to-mn")).toEqual([]);
    expect(ofKind(h.tunnel(downlink(5), { outerSrc: OLD_AN_COA, outerDst: coa }, 3101), "to-mn")).toEqual([]);
    expect(h.engine.counters.framesForwardedFromPeer).toBe(0);
    expect(h.engine.counters.packetsFromTunnelWrongSource + h.engine.counters.packetsFromTunnelUnmatched).toBe(5);
  });

  it("no window after a resume (our own record) or with the window off", () => {
    for (const h of [imported(true), imported(false, { peerForwardAcceptMs: 0 })]) {
      const coa = h.engine.session(MN1)!.careOf.address;
      expect(ofKind(h.tunnel(downlink(1), { outerSrc: OLD_AN_COA, outerDst: coa }, 200), "to-mn")).toEqual([]);
      expect(h.engine.counters.framesForwardedFromPeer).toBe(0);
    }
  });

  it("old AN to new AN: what the old AN sends is what the new AN delivers, byte for byte", () => {
    const old = new Harness(forwarding());
    old.register(MN1, 0);
    const oldCoa = old.engine.session(MN1)!.careOf.address;
    const h = new Harness(makeConfig({ peerForwardAcceptMs: 3000, careOf: { mode: "pool", addresses: [NEW_AN_COA] } }));
    h.handle({ kind: "import-context", context: context({ careOf: { address: oldCoa, greKey: null } }), resume: false }, 100);
    const newCoa = h.engine.session(MN1)!.careOf.address;
    expect(newCoa).toBe(NEW_AN_COA);
    old.handle({ kind: "hand-over", mac: MN1, forwardTo: newCoa }, 110);
    const sent = ofKind(old.tunnel(downlink(9), { outerDst: oldCoa }, 120), "to-peer")[0]!;
    const got = ofKind(h.tunnel(sent.packet, { outerSrc: sent.tunnel.careOf, outerDst: sent.tunnel.homeAgent }, 130), "to-mn");
    expect(got).toHaveLength(1);
    expect(got[0]!.packet).toEqual(downlink(9));
  });
});
