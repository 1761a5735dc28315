// "Logged once per cause": malformed, forged or unexpected input is attacker-
// controlled, so its log lines are rate-limited per cause (the first occurrence
// in each window is logged, with how many were suppressed before it, and a cause
// still occurring gets one summary line per window: summaries()); the counters
// count every one of them.

export interface CauseAdmission {
  /** Occurrences of this cause not logged since the last line about it. */
  readonly suppressed: number;
  readonly total: number;
}

const MAX_CAUSES = 512;
const OVERFLOW = "(too many distinct causes)";

export class OncePerCause {
  private readonly causes = new Map<string, { total: number; suppressed: number; loggedAt: number }>();

  constructor(
    private windowMs: number,
    private readonly now: () => number,
  ) {}

  setWindow(ms: number): void {
    this.windowMs = ms;
  }

  /** Counts an occurrence; returns what to log, or undefined when the line is suppressed. */
  admit(cause: string): CauseAdmission | undefined {
    const t = this.now();
    let c = this.causes.get(cause);
    if (!c) {
      if (this.causes.size >= MAX_CAUSES && cause !== OVERFLOW) {
        // Causes come from a finite set; a flood of distinct ones lands here, counted as one.
        return this.admit(OVERFLOW);
      }
      c = { total: 0, suppressed: 0, loggedAt: -Infinity };
      this.causes.set(cause, c);
    }
    c.total++;
    if (t - c.loggedAt < this.windowMs) {
      c.suppressed++;
      return undefined;
    }
    const suppressed = c.suppressed;
    c.suppressed = 0;
    c.loggedAt = t;
    return { suppressed, total: c.total };
  }

  /**
   * Causes with occurrences suppressed for at least a window since their last line:
   * one summary each (how many, and the total), and the window starts again. Called
   * periodically, so a flood that stops is still accounted for in the log within about
   * a window, and one that goes on costs one line per cause per window.
   */
  summaries(): { cause: string; suppressed: number; total: number }[] {
    const t = this.now();
    const out: { cause: string; suppressed: number; total: number }[] = [];
    for (const [cause, c] of this.causes) {
      if (c.suppressed === 0 || t - c.loggedAt < this.windowMs) continue;
      out.push({ cause, suppressed: c.suppressed, total: c.total });
      c.suppressed = 0;
      c.loggedAt = t;
    }
    return out;
  }

  /** Occurrences per cause since start (telemetry). */
  totals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.causes) out[k] = v.total;
    return out;
  }
}
