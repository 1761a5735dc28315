// IPv6 Neighbor Discovery messages and options (RFC 4861 section 4; the Nonce
// option is RFC 3971 5.3.2 as used by RFC 7527). Parses take the ICMPv6 message
// (the IPv6 payload); the checksum needs the IPv6 source and destination.
//
// Reserved fields the RFC says to ignore are encoded as zero, except the RA and
// Prefix Information flag bytes, whose "reserved" bits have since been assigned
// (H, Prf, P, R, ...): those are kept so a forwarded RA can be re-encoded intact.

import { ethernetPayloadOffset, ETHERTYPE_IPV6 } from "./ethernet.ts";
import { verifyIcmpv6Checksum, writeIcmpv6Checksum } from "./icmpv6.ts";
import { IPPROTO_ICMPV6 } from "./ipv4.ts";
import { IPV6_HEADER_LENGTH, parseIpv6Header, type Ipv6Header } from "./ipv6.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const ND_ROUTER_SOLICITATION = 133;
export const ND_ROUTER_ADVERTISEMENT = 134;
export const ND_NEIGHBOR_SOLICITATION = 135;
export const ND_NEIGHBOR_ADVERTISEMENT = 136;
export const ND_REDIRECT = 137;

export const ND_OPT_SOURCE_LINK_LAYER_ADDRESS = 1;
export const ND_OPT_TARGET_LINK_LAYER_ADDRESS = 2;
export const ND_OPT_PREFIX_INFORMATION = 3;
export const ND_OPT_REDIRECTED_HEADER = 4;
export const ND_OPT_MTU = 5;
export const ND_OPT_NONCE = 14;

/** RFC 4861 6.1.1/7.1.1: ND messages are sent with hop limit 255, so one that arrives with less came from off-link. */
export const ND_HOP_LIMIT = 255;

export type NdOption =
  /** The option body, padding included: 6 bytes on Ethernet (length 1). */
  | { readonly kind: "slla"; readonly address: Uint8Array }
  | { readonly kind: "tlla"; readonly address: Uint8Array }
  | {
      readonly kind: "prefix-info";
      readonly prefixLength: number;
      /** L */
      readonly onLink: boolean;
      /** A */
      readonly autonomous: boolean;
      /** The other 6 bits of the flags byte (Reserved1 in RFC 4861), kept as read. */
      readonly reservedFlags: number;
      readonly validLifetime: number;
      readonly preferredLifetime: number;
      readonly prefix: Uint8Array;
    }
  | { readonly kind: "mtu"; readonly mtu: number }
  /** RFC 3971 5.3.2: at least 6 bytes, so that the option is a multiple of 8. */
  | { readonly kind: "nonce"; readonly nonce: Uint8Array }
  /** Any other type, body kept (after Type and Length) for an exact re-encode. */
  | { readonly kind: "unknown"; readonly type: number; readonly body: Uint8Array };

export type NdMessage =
  | { readonly kind: "rs"; readonly options: readonly NdOption[] }
  | {
      readonly kind: "ra";
      readonly curHopLimit: number;
      /** M */
      readonly managed: boolean;
      /** O */
      readonly other: boolean;
      /** The low 6 bits of the flags byte (H, Prf, P, ... since RFC 4861), kept as read. */
      readonly reservedFlags: number;
      readonly routerLifetime: number;
      readonly reachableTime: number;
      readonly retransTimer: number;
      readonly options: readonly NdOption[];
    }
  | { readonly kind: "ns"; readonly target: Uint8Array; readonly options: readonly NdOption[] }
  | {
      readonly kind: "na";
      readonly router: boolean;
      readonly solicited: boolean;
      readonly override: boolean;
      readonly target: Uint8Array;
      readonly options: readonly NdOption[];
    };

/** Bytes before the options for each ND type, 0 for a type that is not ND. */
export function ndFixedLength(type: number): number {
  switch (type) {
    case ND_ROUTER_SOLICITATION:
      return 8;
    case ND_ROUTER_ADVERTISEMENT:
      return 16;
    case ND_NEIGHBOR_SOLICITATION:
    case ND_NEIGHBOR_ADVERTISEMENT:
      return 24;
    case ND_REDIRECT:
      return 40;
    default:
      return 0;
  }
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}

function put32(out: Uint8Array, p: number, v: number): void {
  out[p] = v >>> 24;
  out[p + 1] = v >>> 16;
  out[p + 2] = v >>> 8;
  out[p + 3] = v;
}

/** Parses the option list filling buf[start, end). */
export function parseNdOptions(buf: Uint8Array, start: number, end: number): Parsed<NdOption[]> {
  if (end > buf.length) end = buf.length;
  const options: NdOption[] = [];
  let p = start;
  while (p < end) {
    if (end - p < 2) return fail("truncated", p, "ND option header needs 2 bytes");
    const type = buf[p]!;
    const units = buf[p + 1]!;
    if (units === 0) return fail("zero-length-option", p + 1, `ND option type ${type} has length 0`);
    const len = units * 8;
    if (len > end - p) return fail("truncated", p + 1, `ND option type ${type} needs ${len} bytes, ${end - p} left`);
    const body = buf.subarray(p + 2, p + len);
    switch (type) {
      case ND_OPT_SOURCE_LINK_LAYER_ADDRESS:
        options.push({ kind: "slla", address: body });
        break;
      case ND_OPT_TARGET_LINK_LAYER_ADDRESS:
        options.push({ kind: "tlla", address: body });
        break;
      case ND_OPT_PREFIX_INFORMATION:
        if (units !== 4) return fail("bad-length", p + 1, `Prefix Information length ${units}, expected 4`);
        options.push({
          kind: "prefix-info",
          prefixLength: buf[p + 2]!,
          onLink: (buf[p + 3]! & 0x80) !== 0,
          autonomous: (buf[p + 3]! & 0x40) !== 0,
          reservedFlags: buf[p + 3]! & 0x3f,
          validLifetime: u32(buf, p + 4),
          preferredLifetime: u32(buf, p + 8),
          prefix: buf.subarray(p + 16, p + 32),
        });
        break;
      case ND_OPT_MTU:
        if (units !== 1) return fail("bad-length", p + 1, `MTU option length ${units}, expected 1`);
        options.push({ kind: "mtu", mtu: u32(buf, p + 4) });
        break;
      case ND_OPT_NONCE:
        options.push({ kind: "nonce", nonce: body });
        break;
      default:
        options.push({ kind: "unknown", type, body });
    }
    p += len;
  }
  return ok(options, end - start);
}

/** Options carrying a variable body are padded with zeros to a multiple of 8 bytes. */
function paddedLength(bodyLength: number): number {
  return (2 + bodyLength + 7) & ~7;
}

export function ndOptionLength(o: NdOption): number {
  switch (o.kind) {
    case "slla":
    case "tlla":
      return paddedLength(o.address.length);
    case "prefix-info":
      return 32;
    case "mtu":
      return 8;
    case "nonce":
      return paddedLength(o.nonce.length);
    case "unknown":
      return paddedLength(o.body.length);
  }
}

function writeVariable(out: Uint8Array, p: number, type: number, body: Uint8Array): number {
  const len = paddedLength(body.length);
  if (len > 255 * 8) throw new RangeError(`ND option type ${type} too long`);
  out[p] = type;
  out[p + 1] = len >>> 3;
  out.set(body, p + 2);
  out.fill(0, p + 2 + body.length, p + len);
  return len;
}

/** Writes one option (bounds are the caller's: see encodeNd); returns its length. */
function encodeNdOption(o: NdOption, out: Uint8Array, p: number): number {
  switch (o.kind) {
    case "slla":
      return writeVariable(out, p, ND_OPT_SOURCE_LINK_LAYER_ADDRESS, o.address);
    case "tlla":
      return writeVariable(out, p, ND_OPT_TARGET_LINK_LAYER_ADDRESS, o.address);
    case "nonce":
      return writeVariable(out, p, ND_OPT_NONCE, o.nonce);
    case "unknown":
      return writeVariable(out, p, o.type, o.body);
    case "prefix-info":
      out[p] = ND_OPT_PREFIX_INFORMATION;
      out[p + 1] = 4;
      out[p + 2] = o.prefixLength;
      out[p + 3] = (o.onLink ? 0x80 : 0) | (o.autonomous ? 0x40 : 0) | (o.reservedFlags & 0x3f);
      put32(out, p + 4, o.validLifetime);
      put32(out, p + 8, o.preferredLifetime);
      put32(out, p + 12, 0);
      out.set(o.prefix.subarray(0, 16), p + 16);
      out.fill(0, p + 16 + Math.min(o.prefix.length, 16), p + 32);
      return 32;
    case "mtu":
      out[p] = ND_OPT_MTU;
      out[p + 1] = 1;
      out[p + 2] = 0;
      out[p + 3] = 0;
      put32(out, p + 4, o.mtu);
      return 8;
  }
}

const KIND_TYPE = { rs: ND_ROUTER_SOLICITATION, ra: ND_ROUTER_ADVERTISEMENT, ns: ND_NEIGHBOR_SOLICITATION, na: ND_NEIGHBOR_ADVERTISEMENT } as const;

export function ndTypeOf(m: NdMessage): number {
  return KIND_TYPE[m.kind];
}

export function ndEncodedLength(m: NdMessage): number {
  let len = ndFixedLength(KIND_TYPE[m.kind]);
  for (const o of m.options) len += ndOptionLength(o);
  return len;
}

/**
 * Parses the ND message filling buf[offset, end) (end = the IPv6 payload end).
 * RS, RA, NS, NA only; code must be 0. The checksum is not checked (see parseNdChecked).
 */
export function parseNd(buf: Uint8Array, offset = 0, end = buf.length): Parsed<NdMessage> {
  if (end > buf.length) end = buf.length;
  if (end - offset < 4) return fail("truncated", offset, "ICMPv6 header needs 4 bytes");
  const type = buf[offset]!;
  if (type < ND_ROUTER_SOLICITATION || type > ND_NEIGHBOR_ADVERTISEMENT) {
    return fail("unexpected-type", offset, `ICMPv6 type ${type} is not RS/RA/NS/NA`);
  }
  if (buf[offset + 1] !== 0) return fail("bad-value", offset + 1, `ND code ${buf[offset + 1]}, expected 0`);
  const fixed = ndFixedLength(type);
  if (end - offset < fixed) return fail("truncated", offset, `ND type ${type} needs ${fixed} bytes`);
  const opts = parseNdOptions(buf, offset + fixed, end);
  if (!opts.ok) return opts;
  const options = opts.value;
  const len = end - offset;
  switch (type) {
    case ND_ROUTER_SOLICITATION:
      return ok({ kind: "rs", options }, len);
    case ND_ROUTER_ADVERTISEMENT: {
      const flags = buf[offset + 5]!;
      return ok(
        {
          kind: "ra",
          curHopLimit: buf[offset + 4]!,
          managed: (flags & 0x80) !== 0,
          other: (flags & 0x40) !== 0,
          reservedFlags: flags & 0x3f,
          routerLifetime: (buf[offset + 6]! << 8) | buf[offset + 7]!,
          reachableTime: u32(buf, offset + 8),
          retransTimer: u32(buf, offset + 12),
          options,
        },
        len,
      );
    }
    case ND_NEIGHBOR_SOLICITATION:
      return ok({ kind: "ns", target: buf.subarray(offset + 8, offset + 24), options }, len);
    default: {
      const flags = buf[offset + 4]!;
      return ok(
        {
          kind: "na",
          router: (flags & 0x80) !== 0,
          solicited: (flags & 0x40) !== 0,
          override: (flags & 0x20) !== 0,
          target: buf.subarray(offset + 8, offset + 24),
          options,
        },
        len,
      );
    }
  }
}

/** parseNd after checking the ICMPv6 checksum against the IPv6 source and destination. */
export function parseNdChecked(buf: Uint8Array, offset: number, end: number, src: Uint8Array, dst: Uint8Array): Parsed<NdMessage> {
  if (end > buf.length) end = buf.length;
  if (end - offset < 4) return fail("truncated", offset, "ICMPv6 header needs 4 bytes");
  if (!verifyIcmpv6Checksum(buf, offset, end, src, dst)) return fail("bad-checksum", offset + 2, "ICMPv6 checksum mismatch");
  return parseNd(buf, offset, end);
}

/** Writes the message with its checksum for src/dst; returns bytes written. */
export function encodeNd(m: NdMessage, out: Uint8Array, offset: number, src: Uint8Array, dst: Uint8Array): number {
  const len = ndEncodedLength(m);
  if (offset < 0 || out.length - offset < len) throw new RangeError("ND message does not fit");
  const type = KIND_TYPE[m.kind];
  out.fill(0, offset, offset + ndFixedLength(type));
  out[offset] = type;
  switch (m.kind) {
    case "rs":
      break;
    case "ra":
      out[offset + 4] = m.curHopLimit;
      out[offset + 5] = (m.managed ? 0x80 : 0) | (m.other ? 0x40 : 0) | (m.reservedFlags & 0x3f);
      out[offset + 6] = m.routerLifetime >>> 8;
      out[offset + 7] = m.routerLifetime;
      put32(out, offset + 8, m.reachableTime);
      put32(out, offset + 12, m.retransTimer);
      break;
    case "ns":
      out.set(m.target.subarray(0, 16), offset + 8);
      break;
    case "na":
      out[offset + 4] = (m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0);
      out.set(m.target.subarray(0, 16), offset + 8);
      break;
  }
  let p = offset + ndFixedLength(type);
  for (const o of m.options) p += encodeNdOption(o, out, p);
  writeIcmpv6Checksum(out, offset, offset + len, src, dst);
  return len;
}

export interface NdPacket {
  readonly ip: Ipv6Header;
  readonly message: NdMessage;
}

/**
 * Parses a whole IPv6 packet carrying ND (no extension headers) and applies the
 * RFC 4861 checks that need the IP header: hop limit 255 and the checksum.
 * `length` is 40 + payload length. Per-type rules (e.g. no SLLA from ::) are the caller's.
 */
export function parseNdPacket(buf: Uint8Array, offset = 0, end = buf.length): Parsed<NdPacket> {
  const ipr = parseIpv6Header(buf, offset, end);
  if (!ipr.ok) return ipr;
  const ip = ipr.value;
  if (ip.nextHeader !== IPPROTO_ICMPV6) return fail("unexpected-type", offset + 6, `next header ${ip.nextHeader}, expected ICMPv6`);
  if (ip.hopLimit !== ND_HOP_LIMIT) return fail("bad-value", offset + 7, `ND hop limit ${ip.hopLimit}, expected 255`);
  const start = offset + IPV6_HEADER_LENGTH;
  const m = parseNdChecked(buf, start, start + ip.payloadLength, ip.src, ip.dst);
  if (!m.ok) return m;
  return ok({ ip, message: m.value }, IPV6_HEADER_LENGTH + ip.payloadLength);
}

// ---- Hot path: answers from an Ethernet frame without allocating. ----

/** classifyFrame: not an IPv6 frame. */
export const FRAME_NOT_IPV6 = 0;
/** classifyFrame: IPv6, and not an ND message. */
export const FRAME_IPV6 = 1;
/** classifyFrame: IPv6 etherType but not a well-formed IPv6 header (short, version, payload length). */
export const FRAME_MALFORMED_IPV6 = -1;

/**
 * FRAME_NOT_IPV6, FRAME_IPV6, FRAME_MALFORMED_IPV6, or the ND type (133-137) when
 * the IPv6 next header is ICMPv6 with an ND type and code 0. Handles one 802.1Q
 * tag. Checks neither checksum nor hop limit: parseNdPacket does.
 */
export function classifyFrame(frame: Uint8Array, offset = 0, end = frame.length): number {
  if (end > frame.length) end = frame.length;
  const ip = ethernetPayloadOffset(frame, offset, end);
  if (ip < 0) return FRAME_NOT_IPV6;
  if (((frame[ip - 2]! << 8) | frame[ip - 1]!) !== ETHERTYPE_IPV6) return FRAME_NOT_IPV6;
  if (end - ip < IPV6_HEADER_LENGTH || frame[ip]! >>> 4 !== 6) return FRAME_MALFORMED_IPV6;
  const payloadLength = (frame[ip + 4]! << 8) | frame[ip + 5]!;
  if (payloadLength > end - ip - IPV6_HEADER_LENGTH) return FRAME_MALFORMED_IPV6;
  if (frame[ip + 6] !== IPPROTO_ICMPV6 || payloadLength < 4) return FRAME_IPV6;
  const type = frame[ip + IPV6_HEADER_LENGTH]!;
  if (type < ND_ROUTER_SOLICITATION || type > ND_REDIRECT || frame[ip + IPV6_HEADER_LENGTH + 1] !== 0) return FRAME_IPV6;
  return type;
}

/**
 * Offset of the body of the first option of `optionType` in the ND message at
 * buf[icmpOffset, end), or -1 if absent, if the message is too short, or if the
 * option list is malformed anywhere (RFC 4861: such a message is discarded whole).
 */
export function findNdOption(buf: Uint8Array, icmpOffset: number, end: number, optionType: number): number {
  if (end > buf.length) end = buf.length;
  const fixed = ndFixedLength(buf[icmpOffset] ?? 0);
  if (fixed === 0 || end - icmpOffset < fixed) return -1;
  let found = -1;
  let p = icmpOffset + fixed;
  while (p < end) {
    if (end - p < 2) return -1;
    const len = buf[p + 1]! * 8;
    if (len === 0 || len > end - p) return -1;
    if (found < 0 && buf[p] === optionType) found = p + 2;
    p += len;
  }
  return found;
}

/**
 * For an RS, RA or NS frame: offset in `frame` of the 6-byte Ethernet address in
 * its Source Link-Layer Address option (length 1), else -1. Read it with macKey.
 */
export function findFrameSourceLinkLayerAddress(frame: Uint8Array, offset = 0, end = frame.length): number {
  if (end > frame.length) end = frame.length;
  const c = classifyFrame(frame, offset, end);
  if (c !== ND_ROUTER_SOLICITATION && c !== ND_ROUTER_ADVERTISEMENT && c !== ND_NEIGHBOR_SOLICITATION) return -1;
  const ip = ethernetPayloadOffset(frame, offset, end);
  const icmp = ip + IPV6_HEADER_LENGTH;
  const icmpEnd = icmp + ((frame[ip + 4]! << 8) | frame[ip + 5]!);
  const body = findNdOption(frame, icmp, icmpEnd, ND_OPT_SOURCE_LINK_LAYER_ADDRESS);
  if (body < 0 || frame[body - 1] !== 1) return -1;
  return body;
}
