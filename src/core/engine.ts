// The AN protocol engine: every MN session, driven by `handle(now, input)` and
// answering with actions drained by `poll()`. No sockets, timers or clock here:
// `now` is monotonic milliseconds from the driver, and the single earliest
// deadline of all sessions is reported by `nextDeadline()`.
//
// This file demultiplexes inputs and link events. The policies (shutdown included)
// live beside it, each in its own file, sharing one EngineParts: session starts with
// the start rate and its queue (session-start.ts), contexts in and out
// (context-transfer.ts), the registration client (registration-client.ts), forwarding
// (forwarding.ts), revocation (revocation.ts), the session table
// (session-table.ts), the state machine applied with its named timers
// (session-lifecycle.ts, session-timers.ts), and the outbox all of them write to.
import { ethernetPayloadOffset, ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { formatMac, macKey, parseMac } from "../wire/mac.ts";
import { peekMipMessageType } from "../wire/mip-registration.ts";
import { MipMessageType } from "../wire/mip-types.ts";
import { CareOfAllocator } from "./care-of.ts";
import type { CareOf } from "./care-of.ts";
import type { EngineConfig } from "./config.ts";
import { exportSession, importSession, resumeChecked } from "./context-transfer.ts";
import type { ImportParts } from "./context-transfer.ts";
import type { SessionContext } from "./context.ts";
import { newEngineCounters } from "./counters.ts";
import type { EngineCounters } from "./counters.ts";
import { dadFailureDetach } from "./dad-failure.ts";
import type { EngineParts } from "./engine-parts.ts";
import type { Action } from "./events.ts";
import { Forwarding } from "./forwarding.ts";
import { EntryHoldOff } from "./entry-hold-off.ts";
import { handOver, HandoverForward, releasableSession } from "./handover-forward.ts";
import { HandoverStats } from "./handover-stats.ts";
import { HoldPool } from "./hold-buffer.ts";
import { AuthorisedStations } from "./authorised-stations.ts";
import { realmForNai } from "./identity.ts";
import { inspectUplink } from "./ipv6-inspect.ts";
import { isMldReport } from "./mld-report.ts";
import { dropAway, newRevokedHolds, returnFromLeave, revokedAway, sameIdentity, stationLeftLink } from "./leave-hold.ts";
import { Outbox } from "./outbox.ts";
import type { RandomSource } from "./random.ts";
import { RegistrationClient } from "./registration-client.ts";
import { RegistrationStats } from "./registration-stats.ts";
import type { RegistrationTelemetry } from "./registration-stats.ts";
import type { HistogramSnapshot } from "./histogram.ts";
import { RevocationHandler } from "./revocation.ts";
import { RevokedLinger } from "./revoked-linger.ts";
import type { Session } from "./session.ts";
import { SessionLifecycle } from "./session-lifecycle.ts";
import { SessionTable } from "./session-table.ts";
import { TimerWheel } from "./session-timers.ts";
import { SessionStarts } from "./session-start.ts";
import { isForwarding } from "./transitions.ts";

export type EngineInput =
  /** An Ethernet frame received on the access link. */
  | { readonly kind: "frame-from-mn"; readonly frame: Uint8Array }
  /** Link layer: a station finished authentication (optionally with its EAP identity). */
  | { readonly kind: "station-authorised"; readonly mac: string; readonly identity?: string }
  /** Link layer: a station left (disassociated, port down). */
  | { readonly kind: "station-left"; readonly mac: string }
  /** A UDP datagram received on port 434; `local`: the address it was sent to (the receiving socket's CoA). */
  | { readonly kind: "signalling"; readonly from: number; readonly fromPort: number; readonly local: number; readonly bytes: Uint8Array }
  /** A decapsulated tunnel packet: outer addresses, GRE key if any, and the inner IPv6 packet. */
  | { readonly kind: "tunnel-packet"; readonly outerSrc: number; readonly outerDst: number; readonly greKey: number | null; readonly packet: Uint8Array }
  | { readonly kind: "deadline" }
  /**
   * A session arriving from elsewhere: `resume` for our own record after a restart
   * (keep the CoA, refresh now), otherwise a handover from another AN (register anew).
   */
  | {
      readonly kind: "import-context";
      readonly context: SessionContext;
      readonly resume: boolean;
      /** A handover's start (monotonic ms): when this AN first heard the MN (the frame that led to the fetch); absent: now. */
      readonly firstSeenAt?: number;
      /**
       * `resume` only: the refresh waits at most this long (ms) for a "resume-checked"
       * (the app asks the fleet whether another AN bound the MN meanwhile); forwarding starts at once.
       */
      readonly holdRefreshMs?: number;
    }
  /**
   * The app's answer for a resumed session held by holdRefreshMs: refresh now, or
   * (`supersededBy`: the AN whose record is newer) drop it without any request.
   */
  | { readonly kind: "resume-checked"; readonly mac: string; readonly supersededBy?: string }
  /** The MN now belongs to another AN: let go without deregistering (the HA revokes us); forwardTo: its CoA there (handover-forward.ts). */
  | {
      readonly kind: "hand-over";
      readonly mac: string;
      readonly forwardTo?: number;
      /** The CoA of the session the new AN took over (its record's): a newer session here is not released (handover-forward.ts). */
      readonly careOf?: CareOf;
    }
  /** The app found no context for an unknown station (its "unknown-station"): register it from scratch (draft 3.2.2 MAY). */
  | { readonly kind: "register-station"; readonly mac: string }
  | { readonly kind: "shutdown"; readonly deregister: boolean }
  /** The wall clock (ms since 1970) at `now`: identifications are wall-clock timestamps. */
  | { readonly kind: "wall-clock"; readonly wallMs: number }
  /** The kernel fast path carried frames from this MN (they never reach frame-from-mn): not idle. */
  | { readonly kind: "mn-active"; readonly mac: string };
export interface EngineOptions {
  readonly random: RandomSource;
  /** Wall clock minus monotonic clock, in ms, until a "wall-clock" input says otherwise. */
  readonly wallOffsetMs: number;
}

export class Engine {
  private readonly p: EngineParts;
  private readonly registration: RegistrationClient;
  private readonly forwarding: Forwarding;
  private readonly revocation: RevocationHandler;
  private readonly lifecycle: SessionLifecycle;
  /** EAP identities seen before the MN's first NS/RS. */
  private readonly linkIdentities = new Map<string, string>();
  /** Stations the link layer authorised (served only these when linkLayer.requireAuthorised). */
  private readonly authorisedStations = new AuthorisedStations();
  /** Session starts: the checks, the start rate and the stations waiting for it (session-start.ts). */
  private readonly starts: SessionStarts;
  readonly counters: EngineCounters = newEngineCounters();

  constructor(config: EngineConfig, options: EngineOptions) {
    this.p = {
      config,
      random: options.random,
      wallOffsetMs: options.wallOffsetMs,
      counters: this.counters,
      outbox: new Outbox(),
      table: new SessionTable(),
      timers: new TimerWheel<Session>(),
      hold: new HoldPool(config.hold),
      careOf: new CareOfAllocator(config.careOf),
      linger: new RevokedLinger(config.maxSessions),
      handoverForward: new HandoverForward(config.maxSessions),
      leaveHolds: newRevokedHolds(config.maxSessions, () => this.p),
      entryHoldOff: new EntryHoldOff(config.maxSessions),
      registrationStats: new RegistrationStats(() => this.p.config),
      handovers: new HandoverStats(),
      resumeHeld: new WeakSet(),
      shuttingDown: false,
    };
    this.registration = new RegistrationClient(this.p);
    this.starts = new SessionStarts(this.p, this.registration, (mac) => this.linkIdentities.get(mac));
    this.forwarding = new Forwarding(this.p);
    this.revocation = new RevocationHandler(this.p);
    this.lifecycle = new SessionLifecycle(this.p, this.registration, this.forwarding, this.revocation);
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
        return this.onSignalling(now, input.from, input.fromPort, input.local, input.bytes);
      case "tunnel-packet":
        return this.onTunnelPacket(now, input);
      case "deadline":
        this.lifecycle.onDeadlines(now);
        this.p.leaveHolds.sweep(now); // issue 10: revoked sessions' leave windows over (leave-hold.ts)
        return this.starts.startWaiting(
          now,
          (st, f) => this.forwarding.fromMn(st, f, ethernetPayloadOffset(f)),
          (macBytes) => this.p.config.linkLayer?.requireAuthorised !== true || this.authorisedStations.has(macBytes),
        );
      case "import-context":
        return this.onImport(now, input.context, input.resume, input.firstSeenAt, input.holdRefreshMs);
      case "resume-checked":
        return resumeChecked(this.p, this.importParts(), now, input.mac, input.supersededBy);
      case "hand-over":
        return handOver(this.p, now, input.mac, input.forwardTo, input.careOf, (s) => {
          this.lifecycle.step(now, s, "handed-over");
          if (!this.p.table.holds(s)) this.counters.handoversOut++;
        });
      case "register-station": {
        const macBytes = parseMac(input.mac);
        if (macBytes && !this.p.table.has(formatMac(macBytes))) this.starts.start(now, formatMac(macBytes), macBytes, "ipv6-frame", undefined);
        return;
      }
      case "shutdown":
        this.starts.clearWaiting(); // nothing new starts now
        return this.lifecycle.shutdown(now, input.deregister);
      case "wall-clock":
        this.p.wallOffsetMs = input.wallMs - now;
        return;
      case "mn-active": {
        const s = this.p.table.get(input.mac);
        if (!s || s.away) return; // away: a late report from before the leave
        s.lastHeardAt = now;
        // The fast path forwarded for it: that may end a handover's interruption (as late as this report).
        if (this.p.handovers.waiting && isForwarding(s.state)) this.p.handovers.forwarded(s, now);
        return;
      }
    }
  }

  /** The next action to carry out, or undefined when there is none. */
  poll(): Action | undefined {
    return this.p.outbox.poll();
  }

  /** The earliest moment at which `handle(now, {kind: "deadline"})` has work. */
  nextDeadline(): number | undefined {
    const at = [this.p.timers.next(), this.starts.nextWaitingAt(), this.p.leaveHolds.firstOver].filter((t) => t !== undefined);
    return at.length === 0 ? undefined : Math.min(...at);
  }

  get sessionCount(): number {
    return this.p.table.size;
  }

  sessionState(mac: string): Session["state"] | undefined {
    return this.p.table.get(mac)?.state;
  }

  /** Read-only view for telemetry and tests. */
  session(mac: string): Readonly<Session> | undefined {
    return this.p.table.get(mac);
  }

  /** Every live session (the daemon's view of who is here). */
  sessions(): IterableIterator<Readonly<Session>> {
    return this.p.table.values();
  }

  /** MACs of the sessions that have a context record worth keeping (bound once, or imported). */
  recordedSessions(): string[] {
    const macs: string[] = [];
    for (const s of this.p.table.values()) if (s.recorded) macs.push(s.mac);
    return macs;
  }

  /** Whether a `hand-over` of `mac` (of the session on `careOf`, if named) has something to release: a session, or a revoked one lingering or held since its MN left. */
  releasable(now: number, mac: string, careOf?: CareOf): boolean {
    return releasableSession(this.p, now, mac, careOf) !== undefined;
  }

  /** Whether a live session registers from this care-of address (its signalling socket is in use). */
  careOfInUse(address: number): boolean {
    return this.p.table.careOfInUse(address);
  }

  /** issue 9 item 5: sessions whose shutdown deregistration still waits for its 1 s slot (0 before shutdown). */
  get shutdownPending(): number {
    return this.p.shuttingDown ? this.p.table.size : 0;
  }

  /** Issue 10: replies by code (and timeouts) and round trips per HA (keys: the HA's dotted address). */
  registrationTelemetry(): RegistrationTelemetry {
    return this.p.registrationStats.telemetry(formatIpv4);
  }

  /** Issue 10: the handover interruption histogram (ms; what is measured: handover-stats.ts). */
  handoverInterruption(): HistogramSnapshot {
    return this.p.handovers.snapshot();
  }

  get heldFrames(): number {
    return this.p.hold.totalFrames;
  }

  get heldBytes(): number {
    return this.p.hold.totalBytes;
  }

  /** Swaps in a new configuration without dropping sessions: it applies to what starts next. */
  reconfigure(config: EngineConfig): void {
    this.p.config = config;
    this.p.careOf.reset(config.careOf);
    this.p.hold.setCaps(config.hold);
    this.p.linger.setMaxEntries(config.maxSessions);
    this.p.handoverForward.setMaxEntries(config.maxSessions);
    this.p.leaveHolds.setMaxEntries(config.maxSessions);
    this.p.entryHoldOff.setMaxEntries(config.maxSessions);
    for (const s of this.p.table.values()) {
      // A new key for the same HA applies from the session's next request. A session
      // whose realm moved to another HA keeps the HA it is registered with until it
      // ends: switching its tunnel without registering there would black-hole it.
      const realm = realmForNai(config, s.nai);
      if (realm && realm.homeAgent === s.realm.homeAgent) s.realm = realm;
      s.tunnel = undefined;
    }
  }

  /** The session as a context record for handover or restart; undefined for an unknown MAC. */
  exportContext(now: number, mac: string): SessionContext | undefined {
    const s = this.p.table.get(mac);
    return s ? exportSession(now, s) : undefined;
  }

  // ---- demultiplexing ----------------------------------------------------------

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
    const s = this.p.table.byMacKey.get(macKey(frame, 6));
    if (s) {
      // Issue 10: a station held since it left is back on this link (leave-hold.ts).
      if (s.away && !returnFromLeave(this.p, s, this.authorisedStations.hasFrameSource(frame), () => this.forwarding.resumeBound(now, s))) return;
      s.lastHeardAt = now;
      if (!this.p.handovers.waiting) return this.forwarding.fromMn(s, frame, ipOffset);
      const before = this.counters.framesToTunnel;
      this.forwarding.fromMn(s, frame, ipOffset);
      if (this.counters.framesToTunnel !== before) this.p.handovers.forwarded(s, now);
      return;
    }
    const seen = inspectUplink(frame, ipOffset);
    if (seen.kind === "malformed") {
      this.counters.framesMalformed++;
      return;
    }
    // 802.1X: a station hostapd has not authorised never starts a session.
    if (this.p.config.linkLayer?.requireAuthorised === true && !this.authorisedStations.hasFrameSource(frame)) {
      this.counters.framesUnauthorised++;
      return;
    }
    const macBytes = frame.subarray(6, 12);
    const mac = formatMac(macBytes);
    if (this.starts.waitingFrame(mac, frame)) return; // waiting for a start: its frames wait with it
    // By default only ND from the MN's own stack starts a session (draft 3.2.2 step
    // 3: "the RS or the NS, whichever received first"). Linux sends an MLD report
    // before its DAD NS; that report is for a router on the home link, which the MN
    // will not have until the tunnel is up, so it is dropped. With triggerOn
    // "any-ipv6" (draft 3.2.2: "the first IPv6 packet ... MAY"), any IPv6 frame
    // starts one: a Linux MN that moved its link sends only MLD reports, no new DAD
    // or RS, so without link-layer events that is how a new AN learns of it.
    const isNd = seen.kind === "neighbor-solicitation" || seen.kind === "router-solicitation";
    const trigger = isNd || this.p.config.triggerOn === "any-ipv6";
    if (!trigger || this.p.config.contextFirst === true) {
      // issue 9 item 5: an MLD report before the first NS is normal, counted apart.
      if (!trigger && isMldReport(frame, ipOffset)) this.counters.framesUnknownMnMld++;
      else if (!trigger) this.counters.framesUnknownMnNonTrigger++;
      // The fleet may hold its context (a handover in): daemon-fleet.ts fetches it (the frame is valid only during this call).
      this.p.outbox.push({ kind: "unknown-station", mac, frame, trigger });
      return;
    }
    const created = this.starts.start(now, mac, macBytes, isNd ? seen.kind : "ipv6-frame", undefined, frame);
    if (!created) return;
    this.forwarding.learnUplink(created, seen);
    this.forwarding.holdFrame(created, frame);
  }

  private onSignalling(now: number, from: number, fromPort: number, local: number, bytes: Uint8Array): void {
    switch (peekMipMessageType(bytes)) {
      case MipMessageType.RegistrationReply: {
        const step = this.registration.onReply(now, from, bytes);
        const before = this.forwardedCount();
        this.lifecycle.apply(now, step);
        // Bound: what was held went out both ways; a handover's interruption ends with the first of it.
        if (step && this.forwardedCount() !== before) this.p.handovers.forwarded(step.session, now);
        return;
      }
      case MipMessageType.RegistrationRevocation: {
        const revoked = this.revocation.onRevocation(now, from, fromPort, local, bytes);
        if (!revoked) return;
        const mac = revoked.session.mac;
        revokedAway(this.p, now, revoked.session); // issue 10: what it holds waits for a release
        this.lifecycle.step(now, revoked.session, "revoked", "revoked");
        if (revoked.dadFailure) dadFailureDetach(this.p, now, mac, revoked.revocationId, "na-first");
        return;
      }
      default:
        this.counters.signallingUnexpectedType++;
        return;
    }
  }

  private onTunnelPacket(now: number, t: Extract<EngineInput, { kind: "tunnel-packet" }>): void {
    if (!this.p.handovers.waiting) return this.forwarding.fromTunnel(now, t);
    const before = this.counters.framesToMn;
    this.forwarding.fromTunnel(now, t);
    if (this.counters.framesToMn === before) return;
    // Delivered: to the session the packet matched (the same lookup as forwarding's).
    const s = t.greKey !== null ? this.p.table.byKey.get(t.greKey) : this.p.table.byCoa.get(t.outerDst);
    if (s) this.p.handovers.forwarded(s, now);
  }

  /** Frames forwarded either way so far (issue 10: a change means this input forwarded some). */
  private forwardedCount(): number {
    return this.counters.framesToTunnel + this.counters.framesToMn;
  }

  // ---- link events ------------------------------------------------------------

  private onStationAuthorised(now: number, mac: string, identity: string | undefined): void {
    const macBytes = parseMac(mac);
    if (!macBytes) return;
    const key = formatMac(macBytes);
    this.authorisedStations.add(macBytes);
    const away = this.p.table.get(key);
    if (away?.away) {
      // Issue 10: back within the leave window (leave-hold.ts); someone else on this MAC: the window ends, deregistering as without it.
      if (sameIdentity(this.p, away, identity)) returnFromLeave(this.p, away, true, () => this.forwarding.resumeBound(now, away));
      else {
        dropAway(this.p, away, "ended");
        this.lifecycle.step(now, away, "left");
      }
    }
    if (identity !== undefined) {
      // Bounded: stations that authenticate and never send ND must not grow it forever.
      this.linkIdentities.delete(key);
      this.linkIdentities.set(key, identity);
      if (this.linkIdentities.size > this.p.config.maxSessions) {
        const oldest = this.linkIdentities.keys().next();
        if (!oldest.done) this.linkIdentities.delete(oldest.value);
      }
    }
    // Draft 3.2.2 (last paragraphs): an MN known to be IPv6-only may be registered
    // as soon as the link is up. With a link-layer policy the config says; without one,
    // only with an identity.
    const eager = this.p.config.linkLayer ? this.p.config.linkLayer.registerOnAuthorised : identity !== undefined;
    if (!this.p.table.has(key) && eager) this.starts.start(now, key, macBytes, "station-authorised", identity);
  }

  private onStationLeft(now: number, mac: string): void {
    const macBytes = parseMac(mac);
    if (!macBytes) return;
    const key = formatMac(macBytes);
    this.linkIdentities.delete(key);
    this.authorisedStations.delete(macBytes);
    this.starts.leftWaiting(key);
    const s = this.p.table.get(key);
    // A cleanup deregistration still owed to the HA goes first (its timer is
    // armed); the hold-off then releases the session. issue 9 item 4: counted and
    // told; the deregistration follows (transition table), in a fleet after the leave window.
    if (s && !s.cleanupDue) stationLeftLink(this.p, now, s, () => this.lifecycle.step(now, s, "left"));
  }

  // ---- import ---------------------------------------------------------------------

  private importParts(): ImportParts {
    return { lifecycle: this.lifecycle, forwarding: this.forwarding, registration: this.registration };
  }

  private onImport(now: number, c: SessionContext, resume: boolean, firstSeenAt: number | undefined, holdRefreshMs: number | undefined): void {
    importSession(this.p, this.importParts(), now, c, resume, firstSeenAt, holdRefreshMs);
  }
}
