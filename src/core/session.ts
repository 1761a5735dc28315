// The per-MN record. Kept flat and small: the AN may carry 100,000 of them.
import type { CareOf } from "./care-of.ts";
import type { DeadlineOwner } from "./deadlines.ts";
import type { HeldFrames } from "./hold-buffer.ts";
import type { IdentitySource } from "./identity.ts";
import type { RealmConfig } from "./config.ts";
import type { SessionState } from "./transitions.ts";

export interface Session extends DeadlineOwner {
  readonly mac: string;
  readonly macBytes: Uint8Array;
  readonly nai: string;
  readonly identitySource: IdentitySource;
  realm: RealmConfig;
  readonly careOf: CareOf;
  state: SessionState;

  // Registration in flight (registering, renewing, deregistering).
  /** Identification of the newest request sent; replies must match it (RFC 5944 5.7). */
  lastIdentification: bigint | undefined;
  /** Requests sent for the current registration, retransmissions included. */
  attempts: number;
  /** A 133 was already answered with a resync for this registration. */
  resynced: boolean;
  /** Offset (ms) between the HA's clock and ours, learned from a 133 reply. */
  clockOffsetMs: number;
  /** Whether the request in flight is an initial one (carries the IPv6 HoA Request). */
  initial: boolean;

  // Binding.
  grantedLifetimeS: number;
  /** When the binding at the HA ends (monotonic ms), if bound. */
  expiresAt: number | undefined;
  refreshAt: number | undefined;
  /** The HA's GRE key for uplink (RFC 6245 reply), if it sent one. */
  uplinkKey: number | null;
  /** IPv4 home address the HA assigned in the reply (RFC 2794), 0 if none. */
  homeAddress: number;

  // What the AN learned on the way.
  /** The HA's link-layer address from its RA SLLA option (draft 5.2.2). */
  haLinkLayer: Uint8Array | null;
  /** IPv6 source addresses the MN used (for the handover context). */
  addresses: string[];
  /** Targets of the MN's DAD probes (unspecified-source NS) not yet answered. */
  dadTargets: string[];
  /** When the HA last defended one of those targets with an NA (monotonic ms). */
  dadDefendedAt: number | undefined;
  lastRevocationId: number | undefined;
  lastHeardAt: number;
  holdOffUntil: number | undefined;

  held: HeldFrames;
}

export function newSession(fields: {
  mac: string;
  macBytes: Uint8Array;
  nai: string;
  identitySource: IdentitySource;
  realm: RealmConfig;
  careOf: CareOf;
  now: number;
}): Session {
  return {
    ...fields,
    state: "registering",
    lastIdentification: undefined,
    attempts: 0,
    resynced: false,
    clockOffsetMs: 0,
    initial: true,
    grantedLifetimeS: 0,
    expiresAt: undefined,
    refreshAt: undefined,
    uplinkKey: null,
    homeAddress: 0,
    haLinkLayer: null,
    addresses: [],
    dadTargets: [],
    dadDefendedAt: undefined,
    lastRevocationId: undefined,
    lastHeardAt: fields.now,
    holdOffUntil: undefined,
    held: { frames: [], bytes: 0 },
    deadlineAt: undefined,
    deadlineGeneration: 0,
  };
}
