// Registration Revocation (type 7) and Revocation Acknowledgment (type 15), RFC 3543
// 3.3 and 3.4. Buffers are the UDP payload. Reserved bits are sent as 0 and ignored
// on receipt (RFC 3543), so they do not survive a parse-encode round trip; the
// authenticator is checked over the received bytes, never over a re-encoding.
import type {
  MipCodecOptions,
  ParsedMipMessage,
  RegistrationRevocation,
  RevocationAcknowledgment,
} from "./mip-types.ts";
import { MipMessageType } from "./mip-types.ts";
import { encodeExtensions, extensionsLength } from "./mip-extension.ts";
import { parseMessageFrame } from "./mip-message.ts";
import { checkRoom, checkUint, viewOf } from "./mip-fields.ts";
import { ok } from "./parsed.ts";
import type { Parsed } from "./parsed.ts";

export const REVOCATION_FIXED_LENGTH = 20;
export const REVOCATION_ACK_FIXED_LENGTH = 12;

/**
 * RFC 3543 3.3: A=1 means the revoking agent serves the binding as a home agent.
 * The AN only honours revocations from its HA; a reflected revocation of its own
 * kind (A=0) is how the 'direction' bit exposes a reflection attack.
 */
export function isFromHomeAgent(msg: RegistrationRevocation): boolean {
  return msg.aBit;
}

export function parseRegistrationRevocation(
  buf: Uint8Array,
  opts: MipCodecOptions,
): Parsed<ParsedMipMessage<RegistrationRevocation>> {
  const f = parseMessageFrame(buf, MipMessageType.RegistrationRevocation, REVOCATION_FIXED_LENGTH, "Registration Revocation", opts);
  if (!f.ok) return f;
  const { view, extensions, spans } = f.value;
  const bits = buf[2] ?? 0;
  const message: RegistrationRevocation = {
    aBit: (bits & 0x80) !== 0,
    iBit: (bits & 0x40) !== 0,
    homeAddress: view.getUint32(4),
    homeDomainAddress: view.getUint32(8),
    foreignDomainAddress: view.getUint32(12),
    revocationId: view.getUint32(16),
    extensions,
  };
  return ok({ message, spans }, buf.length);
}

export function registrationRevocationLength(msg: RegistrationRevocation, opts: MipCodecOptions): number {
  return REVOCATION_FIXED_LENGTH + extensionsLength(msg.extensions, opts);
}

export function encodeRegistrationRevocation(
  msg: RegistrationRevocation,
  opts: MipCodecOptions,
  out: Uint8Array,
  offset: number,
): number {
  checkUint(msg.homeAddress, 32, "home address");
  checkUint(msg.homeDomainAddress, 32, "home domain address");
  checkUint(msg.foreignDomainAddress, 32, "foreign domain address");
  checkUint(msg.revocationId, 32, "revocation identifier");
  const total = registrationRevocationLength(msg, opts);
  checkRoom(out, offset, total);
  const view = viewOf(out);
  out[offset] = MipMessageType.RegistrationRevocation;
  out[offset + 1] = 0;
  out[offset + 2] = (msg.aBit ? 0x80 : 0) | (msg.iBit ? 0x40 : 0);
  out[offset + 3] = 0;
  view.setUint32(offset + 4, msg.homeAddress);
  view.setUint32(offset + 8, msg.homeDomainAddress);
  view.setUint32(offset + 12, msg.foreignDomainAddress);
  view.setUint32(offset + 16, msg.revocationId);
  encodeExtensions(msg.extensions, opts, out, offset + REVOCATION_FIXED_LENGTH);
  return total;
}

export function parseRevocationAcknowledgment(
  buf: Uint8Array,
  opts: MipCodecOptions,
): Parsed<ParsedMipMessage<RevocationAcknowledgment>> {
  const f = parseMessageFrame(buf, MipMessageType.RevocationAcknowledgment, REVOCATION_ACK_FIXED_LENGTH, "Revocation Acknowledgment", opts);
  if (!f.ok) return f;
  const { view, extensions, spans } = f.value;
  const message: RevocationAcknowledgment = {
    iBit: ((buf[2] ?? 0) & 0x80) !== 0,
    homeAddress: view.getUint32(4),
    revocationId: view.getUint32(8),
    extensions,
  };
  return ok({ message, spans }, buf.length);
}

export function revocationAcknowledgmentLength(msg: RevocationAcknowledgment, opts: MipCodecOptions): number {
  return REVOCATION_ACK_FIXED_LENGTH + extensionsLength(msg.extensions, opts);
}

export function encodeRevocationAcknowledgment(
  msg: RevocationAcknowledgment,
  opts: MipCodecOptions,
  out: Uint8Array,
  offset: number,
): number {
  checkUint(msg.homeAddress, 32, "home address");
  checkUint(msg.revocationId, 32, "revocation identifier");
  const total = revocationAcknowledgmentLength(msg, opts);
  checkRoom(out, offset, total);
  const view = viewOf(out);
  out[offset] = MipMessageType.RevocationAcknowledgment;
  out[offset + 1] = 0;
  out[offset + 2] = msg.iBit ? 0x80 : 0;
  out[offset + 3] = 0;
  view.setUint32(offset + 4, msg.homeAddress);
  view.setUint32(offset + 8, msg.revocationId);
  encodeExtensions(msg.extensions, opts, out, offset + REVOCATION_ACK_FIXED_LENGTH);
  return total;
}
