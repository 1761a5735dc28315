// Issue 10: registrations by result and round trip. Every Registration Reply the
// client accepted as authentic (it matched the newest request, came from the
// session's HA and passed MN-HA authentication) is counted by its code (RFC 5944
// 3.4: a byte, so at most 256 codes), and a request whose retransmit timer ran out
// with no authentic reply is counted as "timeout". The round trip of each answered
// request goes into a histogram per home agent.
//
// Which transmission a reply answers is known exactly: every request, a
// retransmission too, carries a new identification whose low word differs from
// the previous one (nextIdentification), and a reply is accepted only when it
// echoes the newest (replyMatchesRequest). So the round trip is measured from the
// newest transmission, which is the one the reply answers; a late reply to an
// earlier one is unmatched and measures nothing.
//
// The request in flight is kept in a side map keyed by the session, not in the
// session record (kept small for 100,000 MNs): one entry per session at most,
// removed when answered or when the session ends.
import type { EngineConfig } from "./config.ts";
import { Histogram, RTT_BOUNDS_MS } from "./histogram.ts";
import type { HistogramSnapshot } from "./histogram.ts";

interface InFlight {
  readonly sentAt: number;
  /** When the request counts as unanswered (its retransmit timeout); Infinity: never (no retry follows). */
  readonly timeoutAt: number;
}

/** The key unconfigured home agents fold into (one that left the config while a session still used it). */
export const OTHER_HOME_AGENTS = "other";

export interface RegistrationTelemetry {
  /** Authentic replies by code (decimal), plus "timeout": requests that timed out unanswered. */
  readonly byCode: Record<string, number>;
  /** Round trip (ms) per home agent (dotted IPv4, or "other"). */
  readonly rttMs: Record<string, HistogramSnapshot>;
}

export class RegistrationStats {
  private readonly byCode = new Map<number, number>();
  private timeouts = 0;
  private readonly inFlight = new Map<object, InFlight>();
  private readonly rtt = new Map<number, Histogram>();
  private other: Histogram | undefined;

  constructor(private readonly config: () => EngineConfig) {}

  /** A request went out for `session`; it replaces the one before (each carries a new identification). */
  sent(session: object, now: number, timeoutAt: number): void {
    this.inFlight.set(session, { sentAt: now, timeoutAt });
  }

  /**
   * The session's retransmit timer fired: its request timed out if it is still
   * unanswered and its timeout has come (the timer also paces a deferred send).
   */
  retransmitTimerFired(session: object, now: number): void {
    const f = this.inFlight.get(session);
    if (f === undefined || now < f.timeoutAt) return;
    this.inFlight.delete(session);
    this.timeouts++;
  }

  /** An authentic reply with this code from `homeAgent` to the session's newest request. */
  replied(session: object, homeAgent: number, code: number, now: number): void {
    const c = code & 0xff;
    this.byCode.set(c, (this.byCode.get(c) ?? 0) + 1);
    const f = this.inFlight.get(session);
    if (f === undefined) return; // a duplicate: the first reply measured the round trip
    this.inFlight.delete(session);
    this.histogramFor(homeAgent).observe(now - f.sentAt);
  }

  /** The session ended: a request still in flight is abandoned, not timed out. */
  forget(session: object): void {
    this.inFlight.delete(session);
  }

  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  telemetry(formatHomeAgent: (address: number) => string): RegistrationTelemetry {
    const byCode: Record<string, number> = {};
    for (const [code, n] of [...this.byCode].sort((a, b) => a[0] - b[0])) byCode[String(code)] = n;
    if (this.timeouts > 0) byCode["timeout"] = this.timeouts;
    const rttMs: Record<string, HistogramSnapshot> = {};
    for (const [ha, h] of this.rtt) rttMs[formatHomeAgent(ha)] = h.snapshot();
    if (this.other) rttMs[OTHER_HOME_AGENTS] = this.other.snapshot();
    return { byCode, rttMs };
  }

  /**
   * One histogram per configured home agent; any other (a session kept its HA
   * after a reconfigure dropped it) goes to "other", as do the histograms of HAs
   * no longer configured when a newly configured one needs the room.
   */
  private histogramFor(homeAgent: number): Histogram {
    const existing = this.rtt.get(homeAgent);
    if (existing) return existing;
    const configured = new Set(this.config().realms.map((r) => r.homeAgent));
    if (!configured.has(homeAgent)) return (this.other ??= new Histogram(RTT_BOUNDS_MS));
    if (this.rtt.size >= configured.size) {
      for (const [ha, h] of this.rtt) {
        if (configured.has(ha)) continue;
        (this.other ??= new Histogram(RTT_BOUNDS_MS)).add(h);
        this.rtt.delete(ha);
      }
    }
    const h = new Histogram(RTT_BOUNDS_MS);
    this.rtt.set(homeAgent, h);
    return h;
  }
}
