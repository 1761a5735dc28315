// Classic libpcap file format (not pcapng): a 24-byte global header, then per
// packet a 16-byte record header and the captured bytes. Written little-endian
// with the microsecond magic, which every reader accepts; file I/O lives in io.

import { fail, ok, type Parsed } from "./parsed.ts";

export const PCAP_LINKTYPE_ETHERNET = 1;
/** Raw IP, version from the first nibble. */
export const PCAP_LINKTYPE_RAW = 101;
export const PCAP_LINKTYPE_IPV4 = 228;
export const PCAP_LINKTYPE_IPV6 = 229;

export const PCAP_GLOBAL_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;

export interface PcapGlobalHeader {
  readonly linkType: number;
  readonly snapLength: number;
  /** Timestamps in nanoseconds (magic a1b23c4d) rather than microseconds. */
  readonly nanoseconds: boolean;
}

export interface PcapRecordHeader {
  readonly seconds: number;
  /** Microseconds, or nanoseconds if the file says so. */
  readonly fraction: number;
  readonly capturedLength: number;
  readonly originalLength: number;
}

function dv(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function writePcapGlobalHeader(h: PcapGlobalHeader, out: Uint8Array, offset: number): number {
  if (offset < 0 || out.length - offset < PCAP_GLOBAL_HEADER_LENGTH) throw new RangeError("pcap header does not fit");
  const v = dv(out);
  v.setUint32(offset, h.nanoseconds ? MAGIC_NANOS : MAGIC_MICROS, true);
  v.setUint16(offset + 4, 2, true);
  v.setUint16(offset + 6, 4, true);
  v.setInt32(offset + 8, 0, true); // thiszone: timestamps are UTC
  v.setUint32(offset + 12, 0, true); // sigfigs
  v.setUint32(offset + 16, h.snapLength >>> 0, true);
  v.setUint32(offset + 20, h.linkType >>> 0, true);
  return PCAP_GLOBAL_HEADER_LENGTH;
}

export function writePcapRecordHeader(h: PcapRecordHeader, out: Uint8Array, offset: number): number {
  if (offset < 0 || out.length - offset < PCAP_RECORD_HEADER_LENGTH) throw new RangeError("pcap record header does not fit");
  const v = dv(out);
  v.setUint32(offset, h.seconds >>> 0, true);
  v.setUint32(offset + 4, h.fraction >>> 0, true);
  v.setUint32(offset + 8, h.capturedLength >>> 0, true);
  v.setUint32(offset + 12, h.originalLength >>> 0, true);
  return PCAP_RECORD_HEADER_LENGTH;
}

/** Record header for a time in milliseconds since the epoch (the usual clock in this project). */
export function pcapRecordForMillis(millis: number, capturedLength: number, originalLength = capturedLength): PcapRecordHeader {
  const seconds = Math.floor(millis / 1000);
  return { seconds, fraction: Math.floor((millis - seconds * 1000) * 1000), capturedLength, originalLength };
}

/** Reads a global header of either byte order; the record reader needs the returned `littleEndian`. */
export function parsePcapGlobalHeader(buf: Uint8Array, offset = 0): Parsed<PcapGlobalHeader & { readonly littleEndian: boolean }> {
  if (buf.length - offset < PCAP_GLOBAL_HEADER_LENGTH || offset < 0) return fail("truncated", offset, "pcap header needs 24 bytes");
  const v = dv(buf);
  let littleEndian = true;
  let magic = v.getUint32(offset, true);
  if (magic !== MAGIC_MICROS && magic !== MAGIC_NANOS) {
    littleEndian = false;
    magic = v.getUint32(offset, false);
    if (magic !== MAGIC_MICROS && magic !== MAGIC_NANOS) return fail("unexpected-type", offset, "not a classic pcap file");
  }
  const major = v.getUint16(offset + 4, littleEndian);
  if (major !== 2) return fail("bad-version", offset + 4, `pcap version ${major}, expected 2`);
  return ok(
    {
      linkType: v.getUint32(offset + 20, littleEndian) & 0x0fff_ffff, // upper bits: FCS info
      snapLength: v.getUint32(offset + 16, littleEndian),
      nanoseconds: magic === MAGIC_NANOS,
      littleEndian,
    },
    PCAP_GLOBAL_HEADER_LENGTH,
  );
}

/** Reads a record header and checks that its captured bytes are present. */
export function parsePcapRecordHeader(buf: Uint8Array, offset: number, littleEndian: boolean): Parsed<PcapRecordHeader> {
  if (offset < 0 || buf.length - offset < PCAP_RECORD_HEADER_LENGTH) return fail("truncated", offset, "pcap record header needs 16 bytes");
  const v = dv(buf);
  const capturedLength = v.getUint32(offset + 8, littleEndian);
  if (capturedLength > buf.length - offset - PCAP_RECORD_HEADER_LENGTH) {
    return fail("truncated", offset + 8, `record says ${capturedLength} captured bytes`);
  }
  return ok(
    {
      seconds: v.getUint32(offset, littleEndian),
      fraction: v.getUint32(offset + 4, littleEndian),
      capturedLength,
      originalLength: v.getUint32(offset + 12, littleEndian),
    },
    PCAP_RECORD_HEADER_LENGTH,
  );
}
