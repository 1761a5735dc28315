// The AN protocol engine: every MN session, driven by `handle(now, input)` and
// answering with actions drained by `poll()`. No sockets, timers or clock here:
// `now` is monotonic milliseconds from the driver, and the single earliest
// deadline of all sessions is reported by `nextDeadline()`.
import { ethernetPayloadOffset, ETHERTYPE_IPV6, parseEthernet } from "../wire/ethernet.ts";
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { formatMac, macKey, parseMac } from "../wire/mac.ts";
import { verifyMnHaAuth } from "../wire/mip-auth.ts";
import { isRegistrationAccepted, replyCodeName, ReplyCode } from "../wire/mip-codes.ts";
import { clockOffsetFromMismatch, nextIdentification, replyMatchesRequest, resyncedIdentification } from "../wire/mip-identification.ts";
import { parseRegistrationReply, peekMipMessageType } from "../wire/mip-registration.ts";
import { parseRegistrationRevocation } from "../wire/mip-revocation.ts";
import { classifyFrame, ND_NEIGHBOR_SOLICITATION, ND_ROUTER_SOLICITATION } from "../wire/ndisc.ts";
import type { MipExtension } from "../wire/mip-types.ts";
import { MIP_UDP_PORT, MipMessageType } from "../wire/mip-types.ts";
import { refreshDelayMs, retransmitTimeoutMs } from "./backoff.ts";
import { CareOfAllocator } from "./care-of.ts";
import type { CareOf } from "./care-of.ts";
import type { EngineConfig, RealmConfig } from "./config.ts";
import { CONTEXT_VERSION, fromHex, toHex } from "./context.ts";
import type { SessionContext } from "./context.ts";
import { newEngineCounters } from "./counters.ts";
import type { EngineCounters } from "./counters.ts";
import { DeadlineQueue } from "./deadlines.ts";
import type { Action, AnEvent, ReleaseReason, TunnelTarget, Trigger } from "./events.ts";
import { HoldPool } from "./hold-buffer.ts";
import { findRealm, realmOf, resolveIdentity } from "./identity.ts";
import { inspectDownlink, inspectUplink } from "./ipv6-inspect.ts";
import type { RandomSource } from "./random.ts";
import { registrationRequest, signedRegistrationRequest, signedRevocationAcknowledgment } from "./registration.ts";
import { newSession } from "./session.ts";
import type { Session } from "./session.ts";
import { isForwarding, nextState } from "./transitions.ts";
import type { SessionInput } from "./transitions.ts";

export type EngineInput =
  /** An Ethernet frame received on the access link. */
  | { readonly kind: "frame-from-mn"; readonly frame: Uint8Array }
  /** Link layer: a station finished authentication (optionally with its EAP identity). */
  | { readonly kind: "station-authorised"; readonly mac: string; readonly identity?: string }
  /** Link layer: a station left (disassociated, port down). */
  | { readonly kind: "station-left"; readonly mac: string }
  /** A UDP datagram received on port 434. */
  | { readonly kind: "signalling"; readonly from: number; readonly fromPort: number; readonly bytes: Uint8Array }
  /** A decapsulated tunnel packet: outer addresses, GRE key if any, and the inner IPv6 packet. */
  | { readonly kind: "tunnel-packet"; readonly outerSrc: number; readonly outerDst: number; readonly greKey: number | null; readonly packet: Uint8Array }
  | { readonly kind: "deadline" }
  /**
   * A session arriving from elsewhere: `resume` for our own record after a restart
   * (keep the CoA, refresh now), otherwise a handover from another AN (register anew).
   */
  | { readonly kind: "import-context"; readonly context: SessionContext; readonly resume: boolean }
  /** The MN now belongs to another AN: let go without deregistering (the HA revokes us). */
  | { readonly kind: "hand-over"; readonly mac: string }
  | { readonly kind: "shutdown"; readonly deregister: boolean }
  /** The wall clock (ms since 1970) at `now`: identifications are wall-clock timestamps. */
  | { readonly kind: "wall-clock"; readonly wallMs: number }
  /** The kernel fast path carried frames from this MN (they never reach frame-from-mn): not idle. */
  | { readonly kind: "mn-active"; readonly mac: string };

/** A binding the engine let go of, kept a minute to acknowledge a late revocation. */
interface ReleasedBinding {
  readonly nai: string;
  readonly mac: string;
  readonly realm: RealmConfig;
  readonly careOf: CareOf;
  readonly haRevocationFloor: number | undefined;
  readonly until: number;
}

const RELEASED_MEMORY_MS = 60_000;

export interface EngineOptions {
  readonly random: RandomSource;
  /** Wall clock minus monotonic clock, in ms, until a "wall-clock" input says otherwise. */
  readonly wallOffsetMs: number;
}

export class Engine {
  private config: EngineConfig;
  private readonly random: RandomSource;
  private wallOffsetMs: number;
  private readonly sessions = new Map<string, Session>();
  /** The same sessions by 48-bit MAC number: the per-frame lookup needs no MAC text. */
  private readonly byMacKey = new Map<number, Session>();
  private readonly byNai = new Map<string, Session>();
  /** Downlink lookup: CoA (pool mode) or GRE key (shared mode). */
  private readonly byCoa = new Map<number, Session>();
  private readonly byKey = new Map<number, Session>();
  /** EAP identities seen before the MN's first NS/RS. */
  private readonly linkIdentities = new Map<string, string>();
  /** Sessions by the low 32 bits of their newest identification (replies without an NAI). */
  private readonly byIdLow = new Map<number, Session>();
  /**
   * Newest revocation identifier accepted per home agent and NAI. RFC 3543 3.5
   * judges replay against earlier revocations "from the same agent", so this
   * outlives the session a revocation ended: a captured revocation replayed at
   * the MN's next binding (same NAI, often the same CoA) must not end it too.
   */
  private readonly revocationIds = new Map<string, { readonly id: number; readonly ack: Uint8Array }>();
  /** Bindings released recently, by NAI: a revocation for them is still acknowledged. */
  private readonly released = new Map<string, ReleasedBinding>();
  /** What each HA's clock is off by, learned from 133 replies: new sessions start with it. */
  private readonly haClockOffsets = new Map<number, number>();
  /** Session starts left in the current second (flood guard). */
  private startTokens = 0;
  private startTokensAt = -Infinity;
  private readonly deadlines = new DeadlineQueue<Session>();
  private readonly careOf: CareOfAllocator;
  private readonly hold: HoldPool;
  private readonly actions: Action[] = [];
  private actionHead = 0;
  readonly counters: EngineCounters = newEngineCounters();

  constructor(config: EngineConfig, options: EngineOptions) {
    this.config = config;
    this.random = options.random;
    this.wallOffsetMs = options.wallOffsetMs;
    this.careOf = new CareOfAllocator(config.careOf);
    this.hold = new HoldPool(config.hold);
  }

  handle(now: number, input: EngineInput): void {
    switch (input.kind) {
      case "frame-from-mn":
        return this.onFrame(now, input.frame);
      case "station-authorised":
        return this.onStationAuthorised(now, input.mac, input.identity);
      case "station-left":
        return this.onStationLeft(now, input.mac);
      case "signalling":
        return this.onSignalling(now, input.from, input.fromPort, input.bytes);
      case "tunnel-packet":
        return this.onTunnelPacket(now, input);
      case "deadline":
        return this.onDeadlines(now);
      case "import-context":
        return this.onImport(now, input.context, input.resume);
      case "hand-over": {
        const s = this.sessions.get(input.mac);
        if (s) this.step(now, s, "handed-over");
        return;
      }
      case "shutdown":
        return this.onShutdown(now, input.deregister);
      case "wall-clock":
        this.wallOffsetMs = input.wallMs - now;
        return;
      case "mn-active": {
        const s = this.sessions.get(input.mac);
        if (s) s.lastHeardAt = now;
        return;
      }
    }
  }

  /** The next action to carry out, or undefined when there is none. */
  poll(): Action | undefined {
    if (this.actionHead >= this.actions.length) {
      if (this.actionHead > 0) {
        this.actions.length = 0;
        this.actionHead = 0;
      }
      return undefined;
    }
    return this.actions[this.actionHead++];
  }

  /** The earliest moment at which `handle(now, {kind: "deadline"})` has work. */
  nextDeadline(): number | undefined {
    return this.deadlines.next();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  sessionState(mac: string): Session["state"] | undefined {
    return this.sessions.get(mac)?.state;
  }

  /** Read-only view for telemetry and tests. */
  session(mac: string): Readonly<Session> | undefined {
    return this.sessions.get(mac);
  }

  get heldFrames(): number {
    return this.hold.totalFrames;
  }

  get heldBytes(): number {
    return this.hold.totalBytes;
  }

  /** Swaps in a new configuration without dropping sessions: it applies to what starts next. */
  reconfigure(config: EngineConfig): void {
    this.config = config;
    this.careOf.reset(config.careOf);
    this.hold.setCaps(config.hold);
    for (const s of this.sessions.values()) {
      // A new key for the same HA applies from the session's next request. A session
      // whose realm moved to another HA keeps the HA it is registered with until it
      // ends: switching its tunnel without registering there would black-hole it.
      const realm = findRealm(config, realmOf(s.nai));
      if (realm && realm.homeAgent === s.realm.homeAgent) s.realm = realm;
      s.tunnel = undefined;
    }
  }

  /** The session as a context record for handover or restart; undefined for an unknown MAC. */
  exportContext(now: number, mac: string): SessionContext | undefined {
    const s = this.sessions.get(mac);
    if (!s) return undefined;
    return {
      version: CONTEXT_VERSION,
      mac: s.mac,
      nai: s.nai,
      homeAgent: s.realm.homeAgent,
      careOf: { address: s.careOf.address, greKey: s.careOf.greKey },
      identification: (s.lastIdentification ?? 0n).toString(),
      clockOffsetMs: s.clockOffsetMs,
      haLinkLayer: s.haLinkLayer ? formatMac(s.haLinkLayer) : null,
      addresses: [...s.addresses],
      remainingLifetimeMs: s.expiresAt !== undefined && isForwarding(s.state) ? Math.max(0, s.expiresAt - now) : 0,
      homeAddress: s.homeAddress,
      heldFrames: s.held.frames.map(toHex),
    };
  }

  // ---- uplink ---------------------------------------------------------------

  private onFrame(now: number, frame: Uint8Array): void {
    this.counters.framesFromMn++;
    // The per-frame path reads the header in place: no header object, no MAC text.
    const ipOffset = ethernetPayloadOffset(frame);
    if (ipOffset < 0) {
      this.counters.framesMalformed++;
      return;
    }
    if (((frame[ipOffset - 2]! << 8) | frame[ipOffset - 1]!) !== ETHERTYPE_IPV6) {
      this.counters.framesNotIpv6++;
      return;
    }
    const s = this.byMacKey.get(macKey(frame, 6));
    if (s) s.lastHeardAt = now;
    if (s && isForwarding(s.state)) {
      const seen = inspectUplink(frame, ipOffset);
      if (seen.kind === "malformed") {
        this.counters.framesMalformed++;
        return;
      }
      this.learnUplink(s, seen);
      this.toTunnel(s, frame.subarray(ipOffset, ipOffset + seen.packetLength));
      return;
    }
    if (s) {
      switch (s.state) {
        case "registering": {
          const seen = inspectUplink(frame, ipOffset);
          if (seen.kind === "malformed") {
            this.counters.framesMalformed++;
            return;
          }
          this.learnUplink(s, seen);
          this.holdFrame(s, frame);
          return;
        }
        case "deregistering":
          this.counters.framesDroppedDeregistering++;
          return;
        default:
          // failed / no-service: the hold-off also refuses new triggers from this MN.
          if (isTrigger(classifyFrame(frame))) this.counters.refusedHoldOff++;
          else this.counters.framesDroppedNoService++;
          return;
      }
    }
    const seen = inspectUplink(frame, ipOffset);
    if (seen.kind === "malformed") {
      this.counters.framesMalformed++;
      return;
    }
    const macBytes = frame.subarray(6, 12);
    const mac = formatMac(macBytes);
    // By default only ND from the MN's own stack starts a session (draft 3.2.2 step
    // 3: "the RS or the NS, whichever received first"). Linux sends an MLD report
    // before its DAD NS; that report is for a router on the home link, which the MN
    // will not have until the tunnel is up, so it is dropped. With triggerOn
    // "any-ipv6" (draft 3.2.2: "the first IPv6 packet ... MAY"), any IPv6 frame
    // starts one: a Linux MN that moved its link sends only MLD reports, no new DAD
    // or RS, so without link-layer events that is how a new AN learns of it.
    const isNd = seen.kind === "neighbor-solicitation" || seen.kind === "router-solicitation";
    if (!isNd && this.config.triggerOn !== "any-ipv6") {
      this.counters.framesUnknownMnNonTrigger++;
      return;
    }
    const created = this.startSession(now, mac, macBytes, isNd ? seen.kind : "ipv6-frame", undefined);
    if (!created) return;
    this.learnUplink(created, seen);
    this.holdFrame(created, frame);
  }

  private learnUplink(s: Session, seen: ReturnType<typeof inspectUplink>): void {
    if (seen.kind === "malformed") return;
    if (seen.kind === "neighbor-solicitation" && seen.dadTarget !== null && !s.dadTargets.includes(seen.dadTarget)) {
      if (s.dadTargets.length >= 8) s.dadTargets.shift();
      s.dadTargets.push(seen.dadTarget);
    }
    // A DAD probe names the address the MN is about to use (its SLAAC global address
    // included): the handover context needs those. Data packets are not inspected,
    // to keep the per-packet path short; an MN's addresses all pass through DAD.
    const learned = seen.kind === "neighbor-solicitation" && seen.dadTarget !== null ? seen.dadTarget : seen.source;
    if (learned !== null) this.learnAddress(s, learned);
  }

  private learnAddress(s: Session, address: string): void {
    if (this.config.maxLearnedAddresses === 0 || s.addresses.includes(address)) return;
    if (s.addresses.length >= this.config.maxLearnedAddresses) s.addresses.shift();
    s.addresses.push(address);
  }

  private holdFrame(s: Session, frame: Uint8Array): void {
    const dropped = this.hold.hold(s.held, frame);
    if (dropped === undefined) {
      this.counters.framesHeld++;
      return;
    }
    switch (dropped) {
      case "per-mn-frames":
        this.counters.holdDropPerMnFrames++;
        break;
      case "per-mn-bytes":
        this.counters.holdDropPerMnBytes++;
        break;
      case "total-frames":
        this.counters.holdDropTotalFrames++;
        break;
      case "total-bytes":
        this.counters.holdDropTotalBytes++;
        break;
    }
    this.emit({ type: "hold-dropped", mac: s.mac, reason: dropped });
  }

  /** Held frames passed inspection when they arrived; strip L2 header and padding. */
  private releaseHeld(s: Session, frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth.ok || frame.length < eth.length + 40) return;
    const length = 40 + ((frame[eth.length + 4]! << 8) | frame[eth.length + 5]!);
    this.toTunnel(s, frame.subarray(eth.length, Math.min(frame.length, eth.length + length)));
  }

  private toTunnel(s: Session, packet: Uint8Array): void {
    this.counters.framesToTunnel++;
    this.actions.push({ kind: "to-tunnel", mac: s.mac, tunnel: s.tunnel ?? this.tunnelOf(s), packet });
  }

  /** The session's tunnel; cached on the session once bound (the uplink key is known then). */
  private tunnelOf(s: Session): TunnelTarget {
    s.tunnel = {
      careOf: s.careOf.address,
      homeAgent: s.realm.homeAgent,
      greKey: s.careOf.greKey === null ? null : (s.uplinkKey ?? s.careOf.greKey),
    };
    return s.tunnel;
  }

  // ---- link events ------------------------------------------------------------

  private onStationAuthorised(now: number, mac: string, identity: string | undefined): void {
    const macBytes = parseMac(mac);
    if (!macBytes) return;
    const key = formatMac(macBytes);
    if (identity !== undefined) {
      // Bounded: stations that authenticate and never send ND must not grow it forever.
      this.linkIdentities.delete(key);
      this.linkIdentities.set(key, identity);
      if (this.linkIdentities.size > this.config.maxSessions) {
        const oldest = this.linkIdentities.keys().next();
        if (!oldest.done) this.linkIdentities.delete(oldest.value);
      }
    }
    // Draft 3.2.2 (last paragraphs): an MN known to be IPv6-only may be registered
    // as soon as the link is up; the engine does so when it has an identity for it.
    if (!this.sessions.has(key) && identity !== undefined) this.startSession(now, key, macBytes, "station-authorised", identity);
  }

  private onStationLeft(now: number, mac: string): void {
    const macBytes = parseMac(mac);
    if (!macBytes) return;
    const key = formatMac(macBytes);
    this.linkIdentities.delete(key);
    const s = this.sessions.get(key);
    // A cleanup deregistration still owed to the HA goes first (its deadline is
    // armed); the hold-off then releases the session.
    if (s && !s.cleanupDue) this.step(now, s, "left");
  }

  // ---- sessions ----------------------------------------------------------------

  private startSession(now: number, mac: string, macBytes: Uint8Array, trigger: Trigger, identity: string | undefined): Session | undefined {
    // Group-bit sources are not stations (and their downlink would go out as
    // broadcast); our own MAC is a reflection. Neither may own a session.
    if ((macBytes[0]! & 1) !== 0 || bytesEqual(macBytes, this.config.accessMac)) {
      this.counters.framesBadSourceMac++;
      return undefined;
    }
    if (this.sessions.size >= this.config.maxSessions) {
      this.counters.refusedSessionCap++;
      this.emit({ type: "refused", mac, reason: "session-cap", detail: `${this.config.maxSessions} sessions` });
      return undefined;
    }
    const id = resolveIdentity(this.config, mac, identity ?? this.linkIdentities.get(mac));
    if ("reason" in id) {
      if (id.reason === "nai-too-long") this.counters.refusedNaiTooLong++;
      else this.counters.refusedNoRealm++;
      this.emit({ type: "refused", mac, reason: id.reason, detail: id.nai });
      return undefined;
    }
    // One NAI, one session: a second MAC claiming the same identity is refused
    // rather than allowed to steal the binding.
    if (this.byNai.has(id.nai)) {
      this.counters.refusedNaiInUse++;
      this.emit({ type: "refused", mac, reason: "nai-in-use", detail: `NAI ${id.nai} already in use by another station` });
      return undefined;
    }
    // Only a start that would go ahead costs a token: refused stations must not drain it.
    if (!this.takeStartToken(now)) {
      this.counters.refusedStartRate++;
      this.emit({ type: "refused", mac, reason: "start-rate", detail: `${this.config.sessionStartsPerSecond}/s` });
      return undefined;
    }
    const coa = this.careOf.allocate(now);
    if (!coa) {
      this.counters.refusedCoaExhausted++;
      this.emit({ type: "refused", mac, reason: "coa-exhausted" });
      return undefined;
    }
    const s = newSession({ mac, macBytes: macBytes.slice(), nai: id.nai, identitySource: id.source, realm: id.realm, careOf: coa, now });
    s.clockOffsetMs = this.haClockOffsets.get(id.realm.homeAgent) ?? 0;
    this.addSession(s);
    this.counters.sessionsStarted++;
    this.emit({ type: "session-started", mac, nai: id.nai, identitySource: id.source, trigger, careOf: formatIpv4(coa.address), greKey: coa.greKey });
    this.sendRequest(now, s);
    return s;
  }

  /**
   * A token bucket on session starts: a station spoofing source MACs cannot make
   * the AN fire registrations at the HA faster than this (each costs up to
   * maxTries requests), nor grow the table faster.
   */
  private takeStartToken(now: number): boolean {
    const rate = this.config.sessionStartsPerSecond;
    if (rate <= 0) return true;
    this.startTokens = Math.min(rate, this.startTokens + ((now - this.startTokensAt) / 1000) * rate);
    if (!Number.isFinite(this.startTokens)) this.startTokens = rate;
    this.startTokensAt = now;
    if (this.startTokens < 1) return false;
    this.startTokens -= 1;
    return true;
  }

  private addSession(s: Session): void {
    this.sessions.set(s.mac, s);
    this.byMacKey.set(macKey(s.macBytes), s);
    this.byNai.set(s.nai, s);
    if (s.careOf.greKey !== null) this.byKey.set(s.careOf.greKey, s);
    else this.byCoa.set(s.careOf.address, s);
  }

  /**
   * How long the CoA must rest before another MN gets it: until the HA's binding
   * to it would have run out, unless the HA confirmed it is gone.
   */
  private quarantineMs(now: number, s: Session): number {
    if (s.haConfirmedRelease) return 0;
    if (s.expiresAt !== undefined) return Math.max(0, s.expiresAt - now);
    // Never accepted as far as we know; a request may have been, its reply lost.
    if (s.lastIdentification === undefined) return 0;
    return Math.max(0, s.lastRequestAt + this.config.registration.lifetimeS * 1000 - now);
  }

  private removeSession(now: number, s: Session, reason: ReleaseReason): void {
    const wasForwarding = isForwarding(s.state);
    this.deadlines.cancel(s);
    this.hold.drain(s.held);
    this.dropHeldDownlink(s);
    this.sessions.delete(s.mac);
    if (this.byMacKey.get(macKey(s.macBytes)) === s) this.byMacKey.delete(macKey(s.macBytes));
    if (this.byNai.get(s.nai) === s) this.byNai.delete(s.nai);
    this.forgetIdentification(s, s.lastIdentification);
    if (s.careOf.greKey !== null) {
      if (this.byKey.get(s.careOf.greKey) === s) this.byKey.delete(s.careOf.greKey);
    } else if (this.byCoa.get(s.careOf.address) === s) this.byCoa.delete(s.careOf.address);
    this.careOf.release(s.careOf, now, this.quarantineMs(now, s));
    {
      this.released.delete(s.nai);
      this.released.set(s.nai, { nai: s.nai, mac: s.mac, realm: s.realm, careOf: s.careOf, haRevocationFloor: s.haRevocationFloor, until: now + RELEASED_MEMORY_MS });
      if (this.released.size > this.config.maxSessions) {
        const oldest = this.released.keys().next();
        if (!oldest.done) this.released.delete(oldest.value);
      }
    }
    this.counters.sessionsReleased++;
    if (wasForwarding) this.actions.push({ kind: "unbind", mac: s.mac });
    this.emit({ type: "released", mac: s.mac, reason });
  }

  /**
   * Applies one input to one session through the transition table, then performs
   * the entry actions of the state it lands in.
   */
  private step(now: number, s: Session, input: SessionInput, reason?: ReleaseReason): void {
    const from = s.state;
    const to = nextState(from, input);
    if (to === undefined) return;
    if (to === "released") {
      this.removeSession(now, s, reason ?? releaseReasonFor(input));
      return;
    }
    s.state = to;
    switch (to) {
      case "registering":
      case "renewing":
        // Same-state inputs: retry or resync; the request carries a new identification.
        // RFC 5944 3.6.3: never two requests within 1 s (a 133 comes back faster).
        if (now - s.lastRequestAt < 1000) {
          this.deadlines.arm(s, s.lastRequestAt + 1000);
          return;
        }
        this.sendRequest(now, s);
        return;
      case "bound":
        this.enterBound(now, s, from);
        return;
      case "deregistering":
        if (from !== "deregistering") {
          if (isForwarding(from)) this.actions.push({ kind: "unbind", mac: s.mac });
          this.hold.drain(s.held);
          this.dropHeldDownlink(s);
          s.attempts = 0;
          s.resynced = false;
        }
        // RFC 5944 3.6.3: at least 1 s between requests for one binding; a station
        // leaving right after its RRQ waits for that second (not at shutdown: the
        // process is going away and sends its one request now).
        if (input !== "shutdown" && now - s.lastRequestAt < 1000) {
          this.deadlines.arm(s, s.lastRequestAt + 1000);
          return;
        }
        this.sendRequest(now, s);
        return;
      case "failed":
      case "no-service":
        this.hold.drain(s.held);
        this.dropHeldDownlink(s);
        s.holdOffUntil = now + this.config.registration.holdOffMs;
        // A pending cleanup deregistration goes first, 1 s after the last request.
        this.deadlines.arm(s, s.cleanupDue ? Math.max(now, s.lastRequestAt + 1000) : s.holdOffUntil);
        return;
    }
  }

  private enterBound(now: number, s: Session, from: Session["state"]): void {
    // RFC 5944 3.6.2.2: the lifetime runs from when the request was sent, not from
    // when the reply arrived (the HA's clock started then).
    const base = Math.min(now, s.lastRequestAt);
    s.expiresAt = base + s.grantedLifetimeS * 1000;
    s.refreshAt = base + refreshDelayMs(this.config.registration, s.grantedLifetimeS, this.random);
    s.attempts = 0;
    s.resynced = false;
    s.initial = false;
    this.armBound(s);
    if (from === "registering") {
      this.actions.push({ kind: "bind", mac: s.mac, macBytes: s.macBytes, tunnel: this.tunnelOf(s), downlinkKey: s.careOf.greKey });
      const held = this.hold.drain(s.held);
      for (const f of held) this.releaseHeld(s, f);
      this.counters.framesHeldReleased += held.length;
      if (s.heldDownlink) {
        const down = this.hold.drain(s.heldDownlink);
        s.heldDownlink = null;
        for (const packet of down) this.deliverDownlink(now, s, packet);
      }
      this.emit({
        type: "registered",
        mac: s.mac,
        nai: s.nai,
        homeAgent: formatIpv4(s.realm.homeAgent),
        careOf: formatIpv4(s.careOf.address),
        lifetime: s.grantedLifetimeS,
        greKey: s.careOf.greKey,
        heldFramesReleased: held.length,
      });
      this.actions.push({ kind: "context-changed", mac: s.mac });
    } else {
      // A refresh changes only the lifetime left, which a record counts from when it
      // was written: not worth a write to the AP's flash per refresh (the state file
      // is also snapshotted periodically).
      this.counters.refreshes++;
      this.emit({ type: "refreshed", mac: s.mac, lifetime: s.grantedLifetimeS });
    }
  }

  private armBound(s: Session): void {
    let at = s.refreshAt ?? Infinity;
    if (this.config.idleTimeoutMs > 0) at = Math.min(at, s.lastHeardAt + this.config.idleTimeoutMs);
    if (s.expiresAt !== undefined) at = Math.min(at, s.expiresAt);
    this.deadlines.arm(s, at);
  }

  private sendRequest(now: number, s: Session): void {
    const deregistering = s.state === "deregistering";
    s.attempts++;
    s.lastRequestAt = now;
    const previous = s.lastIdentification;
    const wall = now + this.wallOffsetMs;
    s.lastIdentification =
      s.resyncFloorReset && previous !== undefined
        ? resyncedIdentification(wall, s.clockOffsetMs, previous, this.random.uint32())
        : nextIdentification(wall, s.clockOffsetMs, previous, this.random.uint32());
    s.resyncFloorReset = false;
    this.rememberIdentification(s, previous);
    const lifetimeS = deregistering ? 0 : this.config.registration.lifetimeS;
    const msg = registrationRequest({
      nai: s.nai,
      homeAgent: s.realm.homeAgent,
      careOf: s.careOf.address,
      greKey: s.careOf.greKey,
      lifetimeS,
      identification: s.lastIdentification,
      initial: s.state === "registering",
      revocationSupport: this.config.revocationSupport,
      revocationTimestamp: Math.floor((now + this.wallOffsetMs) / 1000) >>> 0,
    });
    const bytes = signedRegistrationRequest(msg, this.config.codec, s.realm.mnHaKey);
    this.actions.push({ kind: "send-signalling", from: s.careOf.address, to: s.realm.homeAgent, toPort: MIP_UDP_PORT, bytes });
    this.counters.requestsSent++;
    if (s.attempts > 1) this.counters.retransmissions++;
    if (deregistering) this.counters.deregistrationsSent++;
    this.emit({
      type: "registration-sent",
      mac: s.mac,
      attempt: s.attempts,
      lifetime: lifetimeS,
      initial: s.state === "registering",
      identification: s.lastIdentification.toString(),
    });
    let at = now + retransmitTimeoutMs(this.config.registration, s.attempts, this.random);
    // A renewal may retry only until the binding it renews runs out.
    if (s.state === "renewing" && s.expiresAt !== undefined) at = Math.min(at, s.expiresAt);
    this.deadlines.arm(s, at);
  }

  // ---- timers -----------------------------------------------------------------

  private onDeadlines(now: number): void {
    for (let s = this.deadlines.popDue(now); s; s = this.deadlines.popDue(now)) this.onSessionDeadline(now, s);
  }

  private onSessionDeadline(now: number, s: Session): void {
    const t = this.config.registration;
    switch (s.state) {
      case "registering":
        if (s.attempts >= t.maxTries) {
          this.counters.registrationTimeouts++;
          this.emit({ type: "registration-timeout", mac: s.mac, attempts: s.attempts });
          this.step(now, s, "timeout-give-up");
        } else this.step(now, s, "timeout-retry");
        return;
      case "deregistering":
        this.step(now, s, s.attempts >= t.deregistrationTries ? "timeout-give-up" : "timeout-retry");
        return;
      case "renewing":
        if (s.expiresAt !== undefined && now >= s.expiresAt) {
          this.counters.expiries++;
          this.step(now, s, "expired");
        } else this.step(now, s, "timeout-retry");
        return;
      case "bound":
        if (s.expiresAt !== undefined && now >= s.expiresAt) {
          this.counters.expiries++;
          this.step(now, s, "expired");
        } else if (this.config.idleTimeoutMs > 0 && now >= s.lastHeardAt + this.config.idleTimeoutMs) {
          this.step(now, s, "left", "left");
        } else if (s.refreshAt !== undefined && now >= s.refreshAt) {
          s.attempts = 0;
          s.resynced = false;
          this.step(now, s, "refresh-due");
        } else this.armBound(s);
        return;
      case "failed":
      case "no-service":
        if (s.cleanupDue) {
          s.cleanupDue = false;
          this.sendCleanupDeregistration(now, s);
          this.deadlines.arm(s, Math.max(now, s.holdOffUntil ?? now));
          return;
        }
        this.step(now, s, "hold-off-over");
        return;
    }
  }

  // ---- signalling from the HA ----------------------------------------------------------

  private onSignalling(now: number, from: number, fromPort: number, bytes: Uint8Array): void {
    switch (peekMipMessageType(bytes)) {
      case MipMessageType.RegistrationReply:
        return this.onReply(now, from, bytes);
      case MipMessageType.RegistrationRevocation:
        return this.onRevocation(now, from, fromPort, bytes);
      default:
        this.counters.signallingUnexpectedType++;
        return;
    }
  }

  private onReply(now: number, from: number, bytes: Uint8Array): void {
    this.counters.repliesReceived++;
    const parsed = parseRegistrationReply(bytes, this.config.codec);
    if (!parsed.ok) {
      this.counters.repliesMalformed++;
      this.emit({ type: "malformed", what: "registration-reply", from: formatIpv4(from), error: `${parsed.error.kind} at ${parsed.error.at}: ${parsed.error.detail}` });
      return;
    }
    const reply = parsed.value.message;
    const nai = findNai(reply.extensions);
    // RFC 2794: the HA repeats the NAI; without it, fall back to the identification.
    const s = nai !== undefined ? this.byNai.get(nai) : this.findByIdentification(reply.identification);
    if (!s || s.lastIdentification === undefined || !replyMatchesRequest(s.lastIdentification, reply.identification)) {
      this.counters.repliesUnmatched++;
      return;
    }
    if (from !== s.realm.homeAgent) {
      this.counters.repliesForged++;
      this.emit({ type: "forged", what: "reply", from: formatIpv4(from), reason: "not from the MN's home agent" });
      return;
    }
    const auth = verifyMnHaAuth(bytes, parsed.value, s.realm.mnHaKey);
    if (!auth.ok) {
      this.counters.repliesForged++;
      this.emit({ type: "forged", what: "reply", from: formatIpv4(from), reason: `MN-HA authentication ${auth.reason}` });
      return;
    }
    if (s.cleanupDue === false && (s.state === "failed" || s.state === "no-service") && isRegistrationAccepted(reply.code) && reply.lifetime === 0) {
      // The HA accepted our cleanup deregistration: its binding is gone, the CoA is free.
      this.counters.repliesAccepted++;
      s.haConfirmedRelease = true;
      return;
    }
    if (s.state !== "registering" && s.state !== "renewing" && s.state !== "deregistering") {
      this.counters.repliesUnmatched++;
      return;
    }
    if (s.resyncFloorReset) {
      // A copy of the 133 already acted on (its resend waits for the 1 s floor).
      this.counters.repliesUnmatched++;
      return;
    }
    if (s.state === "deregistering" && s.attempts === 0) {
      // The reply to the registration before the MN left: the lifetime-0 request
      // waiting for its 1 s slot must still go out, or the HA keeps the binding.
      this.counters.repliesUnmatched++;
      return;
    }
    if (isRegistrationAccepted(reply.code)) {
      this.counters.repliesAccepted++;
      const v6 = reply.extensions.some((e) => e.kind === "ipv6-hoa");
      if (s.state === "deregistering") {
        s.haConfirmedRelease = true;
      } else {
        s.grantedLifetimeS = Math.min(reply.lifetime, this.config.registration.lifetimeS);
        s.homeAddress = reply.homeAddress;
        const key = reply.extensions.find((e): e is Extract<MipExtension, { kind: "gre-key" }> => e.kind === "gre-key");
        if (key && key.key !== s.uplinkKey) {
          s.uplinkKey = key.key;
          s.tunnel = undefined;
        }
        const support = reply.extensions.find((e): e is Extract<MipExtension, { kind: "revocation-support" }> => e.kind === "revocation-support");
        if (support) s.haRevocationFloor = support.timestamp;
      }
      // Shared CoA: without the HA's GRE Key extension it did not agree to keyed GRE
      // (RFC 6245) and downlink, matched by key, could never reach the MN.
      const lacksKey = s.state === "registering" && s.careOf.greKey !== null && !reply.extensions.some((e) => e.kind === "gre-key");
      if (s.state === "registering" && (!v6 || lacksKey)) {
        this.counters.noService++;
        this.emit({ type: "no-service", mac: s.mac, nai: s.nai, reason: !v6 ? "ha-lacks-v6-over-v4" : "ha-refused-gre-key" });
        // The HA made a binding we will not use: take it down again, 1 s after our
        // request (RFC 5944 3.6.3).
        s.cleanupDue = true;
        this.step(now, s, "accepted-no-v6");
        return;
      }
      if (s.grantedLifetimeS === 0 && s.state !== "deregistering") {
        // Accepted with lifetime 0 means no binding; treat as a denial.
        this.counters.repliesDenied++;
        this.emit({ type: "registration-denied", mac: s.mac, code: reply.code, codeName: "accepted-with-zero-lifetime" });
        if (s.state === "registering") s.haConfirmedRelease = true;
        this.step(now, s, "denied", "denied");
        return;
      }
      this.step(now, s, v6 ? "accepted-v6" : "accepted-no-v6", "deregistered");
      return;
    }
    if (reply.code === ReplyCode.IdentificationMismatch && !s.resynced) {
      s.resynced = true;
      s.resyncFloorReset = true;
      s.clockOffsetMs = clockOffsetFromMismatch(reply.identification, now + this.wallOffsetMs);
      this.haClockOffsets.set(s.realm.homeAgent, s.clockOffsetMs);
      this.counters.identificationResyncs++;
      this.emit({ type: "identification-resync", mac: s.mac, offsetMs: s.clockOffsetMs });
      // A resync resends (after the 1 s floor); it does not consume a retransmission try.
      s.attempts--;
      this.step(now, s, "id-mismatch");
      return;
    }
    this.counters.repliesDenied++;
    this.emit({ type: "registration-denied", mac: s.mac, code: reply.code, codeName: replyCodeName(reply.code) });
    // An authenticated denial of a new registration: the HA holds no binding for it,
    // so the CoA needs no quarantine (else one refused MN could drain the pool).
    if (s.state === "registering") s.haConfirmedRelease = true;
    this.step(now, s, "denied", "denied");
  }

  private sendCleanupDeregistration(now: number, s: Session): void {
    const previous = s.lastIdentification;
    const id = nextIdentification(now + this.wallOffsetMs, s.clockOffsetMs, previous, this.random.uint32());
    s.lastIdentification = id;
    s.lastRequestAt = now;
    this.rememberIdentification(s, previous);
    const msg = registrationRequest({
      nai: s.nai,
      homeAgent: s.realm.homeAgent,
      careOf: s.careOf.address,
      greKey: s.careOf.greKey,
      lifetimeS: 0,
      identification: id,
      initial: false,
      revocationSupport: false,
      revocationTimestamp: 0,
    });
    const bytes = signedRegistrationRequest(msg, this.config.codec, s.realm.mnHaKey);
    this.actions.push({ kind: "send-signalling", from: s.careOf.address, to: s.realm.homeAgent, toPort: MIP_UDP_PORT, bytes });
    this.counters.requestsSent++;
    this.counters.deregistrationsSent++;
  }

  /** For replies without the NAI: the session whose newest request has this low word (RFC 5944 5.7). */
  private findByIdentification(id: bigint): Session | undefined {
    const s = this.byIdLow.get(Number(id & 0xffff_ffffn));
    return s && this.sessions.get(s.mac) === s ? s : undefined;
  }

  private rememberIdentification(s: Session, previous: bigint | undefined): void {
    this.forgetIdentification(s, previous);
    if (s.lastIdentification !== undefined) this.byIdLow.set(Number(s.lastIdentification & 0xffff_ffffn), s);
  }

  private forgetIdentification(s: Session, id: bigint | undefined): void {
    if (id === undefined) return;
    const low = Number(id & 0xffff_ffffn);
    if (this.byIdLow.get(low) === s) this.byIdLow.delete(low);
  }

  private onRevocation(now: number, from: number, fromPort: number, bytes: Uint8Array): void {
    this.counters.revocationsReceived++;
    const parsed = parseRegistrationRevocation(bytes, this.config.codec);
    if (!parsed.ok) {
      this.counters.revocationsMalformed++;
      this.emit({ type: "malformed", what: "registration-revocation", from: formatIpv4(from), error: `${parsed.error.kind} at ${parsed.error.at}: ${parsed.error.detail}` });
      return;
    }
    const rev = parsed.value.message;
    const nai = findNai(rev.extensions);
    const s = nai !== undefined ? this.byNai.get(nai) : this.byCoa.get(rev.foreignDomainAddress);
    // A binding we already let go (handover, expiry) is still owed an acknowledgement
    // (RFC 3543 3.4; draft Figure 7 step 6), so recently released ones are remembered.
    // A live session on another CoA (the MN came back) does not own a revocation of the old one.
    const live = s && s.careOf.address === rev.foreignDomainAddress ? s : undefined;
    const target = live ?? (nai !== undefined ? this.releasedBinding(now, nai) : undefined) ?? s;
    if (!target) {
      this.counters.revocationsUnmatched++;
      return;
    }
    // RFC 3543 3.3: from the home agent (A bit set), naming this binding.
    const forged = (reason: string) => {
      this.counters.revocationsForged++;
      this.emit({ type: "forged", what: "revocation", from: formatIpv4(from), reason });
    };
    if (from !== target.realm.homeAgent || rev.homeDomainAddress !== target.realm.homeAgent) return forged("not from the MN's home agent");
    if (!rev.aBit) return forged("A bit clear: not sent by a home agent");
    if (rev.foreignDomainAddress !== target.careOf.address) return forged("names another care-of address");
    const auth = verifyMnHaAuth(bytes, parsed.value, target.realm.mnHaKey);
    if (!auth.ok) return forged(`MN-HA authentication ${auth.reason}`);
    // RFC 3543 3.5: the identifier is the HA's timestamp. The same one again is a
    // retransmission whose acknowledgement was lost: acknowledge it again. An older
    // one, or one older than the timestamp the HA gave in its reply for this
    // binding (the same clock, 3.3), is a replay.
    const replayKey = `${target.realm.homeAgent}/${target.nai}`;
    const last = this.revocationIds.get(replayKey);
    if (last !== undefined && rev.revocationId === last.id) {
      this.actions.push({ kind: "send-signalling", from: target.careOf.address, to: from, toPort: fromPort, bytes: last.ack });
      this.counters.acknowledgementsResent++;
      return;
    }
    if ((last !== undefined && rev.revocationId < last.id) || (target.haRevocationFloor !== undefined && rev.revocationId < target.haRevocationFloor)) {
      this.counters.revocationsReplayed++;
      return;
    }
    const ack = signedRevocationAcknowledgment(
      { iBit: false, homeAddress: rev.homeAddress, revocationId: rev.revocationId, extensions: [{ kind: "mn-nai", nai: target.nai }] },
      this.config.codec,
      target.realm.mnHaKey,
    );
    // Re-insert so the Map's order is least recently revoked first; bounded.
    this.revocationIds.delete(replayKey);
    this.revocationIds.set(replayKey, { id: rev.revocationId, ack });
    if (this.revocationIds.size > Math.max(1024, 2 * this.config.maxSessions)) {
      const oldest = this.revocationIds.keys().next();
      if (!oldest.done) this.revocationIds.delete(oldest.value);
    }
    this.actions.push({ kind: "send-signalling", from: target.careOf.address, to: from, toPort: fromPort, bytes: ack });
    this.counters.acknowledgementsSent++;
    if (!s || target !== s) {
      // Only an acknowledgement is owed: the binding is already gone (or the MN has a newer one).
      this.emit({ type: "revoked", mac: target.mac, revocationId: rev.revocationId, dadFailure: false });
      return;
    }
    s.lastRevocationId = rev.revocationId;
    const dadFailure = s.dadDefendedAt !== undefined && now - s.dadDefendedAt <= this.config.dadFailureWindowMs;
    this.emit({ type: "revoked", mac: s.mac, revocationId: rev.revocationId, dadFailure });
    const mac = s.mac;
    s.haConfirmedRelease = true;
    this.step(now, s, "revoked", "revoked");
    if (dadFailure) {
      this.counters.dadFailureDetaches++;
      this.actions.push({ kind: "detach", mac });
      this.emit({ type: "detach", mac, reason: "dad-failure" });
    }
  }

  /** A binding released within the last minute, for acknowledging a late revocation. */
  private releasedBinding(now: number, nai: string): ReleasedBinding | undefined {
    const r = this.released.get(nai);
    if (!r) return undefined;
    if (r.until < now) {
      this.released.delete(nai);
      return undefined;
    }
    return r;
  }

  // ---- downlink ---------------------------------------------------------------

  private onTunnelPacket(now: number, p: Extract<EngineInput, { kind: "tunnel-packet" }>): void {
    this.counters.packetsFromTunnel++;
    const s = p.greKey !== null ? this.byKey.get(p.greKey) : this.byCoa.get(p.outerDst);
    const registering = s?.state === "registering";
    if (!s || !(isForwarding(s.state) || registering)) {
      this.counters.packetsFromTunnelUnmatched++;
      return;
    }
    if (p.outerSrc !== s.realm.homeAgent || p.outerDst !== s.careOf.address) {
      this.counters.packetsFromTunnelWrongSource++;
      return;
    }
    if (registering) {
      // The HA sends its RA right after the reply (draft Figure 6 step 6) and the
      // two arrive on different sockets: the RA may be read first. Hold it (bounded,
      // like the uplink) until the reply binds the session.
      s.heldDownlink ??= { frames: [], bytes: 0 };
      if (this.hold.hold(s.heldDownlink, p.packet) === undefined) this.counters.downlinkHeld++;
      else this.counters.downlinkHoldDropped++;
      return;
    }
    this.deliverDownlink(now, s, p.packet);
  }

  /** An IPv6 packet from the MN's tunnel: inspected on the way (never altered), then to the MN. */
  private deliverDownlink(now: number, s: Session, packet: Uint8Array): void {
    const seen = inspectDownlink(packet);
    if (seen.kind === "malformed") {
      this.counters.packetsFromTunnelMalformed++;
      return;
    }
    if (seen.kind === "router-advertisement") {
      this.counters.routerAdvertisementsSeen++;
      if (seen.sourceLinkLayer !== null) {
        const changed = !s.haLinkLayer || !bytesEqual(s.haLinkLayer, seen.sourceLinkLayer);
        if (changed) {
          s.haLinkLayer = seen.sourceLinkLayer.slice();
          this.actions.push({ kind: "context-changed", mac: s.mac });
        }
      }
    } else if (seen.kind === "neighbor-advertisement" && seen.target !== null) {
      const i = s.dadTargets.indexOf(seen.target);
      if (i >= 0) {
        // The HA defended an address the MN is probing: proxy DAD failed (draft 3.2.4).
        s.dadDefendedAt = now;
        s.dadTargets.splice(i, 1);
        const j = s.addresses.indexOf(seen.target);
        if (j >= 0) s.addresses.splice(j, 1);
      }
    }
    this.counters.framesToMn++;
    this.actions.push({ kind: "to-mn", dst: s.macBytes, src: s.haLinkLayer ?? this.config.accessMac, packet });
  }

  private dropHeldDownlink(s: Session): void {
    if (s.heldDownlink) this.hold.drain(s.heldDownlink);
    s.heldDownlink = null;
  }

  // ---- import / shutdown ----------------------------------------------------------

  private onImport(now: number, c: SessionContext, resume: boolean): void {
    const macBytes = parseMac(c.mac);
    const realm = findRealm(this.config, realmOf(c.nai));
    if (!macBytes || !realm || realm.homeAgent !== c.homeAgent) {
      this.counters.contextsRejected++;
      return;
    }
    const existing = this.sessions.get(c.mac);
    if (existing) this.removeSession(now, existing, "handed-over");
    const other = this.byNai.get(c.nai);
    if (other) this.removeSession(now, other, "handed-over");
    if (this.sessions.size >= this.config.maxSessions) {
      this.counters.refusedSessionCap++;
      this.counters.contextsRejected++;
      this.emit({ type: "refused", mac: c.mac, reason: "session-cap" });
      return;
    }
    const wanted: CareOf = { address: c.careOf.address, greKey: c.careOf.greKey };
    const keep = resume && c.remainingLifetimeMs > 0 ? this.careOf.claim(wanted) : undefined;
    const coa = keep ?? this.careOf.allocate(now);
    if (!coa) {
      this.counters.refusedCoaExhausted++;
      this.counters.contextsRejected++;
      this.emit({ type: "refused", mac: c.mac, reason: "coa-exhausted" });
      return;
    }
    const s = newSession({ mac: c.mac, macBytes, nai: c.nai, identitySource: "context", realm, careOf: coa, now });
    s.lastIdentification = BigInt(c.identification);
    s.clockOffsetMs = c.clockOffsetMs;
    s.haLinkLayer = c.haLinkLayer === null ? null : parseMac(c.haLinkLayer);
    s.addresses = c.addresses.slice(0, this.config.maxLearnedAddresses);
    s.homeAddress = c.homeAddress;
    this.addSession(s);
    this.counters.contextsImported++;
    this.counters.sessionsStarted++;
    this.emit({ type: "session-started", mac: s.mac, nai: s.nai, identitySource: "context", trigger: "context-import", careOf: formatIpv4(coa.address), greKey: coa.greKey });
    for (const hex of c.heldFrames) this.holdFrame(s, fromHex(hex));
    if (keep) {
      // Our own binding survived the restart: forward at once, refresh now.
      s.state = "renewing";
      s.initial = false;
      s.expiresAt = now + c.remainingLifetimeMs;
      s.grantedLifetimeS = Math.ceil(c.remainingLifetimeMs / 1000);
      this.actions.push({ kind: "bind", mac: s.mac, macBytes: s.macBytes, tunnel: this.tunnelOf(s), downlinkKey: s.careOf.greKey });
      const held = this.hold.drain(s.held);
      for (const f of held) this.releaseHeld(s, f);
    }
    this.sendRequest(now, s);
  }

  private onShutdown(now: number, deregister: boolean): void {
    for (const s of [...this.sessions.values()]) {
      if (deregister && s.cleanupDue) {
        this.sendCleanupDeregistration(now, s);
        this.removeSession(now, s, "shutdown");
      } else if (deregister && (isForwarding(s.state) || s.state === "registering")) {
        this.step(now, s, "shutdown");
        // One lifetime-0 request each; the process is going away, no retries.
        if (this.sessions.get(s.mac) === s) this.removeSession(now, s, "shutdown");
      } else this.removeSession(now, s, "shutdown");
    }
  }

  private emit(event: AnEvent): void {
    this.actions.push({ kind: "event", event });
  }
}

function isTrigger(frameClass: number): boolean {
  return frameClass === ND_NEIGHBOR_SOLICITATION || frameClass === ND_ROUTER_SOLICITATION;
}

function findNai(extensions: readonly MipExtension[]): string | undefined {
  for (const e of extensions) if (e.kind === "mn-nai") return e.nai;
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function releaseReasonFor(input: SessionInput): ReleaseReason {
  switch (input) {
    case "expired":
      return "expired";
    case "revoked":
      return "revoked";
    case "handed-over":
      return "handed-over";
    case "hold-off-over":
      return "hold-off-over";
    case "shutdown":
      return "shutdown";
    case "left":
      return "left";
    case "denied":
      return "denied";
    default:
      return "deregistered";
  }
}
