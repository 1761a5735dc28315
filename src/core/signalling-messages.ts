// Building the signalling the AN sends on behalf of an MN: the Registration
// Request of draft 3.2.2 step 4 and the Revocation Acknowledgment of RFC 3543.
// Extension order: MN-NAI, IPv6 HoA Request (initial only, draft 4.1/4.3),
// Revocation Support, GRE Key, and MN-HA authentication last (RFC 5944 3.6.1.3).
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH } from "../wire/mip-auth.ts";
import type { MnHaKey } from "../wire/mip-auth.ts";
import { encodeRegistrationRequest, registrationRequestLength } from "../wire/mip-registration.ts";
import { encodeRevocationAcknowledgment, revocationAcknowledgmentLength } from "../wire/mip-revocation.ts";
import type {
  MipCodecOptions,
  MipExtension,
  RegistrationRequest,
  RevocationAcknowledgment,
} from "../wire/mip-types.ts";

export interface RequestParameters {
  readonly nai: string;
  readonly homeAgent: number;
  readonly careOf: number;
  /** Our GRE key for downlink (shared-CoA mode), or null for plain IPv6-in-IPv4. */
  readonly greKey: number | null;
  readonly lifetimeS: number;
  readonly identification: bigint;
  /** Initial registrations carry the empty IPv6 HoA Request extension; renewals do not. */
  readonly initial: boolean;
  readonly revocationSupport: boolean;
  /** Our 32-bit timestamp for the Revocation Support extension (RFC 3543 3.2). */
  readonly revocationTimestamp: number;
  /** RFC 5944 3.6.1.2: the IPv4 home address when known (the HA assigned one, RFC 2794); 0 otherwise. */
  readonly homeAddress?: number;
}

export function registrationRequest(p: RequestParameters): RegistrationRequest {
  const extensions: MipExtension[] = [{ kind: "mn-nai", nai: p.nai }];
  if (p.initial) extensions.push({ kind: "ipv6-hoa-request", iid: null });
  if (p.revocationSupport) extensions.push({ kind: "revocation-support", iBit: false, timestamp: p.revocationTimestamp });
  if (p.greKey !== null) extensions.push({ kind: "gre-key", key: p.greKey });
  return {
    flags: { S: false, B: false, D: true, M: false, G: p.greKey !== null, r: false, T: false, x: false },
    lifetime: p.lifetimeS,
    homeAddress: p.homeAddress ?? 0,
    homeAgent: p.homeAgent,
    careOfAddress: p.careOf,
    identification: p.identification,
    extensions,
  };
}

/** Encodes and authenticates: the result always ends in a valid MN-HA authentication extension. */
export function signedRegistrationRequest(msg: RegistrationRequest, codec: MipCodecOptions, key: MnHaKey): Uint8Array {
  const body = registrationRequestLength(msg, codec);
  const out = new Uint8Array(body + MN_HA_AUTH_EXTENSION_LENGTH);
  const n = encodeRegistrationRequest(msg, codec, out, 0);
  appendMnHaAuth(out, 0, n, key);
  return out;
}

export function signedRevocationAcknowledgment(
  msg: RevocationAcknowledgment,
  codec: MipCodecOptions,
  key: MnHaKey,
): Uint8Array {
  const body = revocationAcknowledgmentLength(msg, codec);
  const out = new Uint8Array(body + MN_HA_AUTH_EXTENSION_LENGTH);
  const n = encodeRevocationAcknowledgment(msg, codec, out, 0);
  appendMnHaAuth(out, 0, n, key);
  return out;
}
