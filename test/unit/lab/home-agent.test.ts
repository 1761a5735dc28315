// The lab home agent against the real AN engine, in-process (pairing.ts): a full
// registration with RA delivery, ND answers, routing both ways, GRE keys, proxy
// DAD failure, handover with revocation, 133 resynchronisation, a legacy HA, and
// lifetimes. Every byte that crosses goes through both sides' wire codecs.
import { describe, expect, it } from "vitest";
import { formatIpv4 } from "../../../src/wire/ipv4-address.ts";
import { formatIpv6 } from "../../../src/wire/ipv6-address.ts";
import { verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import { parseRegistrationReply } from "../../../src/wire/mip-registration.ts";
import { parseRegistrationRevocation } from "../../../src/wire/mip-revocation.ts";
import { MipMessageType } from "../../../src/wire/mip-types.ts";
import type { NdMessage } from "../../../src/wire/ndisc.ts";
import { parseNdPacket } from "../../../src/wire/ndisc.ts";
import { addressResolutionSolicitation, dadNeighborSolicitation, echoRequestPacket, ethernetFrame, ip6, linkLocalOf, mac, routerSolicitation } from "../../support/frames.ts";
import { CODEC, COA_POOL, derivedNaiOf, HA_MAC, KEY, MN1, MN2, SHARED_COA, v4 } from "../core/harness.ts";
import { routerAdvertisement } from "../../lab/home-agent/home-link-nd.ts";
import { anActions, anEvents, World } from "./pairing.ts";
import type { AnNode } from "./pairing.ts";

const COA1 = COA_POOL[0]!;
const COA2 = v4("198.18.0.20");
const CN = ip6("2001:db8:99::7");
const HOME = "2001:db8:1::";

function nd(packet: Uint8Array): { src: string; dst: string; hopLimit: number; message: NdMessage } {
  const p = parseNdPacket(packet);
  if (!p.ok) throw new Error(`not an ND packet: ${p.error.detail}`);
  return { src: formatIpv6(p.value.ip.src), dst: formatIpv6(p.value.ip.dst), hopLimit: p.value.ip.hopLimit, message: p.value.message };
}

function attach(w: World, an: AnNode, macText: string): void {
  w.fromMn(an, dadNeighborSolicitation(mac(macText)));
  expect(an.engine.sessionState(macText)).toBe("bound");
}

/** The MN's SLAAC address in the home prefix (EUI-64, as Linux forms it). */
function homeAddressOf(macText: string): Uint8Array {
  const a = linkLocalOf(mac(macText));
  a.set(ip6(HOME).subarray(0, 8), 0);
  return a;
}

describe("lab home agent paired with the AN engine", () => {
  it("registers an MN: empty IPv6 HoA extension in the reply, then an RA with SLLA down the tunnel, then proxy DAD of the held NS", () => {
    const w = new World();
    const an = w.addAn("an1", {});
    attach(w, an, MN1);

    const [accepted] = w.haEvents("registration-accepted");
    expect(accepted).toMatchObject({ nai: derivedNaiOf(MN1), coa: formatIpv4(COA1), code: 0, lifetime: 600, greKey: null, initial: true, v6: true, binding: "new" });
    const [reply] = w.haSent(MipMessageType.RegistrationReply);
    const parsed = parseRegistrationReply(reply!.bytes, CODEC);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect(parsed.value.message.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa", "revocation-support", "auth"]);
    expect(verifyMnHaAuth(reply!.bytes, parsed.value, KEY).ok).toBe(true);
    expect(reply!.to).toBe(COA1);
    expect(anEvents(an, "registered")).toHaveLength(1);

    // The RA reached the MN with the HA's MAC as the Ethernet source (learned from its SLLA).
    expect(an.toMn).toHaveLength(1);
    const delivered = an.toMn[0]!;
    expect([...delivered.dst]).toEqual([...mac(MN1)]);
    expect([...delivered.src]).toEqual([...HA_MAC]);
    const ra = nd(delivered.packet);
    expect(ra).toMatchObject({ src: "fe80::1", dst: "ff02::1", hopLimit: 255 });
    if (ra.message.kind !== "ra") throw new Error("not an RA");
    expect(ra.message.routerLifetime).toBe(1800);
    const opts = ra.message.options;
    const slla = opts.find((o) => o.kind === "slla");
    expect(slla?.kind === "slla" && [...slla.address]).toEqual([...HA_MAC]);
    expect(opts.find((o) => o.kind === "mtu")).toEqual({ kind: "mtu", mtu: 1480 });
    const pio = opts.find((o) => o.kind === "prefix-info");
    expect(pio?.kind === "prefix-info" && { p: formatIpv6(pio.prefix), len: pio.prefixLength, a: pio.autonomous, l: pio.onLink }).toEqual({ p: HOME, len: 64, a: true, l: false });

    // The DAD NS the AN held went up the tunnel once the tunnel was set: proxy DAD passes.
    const lla = formatIpv6(linkLocalOf(mac(MN1)));
    expect(w.haEvents("proxy-dad")).toEqual([{ type: "proxy-dad", nai: derivedNaiOf(MN1), address: lla, result: "unique" }]);
    expect([...(w.ha.binding(derivedNaiOf(MN1))?.addresses ?? [])]).toEqual([lla]);
  });

  it("answers RS with an RA and NS for its link-local with a solicited NA carrying its MAC", () => {
    const w = new World();
    const an = w.addAn("an1", {});
    attach(w, an, MN1);
    an.toMn.length = 0;

    w.fromMn(an, routerSolicitation(mac(MN1)));
    expect(w.haEvents("ra-sent").map((e) => e.solicited)).toEqual([false, true]);
    expect(nd(an.toMn[0]!.packet).message.kind).toBe("ra");

    w.fromMn(an, addressResolutionSolicitation(mac(MN1), ip6("fe80::1")));
    const na = nd(an.toMn[1]!.packet);
    expect(na).toMatchObject({ src: "fe80::1", dst: formatIpv6(linkLocalOf(mac(MN1))), hopLimit: 255 });
    expect(na.message).toMatchObject({ kind: "na", router: true, solicited: true, override: true });
    if (na.message.kind !== "na") return;
    expect(formatIpv6(na.message.target)).toBe("fe80::1");
    const tlla = na.message.options.find((o) => o.kind === "tlla");
    expect(tlla?.kind === "tlla" && [...tlla.address]).toEqual([...HA_MAC]);

    // The HA's other address too; a stranger's is not answered.
    w.fromMn(an, addressResolutionSolicitation(mac(MN1), ip6("2001:db8:1::1")));
    w.fromMn(an, addressResolutionSolicitation(mac(MN1), ip6("2001:db8:1::99")));
    expect(w.haEvents("na-sent").map((e) => e.target)).toEqual(["fe80::1", "2001:db8:1::1"]);
  });

  it("routes the MN's packets to the home link byte for byte, learns its address, and tunnels packets for it back", () => {
    const w = new World();
    const an = w.addAn("an1", {});
    attach(w, an, MN1);
    const home = homeAddressOf(MN1);

    const up = echoRequestPacket(home, CN, 7);
    w.fromMn(an, ethernetFrame(mac(MN1), HA_MAC, up));
    expect(w.homeLink.map((p) => Buffer.from(p).toString("hex"))).toEqual([Buffer.from(up).toString("hex")]);
    expect(w.haEvents("address-learned")).toEqual([{ type: "address-learned", nai: derivedNaiOf(MN1), address: formatIpv6(home) }]);
    expect(w.haEvents("tunnel-rx").at(-1)).toMatchObject({ fate: "to-home-link", src: formatIpv6(home), dst: formatIpv6(CN), hopLimit: 64 });

    an.toMn.length = 0;
    const down = echoRequestPacket(CN, home, 8, 63);
    w.fromHomeLink(down);
    expect(an.toMn).toHaveLength(1);
    expect(Buffer.from(an.toMn[0]!.packet).toString("hex")).toBe(Buffer.from(down).toString("hex"));
    expect([...an.toMn[0]!.dst]).toEqual([...mac(MN1)]);

    w.fromHomeLink(echoRequestPacket(CN, ip6("2001:db8:1::dead"), 9));
    expect(w.haEvents("dropped").at(-1)).toMatchObject({ what: "home-link-packet", reason: "no binding for 2001:db8:1::dead" });
    expect(an.toMn).toHaveLength(1);
  });

  it("shared CoA with GRE keys: downlink carries each MN's key, uplink the HA's own, the RA's MTU leaves room for GRE", () => {
    const w = new World();
    const an = w.addAn("an1", { careOf: { mode: "shared", address: SHARED_COA, firstKey: 0x1000, keyCount: 4 } });
    attach(w, an, MN1);
    attach(w, an, MN2);
    expect(w.haEvents("registration-accepted").map((e) => [e.greKey, e.uplinkKey])).toEqual([
      [0x1000, 0x7000_0000],
      [0x1001, 0x7000_0001],
    ]);
    expect(w.haEvents("ra-sent").map((e) => e.mtu)).toEqual([1472, 1472]);
    const [reply] = w.haSent(MipMessageType.RegistrationReply);
    const parsed = parseRegistrationReply(reply!.bytes, CODEC);
    expect(parsed.ok && parsed.value.message.extensions.find((e) => e.kind === "gre-key")).toEqual({ kind: "gre-key", key: 0x7000_0000 });

    const h1 = homeAddressOf(MN1);
    const h2 = homeAddressOf(MN2);
    w.fromMn(an, ethernetFrame(mac(MN1), HA_MAC, echoRequestPacket(h1, CN, 1)));
    w.fromMn(an, ethernetFrame(mac(MN2), HA_MAC, echoRequestPacket(h2, CN, 2)));
    expect(w.haEvents("tunnel-rx").filter((e) => e.fate === "to-home-link").map((e) => [e.nai, e.greKey])).toEqual([
      [derivedNaiOf(MN1), 0x7000_0000],
      [derivedNaiOf(MN2), 0x7000_0001],
    ]);
    an.toMn.length = 0;
    w.fromHomeLink(echoRequestPacket(CN, h2, 3));
    w.fromHomeLink(echoRequestPacket(CN, h1, 4));
    expect(an.toMn.map((d) => [...d.dst])).toEqual([[...mac(MN2)], [...mac(MN1)]]);
    expect(w.haEvents("tunnel-tx").slice(-2).map((e) => e.greKey)).toEqual([0x1001, 0x1000]);
  });

  it("proxy DAD failure: the NA reaches the MN, then an authenticated revocation; the AN acknowledges and detaches the MN", () => {
    const lla = linkLocalOf(mac(MN1));
    const w = new World({ usedAddresses: [formatIpv6(lla)] });
    const an = w.addAn("an1", {});
    attach(w, an, MN1);

    expect(w.haEvents("proxy-dad")).toMatchObject([{ address: formatIpv6(lla), result: "duplicate" }]);
    const na = nd(an.toMn.at(-1)!.packet);
    expect(na).toMatchObject({ dst: "ff02::1", hopLimit: 255, message: { kind: "na", solicited: false, override: true } });
    expect(na.message.kind === "na" && formatIpv6(na.message.target)).toBe(formatIpv6(lla));
    expect(w.ha.bindingCount).toBe(0);
    expect(w.haSent(MipMessageType.RegistrationRevocation)).toHaveLength(0); // after dadDelayMs

    w.advance(150);
    const [rev] = w.haSent(MipMessageType.RegistrationRevocation);
    expect(rev).toMatchObject({ to: COA1, toPort: 434 });
    const parsed = parseRegistrationRevocation(rev!.bytes, CODEC);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect(parsed.value.message).toMatchObject({ aBit: true, iBit: false, homeDomainAddress: v4("192.0.2.1"), foreignDomainAddress: COA1 });
    expect(parsed.value.message.extensions[0]).toEqual({ kind: "mn-nai", nai: derivedNaiOf(MN1) });
    expect(verifyMnHaAuth(rev!.bytes, parsed.value, KEY).ok).toBe(true);

    expect(anEvents(an, "revoked")).toEqual([{ type: "revoked", mac: MN1, revocationId: parsed.value.message.revocationId, dadFailure: true }]);
    expect(anActions(an, "detach")).toEqual([{ kind: "detach", mac: MN1 }]);
    expect(w.haEvents("ack-received")).toEqual([{ type: "ack-received", nai: derivedNaiOf(MN1), coa: formatIpv4(COA1), revocationId: parsed.value.message.revocationId }]);
    expect(w.haEvents("revocation-sent")).toMatchObject([{ reason: "dad-failure", attempt: 1 }]);
    expect(w.ha.pendingRevocations).toBe(0);
  });

  it("issue 9: revocation first, the defending NA after a gap (HA options); the AN still delivers the NA and detaches", () => {
    const lla = linkLocalOf(mac(MN1));
    const w = new World({ usedAddresses: [formatIpv6(lla)], revocation: { dadOrder: "revocation-first", dadDelayMs: 300, dadNaCopies: 2 } });
    const an = w.addAn("an1", {});
    w.fromMn(an, dadNeighborSolicitation(mac(MN1))); // registered, then at once revoked (proxy DAD of the held NS)
    expect(w.haSent(MipMessageType.RegistrationRevocation)).toHaveLength(1);
    expect(anEvents(an, "revoked")).toMatchObject([{ mac: MN1, dadFailure: false }]);
    expect(w.haEvents("na-sent")).toEqual([]);
    w.advance(350);
    expect(w.haEvents("na-sent")).toHaveLength(2);
    const nas = an.toMn.filter((d) => nd(d.packet).message.kind === "na");
    expect(nas).toHaveLength(2);
    expect(anEvents(an, "dad-failure")).toMatchObject([{ mac: MN1, order: "revocation-first" }]);
    expect(anActions(an, "detach")).toEqual([{ kind: "detach", mac: MN1 }]);
  });

  it("handover AN1 -> AN2: the binding moves with its addresses, the old CoA is revoked and acknowledges", () => {
    const w = new World();
    const an1 = w.addAn("an1", {});
    const an2 = w.addAn("an2", { careOf: { mode: "pool", addresses: [COA2] } });
    attach(w, an1, MN1);
    const home = homeAddressOf(MN1);
    w.fromMn(an1, ethernetFrame(mac(MN1), HA_MAC, echoRequestPacket(home, CN, 1)));
    w.advance(2000);

    const context = an1.engine.exportContext(w.now, MN1);
    if (!context) throw new Error("no context");
    w.toAn(an2, { kind: "import-context", context, resume: false });

    expect(w.haEvents("registration-accepted").at(-1)).toMatchObject({ coa: formatIpv4(COA2), binding: "moved", v6: true });
    expect(w.haEvents("revocation-sent")).toMatchObject([{ coa: formatIpv4(COA1), reason: "handover", attempt: 1 }]);
    expect(anEvents(an1, "revoked")).toMatchObject([{ mac: MN1, dadFailure: false }]);
    expect(anEvents(an1, "released")).toMatchObject([{ mac: MN1, reason: "revoked" }]);
    expect(w.haEvents("ack-received")).toMatchObject([{ coa: formatIpv4(COA1) }]);
    expect(an2.engine.sessionState(MN1)).toBe("bound");

    const b = w.ha.binding(derivedNaiOf(MN1));
    expect(b?.coa).toBe(COA2);
    expect(b?.addresses.has(formatIpv6(home))).toBe(true);
    an2.toMn.length = 0;
    w.fromHomeLink(echoRequestPacket(CN, home, 2));
    expect(an2.toMn).toHaveLength(1);
    expect(an1.toMn.filter((d) => d.packet[6] !== 58 || d.packet[40] !== 134)).toHaveLength(0);
  });

  it("issue 10: with oldCareOfDownlinkMs the HA keeps sending to the old CoA for a while after the move; the old AN, released with AN2's CoA, forwards to AN2, which delivers; without forwarding they are lost", () => {
    for (const releaseForwardMs of [2000, 0]) {
      const w = new World({ oldCareOfDownlinkMs: 200 });
      const an1 = w.addAn("an1", { releaseForwardMs });
      const an2 = w.addAn("an2", { careOf: { mode: "pool", addresses: [COA2] }, peerForwardAcceptMs: 3000 });
      attach(w, an1, MN1);
      const home = homeAddressOf(MN1);
      // The MN's DAD for its global address: how the AN learns it (and the record carries it).
      w.fromMn(an1, dadNeighborSolicitation(mac(MN1), { target: home }));
      w.advance(2000);
      const context = an1.engine.exportContext(w.now, MN1)!;
      expect(context.addresses).toContain(formatIpv6(home));
      w.toAn(an2, { kind: "import-context", context, resume: false });
      expect(w.haEvents("registration-accepted").at(-1)).toMatchObject({ coa: formatIpv4(COA2), binding: "moved" });
      // The HA revoked AN1 at once; AN2's signed release (the app's rpc) comes after it.
      expect(anEvents(an1, "released")).toMatchObject([{ mac: MN1, reason: "revoked" }]);
      w.toAn(an1, { kind: "hand-over", mac: MN1, forwardTo: COA2 });
      an1.toMn.length = 0;
      an2.toMn.length = 0;
      for (let seq = 10; seq < 30; seq++) {
        w.fromHomeLink(echoRequestPacket(CN, home, seq));
        w.advance(20);
      }
      const oldPath = w.haEvents("tunnel-tx").filter((e) => e.oldCareOf === true);
      // Sent at 0, 20, ..., 180 ms after the move: ten to the old CoA, the rest to the new.
      expect(oldPath).toHaveLength(10);
      expect(oldPath.every((e) => e.coa === formatIpv4(COA1))).toBe(true);
      const echoes = (to: typeof an1.toMn) => to.filter((d) => d.packet[6] === 58 && d.packet[40] === 128);
      if (releaseForwardMs > 0) {
        expect(echoes(an2.toMn)).toHaveLength(20);
        expect(echoes(an1.toMn)).toHaveLength(0);
        expect(an1.engine.counters.framesForwardedToPeer).toBe(10);
        expect(an2.engine.counters.framesForwardedFromPeer).toBe(10);
      } else {
        // The old AN delivers them to the access link the MN has left (revocation linger): lost.
        expect(echoes(an2.toMn)).toHaveLength(10);
        expect(echoes(an1.toMn)).toHaveLength(10);
      }
    }
  });

  it("answers a request off its clock with 133 carrying its own seconds; the AN resynchronises and is accepted", () => {
    const skewMs = 120_000;
    const w = new World({}, skewMs);
    const an = w.addAn("an1", {});
    w.fromMn(an, dadNeighborSolicitation(mac(MN1)));
    // The resynchronised request goes 1 s after the first (RFC 5944 3.6.3).
    w.advance(1000);
    expect(an.engine.sessionState(MN1)).toBe("bound");

    const [denied] = w.haEvents("registration-denied");
    expect(denied).toMatchObject({ code: ReplyCode.IdentificationMismatch, nai: derivedNaiOf(MN1) });
    const [first, second] = w.haSent(MipMessageType.RegistrationReply).map((s) => parseRegistrationReply(s.bytes, CODEC));
    if (!first?.ok || !second?.ok) throw new Error("replies do not parse");
    const requests = anActions(an, "send-signalling").map((s) => s.bytes);
    const id = new DataView(requests[0]!.buffer).getBigUint64(16);
    const haSeconds = Number(first.value.message.identification >> 32n);
    expect(first.value.message.identification & 0xffff_ffffn).toBe(id & 0xffff_ffffn);
    expect(haSeconds - Number(id >> 32n)).toBeGreaterThanOrEqual(119);
    expect(haSeconds - Number(id >> 32n)).toBeLessThanOrEqual(121);
    expect(anEvents(an, "identification-resync")).toHaveLength(1);
    expect(second.value.message.code).toBe(0);
    expect(w.haEvents("registration-accepted")).toHaveLength(1);
  });

  it("a replayed (not newer) request is refused with 133 too", () => {
    const w = new World();
    const an = w.addAn("an1", {});
    attach(w, an, MN1);
    const rrq = anActions(an, "send-signalling")[0]!.bytes;
    w.toHa({ kind: "signalling", from: COA1, fromPort: 434, bytes: rrq });
    expect(w.haEvents("registration-denied")).toMatchObject([{ code: 133, reason: "not newer than the last accepted" }]);
  });

  it("legacy HA: accepted without the IPv6 HoA extension and no RA; the AN reports no service and takes the binding down", () => {
    const w = new World({ legacy: true });
    const an = w.addAn("an1", {});
    w.fromMn(an, dadNeighborSolicitation(mac(MN1)));
    expect(w.haEvents("registration-accepted")).toMatchObject([{ v6: false, initial: true }]);
    expect(w.haEvents("ra-sent")).toHaveLength(0);
    expect(anEvents(an, "no-service")).toEqual([{ type: "no-service", mac: MN1, nai: derivedNaiOf(MN1), reason: "ha-lacks-v6-over-v4" }]);
    // The cleanup deregistration goes 1 s after the registration (RFC 5944 3.6.3).
    w.advance(1000);
    expect(w.haEvents("deregistered")).toMatchObject([{ removed: true }]);
    expect(w.ha.bindingCount).toBe(0);
    expect(an.toMn).toHaveLength(0);
  });

  it("grants min(requested, max) and removes the binding on deregistration", () => {
    const w = new World({ maxLifetimeS: 30 });
    const an = w.addAn("an1", {});
    attach(w, an, MN1);
    expect(w.haEvents("registration-accepted")[0]?.lifetime).toBe(30);
    expect(anEvents(an, "registered")[0]?.lifetime).toBe(30);
    // The AN refreshes in time: the binding lives on.
    w.advance(95_000);
    expect(w.haEvents("registration-accepted").filter((e) => e.binding === "renewed").length).toBeGreaterThanOrEqual(3);
    expect(w.haEvents("binding-expired")).toHaveLength(0);

    w.toAn(an, { kind: "station-left", mac: MN1 });
    expect(w.haEvents("deregistered")).toMatchObject([{ nai: derivedNaiOf(MN1), removed: true }]);
    expect(w.ha.bindingCount).toBe(0);
  });

  it("a binding nobody refreshes expires", () => {
    const w = new World({ maxLifetimeS: 20 });
    const an = w.addAn("an1", {});
    attach(w, an, MN1);
    w.removeAn(an);
    w.advance(19_000);
    expect(w.ha.bindingCount).toBe(1);
    w.advance(1_000);
    expect(w.haEvents("binding-expired")).toEqual([{ type: "binding-expired", nai: derivedNaiOf(MN1), coa: formatIpv4(COA1) }]);
    expect(w.ha.bindingCount).toBe(0);
  });

  it("an unacknowledged revocation is retransmitted with fresh identifiers and backoff, then given up", () => {
    const w = new World({ revocation: { maxTries: 3 } });
    const an1 = w.addAn("an1", {});
    const an2 = w.addAn("an2", { careOf: { mode: "pool", addresses: [COA2] } });
    attach(w, an1, MN1);
    const context = an1.engine.exportContext(w.now, MN1)!;
    w.removeAn(an1); // the old AN is gone: nobody acknowledges
    w.toAn(an2, { kind: "import-context", context, resume: false });
    w.advance(10_000);
    const sent = w.haEvents("revocation-sent");
    expect(sent.map((e) => e.attempt)).toEqual([1, 2, 3]);
    const ids = sent.map((e) => e.revocationId);
    expect(ids[1]! > ids[0]! && ids[2]! > ids[1]!).toBe(true);
    expect(w.haEvents("revocation-unacknowledged")).toMatchObject([{ coa: formatIpv4(COA1), attempts: 3 }]);
  });

  it("refuses a request whose authenticator fails (131) and one for another home agent (136)", () => {
    const w = new World();
    const wrong = w.addAn("an1", { realms: [{ realm: "example.net", homeAgent: v4("192.0.2.1"), mnHaKey: { spi: KEY.spi, secret: new TextEncoder().encode("not the key") } }] });
    w.fromMn(wrong, dadNeighborSolicitation(mac(MN1)));
    expect(w.haEvents("registration-denied")).toMatchObject([{ code: 131, reason: "MN-HA authentication mismatch" }]);
    expect(anEvents(wrong, "forged")).toHaveLength(1); // the reply is signed with the real key: the AN cannot trust it

    const w2 = new World({ address: "192.0.2.9" });
    const an = w2.addAn("an1", {});
    const rrq = (() => {
      an.engine.handle(0, { kind: "frame-from-mn", frame: dadNeighborSolicitation(mac(MN2)) });
      for (let a = an.engine.poll(); a; a = an.engine.poll()) if (a.kind === "send-signalling") return a.bytes.slice();
      throw new Error("no RRQ");
    })();
    const out = w2.ha.handle(0, { kind: "signalling", from: COA1, fromPort: 434, bytes: rrq });
    const ev = out.find((o) => o.kind === "event");
    expect(ev?.kind === "event" && ev.event).toMatchObject({ type: "registration-denied", code: 136 });
  });

  it("the RA carries the MTU option unless ra.mtuOption is false (the MTU e2e test runs without it)", () => {
    const base = { linkLocal: ip6("fe80::1"), mac: mac("02:00:5e:00:53:01"), prefix: ip6(HOME), curHopLimit: 64, routerLifetimeS: 1800, validLifetimeS: 86400, preferredLifetimeS: 14400 };
    const kinds = (mtu: number | null): string[] => {
      const m = nd(routerAdvertisement({ ...base, mtu })).message;
      return m.kind === "ra" ? m.options.map((o) => (o.kind === "mtu" ? `mtu ${o.mtu}` : o.kind)) : [];
    };
    expect(kinds(1480)).toEqual(["slla", "mtu 1480", "prefix-info"]);
    expect(kinds(null)).toEqual(["slla", "prefix-info"]);
  });
});
