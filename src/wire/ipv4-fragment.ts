// IPv4 fragmentation (RFC 791 3.2, "An Example Fragmentation Procedure"). The AN
// fragments its own outer tunnel packets (RFC 4213 3.2): the raw IP_HDRINCL socket
// refuses a packet bigger than the uplink MTU instead of fragmenting it.
//
// Fragment i of a packet is written with its own header (the original's fields, the
// identification unchanged, MF set on all but the last, the offset in 8-byte units
// added to the original's), so fragmenting works in place: the whole packet sits in
// one send slot, fragments 1..n-1 are copied out of it into the following slots
// (last first), and fragment 0 is the original slot with its header rewritten.
// Options: all of them in fragment 0; only those with the copied flag (RFC 791 3.1)
// in the others.

import { writeIpv4Checksum } from "./ipv4.ts";

/** RFC 791: every IPv4 module must forward a 68-byte datagram without fragmenting it. */
export const IPV4_MIN_MTU = 68;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

/** Bytes of the options of the header at `offset` that go into fragments after the first. */
function copiedOptionsLength(buf: Uint8Array, offset: number, headerLength: number): number {
  let n = 0;
  let i = offset + 20;
  const end = offset + headerLength;
  while (i < end) {
    const type = buf[i]!;
    if (type === 0) break; // End of Option List
    if (type === 1) {
      i++; // No Operation: not copied
      continue;
    }
    const len = buf[i + 1];
    if (len === undefined || len < 2 || i + len > end) throw new RangeError("malformed IPv4 option");
    if (type & 0x80) n += len;
    i += len;
  }
  return n;
}

function copyOptions(buf: Uint8Array, offset: number, headerLength: number, out: Uint8Array, at: number): void {
  let i = offset + 20;
  const end = offset + headerLength;
  while (i < end) {
    const type = buf[i]!;
    if (type === 0) break;
    if (type === 1) {
      i++;
      continue;
    }
    const len = buf[i + 1]!;
    if (type & 0x80) {
      out.set(buf.subarray(i, i + len), at);
      at += len;
    }
    i += len;
  }
}

interface Layout {
  readonly headerLength: number;
  readonly totalLength: number;
  /** Header length of fragments after the first (copied options, padded to 4). */
  readonly laterHeaderLength: number;
  /** Payload bytes in the first fragment and in each later one (multiples of 8). */
  readonly firstChunk: number;
  readonly laterChunk: number;
  readonly count: number;
}

function layout(buf: Uint8Array, offset: number, mtu: number): Layout {
  if (offset < 0 || buf.length - offset < 20) throw new RangeError("no IPv4 header at offset");
  if (buf[offset]! >>> 4 !== 4) throw new RangeError("not an IPv4 packet");
  const headerLength = (buf[offset]! & 0x0f) * 4;
  const totalLength = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (headerLength < 20 || totalLength < headerLength || buf.length - offset < totalLength) {
    throw new RangeError("IPv4 header or total length inconsistent with the buffer");
  }
  if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU) throw new RangeError(`MTU ${mtu} below the IPv4 minimum of ${IPV4_MIN_MTU}`);
  if (totalLength <= mtu) return { headerLength, totalLength, laterHeaderLength: headerLength, firstChunk: totalLength - headerLength, laterChunk: 0, count: 1 };
  if ((buf[offset + 6]! << 8) & FLAG_DF) throw new RangeError("the packet has DF set: it must not be fragmented");
  const laterHeaderLength = 20 + ((copiedOptionsLength(buf, offset, headerLength) + 3) & ~3);
  const firstChunk = (mtu - headerLength) & ~7;
  const laterChunk = (mtu - laterHeaderLength) & ~7;
  if (firstChunk <= 0 || laterChunk <= 0) throw new RangeError(`MTU ${mtu} leaves no room for data after the header`);
  const payload = totalLength - headerLength;
  return { headerLength, totalLength, laterHeaderLength, firstChunk, laterChunk, count: 1 + Math.ceil((payload - firstChunk) / laterChunk) };
}

/**
 * How many fragments of at most `mtu` bytes the IPv4 packet at buf[offset] needs
 * (1 when it fits). Throws RangeError when it cannot be fragmented (DF set, MTU
 * below 68 or too small for its header, inconsistent header).
 */
export function ipv4FragmentCount(buf: Uint8Array, offset: number, mtu: number): number {
  return layout(buf, offset, mtu).count;
}

/**
 * Writes fragment `index` (0-based) of the IPv4 packet at buf[offset] into
 * out[outOffset] and returns its length. The source must be intact for every
 * fragment written after the first one: write the fragments from the last to 0,
 * and fragment 0 may be written over the source itself (out === buf, same offset).
 */
export function writeIpv4Fragment(buf: Uint8Array, offset: number, mtu: number, index: number, out: Uint8Array, outOffset: number): number {
  const l = layout(buf, offset, mtu);
  if (!Number.isInteger(index) || index < 0 || index >= l.count) throw new RangeError(`fragment ${index} of ${l.count}`);
  const payload = l.totalLength - l.headerLength;
  const start = index === 0 ? 0 : l.firstChunk + (index - 1) * l.laterChunk;
  const chunk = Math.min(index === 0 ? l.firstChunk : l.laterChunk, payload - start);
  const hl = index === 0 ? l.headerLength : l.laterHeaderLength;
  const length = hl + chunk;
  if (outOffset < 0 || out.length - outOffset < length) throw new RangeError("fragment does not fit");
  const inPlace = out === buf && outOffset === offset;
  if (out === buf && !inPlace && outOffset < offset + l.totalLength && offset < outOffset + length) {
    throw new RangeError("fragment would overlap its source");
  }
  const frag = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  const moreFragments = index < l.count - 1 || (frag & FLAG_MF) !== 0;
  const fragmentOffset = (frag & 0x1fff) + start / 8;
  if (fragmentOffset > 0x1fff) throw new RangeError("fragment offset exceeds 13 bits");
  if (!inPlace) {
    // Payload first, header after: the header bytes of fragment 0 written in place never hide payload.
    const from = offset + l.headerLength + start;
    // Within one buffer (the datapath's send batch) copyWithin avoids a view per copy.
    if (out === buf) {
      out.copyWithin(outOffset + hl, from, from + chunk);
      out.copyWithin(outOffset, offset, offset + (index === 0 ? l.headerLength : 20));
    } else {
      out.set(buf.subarray(from, from + chunk), outOffset + hl);
      out.set(buf.subarray(offset, offset + (index === 0 ? l.headerLength : 20)), outOffset);
    }
    if (index > 0) {
      copyOptions(buf, offset, l.headerLength, out, outOffset + 20);
      const copied = copiedOptionsLength(buf, offset, l.headerLength);
      out.fill(0, outOffset + 20 + copied, outOffset + hl);
    }
  }
  out[outOffset] = 0x40 | (hl >>> 2);
  out[outOffset + 2] = length >>> 8;
  out[outOffset + 3] = length;
  const word = (frag & FLAG_DF) | (moreFragments ? FLAG_MF : 0) | fragmentOffset;
  out[outOffset + 6] = word >>> 8;
  out[outOffset + 7] = word;
  out[outOffset + 10] = 0;
  out[outOffset + 11] = 0;
  writeIpv4Checksum(out, outOffset, hl);
  return length;
}
