// The per-MN state machine, as one table. The engine classifies what happened
// into a SessionInput, looks up the next state here, and only then acts; an input
// the table does not list for the current state is counted and ignored. Reading
// this file tells the whole life of a session.
//
//   (trigger) -> registering --accepted-v6--> bound --refresh-due--> renewing
//                    |  \--accepted-no-v6--> no-service      ^            |
//                    |   \--denied/give-up--> failed          \--accepted-/
//   left/idle: registering|bound|renewing -> deregistering -> (released)
//   revoked, expired, handed-over: -> (released)

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
