// The lab's home agent, sans-I/O like the AN's engine: `handle(now, input)` returns
// what to send and what happened. It implements the HA side of
// draft-navali-ip6-over-netmip4 3.2 and 5.5 that an AN meets:
// - registration (RFC 5944 3.8): MN-HA authentication per realm, timestamp
//   identification (5.7: 133 with the HA's time when off), binding cache by NAI,
//   lifetime min(requested, max), deregistration; the empty IPv6 HoA extension in
//   the reply to an initial request (draft 4.2, 5.5.1) unless configured legacy;
// - the default router of the home link: an RA down the tunnel right after an
//   accepted initial reply (draft 3.2.2 step 6), RA for RS, NA for NS of its own
//   addresses;
// - proxy DAD (draft 3.2.2 step 10, 3.2.4, 5.5.4): an address already used (a
//   configured list, the HA's own, or bound to another MN) is defended with an NA
//   and the binding revoked; otherwise the address is bound to the MN's binding;
// - registration from a new CoA: the old one is revoked (RFC 3543, draft 3.2.3)
//   and the acknowledgement expected (retransmitted with backoff otherwise);
// - routing: tunnel packets to the home link (the TUN), home-link packets for an
//   MN's bound addresses down its tunnel (IPv6-in-IPv4, or GRE with the AN's key).
// `now` is monotonic milliseconds; the wall clock is now + wallOffsetMs.
import { formatIpv4 } from "../../../src/wire/ipv4-address.ts";
import { IPPROTO_ICMPV6 } from "../../../src/wire/ipv4.ts";
import { IPV6_HEADER_LENGTH, parseIpv6Header } from "../../../src/wire/ipv6.ts";
import { formatIpv6, isLinkLocal, isMulticastIpv6, isUnspecified } from "../../../src/wire/ipv6-address.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH, verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import { ntpFromUnixMs, unixMsFromNtp } from "../../../src/wire/mip-identification.ts";
import { encodeRegistrationReply, parseRegistrationRequest, registrationReplyLength } from "../../../src/wire/mip-registration.ts";
import { encodeRegistrationRevocation, parseRevocationAcknowledgment, registrationRevocationLength } from "../../../src/wire/mip-revocation.ts";
import type { MipExtension, RegistrationReply, RegistrationRequest, RegistrationRevocation } from "../../../src/wire/mip-types.ts";
import { MIP_UDP_PORT, MipMessageType } from "../../../src/wire/mip-types.ts";
import { ND_REDIRECT, ND_ROUTER_SOLICITATION, parseNdPacket } from "../../../src/wire/ndisc.ts";
import { isForbiddenDecapsulatedSource } from "../../../src/wire/tunnel.ts";
import type { HaConfig, HaRealm } from "./config.ts";
import type { HaEvent, HaInput, HaOutput, HaTunnel, RevocationReason } from "./events.ts";
import { dadDefence, routerAdvertisement, solicitedAdvertisement } from "./home-link-nd.ts";

const MASK32 = 0xffff_ffffn;
/** Outer header bytes: IPv4 20, GRE 4, GRE key 4. */
const IPV4_HEADER = 20;

export interface HomeAgentOptions {
  /** Wall clock (ms since 1970) minus `now`. */
  readonly wallOffsetMs: number;
}

/** One entry of the binding cache (by NAI). Read-only outside this file. */
export interface Binding {
  readonly nai: string;
  readonly realm: HaRealm;
  coa: number;
  gre: boolean;
  /** The AN's key: put on downlink packets. */
  downlinkKey: number | null;
  /** The HA's key, told in the reply: expected on uplink packets. */
  uplinkKey: number | null;
  lifetimeS: number;
  expiresAt: number;
  revocationSupport: boolean;
  homeAddress: number;
  /** IPv6 addresses bound to this MN (proxy DAD passed, or learned from its packets). */
  readonly addresses: Set<string>;
  /** Issue 10 (config oldCareOfDownlinkMs): home-link packets still go to the CoA it moved from until `until`. */
  oldDownlink?: { readonly tunnel: HaTunnel; readonly until: number } | undefined;
}

interface PendingRevocation {
  readonly nai: string;
  readonly realm: HaRealm;
  readonly coa: number;
  readonly homeAddress: number;
  readonly reason: RevocationReason;
  /** Every identifier sent so far: an ack may answer any of them. */
  readonly ids: number[];
  attempts: number;
  nextAt: number;
  /** RFC 3543 4.2.2.1: no retransmission beyond the life of the binding revoked. */
  readonly giveUpAt: number;
}

export class HomeAgent {
  private readonly bindings = new Map<string, Binding>();
  private readonly byCoa = new Map<number, Binding>();
  private readonly byUplinkKey = new Map<number, Binding>();
  private readonly byAddress = new Map<string, Binding>();
  /** Newest accepted identification per NAI (outlives bindings: replay protection). */
  private readonly lastIds = new Map<string, bigint>();
  private readonly ipv4Homes = new Map<string, number>();
  private readonly pending: PendingRevocation[] = [];
  /** Issue 9: tunnel packets held back by a configured gap (the defending NA after its revocation). */
  private readonly delayed: { at: number; b: Binding; packet: Uint8Array; target: string }[] = [];
  private readonly used: Set<string>;
  private readonly own: Set<string>;
  private lastRevocationId = 0;
  private nextUplinkKey: number;
  private out: HaOutput[] = [];

  constructor(
    readonly config: HaConfig,
    private readonly options: HomeAgentOptions = { wallOffsetMs: 0 },
  ) {
    this.used = new Set(config.usedAddresses.map((a) => formatIpv6(a)));
    this.own = new Set([config.linkLocal, ...config.homeAddresses].map((a) => formatIpv6(a)));
    this.nextUplinkKey = config.firstUplinkKey;
  }

  handle(now: number, input: HaInput): HaOutput[] {
    this.out = [];
    switch (input.kind) {
      case "signalling":
        this.onSignalling(now, input.from, input.fromPort, input.bytes);
        break;
      case "tunnel-packet":
        this.onTunnelPacket(now, input);
        break;
      case "from-home-link":
        this.onHomeLink(now, input.packet);
        break;
      case "deadline":
        this.onDeadline(now);
        break;
      case "revoke": {
        const b = this.bindings.get(input.nai);
        if (b) {
          this.removeBinding(b);
          this.revoke(now, b, "operator", 0);
        }
        break;
      }
    }
    return this.out;
  }

  /** The earliest time at which handle(now, {kind: "deadline"}) has work. */
  nextDeadline(): number | undefined {
    let at = Infinity;
    for (const b of this.bindings.values()) at = Math.min(at, b.expiresAt);
    for (const p of this.pending) at = Math.min(at, p.nextAt);
    for (const d of this.delayed) at = Math.min(at, d.at);
    return at === Infinity ? undefined : at;
  }

  binding(nai: string): Readonly<Binding> | undefined {
    return this.bindings.get(nai);
  }

  /** The binding cache as plain JSON-friendly records (the process's "bindings" command). */
  bindingsSnapshot(): { nai: string; coa: string; greKey: number | null; uplinkKey: number | null; lifetime: number; expiresAt: number; addresses: string[] }[] {
    return [...this.bindings.values()].map((b) => ({
      nai: b.nai,
      coa: formatIpv4(b.coa),
      greKey: b.downlinkKey,
      uplinkKey: b.uplinkKey,
      lifetime: b.lifetimeS,
      expiresAt: b.expiresAt,
      addresses: [...b.addresses],
    }));
  }

  get bindingCount(): number {
    return this.bindings.size;
  }

  get pendingRevocations(): number {
    return this.pending.length;
  }

  /** The wall clock the HA's timestamps come from. */
  wallMs(now: number): number {
    return now + this.options.wallOffsetMs;
  }

  // ---- signalling -----------------------------------------------------------

  private onSignalling(now: number, from: number, fromPort: number, bytes: Uint8Array): void {
    switch (bytes[0]) {
      case MipMessageType.RegistrationRequest:
        return this.onRequest(now, from, fromPort, bytes);
      case MipMessageType.RevocationAcknowledgment:
        return this.onAck(from, bytes);
      default:
        this.emit({ type: "dropped", what: "signalling", reason: `message type ${bytes[0] ?? "none"}`, from: formatIpv4(from) });
    }
  }

  private onRequest(now: number, from: number, fromPort: number, bytes: Uint8Array): void {
    const parsed = parseRegistrationRequest(bytes, this.config.codec);
    if (!parsed.ok) {
      this.emit({ type: "dropped", what: "registration-request", reason: `${parsed.error.kind}: ${parsed.error.detail}`, from: formatIpv4(from) });
      return;
    }
    const rrq = parsed.value.message;
    const nai = findNai(rrq.extensions);
    const coa = formatIpv4(rrq.careOfAddress);
    const reply = (code: number, lifetime: number, extensions: MipExtension[], key: MnHaKey | null, identification = rrq.identification, homeAddress = rrq.homeAddress): void => {
      const msg: RegistrationReply = { code, lifetime, homeAddress, homeAgent: this.config.address, identification, extensions };
      this.send(from, fromPort, signed(registrationReplyLength(msg, this.config.codec), (o) => encodeRegistrationReply(msg, this.config.codec, o, 0), key));
    };
    const deny = (code: number, reason: string, key: MnHaKey | null, identification?: bigint): void => {
      reply(code, 0, nai !== undefined ? [{ kind: "mn-nai", nai }] : [], key, identification);
      this.emit({ type: "registration-denied", nai: nai ?? null, coa, code, reason });
    };
    if (nai === undefined) return deny(ReplyCode.PoorlyFormedRequest, "no MN-NAI extension", null);
    const realm = this.realmOf(nai);
    if (!realm) return deny(ReplyCode.MobileNodeFailedAuthentication, "no security association for the realm", null);
    const auth = verifyMnHaAuth(bytes, parsed.value, realm.key);
    if (!auth.ok) return deny(ReplyCode.MobileNodeFailedAuthentication, `MN-HA authentication ${auth.reason}`, realm.key);
    if (rrq.homeAgent !== this.config.address) return deny(ReplyCode.UnknownHomeAgentAddress, `home agent field ${formatIpv4(rrq.homeAgent)}`, realm.key);
    // RFC 5944 5.7: close to our clock, and newer than anything accepted for this MN.
    const wall = this.wallMs(now);
    const skewMs = unixMsFromNtp(rrq.identification) - wall;
    const last = this.lastIds.get(nai);
    if (Math.abs(skewMs) > this.config.identificationWindowS * 1000 || (last !== undefined && rrq.identification <= last)) {
      const ours = (ntpFromUnixMs(wall) & ~MASK32) | (rrq.identification & MASK32);
      const why = last !== undefined && rrq.identification <= last ? "not newer than the last accepted" : `timestamp off by ${Math.round(skewMs)} ms`;
      return deny(ReplyCode.IdentificationMismatch, why, realm.key, ours);
    }
    this.lastIds.set(nai, rrq.identification);
    const existing = this.bindings.get(nai);
    // A new registration from this CoA supersedes any revocation still pending for it.
    this.cancelPending(nai, rrq.careOfAddress);
    if (rrq.lifetime === 0) return this.onDeregistration(rrq, nai, realm, existing, reply);
    this.onRegistration(now, rrq, nai, realm, existing, reply);
  }

  private onDeregistration(
    rrq: RegistrationRequest,
    nai: string,
    realm: HaRealm,
    existing: Binding | undefined,
    reply: (code: number, lifetime: number, extensions: MipExtension[], key: MnHaKey | null) => void,
  ): void {
    // RFC 5944 3.8.3.1: lifetime 0 removes the binding of that CoA (all of them for the home address).
    const removed = existing !== undefined && (existing.coa === rrq.careOfAddress || rrq.careOfAddress === rrq.homeAddress);
    if (removed) this.removeBinding(existing);
    reply(ReplyCode.Accepted, 0, [{ kind: "mn-nai", nai }], realm.key);
    this.emit({ type: "deregistered", nai, coa: formatIpv4(rrq.careOfAddress), removed });
  }

  private onRegistration(
    now: number,
    rrq: RegistrationRequest,
    nai: string,
    realm: HaRealm,
    existing: Binding | undefined,
    reply: (code: number, lifetime: number, extensions: MipExtension[], key: MnHaKey | null, identification?: bigint, homeAddress?: number) => void,
  ): void {
    const initial = rrq.extensions.some((e) => e.kind === "ipv6-hoa-request");
    const keyExt = rrq.extensions.find((e): e is Extract<MipExtension, { kind: "gre-key" }> => e.kind === "gre-key");
    const revocationSupport = rrq.extensions.some((e) => e.kind === "revocation-support");
    const gre = rrq.flags.G || keyExt !== undefined;
    const lifetime = Math.min(rrq.lifetime, this.config.maxLifetimeS);
    let kind: "new" | "renewed" | "moved" = "new";
    let b = existing;
    /** The binding left behind at another CoA, revoked once the reply is out. */
    let left: Binding | undefined;
    if (b) {
      kind = b.coa !== rrq.careOfAddress ? "moved" : "renewed";
      if (kind === "moved") left = { ...b, addresses: new Set() };
      this.unindexTunnel(b);
    }
    if (!b) {
      b = {
        nai,
        realm,
        coa: rrq.careOfAddress,
        gre,
        downlinkKey: null,
        uplinkKey: null,
        lifetimeS: lifetime,
        expiresAt: 0,
        revocationSupport,
        homeAddress: 0,
        addresses: new Set(),
      };
      this.bindings.set(nai, b);
    }
    b.coa = rrq.careOfAddress;
    b.gre = gre;
    b.downlinkKey = keyExt?.key ?? null;
    if (keyExt === undefined) b.uplinkKey = null;
    else if (b.uplinkKey === null) b.uplinkKey = this.allocateUplinkKey();
    b.oldDownlink = left && this.config.oldCareOfDownlinkMs > 0 ? { tunnel: { careOf: left.coa, gre: left.gre, greKey: left.downlinkKey }, until: now + this.config.oldCareOfDownlinkMs } : undefined;
    b.lifetimeS = lifetime;
    b.expiresAt = now + lifetime * 1000;
    b.revocationSupport = revocationSupport;
    b.homeAddress = this.homeAddressFor(nai, rrq.homeAddress);
    this.indexTunnel(b);

    const v6 = initial && !this.config.legacy;
    const extensions: MipExtension[] = [{ kind: "mn-nai", nai }];
    if (v6) extensions.push({ kind: "ipv6-hoa", unique: false, hoa: null });
    if (revocationSupport && this.config.revocation.enabled) {
      extensions.push({ kind: "revocation-support", iBit: false, timestamp: Math.floor(this.wallMs(now) / 1000) >>> 0 });
    }
    if (b.uplinkKey !== null) extensions.push({ kind: "gre-key", key: b.uplinkKey });
    reply(ReplyCode.Accepted, lifetime, extensions, realm.key, rrq.identification, b.homeAddress);
    this.emit({
      type: "registration-accepted",
      nai,
      coa: formatIpv4(b.coa),
      code: ReplyCode.Accepted,
      lifetime,
      greKey: b.downlinkKey,
      uplinkKey: b.uplinkKey,
      initial,
      v6,
      binding: kind,
    });
    // Draft 3.2.2 step 6: the RA follows the reply that set the tunnel up.
    if (v6) this.sendRa(b, false);
    // Draft 3.2.3 steps 4-5 / RFC 3543: the old AN learns at once that it may let go.
    if (left && this.config.revocation.enabled && left.revocationSupport) this.revoke(now, left, "handover", 0);
  }

  private onAck(from: number, bytes: Uint8Array): void {
    const parsed = parseRevocationAcknowledgment(bytes, this.config.codec);
    if (!parsed.ok) {
      this.emit({ type: "dropped", what: "revocation-ack", reason: `${parsed.error.kind}: ${parsed.error.detail}`, from: formatIpv4(from) });
      return;
    }
    const ack = parsed.value.message;
    const nai = findNai(ack.extensions);
    const i = this.pending.findIndex((p) => p.ids.includes(ack.revocationId) && (nai === undefined || nai === p.nai));
    const p = this.pending[i];
    if (!p) {
      this.emit({ type: "dropped", what: "revocation-ack", reason: `no revocation ${ack.revocationId} pending`, from: formatIpv4(from) });
      return;
    }
    if (from !== p.coa) {
      this.emit({ type: "dropped", what: "revocation-ack", reason: "not from the revoked care-of address", from: formatIpv4(from) });
      return;
    }
    const auth = verifyMnHaAuth(bytes, parsed.value, p.realm.key);
    if (!auth.ok) {
      this.emit({ type: "dropped", what: "revocation-ack", reason: `MN-HA authentication ${auth.reason}`, from: formatIpv4(from) });
      return;
    }
    this.pending.splice(i, 1);
    this.emit({ type: "ack-received", nai: p.nai, coa: formatIpv4(p.coa), revocationId: ack.revocationId });
  }

  // ---- revocation -----------------------------------------------------------

  /** Queues a revocation of `b`'s binding at its CoA, sent after delayMs (0: now). */
  private revoke(now: number, b: Readonly<Binding>, reason: RevocationReason, delayMs: number, giveUpAt = b.expiresAt): void {
    const p: PendingRevocation = {
      nai: b.nai,
      realm: b.realm,
      coa: b.coa,
      homeAddress: b.homeAddress,
      reason,
      ids: [],
      attempts: 0,
      nextAt: now + delayMs,
      giveUpAt: Math.max(giveUpAt, now + delayMs),
    };
    this.pending.push(p);
    if (delayMs === 0) this.sendRevocation(now, p);
  }

  private sendRevocation(now: number, p: PendingRevocation): void {
    // RFC 3543 3.5: the identifier is our timestamp, new at every (re)transmission.
    const id = Math.max(this.lastRevocationId + 1, Math.floor(this.wallMs(now) / 1000)) >>> 0;
    this.lastRevocationId = id;
    p.ids.push(id);
    p.attempts++;
    p.nextAt = now + this.config.revocation.retransmitMs * 2 ** (p.attempts - 1);
    const msg: RegistrationRevocation = {
      aBit: true,
      iBit: false,
      homeAddress: p.homeAddress,
      homeDomainAddress: this.config.address,
      foreignDomainAddress: p.coa,
      revocationId: id,
      extensions: [{ kind: "mn-nai", nai: p.nai }],
    };
    this.send(p.coa, MIP_UDP_PORT, signed(registrationRevocationLength(msg, this.config.codec), (o) => encodeRegistrationRevocation(msg, this.config.codec, o, 0), p.realm.key));
    this.emit({ type: "revocation-sent", nai: p.nai, coa: formatIpv4(p.coa), revocationId: id, reason: p.reason, attempt: p.attempts });
  }

  private cancelPending(nai: string, coa: number): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      if (p.nai === nai && p.coa === coa) this.pending.splice(i, 1);
    }
  }

  private onDeadline(now: number): void {
    for (const d of [...this.delayed]) {
      if (now < d.at) continue;
      this.delayed.splice(this.delayed.indexOf(d), 1);
      this.sendDefence(d.b, d.packet, d.target);
    }
    for (const b of [...this.bindings.values()]) {
      if (now >= b.expiresAt) {
        this.removeBinding(b);
        this.emit({ type: "binding-expired", nai: b.nai, coa: formatIpv4(b.coa) });
      }
    }
    for (const p of [...this.pending]) {
      if (now < p.nextAt) continue;
      if (p.attempts >= this.config.revocation.maxTries || (p.attempts > 0 && now >= p.giveUpAt)) {
        this.pending.splice(this.pending.indexOf(p), 1);
        this.emit({ type: "revocation-unacknowledged", nai: p.nai, coa: formatIpv4(p.coa), attempts: p.attempts });
      } else this.sendRevocation(now, p);
    }
  }

  // ---- the tunnel ----------------------------------------------------------------

  private onTunnelPacket(now: number, p: Extract<HaInput, { kind: "tunnel-packet" }>): void {
    const b = this.uplinkBinding(p.outerSrc, p.gre, p.greKey);
    if (!b) {
      this.emit({ type: "dropped", what: "tunnel-packet", reason: p.greKey !== null ? `no binding for GRE key ${p.greKey}` : "no binding for the care-of address", from: formatIpv4(p.outerSrc) });
      return;
    }
    const ip = parseIpv6Header(p.packet);
    if (!ip.ok) {
      this.emit({ type: "dropped", what: "tunnel-packet", reason: `inner IPv6: ${ip.error.detail}`, from: formatIpv4(p.outerSrc) });
      return;
    }
    const { src, dst, nextHeader, hopLimit, payloadLength } = ip.value;
    const packet = p.packet.subarray(0, IPV6_HEADER_LENGTH + payloadLength);
    const rx = (fate: "to-home-link" | "nd" | "dropped"): void =>
      this.emit({ type: "tunnel-rx", nai: b.nai, coa: formatIpv4(b.coa), greKey: p.greKey, src: formatIpv6(src), dst: formatIpv6(dst), hopLimit, length: packet.length, fate, packet });
    if (this.config.legacy || isForbiddenDecapsulatedSource(src)) return rx("dropped");
    const icmpType = nextHeader === IPPROTO_ICMPV6 && payloadLength > 0 ? (packet[IPV6_HEADER_LENGTH] ?? 0) : 0;
    if (icmpType >= ND_ROUTER_SOLICITATION && icmpType <= ND_REDIRECT) {
      rx("nd");
      this.onNd(now, b, packet);
      return;
    }
    // Link-scope traffic (MLD, multicast, link-local) stays on the home link, which has no one else.
    if (isMulticastIpv6(dst) || isLinkLocal(dst) || isUnspecified(src)) return rx("dropped");
    if (!isLinkLocal(src)) this.learn(b, formatIpv6(src), src);
    rx("to-home-link");
    this.out.push({ kind: "to-home-link", nai: b.nai, packet });
  }

  private uplinkBinding(outerSrc: number, gre: boolean, key: number | null): Binding | undefined {
    let b: Binding | undefined;
    if (key !== null) {
      b = this.byUplinkKey.get(key);
      // An AN that did not take our key may send its own.
      if (!b) for (const x of this.bindings.values()) if (x.downlinkKey === key && x.coa === outerSrc) b = x;
    } else b = this.byCoa.get(outerSrc);
    if (!b || b.coa !== outerSrc || b.gre !== gre) return undefined;
    return b;
  }

  /** Binds an address seen as the source of the MN's packets (home prefix only, never another MN's). */
  private learn(b: Binding, text: string, addr: Uint8Array): void {
    if (b.addresses.has(text) || this.byAddress.has(text)) return;
    for (let i = 0; i < 8; i++) if (addr[i] !== this.config.homePrefix[i]) return;
    this.bind(b, text);
    this.emit({ type: "address-learned", nai: b.nai, address: text });
  }

  private onNd(now: number, b: Binding, packet: Uint8Array): void {
    const nd = parseNdPacket(packet);
    if (!nd.ok) {
      this.emit({ type: "dropped", what: "nd", reason: `${nd.error.kind}: ${nd.error.detail}`, from: formatIpv4(b.coa) });
      return;
    }
    const { ip, message } = nd.value;
    if (message.kind === "rs") {
      this.sendRa(b, true);
      return;
    }
    if (message.kind !== "ns") return;
    const target = message.target.slice();
    const text = formatIpv6(target);
    if (!isUnspecified(ip.src)) {
      if (!this.own.has(text)) return;
      this.toTunnel(b, solicitedAdvertisement(target, ip.src.slice(), this.config.homeLinkMac));
      this.emit({ type: "na-sent", nai: b.nai, target: text, reason: "solicited" });
      return;
    }
    // A DAD probe: proxy DAD on the home link (draft 3.2.2 step 10).
    const holder = this.byAddress.get(text);
    const duplicate = this.used.has(text) || this.own.has(text) || (holder !== undefined && holder !== b);
    this.emit({ type: "proxy-dad", nai: b.nai, address: text, result: duplicate ? "duplicate" : "unique" });
    if (!duplicate) {
      if (!b.addresses.has(text)) this.bind(b, text);
      return;
    }
    // Draft 3.2.4: the NA tells the MN, the revocation makes the AN detach it. Issue 9:
    // in the configured order, back to back or with a gap.
    const r = this.config.revocation;
    const na = dadDefence(target, this.config.linkLocal, this.config.homeLinkMac);
    this.removeBinding(b);
    const revokes = r.enabled && b.revocationSupport;
    if (r.dadOrder === "na-first" || !revokes) {
      this.sendDefence(b, na, text);
      if (revokes) this.revoke(now, b, "dad-failure", r.dadDelayMs, Math.max(b.expiresAt, now + 1));
      return;
    }
    this.revoke(now, b, "dad-failure", 0, Math.max(b.expiresAt, now + 1));
    if (r.dadDelayMs === 0) this.sendDefence(b, na, text);
    else this.delayed.push({ at: now + r.dadDelayMs, b, packet: na, target: text });
  }

  private sendDefence(b: Binding, na: Uint8Array, target: string): void {
    for (let i = 0; i < this.config.revocation.dadNaCopies; i++) {
      this.toTunnel(b, na);
      this.emit({ type: "na-sent", nai: b.nai, target, reason: "dad-defence" });
    }
  }

  private sendRa(b: Binding, solicited: boolean): void {
    if (this.config.legacy) return;
    const r = this.config.ra;
    const mtu = r.mtuOption ? r.outerMtu - IPV4_HEADER - (b.gre ? (b.downlinkKey !== null ? 8 : 4) : 0) : null;
    const ra = routerAdvertisement({
      linkLocal: this.config.linkLocal,
      mac: this.config.homeLinkMac,
      prefix: this.config.homePrefix,
      mtu,
      curHopLimit: r.curHopLimit,
      routerLifetimeS: r.routerLifetimeS,
      validLifetimeS: r.validLifetimeS,
      preferredLifetimeS: r.preferredLifetimeS,
    });
    this.toTunnel(b, ra);
    this.emit({ type: "ra-sent", nai: b.nai, coa: formatIpv4(b.coa), solicited, mtu });
  }

  // ---- the home link ------------------------------------------------------------

  private onHomeLink(now: number, packet: Uint8Array): void {
    const ip = parseIpv6Header(packet);
    if (!ip.ok) {
      this.emit({ type: "dropped", what: "home-link-packet", reason: ip.error.detail });
      return;
    }
    // The HA's own kernel speaks on the TUN too (MLD reports to ff02::16): not for an MN.
    if (isMulticastIpv6(ip.value.dst)) return;
    const dst = formatIpv6(ip.value.dst);
    const b = this.byAddress.get(dst);
    if (!b || this.config.legacy) {
      this.emit({ type: "dropped", what: "home-link-packet", reason: `no binding for ${dst}` });
      return;
    }
    const old = b.oldDownlink !== undefined && now < b.oldDownlink.until ? b.oldDownlink.tunnel : undefined;
    this.toTunnel(b, packet.subarray(0, IPV6_HEADER_LENGTH + ip.value.payloadLength), old);
  }

  private toTunnel(b: Binding, packet: Uint8Array, via?: HaTunnel): void {
    const tunnel: HaTunnel = via ?? { careOf: b.coa, gre: b.gre, greKey: b.downlinkKey };
    this.out.push({ kind: "to-tunnel", tunnel, nai: b.nai, packet });
    this.emit({
      type: "tunnel-tx",
      nai: b.nai,
      coa: formatIpv4(tunnel.careOf),
      greKey: tunnel.greKey,
      ...(via ? { oldCareOf: true } : {}),
      src: formatIpv6(packet, 8),
      dst: formatIpv6(packet, 24),
      hopLimit: packet[7] ?? 0,
      length: packet.length,
      packet,
    });
  }

  // ---- binding cache --------------------------------------------------------------

  private bind(b: Binding, address: string): void {
    b.addresses.add(address);
    this.byAddress.set(address, b);
  }

  private indexTunnel(b: Binding): void {
    if (b.uplinkKey !== null) this.byUplinkKey.set(b.uplinkKey, b);
    else this.byCoa.set(b.coa, b);
  }

  private unindexTunnel(b: Binding): void {
    if (b.uplinkKey !== null && this.byUplinkKey.get(b.uplinkKey) === b) this.byUplinkKey.delete(b.uplinkKey);
    if (this.byCoa.get(b.coa) === b) this.byCoa.delete(b.coa);
  }

  private removeBinding(b: Binding): void {
    if (this.bindings.get(b.nai) !== b) return;
    this.bindings.delete(b.nai);
    this.unindexTunnel(b);
    for (const a of b.addresses) if (this.byAddress.get(a) === b) this.byAddress.delete(a);
  }

  private allocateUplinkKey(): number {
    while (this.byUplinkKey.has(this.nextUplinkKey)) this.nextUplinkKey = (this.nextUplinkKey + 1) >>> 0;
    const key = this.nextUplinkKey;
    this.nextUplinkKey = (this.nextUplinkKey + 1) >>> 0;
    return key;
  }

  /** RFC 2794: a request with home address 0.0.0.0 is given one from the pool (the same one per NAI). */
  private homeAddressFor(nai: string, requested: number): number {
    if (requested !== 0 || this.config.ipv4HomeAddresses.length === 0) return requested;
    const had = this.ipv4Homes.get(nai);
    if (had !== undefined) return had;
    const taken = new Set(this.ipv4Homes.values());
    const free = this.config.ipv4HomeAddresses.find((a) => !taken.has(a));
    if (free === undefined) return 0;
    this.ipv4Homes.set(nai, free);
    return free;
  }

  private realmOf(nai: string): HaRealm | undefined {
    const at = nai.lastIndexOf("@");
    const realm = at < 0 ? "" : nai.slice(at + 1).toLowerCase();
    return this.config.realms.find((r) => r.realm.toLowerCase() === realm) ?? this.config.realms.find((r) => r.realm === "*");
  }

  private send(to: number, toPort: number, bytes: Uint8Array): void {
    this.out.push({ kind: "send-signalling", from: this.config.address, to, toPort, bytes });
  }

  private emit(event: HaEvent): void {
    this.out.push({ kind: "event", event });
  }
}

function findNai(extensions: readonly MipExtension[]): string | undefined {
  for (const e of extensions) if (e.kind === "mn-nai") return e.nai;
  return undefined;
}

/** Encodes a message of `length` bytes and appends the MN-HA authentication (none when key is null). */
function signed(length: number, encode: (out: Uint8Array) => number, key: MnHaKey | null): Uint8Array {
  const out = new Uint8Array(length + (key ? MN_HA_AUTH_EXTENSION_LENGTH : 0));
  const n = encode(out);
  if (key) appendMnHaAuth(out, 0, n, key);
  return out;
}
