// Issue 9 item 1: what a revoked session leaves behind for a moment. The HA sends
// the defending NA down the tunnel and the revocation on UDP 434 back to back
// (draft 3.2.4); the AN reads the two sockets separately and may handle the
// revocation first. Rather than drop what the HA already sent, the session's
// downlink identity lingers for a short, configured time: packets from its HA to
// its CoA (or GRE key) are still delivered to the MN, and an NA for an address the
// MN was probing still turns the revocation into a DAD failure. Memory is bounded
// (expiring-tunnel-index.ts): at most `maxEntries`, the oldest dropped first.
import type { CareOf } from "./care-of.ts";
import { ExpiringTunnelIndex } from "./expiring-tunnel-index.ts";

export interface LingeringSession {
  readonly mac: string;
  readonly macBytes: Uint8Array;
  readonly homeAgent: number;
  readonly careOf: CareOf;
  readonly haLinkLayer: Uint8Array | null;
  /** DAD targets the MN was probing when the revocation came: an NA for one of them during the linger is a DAD failure. */
  readonly dadTargets: readonly string[];
  /**
   * A probe reached the HA within revocationLingerMs before the revocation (heard from the
   * MN, or sent on with the held frames at the bind). Only then does a new start wait: every
   * session has probes from its attach, and holding every revoked MN 2 s stranded MNs that
   * moved back after a handover (they send no new trigger).
   */
  readonly probedRecently: boolean;
  readonly revocationId: number;
  /** The revocation was already judged a DAD failure (the NA came first). */
  dadFailure: boolean;
  readonly until: number;
}

export class RevokedLinger extends ExpiringTunnelIndex<LingeringSession> {
  /**
   * Whether a new session for `mac` must wait: its revoked session lingers with DAD
   * probes unanswered, so the revocation may yet turn out a DAD failure (its NA still
   * on the way). A session started now would get service the hold-off then denies.
   */
  holdsStart(now: number, mac: string): boolean {
    const e = this.findMac(now, mac);
    return e !== undefined && !e.dadFailure && e.probedRecently && e.dadTargets.length > 0;
  }
}
