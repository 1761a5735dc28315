// Issue 9 item 3: the retransmission timing of a bound MN's renewal when its HA
// stopped answering. RFC 5944 3.6.3: at least 1 s between requests, each timeout at
// least twice the previous "as long as that is less than the maximum", the maximum
// no greater than the requested lifetime. A renewal's ladder (backoff.ts) doubles
// up to a ceiling of its own, outageRetryMaxMs, small enough that service returns
// within seconds of the HA's return; after maxTries unanswered requests it does not
// give up (the MN is still here and its HA may come back) but keeps retrying at
// that ceiling, jittered downwards by up to half (never above the ceiling, never
// below 1 s) so a fleet of ANs that lost the same HA does not retry in lockstep.
import { retransmitTimeoutMs } from "./backoff.ts";
import type { RegistrationTiming } from "./config.ts";
import type { RandomSource } from "./random.ts";

export function renewalRetryTimeoutMs(timing: RegistrationTiming, attempt: number, random: RandomSource): number {
  const ceiling = Math.max(1000, Math.min(timing.outageRetryMaxMs, timing.lifetimeS * 1000));
  if (attempt < timing.maxTries) return Math.min(ceiling, retransmitTimeoutMs(timing, attempt, random));
  return Math.max(1000, Math.round(ceiling * (1 - 0.5 * random.fraction())));
}
