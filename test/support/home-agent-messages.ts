// What a home agent sends an AN on UDP 434: Registration Replies (RFC 5944 3.4)
// and Registration Revocations (RFC 3543 3.3), encoded with the wire encoders and
// signed with appendMnHaAuth. `auth` picks a correct authenticator or one of the
// ways a forger gets it wrong, so the tests can show the engine tells them apart.
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH } from "../../src/wire/mip-auth.ts";
import type { MnHaKey } from "../../src/wire/mip-auth.ts";
import { ReplyCode } from "../../src/wire/mip-codes.ts";
import { ntpFromUnixMs } from "../../src/wire/mip-identification.ts";
import { encodeRegistrationReply, parseRegistrationRequest, registrationReplyLength } from "../../src/wire/mip-registration.ts";
import { encodeRegistrationRevocation, registrationRevocationLength } from "../../src/wire/mip-revocation.ts";
import type { MipCodecOptions, MipExtension, RegistrationRequest } from "../../src/wire/mip-types.ts";

export type AuthMode =
  /** Correct HMAC-MD5 under the key, last extension. */
  | "valid"
  /** Right SPI, authenticator computed under another secret. */
  | "wrong-key"
  /** Correct under the key, then one authenticator byte flipped. */
  | "corrupt"
  /** Authenticator valid for the SPI given, but the SPI is not the AN's. */
  | "wrong-spi"
  /** No MN-HA authentication extension at all. */
  | "missing"
  /** Valid authentication followed by an unauthenticated extension. */
  | "not-last";

function sign(body: number, encode: (out: Uint8Array) => void, key: MnHaKey, auth: AuthMode): Uint8Array {
  if (auth === "missing") {
    const out = new Uint8Array(body);
    encode(out);
    return out;
  }
  const trailer = auth === "not-last" ? 4 : 0;
  const out = new Uint8Array(body + MN_HA_AUTH_EXTENSION_LENGTH + trailer);
  encode(out);
  const used: MnHaKey =
    auth === "wrong-key"
      ? { spi: key.spi, secret: new TextEncoder().encode("not the MN-HA secret") }
      : auth === "wrong-spi"
        ? { spi: key.spi + 1, secret: key.secret }
        : key;
  appendMnHaAuth(out, 0, body, used);
  if (auth === "corrupt") out[body + 6 + 5]! ^= 0x40;
  if (auth === "not-last") out.set([200, 2, 0xab, 0xcd], body + MN_HA_AUTH_EXTENSION_LENGTH);
  return out;
}

export interface ReplyFields {
  readonly code: number;
  readonly lifetime: number;
  readonly homeAddress?: number;
  readonly homeAgent: number;
  readonly identification: bigint;
  /** MN-NAI extension (RFC 2794: the HA repeats it); omitted when null. */
  readonly nai: string | null;
  /** Draft 4.2: the empty IPv6 Home Address extension confirming v6-over-v4. */
  readonly ipv6Hoa: boolean;
  /** RFC 6245 GRE key the HA wants on uplink packets. */
  readonly greKey?: number;
  readonly revocationSupport?: { readonly timestamp: number };
  readonly key: MnHaKey;
  readonly codec: MipCodecOptions;
  readonly auth?: AuthMode;
}

export function registrationReply(f: ReplyFields): Uint8Array {
  const extensions: MipExtension[] = [];
  if (f.nai !== null) extensions.push({ kind: "mn-nai", nai: f.nai });
  if (f.ipv6Hoa) extensions.push({ kind: "ipv6-hoa", unique: false, hoa: null });
  if (f.revocationSupport) extensions.push({ kind: "revocation-support", iBit: false, timestamp: f.revocationSupport.timestamp });
  if (f.greKey !== undefined) extensions.push({ kind: "gre-key", key: f.greKey });
  const msg = {
    code: f.code,
    lifetime: f.lifetime,
    homeAddress: f.homeAddress ?? 0,
    homeAgent: f.homeAgent,
    identification: f.identification,
    extensions,
  };
  const body = registrationReplyLength(msg, f.codec);
  return sign(body, (out) => encodeRegistrationReply(msg, f.codec, out, 0), f.key, f.auth ?? "valid");
}

export function parseRequestOrThrow(bytes: Uint8Array, codec: MipCodecOptions): RegistrationRequest {
  const p = parseRegistrationRequest(bytes, codec);
  if (!p.ok) throw new Error(`not a Registration Request: ${p.error.detail}`);
  return p.value.message;
}

export interface AnswerOptions {
  readonly code?: number;
  /** Default: the lifetime requested. */
  readonly lifetime?: number;
  /** Default: true when the request carried the IPv6 HoA Request extension. */
  readonly ipv6Hoa?: boolean;
  readonly homeAddress?: number;
  /** Default: the key the request carried, echoed (RFC 6245: an HA that accepts keyed GRE answers with a key); null: none. */
  readonly greKey?: number | null;
  readonly auth?: AuthMode;
  readonly nai?: string | null;
  /** For code 133: the HA's wall clock (ms since 1970) whose seconds go in the high word (RFC 5944 5.7). */
  readonly haWallMs?: number;
  /** Override the identification echoed. */
  readonly identification?: bigint;
  /** RFC 3543: the HA's Revocation Support extension with its timestamp. */
  readonly revocationSupport?: { readonly timestamp: number };
}

/**
 * The reply a home agent gives to `request` (the RRQ bytes the AN sent): the
 * whole identification echoed when accepted or denied for other reasons, only
 * the low 32 bits with the HA's own seconds above them for 133 (RFC 5944 5.7).
 */
function requestedKey(rrq: RegistrationRequest): number | undefined {
  const e = rrq.extensions.find((x) => x.kind === "gre-key");
  return e?.kind === "gre-key" ? e.key : undefined;
}

export function answer(request: Uint8Array, key: MnHaKey, codec: MipCodecOptions, o: AnswerOptions = {}): Uint8Array {
  const rrq = parseRequestOrThrow(request, codec);
  const code = o.code ?? ReplyCode.Accepted;
  const requestedV6 = rrq.extensions.some((e) => e.kind === "ipv6-hoa-request");
  const naiExt = rrq.extensions.find((e) => e.kind === "mn-nai");
  let identification = o.identification ?? rrq.identification;
  if (o.identification === undefined && code === ReplyCode.IdentificationMismatch) {
    const haSeconds = ntpFromUnixMs(o.haWallMs ?? 0) & ~0xffff_ffffn;
    identification = haSeconds | (rrq.identification & 0xffff_ffffn);
  }
  return registrationReply({
    code,
    lifetime: o.lifetime ?? rrq.lifetime,
    homeAddress: o.homeAddress ?? 0,
    homeAgent: rrq.homeAgent,
    identification,
    nai: o.nai !== undefined ? o.nai : naiExt?.kind === "mn-nai" ? naiExt.nai : null,
    ipv6Hoa: o.ipv6Hoa ?? (requestedV6 && (code === ReplyCode.Accepted || code === ReplyCode.AcceptedNoSimultaneousBindings)),
    greKey: o.greKey === null ? undefined : (o.greKey ?? requestedKey(rrq)),
    revocationSupport: o.revocationSupport,
    key,
    codec,
    auth: o.auth,
  });
}

export interface RevocationFields {
  readonly aBit?: boolean;
  readonly iBit?: boolean;
  readonly homeAddress?: number;
  /** The HA's address. */
  readonly homeDomainAddress: number;
  /** The CoA of the binding revoked. */
  readonly foreignDomainAddress: number;
  readonly revocationId: number;
  readonly nai: string | null;
  readonly key: MnHaKey;
  readonly codec: MipCodecOptions;
  readonly auth?: AuthMode;
}

/** RFC 3543 3.3 Registration Revocation from the HA (A bit set by default), with NAI and MN-HA authentication. */
export function registrationRevocation(f: RevocationFields): Uint8Array {
  const msg = {
    aBit: f.aBit ?? true,
    iBit: f.iBit ?? false,
    homeAddress: f.homeAddress ?? 0,
    homeDomainAddress: f.homeDomainAddress,
    foreignDomainAddress: f.foreignDomainAddress,
    revocationId: f.revocationId,
    extensions: f.nai === null ? [] : [{ kind: "mn-nai" as const, nai: f.nai }],
  };
  const body = registrationRevocationLength(msg, f.codec);
  return sign(body, (out) => encodeRegistrationRevocation(msg, f.codec, out, 0), f.key, f.auth ?? "valid");
}
