// Retransmission and refresh timing (RFC 5944 3.6.3 for the ladder).
import type { RegistrationTiming } from "./config.ts";
import type { RandomSource } from "./random.ts";

/** Timeout after the `attempt`-th request (1-based), jittered upwards only. */
export function retransmitTimeoutMs(timing: RegistrationTiming, attempt: number, random: RandomSource): number {
  const base = Math.min(timing.maxTimeoutMs, timing.initialTimeoutMs * timing.backoffFactor ** (attempt - 1));
  return Math.max(1000, Math.round(base * (1 + timing.jitter * random.fraction())));
}

/** When to start refreshing a binding granted for `lifetimeS`, relative to the grant. */
export function refreshDelayMs(timing: RegistrationTiming, lifetimeS: number, random: RandomSource): number {
  const fraction = timing.refreshFraction - timing.refreshJitter * random.fraction();
  // Never closer than 1 s after the grant (RFC 5944 rate limit), never past the lifetime.
  return Math.max(1000, Math.min(lifetimeS * 1000 - 1000, Math.round(lifetimeS * 1000 * fraction)));
}
