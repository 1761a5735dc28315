// The per-MN record. Kept flat and small: the AN may carry 100,000 of them.
import { macFromKey, macKey } from "../wire/mac.ts";
import type { CareOf } from "./care-of.ts";
import type { TunnelTarget } from "./events.ts";
import { NO_FRAMES } from "./hold-buffer.ts";
import type { HeldFrames } from "./hold-buffer.ts";
import type { IdentitySource } from "./identity.ts";
import type { RealmConfig } from "./config.ts";
import type { TimerOwner } from "./session-timers.ts";
import type { SessionState } from "./transitions.ts";

export interface Session extends TimerOwner {
  readonly mac: string;
  /** The MAC as a 48-bit number (the table's per-frame key). */
  readonly macKey: number;
  /** The MAC's 6 bytes, made on the first read (an idle session need not have them). */
  readonly macBytes: Uint8Array;
  readonly nai: string;
  readonly identitySource: IdentitySource;
  realm: RealmConfig;
  readonly careOf: CareOf;
  state: SessionState;

  // Registration in flight (registering, renewing, deregistering).
  /** Identification of the newest request sent; replies must match it (RFC 5944 5.7). */
  lastIdentification: bigint | undefined;
  /** When the newest request was sent (monotonic ms): RFC 5944 3.6.3 wants 1 s between requests. */
  lastRequestAt: number;
  /** Requests sent for the current registration, retransmissions included. */
  attempts: number;
  /** A 133 was already answered with a resync for this registration. */
  resynced: boolean;
  /** Offset (ms) between the HA's clock and ours, learned from a 133 reply. */
  clockOffsetMs: number;
  /** After an authenticated 133 the rejected identification is no floor for the next one. */
  resyncFloorReset: boolean;
  /** A lifetime-0 request still owed to the HA (it accepted a binding we cannot use). */
  cleanupDue: boolean;
  /** The HA said the binding is gone (deregistration accepted, or it revoked it). */
  haConfirmedRelease: boolean;
  /** The HA's Revocation Support timestamp from its reply: older revocation ids are replays (RFC 3543 3.5). */
  haRevocationFloor: number | undefined;
  /** Whether the request in flight is an initial one (carries the IPv6 HoA Request). */
  initial: boolean;

  // Binding.
  grantedLifetimeS: number;
  /** When the binding at the HA ends (monotonic ms), if bound. */
  expiresAt: number | undefined;
  /** The tunnel the MN's uplink goes to, cached (cleared when the uplink key or realm changes). */
  tunnel: TunnelTarget | undefined;
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
  /** When the MN last sent a DAD probe (monotonic ms; -Infinity: never). */
  lastDadProbeAt: number;
  /** When the HA last defended one of those targets with an NA (monotonic ms). */
  dadDefendedAt: number | undefined;
  lastRevocationId: number | undefined;
  lastHeardAt: number;
  /** A context record exists for it (announced by context-changed, or imported): the state file keeps it. */
  recorded: boolean;

  readonly held: HeldFrames;
  /** Packets from the HA that overtook its accepted reply (allocated only then). */
  heldDownlink: HeldFrames | null;

  // issue 9.
  /** Item 3: a renewal went unanswered past the binding's expiry (noted once; cleared when bound). */
  lapsed: boolean;
  /**
   * Issue 10 (leave-hold.ts): the link layer says the MN left and the binding is kept
   * for the leave window (its "leaveHold" timer): downlink is held, not delivered.
   */
  away: boolean;
  /** Item 1: a revoked session's CoA rests this long while the session lingers. */
  minQuarantineMs: number;
  /** Item 5: the newest identification the HA accepted; a resynced one must exceed it (RFC 3344 5.7). */
  idFloor: bigint | undefined;
}

/** The booleans of a session: one bit each of SessionRecord.flags (bits 0-7). */
const FLAG_BITS = {
  resynced: 1,
  resyncFloorReset: 2,
  cleanupDue: 4,
  haConfirmedRelease: 8,
  initial: 16,
  recorded: 32,
  lapsed: 64,
  away: 128,
} as const;
// Bits 8-10: the state; 11-12: the identity source; 16-31: attempts (signed).
const STATE_SHIFT = 8;
const SOURCE_SHIFT = 11;
const ATTEMPTS_SHIFT = 16;
const STATES: readonly SessionState[] = ["registering", "bound", "renewing", "deregistering", "failed", "no-service"];
const SOURCES: readonly IdentitySource[] = ["link-auth", "provisioned", "derived", "context"];

/**
 * Fields that stay at their defaults in almost every session (a 133 resync, a DAD
 * defence, a revocation, downlink overtaking the reply, a revoked session's
 * quarantine): kept out of the record, 8 B per field per session less.
 */
interface RareFields {
  clockOffsetMs: number;
  dadDefendedAt: number | undefined;
  lastRevocationId: number | undefined;
  heldDownlink: HeldFrames | null;
  minQuarantineMs: number;
}

const RARE_DEFAULTS: Readonly<RareFields> = {
  clockOffsetMs: 0,
  dadDefendedAt: undefined,
  lastRevocationId: undefined,
  heldDownlink: null,
  minQuarantineMs: 0,
};

/**
 * A class rather than an object literal so every session has one hidden class
 * with in-object fields: at 100,000 sessions that is the difference between a
 * compact record and a dictionary per MN (see test/bench/engine.bench.ts).
 *
 * Issue 12 (bytes per idle bound session, measured by the engine-state bench):
 * every field costs 8 B per session and every small object or typed array
 * 40-200 B, so the record keeps its state flat: the booleans, the state, the
 * identity source and the attempts share one number, the MAC's bytes are made
 * from its 48-bit number when first asked for (a 6-byte Uint8Array is about 200 B
 * of wrapper and buffer), the record is its own hold buffer (`held` is the record;
 * an idle session's frame list is the shared empty NO_FRAMES), and rarely set
 * fields live in RareFields.
 */
class SessionRecord implements Session, HeldFrames {
  lastIdentification: bigint | undefined = undefined;
  lastRequestAt = -Infinity;
  /** The booleans, the state, the identity source and the attempts, packed (see the bit layout above). */
  private flags: number;
  haRevocationFloor: number | undefined = undefined;
  grantedLifetimeS = 0;
  expiresAt: number | undefined = undefined;
  uplinkKey: number | null = null;
  tunnel: TunnelTarget | undefined = undefined;
  homeAddress = 0;
  haLinkLayer: Uint8Array | null = null;
  addresses: string[] = [];
  dadTargets: string[] = [];
  lastDadProbeAt = -Infinity;
  lastHeardAt: number;
  frames: Uint8Array[] = NO_FRAMES;
  bytes = 0;
  idFloor: bigint | undefined = undefined;
  deadlineAt: number | undefined = undefined;
  deadlineSlot = -1;
  /** What few sessions ever need (see RareFields), allocated on the first write of one. */
  private rare: RareFields | null = null;
  // Accessors (see the static block): packed in flags, or kept in rare.
  declare resynced: boolean;
  declare resyncFloorReset: boolean;
  declare cleanupDue: boolean;
  declare haConfirmedRelease: boolean;
  declare initial: boolean;
  declare recorded: boolean;
  declare lapsed: boolean;
  declare away: boolean;
  declare clockOffsetMs: number;
  declare dadDefendedAt: number | undefined;
  declare lastRevocationId: number | undefined;
  declare heldDownlink: HeldFrames | null;
  declare minQuarantineMs: number;
  timerRow = -1;
  readonly mac: string;
  readonly macKey: number;
  /** The MAC's bytes once something asked for them (see macBytes). */
  private macBytesMade: Uint8Array | null = null;
  readonly nai: string;
  realm: RealmConfig;
  readonly careOf: CareOf;

  constructor(f: { mac: string; macBytes: Uint8Array; nai: string; identitySource: IdentitySource; realm: RealmConfig; careOf: CareOf; now: number }) {
    this.flags = FLAG_BITS.initial | (SOURCES.indexOf(f.identitySource) << SOURCE_SHIFT); // state 0: registering
    this.mac = f.mac;
    this.macKey = macKey(f.macBytes);
    this.nai = f.nai;
    this.realm = f.realm;
    this.careOf = f.careOf;
    this.lastHeardAt = f.now;
  }

  /**
   * Made from the 48-bit number on the first read (the downlink path reads it per
   * packet: a new 6-byte Uint8Array costs some 300 ns) and kept from then on.
   */
  get macBytes(): Uint8Array {
    return (this.macBytesMade ??= macFromKey(this.macKey));
  }

  get held(): HeldFrames {
    return this;
  }

  get state(): SessionState {
    return STATES[(this.flags >>> STATE_SHIFT) & 7]!;
  }
  set state(v: SessionState) {
    this.flags = (this.flags & ~(7 << STATE_SHIFT)) | (STATES.indexOf(v) << STATE_SHIFT);
  }
  get identitySource(): IdentitySource {
    return SOURCES[(this.flags >>> SOURCE_SHIFT) & 3]!;
  }
  get attempts(): number {
    return this.flags >> ATTEMPTS_SHIFT;
  }
  set attempts(v: number) {
    this.flags = (this.flags & 0xffff) | (v << ATTEMPTS_SHIFT);
  }

  // The booleans and the rare fields, as accessors on the prototype (no per-session cost).
  static {
    for (const [name, bit] of Object.entries(FLAG_BITS)) {
      Object.defineProperty(SessionRecord.prototype, name, {
        get(this: SessionRecord): boolean {
          return (this.flags & bit) !== 0;
        },
        set(this: SessionRecord, on: boolean) {
          this.flags = on ? this.flags | bit : this.flags & ~bit;
        },
      });
    }
    for (const name of Object.keys(RARE_DEFAULTS) as (keyof RareFields)[]) {
      const initial = RARE_DEFAULTS[name];
      Object.defineProperty(SessionRecord.prototype, name, {
        get(this: SessionRecord): unknown {
          return this.rare ? this.rare[name] : initial;
        },
        set(this: SessionRecord, v: unknown) {
          if (!this.rare && v === initial) return;
          const rare = (this.rare ??= { ...RARE_DEFAULTS }) as unknown as Record<keyof RareFields, unknown>;
          rare[name] = v;
        },
      });
    }
  }
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
  return new SessionRecord(fields);
}
