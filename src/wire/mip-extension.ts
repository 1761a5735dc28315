// The Mobile IPv4 extension list (RFC 3344/5944 1.8-1.11) that follows the fixed
// part of every message on UDP 434, and the extensions the AN understands.
import type { ExtensionSpan, MipCodecOptions, MipExtension } from "./mip-types.ts";
import { MipExtensionType } from "./mip-types.ts";
import { fail, ok } from "./parsed.ts";
import type { Parsed } from "./parsed.ts";
import { checkRoom, checkUint, viewOf } from "./mip-fields.ts";

/**
 * Defaults for the type numbers that are configuration.
 *
 * The draft leaves both of its extensions to IANA (TBD-1, TBD-2), so any value is
 * a private agreement with the HA and must be configurable. The defaults avoid
 * every number the RFCs here show as assigned (0 padding, 32-34 authentication,
 * 47/147 PMIPv4 (RFC 5563), 48 GRE key (RFC 6245), 131 NAI, 137 revocation
 * support, 152 DSMIPv4 (RFC 5454)) and RFC 4064's experimental 127 and 255: those
 * are defined in the long (127) and generic short (255) formats with their own
 * sub-type spaces, and an HA running an experiment there would misread us.
 * IANA hands out numbers upwards from 32 and from 128, so the top of each range is
 * the least likely to meet a real assignment:
 * - ipv6HoaRequestType 120: draft 4.1 makes it non-skippable, so < 128 — an HA
 *   that cannot give IPv6 service must drop the request, not register IPv4 only.
 * - ipv6HoaType 248: the draft does not say; skippable, because it only informs
 *   (the AN treats its presence as the signal, draft 5.2.2) and a plain MIPv4 peer
 *   receiving it in a renewal or revocation should carry on.
 * - greKeyType 48: the IANA value of RFC 6245.
 * - longTypes none: the AN handles no long-format extension by default.
 */
export const DEFAULT_MIP_CODEC_OPTIONS: MipCodecOptions = {
  ipv6HoaRequestType: 120,
  ipv6HoaType: 248,
  greKeyType: 48,
  longTypes: [],
};

const FIXED_TYPES: ReadonlySet<number> = new Set([
  0,
  MipExtensionType.MnHaAuth,
  MipExtensionType.MnFaAuth,
  MipExtensionType.FaHaAuth,
  MipExtensionType.MnNai,
  MipExtensionType.RevocationSupport,
]);

/**
 * A reason the options cannot describe a consistent wire format, or undefined.
 * For the app's config validation: the codec itself trusts its options.
 */
export function checkMipCodecOptions(opts: MipCodecOptions): string | undefined {
  const configured: [string, number][] = [
    ["ipv6HoaRequestType", opts.ipv6HoaRequestType],
    ["ipv6HoaType", opts.ipv6HoaType],
    ["greKeyType", opts.greKeyType],
    ...(opts.longTypes ?? []).map((t): [string, number] => ["longTypes", t]),
  ];
  const seen = new Set<number>();
  for (const [name, t] of configured) {
    if (!Number.isInteger(t) || t < 1 || t > 255) return `${name} ${t} is not an extension type 1-255`;
    if (FIXED_TYPES.has(t)) return `${name} ${t} collides with a fixed extension type`;
    if (seen.has(t)) return `${name} ${t} is configured twice`;
    seen.add(t);
  }
  if (opts.ipv6HoaRequestType >= 128) return "ipv6HoaRequestType must be < 128 (draft 4.1: not skippable)";
  if (opts.greKeyType >= 128) return "greKeyType must be < 128 (RFC 6245: not skippable)";
  for (const t of opts.longTypes ?? []) {
    if (t >= 128) return `long type ${t} is skippable: RFC 3344 1.10 allows the long format only below 128`;
  }
  return undefined;
}

export interface ExtensionList {
  readonly extensions: MipExtension[];
  /** Offsets relative to the start of the buffer given to parseExtensions. */
  readonly spans: ExtensionSpan[];
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3; // lone surrogate: TextEncoder writes U+FFFD, 3 bytes
    } else n += 3;
  }
  return n;
}

/**
 * Walks the extensions in buf[start, end). The end comes from the UDP length
 * (RFC 3344 1.8: the list ends with the datagram), so a partial extension at the
 * end is "truncated", not ignored.
 */
export function parseExtensions(
  buf: Uint8Array,
  start: number,
  end: number,
  opts: MipCodecOptions,
): Parsed<ExtensionList> {
  const extensions: MipExtension[] = [];
  const spans: ExtensionSpan[] = [];
  const view = viewOf(buf);
  const longTypes = opts.longTypes ?? [];
  let p = start;
  while (p < end) {
    const type = buf[p] ?? 0;
    if (type === 0) {
      extensions.push({ kind: "padding" });
      spans.push({ offset: p, length: 1 });
      p += 1;
      continue;
    }
    // Only a type the consumer declared can be long format: for anything else the
    // byte after the type is the Length (RFC 3344 1.10 on why skippables can't be long).
    if (type < 128 && longTypes.includes(type)) {
      if (p + 4 > end) return fail("truncated", p, `long extension ${type} header needs 4 bytes`);
      const len = view.getUint16(p + 2);
      if (p + 4 + len > end) return fail("truncated", p, `long extension ${type} claims ${len} data bytes`);
      extensions.push({ kind: "long", type, subType: buf[p + 1] ?? 0, data: buf.slice(p + 4, p + 4 + len) });
      spans.push({ offset: p, length: 4 + len });
      p += 4 + len;
      continue;
    }
    if (p + 2 > end) return fail("truncated", p, `extension ${type} has no Length byte`);
    const len = buf[p + 1] ?? 0;
    const body = p + 2;
    if (body + len > end) return fail("truncated", p, `extension ${type} claims ${len} bytes`);
    const ext = parseBody(buf, view, type, body, len, opts);
    if (!ext.ok) return ext;
    extensions.push(ext.value);
    spans.push({ offset: p, length: 2 + len });
    p = body + len;
  }
  return ok({ extensions, spans }, end - start);
}

function parseBody(
  buf: Uint8Array,
  view: DataView,
  type: number,
  body: number,
  len: number,
  opts: MipCodecOptions,
): Parsed<MipExtension> {
  const at = body - 2;
  // Configured types first: they are whatever the operator agreed with the HA.
  if (type === opts.ipv6HoaRequestType) {
    if (len !== 1 && len !== 9) return fail("bad-length", at, `IPv6 HoA Request length ${len}, want 1 or 9`);
    if (buf[body] !== 0) return fail("bad-value", body, `IPv6 HoA Request sub-type ${buf[body] ?? 0}, want 0`);
    return ok({ kind: "ipv6-hoa-request", iid: len === 9 ? buf.slice(body + 1, body + 9) : null }, 2 + len);
  }
  if (type === opts.ipv6HoaType) {
    if (len !== 1 && len !== 17) return fail("bad-length", at, `IPv6 HoA length ${len}, want 1 or 17`);
    // The 7 reserved bits are "set to 0s" with no receive rule: ignore them.
    const unique = ((buf[body] ?? 0) & 0x80) !== 0;
    return ok({ kind: "ipv6-hoa", unique, hoa: len === 17 ? buf.slice(body + 1, body + 17) : null }, 2 + len);
  }
  if (type === opts.greKeyType) {
    if (len !== 7) return fail("bad-length", at, `GRE Key length ${len}, want 7`);
    // Another sub-type would be a different extension under a non-skippable type we
    // only partly understand: the message must be refused, not half-read.
    if (buf[body] !== 0) return fail("unknown-nonskippable-extension", body, `GRE Key sub-type ${buf[body] ?? 0}`);
    return ok({ kind: "gre-key", key: view.getUint32(body + 3) }, 2 + len);
  }
  switch (type) {
    case MipExtensionType.MnHaAuth:
    case MipExtensionType.MnFaAuth:
    case MipExtensionType.FaHaAuth: {
      if (len < 4) return fail("bad-length", at, `authentication extension ${type} length ${len} < 4`);
      return ok(
        { kind: "auth", type, spi: view.getUint32(body), authenticator: buf.slice(body + 4, body + len) },
        2 + len,
      );
    }
    case MipExtensionType.MnNai: {
      let nai: string;
      try {
        nai = utf8Decoder.decode(buf.subarray(body, body + len));
      } catch {
        return fail("bad-value", body, "MN-NAI is not UTF-8");
      }
      return ok({ kind: "mn-nai", nai }, 2 + len);
    }
    case MipExtensionType.RevocationSupport: {
      // RFC 3543 3.2: "currently 6", longer kept open for future bits: read what we know.
      if (len < 6) return fail("bad-length", at, `Revocation Support length ${len} < 6`);
      const iBit = ((buf[body] ?? 0) & 0x80) !== 0;
      return ok({ kind: "revocation-support", iBit, timestamp: view.getUint32(body + 2) }, 2 + len);
    }
    default:
      if (type < 128) {
        return fail("unknown-nonskippable-extension", at, `extension type ${type} is not understood`);
      }
      return ok({ kind: "unknown", type, body: buf.slice(body, body + len) }, 2 + len);
  }
}

/** Encoded bytes of one extension, Type and Length included. */
export function extensionLength(ext: MipExtension, _opts: MipCodecOptions): number {
  switch (ext.kind) {
    case "padding":
      return 1;
    case "mn-nai":
      return 2 + utf8Length(ext.nai);
    case "auth":
      return 6 + ext.authenticator.length;
    case "revocation-support":
      return 8;
    case "ipv6-hoa-request":
      return ext.iid === null ? 3 : 11;
    case "ipv6-hoa":
      return ext.hoa === null ? 3 : 19;
    case "gre-key":
      return 9;
    case "long":
      return 4 + ext.data.length;
    case "unknown":
      return 2 + ext.body.length;
  }
}

export function extensionsLength(exts: readonly MipExtension[], opts: MipCodecOptions): number {
  let n = 0;
  for (const e of exts) n += extensionLength(e, opts);
  return n;
}

/** Writes one extension at out[offset]; returns bytes written (= extensionLength). */
export function encodeExtension(ext: MipExtension, opts: MipCodecOptions, out: Uint8Array, offset: number): number {
  const len = extensionLength(ext, opts);
  checkRoom(out, offset, len);
  const view = viewOf(out);
  const p = offset;
  switch (ext.kind) {
    case "padding":
      out[p] = 0;
      break;
    case "mn-nai": {
      if (len - 2 > 255) throw new RangeError("MN-NAI longer than 255 bytes");
      out[p] = MipExtensionType.MnNai;
      out[p + 1] = len - 2;
      const { written } = utf8Encoder.encodeInto(ext.nai, out.subarray(p + 2, p + len));
      if (written !== len - 2) throw new RangeError("MN-NAI UTF-8 length mismatch");
      break;
    }
    case "auth":
      checkUint(ext.type, 8, "auth type");
      checkUint(ext.spi, 32, "SPI");
      if (len - 2 > 255) throw new RangeError("authenticator longer than 251 bytes");
      out[p] = ext.type;
      out[p + 1] = len - 2;
      view.setUint32(p + 2, ext.spi);
      out.set(ext.authenticator, p + 6);
      break;
    case "revocation-support":
      checkUint(ext.timestamp, 32, "revocation support timestamp");
      out[p] = MipExtensionType.RevocationSupport;
      out[p + 1] = 6;
      out[p + 2] = ext.iBit ? 0x80 : 0;
      out[p + 3] = 0;
      view.setUint32(p + 4, ext.timestamp);
      break;
    case "ipv6-hoa-request":
      checkUint(opts.ipv6HoaRequestType, 8, "ipv6HoaRequestType");
      out[p] = opts.ipv6HoaRequestType;
      out[p + 1] = len - 2;
      out[p + 2] = 0;
      if (ext.iid !== null) {
        if (ext.iid.length !== 8) throw new RangeError("IPv6 HoA Request IID must be 8 bytes");
        out.set(ext.iid, p + 3);
      }
      break;
    case "ipv6-hoa":
      checkUint(opts.ipv6HoaType, 8, "ipv6HoaType");
      out[p] = opts.ipv6HoaType;
      out[p + 1] = len - 2;
      out[p + 2] = ext.unique ? 0x80 : 0;
      if (ext.hoa !== null) {
        if (ext.hoa.length !== 16) throw new RangeError("IPv6 HoA must be 16 bytes");
        out.set(ext.hoa, p + 3);
      }
      break;
    case "gre-key":
      checkUint(opts.greKeyType, 8, "greKeyType");
      checkUint(ext.key, 32, "GRE key");
      out[p] = opts.greKeyType;
      out[p + 1] = 7;
      out[p + 2] = 0;
      out[p + 3] = 0;
      out[p + 4] = 0;
      view.setUint32(p + 5, ext.key);
      break;
    case "long":
      checkUint(ext.type, 8, "long extension type");
      checkUint(ext.subType, 8, "long extension sub-type");
      if (ext.type >= 128) throw new RangeError("long format is for non-skippable types only (RFC 3344 1.10)");
      if (ext.data.length > 0xffff) throw new RangeError("long extension data longer than 65535 bytes");
      out[p] = ext.type;
      out[p + 1] = ext.subType;
      view.setUint16(p + 2, ext.data.length);
      out.set(ext.data, p + 4);
      break;
    case "unknown":
      checkUint(ext.type, 8, "extension type");
      if (ext.type === 0) throw new RangeError("type 0 is padding, which has no Length");
      if (ext.body.length > 255) throw new RangeError("extension body longer than 255 bytes");
      out[p] = ext.type;
      out[p + 1] = ext.body.length;
      out.set(ext.body, p + 2);
      break;
  }
  return len;
}

export function encodeExtensions(
  exts: readonly MipExtension[],
  opts: MipCodecOptions,
  out: Uint8Array,
  offset: number,
): number {
  let p = offset;
  for (const e of exts) p += encodeExtension(e, opts, out, p);
  return p - offset;
}
