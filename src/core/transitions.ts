// The per-MN state machine, as two pure tables: `classifyReply` turns an
// authenticated, matching Registration Reply into a SessionInput (or says why it
// is not one), and TRANSITIONS gives the next state for an input. The engine
// looks up the next state here, and only then acts; an input the table does not
// list for the current state is ignored. Timers produce their inputs by name
// (session-timers.ts). Reading this file tells the whole life of a session.
//
//   (trigger) -> registering --accepted-v6--> bound --refresh-due--> renewing
//                    |  \--accepted-no-v6--> no-service      ^            |
//                    |   \--denied/give-up--> failed          \--accepted-/
//   left/idle: registering|bound|renewing -> deregistering -> (released)
//   revoked, expired, handed-over: -> (released)
//
// Issue 10: in a fleet, a bound or renewing session whose station left the link is
// first `away` for the leave window (leave-hold.ts): a flag, not a state, since its
// binding and timers go on as in bound/renewing and only where its downlink goes
// changes (held), and when a renewal may leave (after the window); its "left"
// input comes when the window ends with no release.
import { ReplyCode } from "../wire/mip-codes.ts";

export type SessionState = "registering" | "bound" | "renewing" | "deregistering" | "failed" | "no-service";

export type SessionInput =
  | "accepted-v6" // accepted reply carrying the IPv6 Home Address extension
  | "accepted-no-v6" // accepted reply without it: the HA does not do v6-over-v4 (draft 5.2.1)
  | "id-mismatch" // reply code 133: resynchronise identification and resend (once)
  | "denied" // any other denial code (or a second 133)
  | "timeout-retry" // retransmission timer, tries left
  | "timeout-give-up" // retransmission timer, no tries left
  | "refresh-due"
  | "expired" // the granted lifetime ran out without a refresh
  | "revoked" // verified RFC 3543 revocation
  | "left" // link layer says the MN is gone, or it was idle too long
  | "handed-over" // context exported to a new AN: let go without deregistering
  | "hold-off-over"
  | "shutdown";

/** The next state, or "released" when the session ends and is removed. */
export type Next = SessionState | "released";

export const TRANSITIONS: Readonly<Record<SessionState, Partial<Record<SessionInput, Next>>>> = {
  registering: {
    "accepted-v6": "bound",
    "accepted-no-v6": "no-service",
    "id-mismatch": "registering",
    denied: "failed",
    "timeout-retry": "registering",
    "timeout-give-up": "failed",
    revoked: "released",
    // The HA may already hold a binding from a request whose reply was lost.
    left: "deregistering",
    "handed-over": "released",
    shutdown: "deregistering",
  },
  bound: {
    "refresh-due": "renewing",
    expired: "released",
    revoked: "released",
    left: "deregistering",
    "handed-over": "released",
    shutdown: "deregistering",
  },
  renewing: {
    "accepted-v6": "bound",
    "accepted-no-v6": "bound",
    "id-mismatch": "renewing",
    denied: "released",
    "timeout-retry": "renewing",
    expired: "released",
    revoked: "released",
    left: "deregistering",
    "handed-over": "released",
    shutdown: "deregistering",
  },
  deregistering: {
    "accepted-v6": "released",
    "accepted-no-v6": "released",
    "id-mismatch": "deregistering",
    denied: "released",
    "timeout-retry": "deregistering",
    "timeout-give-up": "released",
    revoked: "released",
    // No "left": already going; resending at once would break the 1 s minimum
    // between requests (RFC 5944 3.6.3) when the link reports a leave twice.
    "handed-over": "released",
    shutdown: "released",
  },
  failed: {
    "hold-off-over": "released",
    left: "released",
    "handed-over": "released",
    shutdown: "released",
  },
  "no-service": {
    "hold-off-over": "released",
    left: "released",
    "handed-over": "released",
    shutdown: "released",
  },
};

export function nextState(state: SessionState, input: SessionInput): Next | undefined {
  return TRANSITIONS[state][input];
}

/** States in which the MN's frames are bridged into its tunnel. */
export function isForwarding(state: SessionState): boolean {
  return state === "bound" || state === "renewing";
}

/** What `classifyReply` needs to know about the session a reply answers. */
export interface RegistrationFacts {
  readonly state: SessionState;
  /** A cleanup deregistration is still owed (not yet sent). */
  readonly cleanupDue: boolean;
  /** A 133 was acted on; its resend waits for the 1 s floor. */
  readonly resyncFloorReset: boolean;
  /** Requests sent for the current registration (0: the lifetime-0 request is still waiting). */
  readonly attempts: number;
  /** A 133 was already answered with a resync for this registration. */
  readonly resynced: boolean;
  /** Shared-CoA mode: the request carried our GRE key. */
  readonly sharedCoa: boolean;
}

/** What `classifyReply` needs to know about the reply. */
export interface ReplyFacts {
  readonly accepted: boolean;
  readonly code: number;
  /** The lifetime the HA granted (s); 0 on an accepted reply means no binding. */
  readonly lifetimeS: number;
  /** Carries the IPv6 Home Address extension (draft 4.2). */
  readonly ipv6HomeAddress: boolean;
  /** Carries the HA's GRE Key extension (RFC 6245). */
  readonly greKey: boolean;
}

export type ReplyVerdict =
  /** Accepted: bound, refreshed, or (deregistering) gone. */
  | { readonly input: "accepted-v6" | "accepted-no-v6"; readonly why: "accepted" }
  /** Accepted, but not a service we can give: the HA's binding must be taken down again. */
  | { readonly input: "accepted-no-v6"; readonly why: "ha-lacks-v6-over-v4" | "ha-refused-gre-key" }
  /** Accepted with lifetime 0 outside a deregistration: no binding, a denial. */
  | { readonly input: "denied"; readonly why: "zero-lifetime" }
  | { readonly input: "id-mismatch"; readonly why: "resync" }
  | { readonly input: "denied"; readonly why: "denied" }
  /** The HA accepted our cleanup deregistration: its binding is gone, the CoA is free. */
  | { readonly input: null; readonly why: "cleanup-accepted" }
  /** Not for a request in flight. */
  | { readonly input: null; readonly why: "not-awaiting" }
  /** A copy of the 133 already acted on (its resend waits for the 1 s floor). */
  | { readonly input: null; readonly why: "resend-pending" }
  /**
   * The reply to the registration before the MN left: the lifetime-0 request
   * waiting for its 1 s slot must still go out, or the HA keeps the binding.
   */
  | { readonly input: null; readonly why: "superseded" };

/** The second table: which input an authenticated reply that matches the newest request is. */
export function classifyReply(s: RegistrationFacts, r: ReplyFacts): ReplyVerdict {
  if (s.state !== "registering" && s.state !== "renewing" && s.state !== "deregistering") {
    const cleanedUp = !s.cleanupDue && (s.state === "failed" || s.state === "no-service") && r.accepted && r.lifetimeS === 0;
    return cleanedUp ? { input: null, why: "cleanup-accepted" } : { input: null, why: "not-awaiting" };
  }
  if (s.resyncFloorReset) return { input: null, why: "resend-pending" };
  if (s.state === "deregistering" && s.attempts === 0) return { input: null, why: "superseded" };
  if (r.accepted) {
    if (s.state === "registering" && !r.ipv6HomeAddress) return { input: "accepted-no-v6", why: "ha-lacks-v6-over-v4" };
    // Shared CoA: without the HA's GRE Key extension it did not agree to keyed GRE
    // (RFC 6245) and downlink, matched by key, could never reach the MN.
    if (s.state === "registering" && s.sharedCoa && !r.greKey) return { input: "accepted-no-v6", why: "ha-refused-gre-key" };
    if (r.lifetimeS === 0 && s.state !== "deregistering") return { input: "denied", why: "zero-lifetime" };
    return { input: r.ipv6HomeAddress ? "accepted-v6" : "accepted-no-v6", why: "accepted" };
  }
  if (r.code === ReplyCode.IdentificationMismatch && !s.resynced) return { input: "id-mismatch", why: "resync" };
  return { input: "denied", why: "denied" };
}
