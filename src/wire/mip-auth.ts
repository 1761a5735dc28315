// The MN-HA Authentication extension (RFC 3344/5944 3.5.1, 3.5.2) with the default
// algorithm, HMAC-MD5 (RFC 2104; not RFC 2002's prefix+suffix keyed MD5): the HMAC
// runs over the UDP payload up to and including this extension's SPI.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { MipExtension, ParsedMipMessage } from "./mip-types.ts";
import { MipExtensionType } from "./mip-types.ts";
import { checkRoom, checkUint } from "./mip-fields.ts";

export interface MnHaKey {
  readonly spi: number;
  readonly secret: Uint8Array;
}

export type AuthVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "missing" | "spi-mismatch" | "mismatch" | "not-last" | "duplicate" };

const HMAC_MD5_LENGTH = 16;
/** Type, Length, SPI: the part of the extension the authenticator covers. */
const AUTH_HEADER_LENGTH = 6;
/** Type (1) + Length (1) + SPI (4) + HMAC-MD5 (16). */
export const MN_HA_AUTH_EXTENSION_LENGTH = AUTH_HEADER_LENGTH + HMAC_MD5_LENGTH;

/**
 * RFC 3344/5944 1.6: SPI values 0 through 255 are reserved and must not be
 * used in a Mobility Security Association. Config validation refuses them; the
 * codec itself does not, so a peer's reserved SPI still parses and is reported.
 */
export function isReservedSpi(spi: number): boolean {
  return spi >= 0 && spi <= 255;
}

export function hmacMd5(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("md5", key).update(data).digest());
}

/**
 * Appends the MN-HA Authentication extension at out[messageEnd], authenticating
 * out[messageStart, messageEnd) (the message and all its extensions, already
 * encoded) plus this extension's Type, Length and SPI. Returns bytes written.
 */
export function appendMnHaAuth(out: Uint8Array, messageStart: number, messageEnd: number, key: MnHaKey): number {
  checkUint(key.spi, 32, "SPI");
  if (!Number.isInteger(messageStart) || messageStart < 0 || messageStart > messageEnd) {
    throw new RangeError(`message range [${messageStart}, ${messageEnd}) is empty or reversed`);
  }
  checkRoom(out, messageEnd, MN_HA_AUTH_EXTENSION_LENGTH);
  out[messageEnd] = MipExtensionType.MnHaAuth;
  out[messageEnd + 1] = MN_HA_AUTH_EXTENSION_LENGTH - 2;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(messageEnd + 2, key.spi);
  const mac = hmacMd5(key.secret, out.subarray(messageStart, messageEnd + AUTH_HEADER_LENGTH));
  out.set(mac, messageEnd + AUTH_HEADER_LENGTH);
  return MN_HA_AUTH_EXTENSION_LENGTH;
}

/**
 * Checks a message received from the HA. buf is the UDP payload the parse ran on
 * (message at byte 0, as the spans assume). The AN accepts only a message whose
 * last extension is the MN-HA authentication: anything after it would be
 * unauthenticated data riding on an authenticated message.
 */
export function verifyMnHaAuth(
  buf: Uint8Array,
  parsed: ParsedMipMessage<{ readonly extensions: readonly MipExtension[] }>,
  key: MnHaKey,
): AuthVerdict {
  const exts = parsed.message.extensions;
  let index = -1;
  for (let i = exts.length - 1; i >= 0; i--) {
    const e = exts[i];
    if (e?.kind === "auth" && e.type === MipExtensionType.MnHaAuth) {
      index = i;
      break;
    }
  }
  if (index < 0) return { ok: false, reason: "missing" };
  if (index !== exts.length - 1) return { ok: false, reason: "not-last" };
  // RFC 5944 3.6.2.1 / 3.8.3.1: exactly one MN-HA authentication extension.
  for (let i = 0; i < index; i++) {
    const e = exts[i];
    if (e?.kind === "auth" && e.type === MipExtensionType.MnHaAuth) return { ok: false, reason: "duplicate" };
  }
  const ext = exts[index];
  const span = parsed.spans[index];
  if (ext?.kind !== "auth" || span === undefined) return { ok: false, reason: "missing" };
  if (ext.spi !== key.spi) return { ok: false, reason: "spi-mismatch" };
  const coveredEnd = span.offset + AUTH_HEADER_LENGTH;
  if (ext.authenticator.length !== HMAC_MD5_LENGTH || coveredEnd > buf.length) {
    return { ok: false, reason: "mismatch" };
  }
  const expected = hmacMd5(key.secret, buf.subarray(0, coveredEnd));
  // The received authenticator is read from buf, not from the parsed copy, so a
  // caller that hands a different buffer than it parsed fails closed.
  const received = buf.subarray(coveredEnd, coveredEnd + HMAC_MD5_LENGTH);
  if (received.length !== HMAC_MD5_LENGTH || !timingSafeEqual(expected, received)) {
    return { ok: false, reason: "mismatch" };
  }
  return { ok: true };
}
