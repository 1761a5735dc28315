// A token bucket on session starts: a station spoofing source MACs cannot make
// the AN fire registrations at the HA faster than this (each costs up to
// maxTries requests), nor grow the table faster. Moved out of engine.ts to keep
// it small (issue 9 added hooks there).
export class StartRate {
  /** Session starts left in the current second (flood guard). */
  private tokens = 0;
  private at = -Infinity;

  /** Takes one start at `now` at `rate` per second (0: unlimited); false when none is left. */
  take(now: number, rate: number): boolean {
    if (rate <= 0) return true;
    this.tokens = Math.min(rate, this.tokens + ((now - this.at) / 1000) * rate);
    if (!Number.isFinite(this.tokens)) this.tokens = rate;
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
