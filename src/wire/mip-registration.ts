// Registration Request (type 1) and Reply (type 3), RFC 3344/5944 3.3 and 3.4.
// Buffers are the UDP payload: the message starts at byte 0 and its extensions
// run to the end of the datagram.
import type {
  MipCodecOptions,
  ParsedMipMessage,
  RegistrationFlags,
  RegistrationReply,
  RegistrationRequest,
} from "./mip-types.ts";
import { MipMessageType } from "./mip-types.ts";
import { encodeExtensions, extensionsLength } from "./mip-extension.ts";
import { parseMessageFrame } from "./mip-message.ts";
import { checkRoom, checkUint, checkUint64, viewOf } from "./mip-fields.ts";
import { ok } from "./parsed.ts";
import type { Parsed } from "./parsed.ts";

export const REGISTRATION_REQUEST_FIXED_LENGTH = 24;
export const REGISTRATION_REPLY_FIXED_LENGTH = 20;

/** The Type byte of a MIPv4 message, to pick a parser; undefined for an empty payload. */
export function peekMipMessageType(buf: Uint8Array): number | undefined {
  return buf[0];
}

const FLAG_BITS: readonly (readonly [keyof RegistrationFlags, number])[] = [
  ["S", 0x80],
  ["B", 0x40],
  ["D", 0x20],
  ["M", 0x10],
  ["G", 0x08],
  ["r", 0x04],
  ["T", 0x02],
  ["x", 0x01],
];

export function flagsFromByte(b: number): RegistrationFlags {
  return {
    S: (b & 0x80) !== 0,
    B: (b & 0x40) !== 0,
    D: (b & 0x20) !== 0,
    M: (b & 0x10) !== 0,
    G: (b & 0x08) !== 0,
    r: (b & 0x04) !== 0,
    T: (b & 0x02) !== 0,
    x: (b & 0x01) !== 0,
  };
}

export function flagsToByte(f: RegistrationFlags): number {
  let b = 0;
  for (const [name, bit] of FLAG_BITS) if (f[name]) b |= bit;
  return b;
}

export function parseRegistrationRequest(
  buf: Uint8Array,
  opts: MipCodecOptions,
): Parsed<ParsedMipMessage<RegistrationRequest>> {
  const f = parseMessageFrame(buf, MipMessageType.RegistrationRequest, REGISTRATION_REQUEST_FIXED_LENGTH, "Registration Request", opts);
  if (!f.ok) return f;
  const { view, extensions, spans } = f.value;
  const message: RegistrationRequest = {
    flags: flagsFromByte(buf[1] ?? 0),
    lifetime: view.getUint16(2),
    homeAddress: view.getUint32(4),
    homeAgent: view.getUint32(8),
    careOfAddress: view.getUint32(12),
    identification: view.getBigUint64(16),
    extensions,
  };
  return ok({ message, spans }, buf.length);
}

export function registrationRequestLength(msg: RegistrationRequest, opts: MipCodecOptions): number {
  return REGISTRATION_REQUEST_FIXED_LENGTH + extensionsLength(msg.extensions, opts);
}

export function encodeRegistrationRequest(
  msg: RegistrationRequest,
  opts: MipCodecOptions,
  out: Uint8Array,
  offset: number,
): number {
  checkUint(msg.lifetime, 16, "lifetime");
  checkUint(msg.homeAddress, 32, "home address");
  checkUint(msg.homeAgent, 32, "home agent");
  checkUint(msg.careOfAddress, 32, "care-of address");
  checkUint64(msg.identification, "identification");
  const total = registrationRequestLength(msg, opts);
  checkRoom(out, offset, total);
  const view = viewOf(out);
  out[offset] = MipMessageType.RegistrationRequest;
  out[offset + 1] = flagsToByte(msg.flags);
  view.setUint16(offset + 2, msg.lifetime);
  view.setUint32(offset + 4, msg.homeAddress);
  view.setUint32(offset + 8, msg.homeAgent);
  view.setUint32(offset + 12, msg.careOfAddress);
  view.setBigUint64(offset + 16, msg.identification);
  encodeExtensions(msg.extensions, opts, out, offset + REGISTRATION_REQUEST_FIXED_LENGTH);
  return total;
}

export function parseRegistrationReply(
  buf: Uint8Array,
  opts: MipCodecOptions,
): Parsed<ParsedMipMessage<RegistrationReply>> {
  const f = parseMessageFrame(buf, MipMessageType.RegistrationReply, REGISTRATION_REPLY_FIXED_LENGTH, "Registration Reply", opts);
  if (!f.ok) return f;
  const { view, extensions, spans } = f.value;
  const message: RegistrationReply = {
    code: buf[1] ?? 0,
    lifetime: view.getUint16(2),
    homeAddress: view.getUint32(4),
    homeAgent: view.getUint32(8),
    identification: view.getBigUint64(12),
    extensions,
  };
  return ok({ message, spans }, buf.length);
}

export function registrationReplyLength(msg: RegistrationReply, opts: MipCodecOptions): number {
  return REGISTRATION_REPLY_FIXED_LENGTH + extensionsLength(msg.extensions, opts);
}

export function encodeRegistrationReply(
  msg: RegistrationReply,
  opts: MipCodecOptions,
  out: Uint8Array,
  offset: number,
): number {
  checkUint(msg.code, 8, "code");
  checkUint(msg.lifetime, 16, "lifetime");
  checkUint(msg.homeAddress, 32, "home address");
  checkUint(msg.homeAgent, 32, "home agent");
  checkUint64(msg.identification, "identification");
  const total = registrationReplyLength(msg, opts);
  checkRoom(out, offset, total);
  const view = viewOf(out);
  out[offset] = MipMessageType.RegistrationReply;
  out[offset + 1] = msg.code;
  view.setUint16(offset + 2, msg.lifetime);
  view.setUint32(offset + 4, msg.homeAddress);
  view.setUint32(offset + 8, msg.homeAgent);
  view.setBigUint64(offset + 12, msg.identification);
  encodeExtensions(msg.extensions, opts, out, offset + REGISTRATION_REPLY_FIXED_LENGTH);
  return total;
}
