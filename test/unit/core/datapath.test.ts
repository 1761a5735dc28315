// The bridge once bound (draft 5.2.2): uplink frames lose their Ethernet header
// and enter the tunnel; downlink packets are matched to their MN and get a fresh
// Ethernet header. The IPv6 packet itself is never changed.
import { describe, expect, it } from "vitest";
import { dadNeighborSolicitation, dataFrame, echoRequestPacket, ip6, linkLocalOf, mac, packetOf, routerAdvertisementPacket } from "../../support/frames.ts";
import { DEFAULT_HOLD_CAPS } from "../../../src/core/config.ts";
import { ACCESS_MAC, COA_POOL, FIRST_KEY, HA, HA_MAC, Harness, kinds, makeConfig, MN1, MN2, ofKind, sharedConfig, SHARED_COA, STRANGER } from "./harness.ts";

const ROUTER = mac("02:00:5e:00:53:99");
const HA_LLA = ip6("fe80::1");
const CORRESPONDENT = ip6("2001:db8:ffff::7");

function downlinkPacket(to: string, seq = 1): Uint8Array {
  // Arrives with hop limit 63 from a correspondent: it must stay 63.
  return echoRequestPacket(CORRESPONDENT, linkLocalOf(mac(to)), seq, 63);
}

describe("uplink", () => {
  it("a bound MN's frame goes to its tunnel as the exact IPv6 packet, padding stripped", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const frame = dataFrame(mac(MN1), ROUTER, CORRESPONDENT, 3, Uint8Array.of(0, 0, 0, 0, 0, 0));
    const out = h.frame(frame, 100);
    expect(kinds(out)).toEqual(["to-tunnel"]);
    const [t] = ofKind(out, "to-tunnel");
    expect(t!.mac).toBe(MN1);
    expect(t!.tunnel).toEqual({ careOf: COA_POOL[0], homeAgent: HA, greKey: null });
    expect(Buffer.from(t!.packet).equals(Buffer.from(packetOf(frame)))).toBe(true);
    expect(h.engine.counters.framesToTunnel).toBe(2); // the held DAD NS and this
  });

  it("learns the MN's addresses from its DAD probes and ND for the handover context (data packets are not inspected)", () => {
    const h = new Harness();
    h.register(MN1, 0);
    // The held DAD NS named the link-local address the MN is taking.
    expect(h.engine.session(MN1)?.addresses).toEqual(["fe80::11:22ff:fe33:4401"]);
    h.frame(dataFrame(mac(MN1), ROUTER, CORRESPONDENT), 100);
    expect(h.engine.session(MN1)?.addresses).toEqual(["fe80::11:22ff:fe33:4401"]);
    // SLAAC: the DAD probe for the global address teaches it too.
    h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6("2001:db8:1::11:22ff:fe33:4401") }), 200);
    expect(h.engine.session(MN1)?.addresses).toEqual(["fe80::11:22ff:fe33:4401", "2001:db8:1:0:11:22ff:fe33:4401"]);
  });

  it("an IPv6 frame with a bad header from a bound MN is counted, not forwarded", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const frame = dataFrame(mac(MN1), ROUTER, CORRESPONDENT);
    frame[14 + 5] = 0xff; // payload length beyond the frame
    expect(h.frame(frame, 100)).toEqual([]);
    expect(h.engine.counters.framesMalformed).toBe(1);
  });
});

describe("downlink", () => {
  it("goes to the MN's MAC from the access MAC before any RA, bytes untouched", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const packet = downlinkPacket(MN1);
    const copy = packet.slice();
    const out = h.tunnel(packet, { outerDst: COA_POOL[0]! }, 100);
    expect(out).toEqual([{ kind: "to-mn", dst: mac(MN1), src: ACCESS_MAC, packet }]);
    expect(ofKind(out, "to-mn")[0]!.packet).toBe(packet);
    expect([...packet]).toEqual([...copy]);
    expect(packet[7]).toBe(63);
    expect(h.engine.counters.framesToMn).toBe(1);
  });

  it("after the HA's RA, comes from the RA's source link-layer address (draft 5.2.2)", () => {
    const h = new Harness();
    h.register(MN1, 0);
    const ra = routerAdvertisementPacket({ src: HA_LLA, slla: HA_MAC, mtu: 1480 });
    const out = h.tunnel(ra, { outerDst: COA_POOL[0]! }, 100);
    expect(kinds(out)).toEqual(["context-changed", "to-mn"]);
    expect(ofKind(out, "to-mn")[0]).toEqual({ kind: "to-mn", dst: mac(MN1), src: HA_MAC, packet: ra });
    expect(ofKind(h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 200), "to-mn")[0]!.src).toEqual(HA_MAC);
    // The same RA again changes nothing to persist.
    expect(kinds(h.tunnel(ra, { outerDst: COA_POOL[0]! }, 300))).toEqual(["to-mn"]);
    expect(h.engine.counters.routerAdvertisementsSeen).toBe(2);
  });

  it("an RA without SLLA leaves the access MAC as source", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.tunnel(routerAdvertisementPacket({ src: HA_LLA, slla: null }), { outerDst: COA_POOL[0]! }, 100);
    expect(ofKind(h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 200), "to-mn")[0]!.src).toEqual(ACCESS_MAC);
  });

  it("from another outer source is dropped and counted", () => {
    const h = new Harness();
    h.register(MN1, 0);
    expect(h.tunnel(downlinkPacket(MN1), { outerSrc: STRANGER, outerDst: COA_POOL[0]! }, 100)).toEqual([]);
    expect(h.engine.counters.packetsFromTunnelWrongSource).toBe(1);
    // An RA from a stranger does not teach a link-layer address either.
    h.tunnel(routerAdvertisementPacket({ src: HA_LLA, slla: mac("02:66:66:66:66:66") }), { outerSrc: STRANGER, outerDst: COA_POOL[0]! }, 150);
    expect(h.engine.session(MN1)?.haLinkLayer).toBeNull();
  });

  it("for an unknown CoA, or an MN that failed, is dropped", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    expect(h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[2]! }, 100)).toEqual([]);
    h.answerLast({ code: 129 });
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 200)).toEqual([]);
    expect(h.engine.counters.packetsFromTunnelUnmatched).toBe(2);
  });

  it("that overtakes the accepted reply (the HA's RA) is held and delivered on bind, SLLA learned", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const ra = routerAdvertisementPacket({ src: HA_LLA, slla: HA_MAC, mtu: 1480 });
    const early = ra.slice();
    // Arrives before the reply: nothing goes to the MN yet, and the caller's buffer is not kept.
    expect(h.tunnel(early, { outerDst: COA_POOL[0]! }, 100)).toEqual([]);
    early.fill(0);
    expect(h.engine.counters.downlinkHeld).toBe(1);
    const bound = h.answerLast();
    const kindsInOrder = kinds(bound);
    // Bind, then the held uplink DAD NS to the tunnel, then the held RA to the MN.
    expect(kindsInOrder.indexOf("bind")).toBeLessThan(kindsInOrder.indexOf("to-tunnel"));
    expect(kindsInOrder.indexOf("to-tunnel")).toBeLessThan(kindsInOrder.indexOf("to-mn"));
    const [toMn] = ofKind(bound, "to-mn");
    expect(Buffer.from(toMn!.packet).equals(Buffer.from(ra))).toBe(true);
    expect(toMn!.src).toEqual(HA_MAC);
    expect(h.engine.session(MN1)?.haLinkLayer).toEqual(HA_MAC);
    expect(h.engine.heldFrames).toBe(0);
  });

  it("held while registering is bounded by the hold caps and dropped if the registration fails", () => {
    const h = new Harness(makeConfig({ hold: { ...DEFAULT_HOLD_CAPS, framesPerMn: 2 } }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0); // one uplink frame held
    h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 100);
    h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 110);
    h.tunnel(downlinkPacket(MN1), { outerDst: COA_POOL[0]! }, 120);
    expect(h.engine.counters.downlinkHeld).toBe(2);
    expect(h.engine.counters.downlinkHoldDropped).toBe(1);
    expect(h.engine.heldFrames).toBe(3);
    const failed = h.answerLast({ code: 129 });
    expect(ofKind(failed, "to-mn")).toEqual([]);
    expect(h.engine.heldFrames).toBe(0);
  });

  it("a non-IPv6 inner packet is counted as malformed", () => {
    const h = new Harness();
    h.register(MN1, 0);
    expect(h.tunnel(Uint8Array.of(0x45, 0, 0, 20), { outerDst: COA_POOL[0]! }, 100)).toEqual([]);
    expect(h.engine.counters.packetsFromTunnelMalformed).toBe(1);
  });
});

describe("shared CoA with GRE keys", () => {
  function twoBound(replyKeys?: [number, number]): Harness {
    const h = new Harness(sharedConfig());
    h.register(MN1, 0, replyKeys ? { greKey: replyKeys[0] } : {});
    h.register(MN2, 10, replyKeys ? { greKey: replyKeys[1] } : {});
    return h;
  }

  it("binds each MN with its own downlink key", () => {
    const h = twoBound();
    expect(ofKind(h.log, "bind").map((b) => [b.mac, b.downlinkKey, b.tunnel.greKey, b.tunnel.careOf])).toEqual([
      [MN1, FIRST_KEY, FIRST_KEY, SHARED_COA],
      [MN2, FIRST_KEY + 1, FIRST_KEY + 1, SHARED_COA],
    ]);
  });

  it("matches downlink by key", () => {
    const h = twoBound();
    const p2 = downlinkPacket(MN2);
    expect(ofKind(h.tunnel(p2, { outerDst: SHARED_COA, greKey: FIRST_KEY + 1 }, 100), "to-mn")[0]!.dst).toEqual(mac(MN2));
    const p1 = downlinkPacket(MN1);
    expect(ofKind(h.tunnel(p1, { outerDst: SHARED_COA, greKey: FIRST_KEY }, 100), "to-mn")[0]!.dst).toEqual(mac(MN1));
    expect(h.tunnel(p1, { outerDst: SHARED_COA, greKey: FIRST_KEY + 3 }, 100)).toEqual([]);
    expect(h.tunnel(p1, { outerDst: SHARED_COA, greKey: null }, 100)).toEqual([]);
    expect(h.engine.counters.packetsFromTunnelUnmatched).toBe(2);
  });

  it("uses the HA's key for uplink when its reply names one (RFC 6245)", () => {
    const h = twoBound([0xaaaa, 0xbbbb]);
    const [t] = ofKind(h.frame(dataFrame(mac(MN2), ROUTER, CORRESPONDENT), 100), "to-tunnel");
    expect(t!.tunnel).toEqual({ careOf: SHARED_COA, homeAgent: HA, greKey: 0xbbbb });
    // Downlink still matches our key.
    expect(ofKind(h.tunnel(downlinkPacket(MN2), { outerDst: SHARED_COA, greKey: FIRST_KEY + 1 }, 100), "to-mn")).toHaveLength(1);
  });
});
