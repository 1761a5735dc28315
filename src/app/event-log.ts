// What the daemon logs of the engine's events, and the once-per-cause gate for
// what could flood the log (forged or malformed input, refusals, drops): those
// are logged once per cause per window, and the counters count every one.
import type { AnEvent } from "../core/events.ts";
import { OncePerCause } from "./log-once.ts";
import type { Logger } from "./logger.ts";

export class EventLog {
  private readonly oncer: OncePerCause;

  constructor(
    private readonly log: Logger,
    windowMs: number,
    monotonicMs: () => number,
  ) {
    this.oncer = new OncePerCause(windowMs, monotonicMs);
  }

  setWindow(windowMs: number): void {
    this.oncer.setWindow(windowMs);
  }

  /** How often each cause happened (telemetry). */
  totals(): ReturnType<OncePerCause["totals"]> {
    return this.oncer.totals();
  }

  /** A warning logged once per cause per window, with the count so far; true when logged. */
  once(cause: string, fields: Record<string, unknown>): boolean {
    const a = this.oncer.admit(cause);
    if (a) this.log.warn({ cause, total: a.total, suppressedSinceLast: a.suppressed, ...fields }, cause);
    return a !== undefined;
  }

  /** Summary lines for causes suppressed for a window (called on the daemon's tick). */
  summarize(): void {
    for (const s of this.oncer.summaries()) this.log.warn({ cause: s.cause, total: s.total, suppressedSinceLast: s.suppressed, summary: true }, s.cause);
  }

  /**
   * Logs an engine event; false when it was one of the gated kinds (forged, malformed,
   * refused, hold-dropped) and suppressed: the daemon then does not publish it to the
   * fleet either, so a flood of forged signalling cannot crowd the events topic's token
   * bucket and push out the events an operator needs.
   */
  event(e: AnEvent): boolean {
    switch (e.type) {
      case "forged":
        return this.once(`forged ${e.what}: ${e.reason}`, { event: e });
      case "malformed":
        return this.once(`malformed ${e.what}: ${e.error.split(" at ")[0]}`, { event: e });
      case "refused":
        return this.once(`refused: ${e.reason}`, { event: e });
      case "hold-dropped":
        return this.once(`hold dropped: ${e.reason}`, { event: e });
      case "registration-sent":
        this.log.debug({ event: e }, e.type);
        return true;
      default:
        this.log.info({ event: e }, e.type);
        return true;
    }
  }
}
