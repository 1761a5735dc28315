// A session's life applied: an input goes through the transition table, then
// the entry actions of the state it lands in run (send, arm timers, start or
// stop forwarding), and a session that ends is removed with what that means
// (CoA quarantine, revocation memory, unbind, event). Timers are dispatched
// here by name: each handler knows what its timer is for.
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { refreshDelayMs } from "./backoff.ts";
import type { EngineParts, SessionStep } from "./engine-parts.ts";
import type { ReleaseReason } from "./events.ts";
import type { Forwarding } from "./forwarding.ts";
import { dropAway, renewalHeldUntil } from "./leave-hold.ts";
import type { RegistrationClient } from "./registration-client.ts";
import type { RevocationHandler } from "./revocation.ts";
import type { Session } from "./session.ts";
import type { TimerName } from "./session-timers.ts";
import { isForwarding, nextState } from "./transitions.ts";
import type { SessionInput } from "./transitions.ts";

/** RFC 5944 3.6.3: never two requests for one binding within a second. */
const REQUEST_FLOOR_MS = 1000;

export class SessionLifecycle {
  /** What each named timer does when it fires. */
  private readonly onTimer: Readonly<Record<TimerName, (now: number, s: Session) => void>> = {
    expiry: (now, s) => {
      if (s.state === "renewing") return this.renewalDue(now, s); // issue 9 item 3
      this.p.counters.expiries++;
      this.step(now, s, "expired");
    },
    idle: (now, s) => {
      const idleMs = this.p.config.idleTimeoutMs;
      if (idleMs <= 0) return;
      // Issue 10: while away the leave window decides (leave-hold.ts); judged again after it (a return moves lastHeardAt).
      if (s.away) return this.p.timers.set(s, "idle", now + idleMs);
      // Frames move lastHeardAt without touching the timer: it is extended here.
      if (now >= s.lastHeardAt + idleMs) this.leftIdle(now, s);
      else this.p.timers.set(s, "idle", s.lastHeardAt + idleMs);
    },
    refresh: (now, s) => {
      s.attempts = 0;
      s.resynced = false;
      this.step(now, s, "refresh-due");
    },
    retransmit: (now, s) => {
      this.p.registrationStats.retransmitTimerFired(s, now); // issue 10: a timeout, unless it only paced a deferred send
      if (s.state === "renewing") this.renewalDue(now, s);
      else this.step(now, s, this.registration.retransmitDue(s));
    },
    cleanup: (now, s) => {
      // The hold-off, armed with it, fires right after (TIMER_ORDER) if it is due too.
      s.cleanupDue = false;
      this.registration.sendCleanupDeregistration(now, s);
    },
    holdOff: (now, s) => this.step(now, s, "hold-off-over"),
    leaveHold: (now, s) => {
      // Issue 10: no release and no return within the window: as if it had just left.
      if (!s.away) return;
      dropAway(this.p, s, "expired");
      this.step(now, s, "left");
    },
  };

  constructor(
    private readonly p: EngineParts,
    private readonly registration: RegistrationClient,
    private readonly forwarding: Forwarding,
    private readonly revocation: RevocationHandler,
  ) {}

  /** Every timer due at `now`: owners in time order, one owner's due timers in TIMER_ORDER. */
  onDeadlines(now: number): void {
    for (let due = this.p.timers.popDue(now); due; due = this.p.timers.popDue(now)) {
      // issue 9 item 5: after shutdown, any timer means the owed request's slot has come.
      if (this.p.shuttingDown) this.finishShutdown(now, due.owner);
      else this.onTimer[due.name](now, due.owner);
      this.p.timers.sync(due.owner);
    }
  }

  /**
   * issue 9 items 3, 4: a renewal's retransmit or expiry timer. The MN is still here
   * (else the idle timer lets it go), so an unanswered renewal does not give up at
   * expiry: the HA may be coming back. With the idle timer off, a binding lapsed for
   * a lifetime with nothing heard ends.
   */
  private renewalDue(now: number, s: Session): void {
    const { config, counters } = this.p;
    if (config.idleTimeoutMs > 0 && !s.away && now >= s.lastHeardAt + config.idleTimeoutMs) return this.leftIdle(now, s);
    const expired = s.expiresAt !== undefined && now >= s.expiresAt;
    if (expired && config.idleTimeoutMs === 0 && now >= s.lastHeardAt + config.registration.lifetimeS * 1000) {
      if (!s.lapsed) counters.expiries++;
      this.step(now, s, "expired");
      return;
    }
    if (expired && !s.lapsed) {
      s.lapsed = true;
      counters.expiries++;
      counters.bindingsLapsed++;
      this.p.outbox.emit({ type: "binding-lapsed", mac: s.mac, attempts: s.attempts });
    }
    this.step(now, s, "timeout-retry");
  }

  /** issue 9 item 4: nothing heard from the MN for idleTimeoutMs: it left; deregister. */
  private leftIdle(now: number, s: Session): void {
    this.p.counters.idleTimeouts++;
    this.p.outbox.emit({ type: "station-left", mac: s.mac, cause: "idle" });
    this.step(now, s, "left", "left");
  }

  /** The shutdown input: each session sends its one owed lifetime-0 request (or none) and ends. */
  shutdown(now: number, deregister: boolean): void {
    this.p.shuttingDown = true;
    for (const s of [...this.p.table.values()]) {
      // issue 9 item 5: a request less than 1 s ago defers the deregistration to its
      // 1 s slot (RFC 5944 3.6.3); the timer sends it (finishShutdown).
      if (deregister && s.cleanupDue) {
        if (now < s.lastRequestAt + REQUEST_FLOOR_MS) this.p.timers.only(s, "cleanup", s.lastRequestAt + REQUEST_FLOOR_MS);
        else this.finishShutdown(now, s);
      } else if (deregister && s.state === "deregistering" && s.attempts === 0) {
        // Already waiting for its slot (the station left just now): the timer sends it.
      } else if (deregister && (isForwarding(s.state) || s.state === "registering")) {
        this.step(now, s, "shutdown");
        // One lifetime-0 request each; the process is going away, no retries. One
        // still waiting for its slot (attempts 0) is sent by its timer.
        if (this.p.table.holds(s) && s.attempts > 0) this.remove(now, s, "shutdown");
      } else this.remove(now, s, "shutdown");
    }
  }

  /** issue 9 item 5: after shutdown, a session's timer sends its one owed lifetime-0 request and ends it. */
  private finishShutdown(now: number, s: Session): void {
    if (s.cleanupDue) this.registration.sendCleanupDeregistration(now, s);
    else if (s.state === "deregistering" && s.attempts === 0) this.registration.sendRequest(now, s);
    this.remove(now, s, "shutdown");
  }

  apply(now: number, st: SessionStep | undefined): void {
    if (st) this.step(now, st.session, st.input, st.reason);
  }

  /**
   * Applies one input to one session through the transition table, then performs
   * the entry actions of the state it lands in.
   */
  step(now: number, s: Session, input: SessionInput, reason?: ReleaseReason): void {
    const from = s.state;
    const to = nextState(from, input);
    if (to === undefined) return;
    if (to === "released") {
      this.remove(now, s, reason ?? releaseReasonFor(input));
      return;
    }
    s.state = to;
    const timers = this.p.timers;
    switch (to) {
      case "registering":
      case "renewing": {
        // Same-state inputs: retry or resync; the request carries a new identification.
        // A 133 comes back faster than the floor between requests. Issue 10: no
        // renewal while the MN is away, it may be registered elsewhere (leave-hold.ts).
        const floor = Math.max(s.lastRequestAt + REQUEST_FLOOR_MS, renewalHeldUntil(this.p, s));
        if (now < floor) {
          timers.only(s, "retransmit", floor);
          // The binding's end is judged no earlier than the resend, as the one
          // deadline per session did before the timers had names.
          if (to === "renewing" && s.expiresAt !== undefined) timers.set(s, "expiry", Math.max(s.expiresAt, floor));
          return;
        }
        this.registration.sendRequest(now, s);
        return;
      }
      case "bound":
        this.enterBound(now, s, from);
        return;
      case "deregistering":
        if (from !== "deregistering") {
          if (isForwarding(from)) this.p.outbox.push({ kind: "unbind", mac: s.mac });
          this.forwarding.dropHeld(s);
          s.attempts = 0;
          s.resynced = false;
        }
        // At least 1 s between requests for one binding; a station leaving right
        // after its RRQ waits for that second, at shutdown too (issue 9 item 5: the
        // daemon waits for these before it exits).
        if (now < s.lastRequestAt + REQUEST_FLOOR_MS) {
          timers.only(s, "retransmit", s.lastRequestAt + REQUEST_FLOOR_MS);
          return;
        }
        this.registration.sendRequest(now, s);
        return;
      case "failed":
      case "no-service": {
        this.forwarding.dropHeld(s);
        const holdOffEnds = now + this.p.config.registration.holdOffMs;
        // A pending cleanup deregistration goes first, 1 s after the last request;
        // the hold-off does not end before it.
        if (s.cleanupDue) {
          const cleanupAt = Math.max(now, s.lastRequestAt + REQUEST_FLOOR_MS);
          timers.only(s, "cleanup", cleanupAt);
          timers.set(s, "holdOff", Math.max(cleanupAt, holdOffEnds));
        } else timers.only(s, "holdOff", holdOffEnds);
        return;
      }
    }
  }

  private enterBound(now: number, s: Session, from: Session["state"]): void {
    const config = this.p.config;
    // RFC 5944 3.6.2.2: the lifetime runs from when the request was sent, not from
    // when the reply arrived (the HA's clock started then).
    const base = Math.min(now, s.lastRequestAt);
    s.expiresAt = base + s.grantedLifetimeS * 1000;
    s.attempts = 0;
    s.resynced = false;
    s.initial = false;
    s.lapsed = false; // issue 9 item 3
    // Issue 12: the lists were grown by push (room for 17); a bound session rarely
    // learns more, so they keep exact-size copies (about 130 B less each).
    s.addresses = s.addresses.slice();
    s.dadTargets = s.dadTargets.slice();
    const timers = this.p.timers;
    timers.only(s, "refresh", base + refreshDelayMs(config.registration, s.grantedLifetimeS, this.p.random));
    if (config.idleTimeoutMs > 0) timers.set(s, "idle", s.lastHeardAt + config.idleTimeoutMs);
    timers.set(s, "expiry", s.expiresAt);
    if (from === "registering") {
      const released = this.forwarding.startForwarding(now, s);
      this.p.outbox.emit({
        type: "registered",
        mac: s.mac,
        nai: s.nai,
        homeAgent: formatIpv4(s.realm.homeAgent),
        careOf: formatIpv4(s.careOf.address),
        lifetime: s.grantedLifetimeS,
        greKey: s.careOf.greKey,
        heldFramesReleased: released,
      });
      s.recorded = true;
      this.p.outbox.push({ kind: "context-changed", mac: s.mac });
    } else {
      // A refresh changes only the lifetime left, which a record counts from when it
      // was written: not worth a write to the AP's flash per refresh (the state file
      // is also snapshotted periodically).
      this.p.counters.refreshes++;
      this.p.outbox.emit({ type: "refreshed", mac: s.mac, lifetime: s.grantedLifetimeS });
    }
  }

  /** Ends a session: indexes, timers, held frames, CoA (quarantined), revocation memory, unbind, event. */
  remove(now: number, s: Session, reason: ReleaseReason): void {
    const wasForwarding = isForwarding(s.state);
    this.p.timers.clear(s);
    this.forwarding.dropHeld(s);
    this.p.table.remove(s);
    this.p.registrationStats.forget(s); // issue 10: side maps, one entry per live session
    this.p.handovers.forget(s);
    // issue 9 item 3: a CoA quarantined after a failed registration may go back to the
    // same NAI; after a handover out, to the same MN back here when no other is free.
    const handedOver = reason === "handed-over";
    this.p.careOf.release(s.careOf, now, this.quarantineMs(now, s), s.state === "failed" || handedOver ? s.nai : undefined, handedOver);
    this.revocation.rememberReleased(now, s);
    this.p.counters.sessionsReleased++;
    if (wasForwarding) this.p.outbox.push({ kind: "unbind", mac: s.mac });
    this.p.outbox.emit({ type: "released", mac: s.mac, reason });
  }

  /**
   * How long the CoA must rest before another MN gets it: until the HA's binding
   * to it would have run out, unless the HA confirmed it is gone.
   */
  private quarantineMs(now: number, s: Session): number {
    if (s.haConfirmedRelease) return s.minQuarantineMs; // issue 9 item 1: 0 unless lingering
    if (s.expiresAt !== undefined) return Math.max(0, s.expiresAt - now);
    // Never accepted as far as we know; a request may have been, its reply lost.
    if (s.lastIdentification === undefined) return 0;
    return Math.max(0, s.lastRequestAt + this.p.config.registration.lifetimeS * 1000 - now);
  }
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
