// What the daemon logs of the engine's events, and the once-per-cause gate for
// what could flood the log (forged or malformed input, refusals, drops): those
// are logged once per cause per window, and the counters count every one.
//
// Cost per attach (the attach-storm bench: logging was about a third of the daemon's
// CPU per MN): one info line per attach (`registered`; `session-started` is debug),
// nothing built for a line whose level is off, and the event lines go through a child
// logger whose redaction knows their shape ({event: AnEvent}, flat): a handful of
// fixed paths instead of the config-shaped wildcard set, which cost more than the
// rest of the line.
import type { AnEvent } from "../core/events.ts";
import { OncePerCause } from "./log-once.ts";
import type { Logger } from "./logger.ts";

/** An engine event has no key field (events.ts); should one ever get one, these still censor it. */
export const EVENT_REDACT_PATHS = ["event.key", "event.secret", "event.mnHaKey", "event.password", "event.contextKey"];

export class EventLog {
  private readonly oncer: OncePerCause;
  /** For lines carrying only {event} (and once-per-cause counts): the narrow redaction. */
  private readonly eventLog: Logger;

  constructor(
    private readonly log: Logger,
    windowMs: number,
    monotonicMs: () => number,
  ) {
    this.oncer = new OncePerCause(windowMs, monotonicMs);
    this.eventLog = log.child({}, { redact: { paths: EVENT_REDACT_PATHS, censor: "[redacted]" } });
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
    return this.onceTo(this.log, cause, fields);
  }

  private onceTo(log: Logger, cause: string, fields: Record<string, unknown>): boolean {
    const a = this.oncer.admit(cause);
    if (a) log.warn({ cause, total: a.total, suppressedSinceLast: a.suppressed, ...fields }, cause);
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
    const log = this.eventLog;
    // A child keeps the level it was made with: follow the daemon's (SIGHUP, remote config).
    if (log.level !== this.log.level) log.level = this.log.level;
    switch (e.type) {
      case "forged":
        return this.onceTo(log, `forged ${e.what}: ${e.reason}`, { event: e });
      case "malformed":
        return this.onceTo(log, `malformed ${e.what}: ${e.error.split(" at ")[0]}`, { event: e });
      case "refused":
        return this.onceTo(log, `refused: ${e.reason}`, { event: e });
      case "hold-dropped":
        return this.onceTo(log, `hold dropped: ${e.reason}`, { event: e });
      // Per retransmission, and per attach (the `registered` line, or a failure's, follows at info).
      case "registration-sent":
      case "session-started":
        if (log.isLevelEnabled("debug")) log.debug({ event: e }, e.type);
        return true;
      default:
        log.info({ event: e }, e.type);
        return true;
    }
  }
}
