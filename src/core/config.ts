// The engine's configuration: everything the protocol needs to decide, already
// validated and in wire units (IPv4 as u32, MAC as bytes). The app layer owns the
// user-facing schema and converts into this.
import type { MipCodecOptions } from "../wire/mip-types.ts";
import type { MnHaKey } from "../wire/mip-auth.ts";

export interface RealmConfig {
  /** The realm after '@' in the NAI; "*" matches any realm not listed. */
  readonly realm: string;
  readonly homeAgent: number;
  readonly mnHaKey: MnHaKey;
  /**
   * An NAI of this realm without its own entry in `naiKeys` is signed with the
   * realm's key; false: it is refused ("no-key"). Absent: true.
   */
  readonly realmKeyFallback?: boolean;
}

/** The NAI resolver chain's links (DESIGN 9, draft 4). */
export type IdentitySourceName = "link-auth" | "provisioned" | "derived";

export const DEFAULT_IDENTITY_ORDER: readonly IdentitySourceName[] = ["link-auth", "provisioned", "derived"];

/** What the link layer's authentication (802.1X via hostapd) means for serving stations. */
export interface LinkLayerPolicy {
  /** Only stations the link layer authorised are served: frames from any other MAC never start a session. */
  readonly requireAuthorised: boolean;
  /** Register a station as soon as it is authorised (draft 3.2.2, last paragraphs), not at its first NS/RS. */
  readonly registerOnAuthorised: boolean;
}

export type CareOfConfig =
  /** Co-located CoA per MN from a pool; plain IPv6-in-IPv4; downlink matched by outer destination. */
  | { readonly mode: "pool"; readonly addresses: readonly number[] }
  /** One CoA for all MNs (draft 3.2.1), GRE with a per-MN key; downlink matched by key. */
  | { readonly mode: "shared"; readonly address: number; readonly firstKey: number; readonly keyCount: number };

export interface RegistrationTiming {
  /** Requested binding lifetime in seconds (RRQ Lifetime field). */
  readonly lifetimeS: number;
  /** First retransmission timeout. RFC 5944 3.6.3: never below 1 s between requests. */
  readonly initialTimeoutMs: number;
  readonly backoffFactor: number;
  readonly maxTimeoutMs: number;
  /** Requests sent for one registration before it is declared failed (first one included). */
  readonly maxTries: number;
  /** Fraction of each timeout added at random (upwards only, so the 1 s floor holds). */
  readonly jitter: number;
  /** Refresh when this fraction of the granted lifetime has passed... */
  readonly refreshFraction: number;
  /** ...minus up to this fraction of the lifetime at random, so a fleet does not refresh in lockstep. */
  readonly refreshJitter: number;
  /** After a failed registration the MN may not trigger again for this long. */
  readonly holdOffMs: number;
  /** Lifetime-0 requests sent before a leaving MN is released regardless. */
  readonly deregistrationTries: number;
  /**
   * Issue 9 item 3: a bound MN's renewal that the HA stopped answering keeps going
   * (past the binding's expiry, until the MN leaves or idles out) instead of giving
   * up. Its retries double up to this ceiling (RFC 5944 3.6.3: doubling, capped);
   * after maxTries unanswered they stay at it, jittered downwards by up to half.
   */
  readonly outageRetryMaxMs: number;
}

export interface HoldCaps {
  readonly framesPerMn: number;
  readonly bytesPerMn: number;
  readonly framesTotal: number;
  readonly bytesTotal: number;
}

export interface EngineConfig {
  readonly codec: MipCodecOptions;
  /** The access interface's own MAC: downlink source before any RA taught the HA's. */
  readonly accessMac: Uint8Array;
  readonly realms: readonly RealmConfig[];
  /** Realm used for NAIs derived from the MAC (`<mac>@<realm>`). */
  readonly derivedRealm: string;
  /** Provisioned identities by MAC (lowercase "aa:bb:cc:dd:ee:ff"). */
  readonly provisioned: ReadonlyMap<string, string>;
  /** The resolver chain in order; absent: DEFAULT_IDENTITY_ORDER. */
  readonly identityOrder?: readonly IdentitySourceName[];
  /** MN-HA key and SPI per NAI (the provisioned key table); absent: every NAI uses its realm's key. */
  readonly naiKeys?: ReadonlyMap<string, MnHaKey>;
  /**
   * Absent: no link-layer authentication; a station-authorised input with an
   * identity registers at once, every station is served.
   */
  readonly linkLayer?: LinkLayerPolicy;
  readonly careOf: CareOfConfig;
  /**
   * What starts a session for an unknown station: its first NS or RS (the draft's
   * SHALL), or any IPv6 frame (the draft's MAY; needed where MNs move between ANs
   * and no link-layer event announces them: Linux sends only MLD after a move).
   */
  readonly triggerOn: "neighbor-discovery" | "any-ipv6";
  /**
   * The fleet may hold a context for any new station (issue 10): a trigger from an
   * unknown station is handed to the app ("unknown-station" with the frame) instead of
   * starting a session; the app imports the record or registers from scratch
   * ("register-station"), then feeds the frame again. A moved MN's first frame is
   * often its NS for the router (Linux flushes its neighbours on carrier loss).
   */
  readonly contextFirst?: boolean;
  readonly registration: RegistrationTiming;
  /** Attach the Revocation Support extension (RFC 3543) to registrations. */
  readonly revocationSupport: boolean;
  readonly maxSessions: number;
  /** Sessions that may start per second (burst the same); 0 disables the limit. */
  readonly sessionStartsPerSecond: number;
  readonly hold: HoldCaps;
  /** Deregister an MN from which nothing was heard for this long; 0 disables (rely on link events). */
  readonly idleTimeoutMs: number;
  /**
   * A revocation within this window after the HA defended an address the MN was
   * probing with DAD is taken as the draft 3.2.4 DAD-failure revocation: detach the MN.
   */
  readonly dadFailureWindowMs: number;
  /** IPv6 source addresses remembered per MN for the handover context. */
  readonly maxLearnedAddresses: number;
  /**
   * Issue 9 item 1: a revoked session lingers this long, delivering what the HA
   * already sent down its tunnel (the defending NA may be read after the
   * revocation); an NA for a probed address then still makes it a DAD failure.
   * 0 disables. At most maxSessions lingering entries (oldest dropped first).
   */
  readonly revocationLingerMs: number;
  /** Issue 9 item 2: after a DAD-failure detach the station may not start a session for this long. */
  readonly dadFailureHoldOffMs: number;
  /**
   * Issue 10 (handover-forward.ts): after a release for a handover naming the new
   * AN's care-of address, what the MN's HA still sends to the old CoA/key goes on to
   * it as 6in4 for this long. 0 or absent: off. At most maxSessions entries.
   */
  readonly releaseForwardMs?: number;
  /** Issue 10: after a handover in, 6in4 from the old AN's CoA (the signed record's) to the MN is taken this long. 0 or absent: off. */
  readonly peerForwardAcceptMs?: number;
  /**
   * Issue 10 (leave-hold.ts): a bound MN the link layer says left keeps its binding
   * this long, its downlink held, waiting for the new AN's release (held frames go
   * there), its return (they go to it) or the HA's revocation once it registered
   * elsewhere; then it deregisters as before. 0 or absent: deregister at once.
   */
  readonly leaveHoldMs?: number;
}

/**
 * Defaults, with the reasoning an operator will ask for:
 * - 1 s initial timeout: RFC 5944 3.6.3 forbids less; it also matches the MN's DAD
 *   RetransTimer (RFC 4861: 1 s), so a lost RRQ costs one DAD period.
 * - factor 2, ceiling 8 s, 5 tries: 1+2+4+8+8 = 23 s of trying, which spans the
 *   Linux RS backoff (4, 8, 16 s) so the MN's next RS finds a settled outcome.
 * - lifetime 600 s, refresh at 75-80%: two retransmission ladders fit before expiry.
 */
export const DEFAULT_REGISTRATION_TIMING: RegistrationTiming = {
  lifetimeS: 600,
  initialTimeoutMs: 1000,
  backoffFactor: 2,
  maxTimeoutMs: 8000,
  maxTries: 5,
  jitter: 0.1,
  refreshFraction: 0.8,
  refreshJitter: 0.05,
  holdOffMs: 30_000,
  deregistrationTries: 2,
  // Issue 9 item 3: retries every 1.5-3 s once the HA has been silent for the first
  // ladder, so service is back within about 3 s of the HA's return; with 1000
  // sessions that is at most ~670 small requests a second at a dead HA.
  outageRetryMaxMs: 3000,
};

export const DEFAULT_HOLD_CAPS: HoldCaps = {
  framesPerMn: 32,
  bytesPerMn: 32 * 1536,
  framesTotal: 8192,
  bytesTotal: 8 * 1024 * 1024,
};
