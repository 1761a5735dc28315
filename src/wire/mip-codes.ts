// Registration Reply codes (RFC 3344/5944 3.4, RFC 2794 5, RFC 4064 2, RFC 5563
// 12.2). Codes not listed are still valid on the wire (IANA keeps adding them):
// they parse as numbers and are named "unknown-<n>".

/**
 * HA codes go unprefixed: the AN registers directly with the HA (co-located CoA),
 * so those are the ones it meets; FA codes carry an Fa prefix.
 */
export const ReplyCode = {
  Accepted: 0,
  AcceptedNoSimultaneousBindings: 1,

  // Denied by the foreign agent (64-127).
  FaReasonUnspecified: 64,
  FaAdministrativelyProhibited: 65,
  FaInsufficientResources: 66,
  FaMobileNodeFailedAuthentication: 67,
  FaHomeAgentFailedAuthentication: 68,
  FaLifetimeTooLong: 69,
  FaPoorlyFormedRequest: 70,
  FaPoorlyFormedReply: 71,
  FaEncapsulationUnavailable: 72,
  FaReservedAndUnavailable: 73,
  FaInvalidCareOfAddress: 77,
  FaRegistrationTimeout: 78,
  FaHomeNetworkUnreachable: 80,
  FaHomeAgentHostUnreachable: 81,
  FaHomeAgentPortUnreachable: 82,
  FaHomeAgentUnreachable: 88,
  /** RFC 2794 5. */
  FaNonzeroHomeAddressRequired: 96,
  FaMissingNai: 97,
  FaMissingHomeAgent: 98,
  FaMissingHomeAddress: 99,
  /** RFC 4064 EXP-FA-ERROR-CODE. */
  FaExperimental: 127,

  // Denied by the home agent (128-192).
  ReasonUnspecified: 128,
  AdministrativelyProhibited: 129,
  InsufficientResources: 130,
  MobileNodeFailedAuthentication: 131,
  ForeignAgentFailedAuthentication: 132,
  IdentificationMismatch: 133,
  PoorlyFormedRequest: 134,
  TooManyBindings: 135,
  UnknownHomeAgentAddress: 136,
  /** RFC 5563 12.2 (proxy registrations). */
  PmipUnsupported: 149,
  PmipDisallowed: 150,
  /** RFC 4064 EXP-HA-ERROR-CODE. */
  Experimental: 192,

  /** RFC 5944 3.4: sent by a foreign agent although it sits in the GFA range. */
  FaInvalidHomeAgentAddress: 194,
} as const;

export type ReplyCodeName = keyof typeof ReplyCode;

const NAMES: ReadonlyMap<number, string> = new Map([
  [0, "accepted"],
  [1, "accepted-no-simultaneous-bindings"],
  [64, "fa-reason-unspecified"],
  [65, "fa-administratively-prohibited"],
  [66, "fa-insufficient-resources"],
  [67, "fa-mobile-node-failed-authentication"],
  [68, "fa-home-agent-failed-authentication"],
  [69, "fa-lifetime-too-long"],
  [70, "fa-poorly-formed-request"],
  [71, "fa-poorly-formed-reply"],
  [72, "fa-encapsulation-unavailable"],
  [73, "fa-reserved-and-unavailable"],
  [77, "fa-invalid-care-of-address"],
  [78, "fa-registration-timeout"],
  [80, "fa-home-network-unreachable"],
  [81, "fa-home-agent-host-unreachable"],
  [82, "fa-home-agent-port-unreachable"],
  [88, "fa-home-agent-unreachable"],
  [96, "fa-nonzero-home-address-required"],
  [97, "fa-missing-nai"],
  [98, "fa-missing-home-agent"],
  [99, "fa-missing-home-address"],
  [127, "fa-experimental"],
  [128, "ha-reason-unspecified"],
  [129, "ha-administratively-prohibited"],
  [130, "ha-insufficient-resources"],
  [131, "ha-mobile-node-failed-authentication"],
  [132, "ha-foreign-agent-failed-authentication"],
  [133, "ha-identification-mismatch"],
  [134, "ha-poorly-formed-request"],
  [135, "ha-too-many-bindings"],
  [136, "ha-unknown-home-agent-address"],
  [149, "ha-pmip-unsupported"],
  [150, "ha-pmip-disallowed"],
  [192, "ha-experimental"],
  [194, "fa-invalid-home-agent-address"],
]);

/** Stable kebab-case name for logs, events and counters. */
export function replyCodeName(code: number): string {
  return NAMES.get(code) ?? `unknown-${code}`;
}

/** RFC 3344 3.4: 0 and 1 accept. 2-8 are reserved for success codes, none assigned yet. */
export function isRegistrationAccepted(code: number): boolean {
  return code === ReplyCode.Accepted || code === ReplyCode.AcceptedNoSimultaneousBindings;
}

/** Who refused, by the RFC 5944 6.4 allocation ranges (logs and counters). */
export function replyCodeSource(code: number): "accepted" | "foreign-agent" | "home-agent" | "gateway-fa" | "other" {
  if (code <= 8) return isRegistrationAccepted(code) ? "accepted" : "other";
  if (code >= 64 && code <= 127) return "foreign-agent";
  if (code >= 128 && code <= 192) return "home-agent";
  if (code === ReplyCode.FaInvalidHomeAgentAddress) return "foreign-agent";
  if (code >= 193 && code <= 200) return "gateway-fa";
  return "other";
}
