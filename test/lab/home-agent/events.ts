// What the lab home agent takes in and gives out. The I/O shell (main.ts) turns
// inputs from its sockets into HaInput, carries out HaOutput, and prints every
// HaEvent as one JSON line on stdout ({"event": type, ...fields, "t": ms}).

export type HaInput =
  /** A UDP datagram received on port 434. */
  | { readonly kind: "signalling"; readonly from: number; readonly fromPort: number; readonly bytes: Uint8Array }
  /** A decapsulated tunnel packet: outer source, GRE (and its key, if any), inner IPv6 packet. */
  | { readonly kind: "tunnel-packet"; readonly outerSrc: number; readonly gre: boolean; readonly greKey: number | null; readonly packet: Uint8Array }
  /** An IPv6 packet the HA's kernel routed towards the home link (read from the TUN). */
  | { readonly kind: "from-home-link"; readonly packet: Uint8Array }
  | { readonly kind: "deadline" }
  /** Operator: revoke the binding of this NAI (RFC 3543) and drop it. */
  | { readonly kind: "revoke"; readonly nai: string };

/** The tunnel a packet for an MN goes down: GRE with the AN's key, or plain IPv6-in-IPv4. */
export interface HaTunnel {
  /** Outer destination: the binding's care-of address. */
  readonly careOf: number;
  readonly gre: boolean;
  /** GRE key to put on downlink packets (the one the AN asked for), or null. */
  readonly greKey: number | null;
}

export type HaOutput =
  | { readonly kind: "send-signalling"; readonly from: number; readonly to: number; readonly toPort: number; readonly bytes: Uint8Array }
  | { readonly kind: "to-tunnel"; readonly tunnel: HaTunnel; readonly nai: string; readonly packet: Uint8Array }
  | { readonly kind: "to-home-link"; readonly nai: string; readonly packet: Uint8Array }
  | { readonly kind: "event"; readonly event: HaEvent };

export type RevocationReason = "handover" | "dad-failure" | "operator";

export type HaEvent =
  | {
      readonly type: "registration-accepted";
      readonly nai: string;
      readonly coa: string;
      readonly code: number;
      readonly lifetime: number;
      /** The AN's GRE key (downlink), null for IPv6-in-IPv4. */
      readonly greKey: number | null;
      /** The HA's GRE key for uplink packets (reply extension), null without GRE. */
      readonly uplinkKey: number | null;
      /** The request carried the empty IPv6 HoA Request extension. */
      readonly initial: boolean;
      /** The reply carried the empty IPv6 HoA extension (v6-over-v4 confirmed). */
      readonly v6: boolean;
      /** "new", "renewed", or "moved" (from another care-of address). */
      readonly binding: "new" | "renewed" | "moved";
    }
  | { readonly type: "registration-denied"; readonly nai: string | null; readonly coa: string; readonly code: number; readonly reason: string }
  | { readonly type: "deregistered"; readonly nai: string; readonly coa: string; readonly removed: boolean }
  | { readonly type: "ra-sent"; readonly nai: string; readonly coa: string; readonly solicited: boolean; readonly mtu: number | null }
  | { readonly type: "na-sent"; readonly nai: string; readonly target: string; readonly reason: "solicited" | "dad-defence" }
  | { readonly type: "proxy-dad"; readonly nai: string; readonly address: string; readonly result: "unique" | "duplicate" }
  | { readonly type: "address-learned"; readonly nai: string; readonly address: string }
  | { readonly type: "revocation-sent"; readonly nai: string; readonly coa: string; readonly revocationId: number; readonly reason: RevocationReason; readonly attempt: number }
  | { readonly type: "ack-received"; readonly nai: string; readonly coa: string; readonly revocationId: number }
  | { readonly type: "revocation-unacknowledged"; readonly nai: string; readonly coa: string; readonly attempts: number }
  | { readonly type: "binding-expired"; readonly nai: string; readonly coa: string }
  | {
      readonly type: "tunnel-rx";
      readonly nai: string;
      readonly coa: string;
      readonly greKey: number | null;
      readonly src: string;
      readonly dst: string;
      readonly hopLimit: number;
      readonly length: number;
      /** "to-home-link" (routed), "nd" (answered here), "dropped" */
      readonly fate: "to-home-link" | "nd" | "dropped";
      /** The inner packet (a view: the I/O shell prints it as hex when configured, at once). */
      readonly packet: Uint8Array;
    }
  | { readonly type: "tunnel-tx"; readonly nai: string; readonly coa: string; readonly greKey: number | null; readonly oldCareOf?: true; readonly src: string; readonly dst: string; readonly hopLimit: number; readonly length: number; readonly packet: Uint8Array }
  /** Something was not acted on: unknown tunnel source, bad authenticator, no binding for a destination... */
  | { readonly type: "dropped"; readonly what: string; readonly reason: string; readonly from?: string };
