// What the engine tells the world: actions for io to carry out, and events for
// logs, telemetry and the fleet. Byte arrays in actions may be views into the
// buffer of the call that produced them: carry actions out before the next call.

export type Trigger = "neighbor-solicitation" | "router-solicitation" | "ipv6-frame" | "station-authorised" | "context-import";

export type ReleaseReason =
  | "deregistered"
  | "left"
  | "expired"
  | "revoked"
  | "denied"
  | "handed-over"
  | "hold-off-over"
  | "shutdown"
  | "reconfigured"
  /** A resumed session (restart) whose MN another AN bound meanwhile: dropped before its refresh. */
  | "superseded";

export type RefusalReason = "session-cap" | "coa-exhausted" | "no-realm" | "nai-in-use" | "nai-too-long" | "start-rate" | "no-identity" | "no-key" | "entry-hold-off" | "revocation-linger";

export type AnEvent =
  | { readonly type: "session-started"; readonly mac: string; readonly nai: string; readonly identitySource: string; readonly trigger: Trigger; readonly careOf: string; readonly greKey: number | null }
  | { readonly type: "refused"; readonly mac: string; readonly reason: RefusalReason; readonly detail?: string }
  | { readonly type: "registration-sent"; readonly mac: string; readonly attempt: number; readonly lifetime: number; readonly initial: boolean; readonly identification: string; readonly cleanup?: true }
  | { readonly type: "registered"; readonly mac: string; readonly nai: string; readonly homeAgent: string; readonly careOf: string; readonly lifetime: number; readonly greKey: number | null; readonly heldFramesReleased: number }
  | { readonly type: "refreshed"; readonly mac: string; readonly lifetime: number }
  | { readonly type: "no-service"; readonly mac: string; readonly nai: string; readonly reason: "ha-lacks-v6-over-v4" | "ha-refused-gre-key" }
  | { readonly type: "registration-denied"; readonly mac: string; readonly code: number; readonly codeName: string }
  | { readonly type: "registration-timeout"; readonly mac: string; readonly attempts: number }
  | { readonly type: "identification-resync"; readonly mac: string; readonly offsetMs: number }
  | { readonly type: "revoked"; readonly mac: string; readonly revocationId: number; readonly dadFailure: boolean }
  | { readonly type: "detach"; readonly mac: string; readonly reason: "dad-failure" }
  /**
   * Issue 9 item 1: the revocation is a DAD failure (draft 3.2.4), in whichever
   * order its two halves were read: "na-first" (the defending NA, then the
   * revocation) or "revocation-first" (the NA reached a revoked, lingering session).
   */
  | { readonly type: "dad-failure"; readonly mac: string; readonly revocationId: number; readonly order: "na-first" | "revocation-first" }
  /** Issue 9 item 2: no session starts for this station until the hold-off ends. */
  | { readonly type: "entry-held-off"; readonly mac: string; readonly holdOffS: number; readonly reason: "dad-failure" }
  /** Issue 9 item 3: a renewal went unanswered past the binding's lifetime; it keeps retrying. */
  | { readonly type: "binding-lapsed"; readonly mac: string; readonly attempts: number }
  /** Issue 9 item 4: the link layer (or the idle timer) says the station left; deregistration follows. */
  /** Issue 10: holdMs: a fleet AN keeps the binding this long, holding the downlink (leave-hold.ts); absent: deregistering now. */
  | { readonly type: "station-left"; readonly mac: string; readonly cause: "link" | "idle"; readonly holdMs?: number }
  /**
   * Issue 10: a leave hold is over, and what became of the `frames` held: "forwarded" to
   * the new AN (a release), "returned" (delivered: the MN came back), "expired" (the
   * window ran out: dropped, and the session deregisters), "ended" (the session ended
   * otherwise: dropped). revoked: the HA revoked the binding during the window.
   */
  | { readonly type: "leave-hold-ended"; readonly mac: string; readonly outcome: "forwarded" | "returned" | "expired" | "ended"; readonly frames: number; readonly revoked?: true }
  | { readonly type: "released"; readonly mac: string; readonly reason: ReleaseReason }
  /** After a restart: the fleet record says another AN (`by`) bound this MN since our state was saved; not resumed. */
  | { readonly type: "resume-superseded"; readonly mac: string; readonly by: string }
  /** Issue 10: the released (or revoked) MN's downlink goes on to the new AN for windowMs. */
  | { readonly type: "forwarding-to-peer"; readonly mac: string; readonly target: string; readonly windowMs: number }
  | { readonly type: "hold-dropped"; readonly mac: string; readonly reason: string }
  /** Signalling that failed authentication or did not match: never acted on. */
  | { readonly type: "forged"; readonly what: "reply" | "revocation" | "tunnel-packet"; readonly from: string; readonly reason: string }
  | { readonly type: "malformed"; readonly what: string; readonly from: string; readonly error: string };

export interface TunnelTarget {
  /** Outer source: the MN's care-of address. */
  readonly careOf: number;
  /** Outer destination: the MN's home agent. */
  readonly homeAgent: number;
  /** GRE key for uplink packets (the HA's, or ours when the HA sent none); null = plain IPv6-in-IPv4. */
  readonly greKey: number | null;
}

export type Action =
  /** A Mobile IPv4 message (UDP payload) to send from `from` to `to`:434. */
  | { readonly kind: "send-signalling"; readonly from: number; readonly to: number; readonly toPort: number; readonly bytes: Uint8Array }
  /** An IPv6 packet (no L2 header) to carry to the HA inside the MN's tunnel. */
  | { readonly kind: "to-tunnel"; readonly mac: string; readonly tunnel: TunnelTarget; readonly packet: Uint8Array }
  /** Issue 10: a released MN's downlink packet, unchanged, as 6in4 to the new AN (tunnel.homeAgent is the new AN's CoA; no PTB to anyone). */
  | { readonly kind: "to-peer"; readonly tunnel: TunnelTarget; readonly packet: Uint8Array }
  /** An IPv6 packet to deliver to the MN with this Ethernet header. */
  | { readonly kind: "to-mn"; readonly dst: Uint8Array; readonly src: Uint8Array; readonly packet: Uint8Array }
  /** The datapath may now bridge this MN straight into its tunnel (and match downlink by CoA/key). */
  | { readonly kind: "bind"; readonly mac: string; readonly macBytes: Uint8Array; readonly tunnel: TunnelTarget; readonly downlinkKey: number | null }
  /** The datapath must stop bridging this MN. */
  | { readonly kind: "unbind"; readonly mac: string }
  /** The link layer must disconnect the station (draft 3.2.4). */
  | { readonly kind: "detach"; readonly mac: string }
  /** A context record changed (new binding, learned link-layer address): persist / publish it for handover and restart. */
  | { readonly kind: "context-changed"; readonly mac: string }
  /** A non-trigger frame from a station with no session (e.g. an MN that moved here): the app may fetch its context (handover). */
  | { readonly kind: "unknown-station"; readonly mac: string; readonly frame: Uint8Array; readonly trigger: boolean }
  | { readonly kind: "event"; readonly event: AnEvent };
