// Issue 10: handovers as the new AN sees them. A handover in is a session started
// from another AN's context (the import-context input with resume false); a
// fresh registration without a context is not one. Its interruption is measured
// here, at the new AN, from the MN's first frame seen at this AN (the frame that
// led to the context fetch; the import itself when the app names none) to the
// first frame this AN forwarded for the MN after its registration completed,
// uplink into the tunnel or downlink to the MN, whichever came first. With the
// kernel fast path a frame it carried is seen only in its activity report, so the
// end is then the report (later than the frame by at most its interval).
//
// Side map keyed by the session (not a field of the session record): one entry per
// imported session until it forwards or ends, so at most one per live session.
import { Histogram, INTERRUPTION_BOUNDS_MS } from "./histogram.ts";
import type { HistogramSnapshot } from "./histogram.ts";

export class HandoverStats {
  private readonly started = new Map<object, number>();
  readonly interruption = new Histogram(INTERRUPTION_BOUNDS_MS);

  /** A session imported from another AN; `firstSeenAt`: when the MN was first heard here. */
  imported(session: object, firstSeenAt: number): void {
    this.started.set(session, firstSeenAt);
  }

  /** Whether any imported session still waits for its first forwarded frame (the per-frame check is this). */
  get waiting(): boolean {
    return this.started.size > 0;
  }

  /** A frame was forwarded for the session, which is bound: the first one ends its interruption. */
  forwarded(session: object, now: number): void {
    const at = this.started.get(session);
    if (at === undefined) return;
    this.started.delete(session);
    this.interruption.observe(now - at);
  }

  /** The session ended before it forwarded anything: no observation. */
  forget(session: object): void {
    this.started.delete(session);
  }

  snapshot(): HistogramSnapshot {
    return this.interruption.snapshot();
  }
}
