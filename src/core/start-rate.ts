// A token bucket on session starts: a station spoofing source MACs cannot make
// the AN fire registrations at the HA faster than this (each costs up to
// maxTries requests), nor grow the table faster. Moved out of engine.ts to keep
// it small (issue 9 added hooks there).
/** A whole token, floating-point error aside: at nextAt() one has accrued. */
const WHOLE = 1 - 1e-9;

export class StartRate {
  /** Session starts left in the current second (flood guard). */
  private tokens = 0;
  private at = -Infinity;

  /** Takes one start at `now` at `rate` per second (0: unlimited); false when none is left. */
  take(now: number, rate: number): boolean {
    if (rate <= 0) return true;
    this.tokens = this.tokensAt(now, rate);
    this.at = now;
    if (this.tokens < WHOLE) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a start could be taken at `now` (nothing consumed). */
  available(now: number, rate: number): boolean {
    return rate <= 0 || this.tokensAt(now, rate) >= WHOLE;
  }

  /** The tokens accrued by `now` (capped at one second's worth; a full bucket before the first take). */
  private tokensAt(now: number, rate: number): number {
    const t = Math.min(rate, this.tokens + ((now - this.at) / 1000) * rate);
    return Number.isFinite(t) ? t : rate;
  }

  /** When the next start can be taken (monotonic ms; in the past when one can now). */
  nextAt(rate: number): number {
    if (rate <= 0 || !Number.isFinite(this.at) || this.tokens >= 1) return Number.isFinite(this.at) ? this.at : 0;
    return this.at + Math.ceil(((1 - this.tokens) / rate) * 1000);
  }
}
