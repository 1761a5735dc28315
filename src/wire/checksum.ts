// RFC 1071 internet checksum. Sums are kept unfolded in a JS number (exact up to
// 2^53, i.e. far beyond any packet) and folded once at the end, so a checksum can
// be built from several ranges plus a pseudo-header without allocating.

/**
 * Adds the 16-bit big-endian words of buf[start, end) to `acc`. An odd final byte
 * is padded with zero, so every range except the last one summed must have even length.
 */
export function sumWords(buf: Uint8Array, start: number, end: number, acc = 0): number {
  if (end > buf.length) end = buf.length;
  let i = start;
  // Eight bytes per turn: fewer loop iterations dominate the cost on V8.
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    acc +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i + 1 < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

/** Folds an accumulated sum to 16 bits with end-around carry. */
export function foldSum(acc: number): number {
  // Above 2^32 bitwise ops would truncate; fold by division first.
  while (acc > 0xffff_ffff) acc = (acc % 0x1_0000_0000) + Math.floor(acc / 0x1_0000_0000);
  acc = (acc & 0xffff) + (acc >>> 16);
  acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** The checksum field value for an accumulated sum (one's complement of the folded sum). */
export function finishChecksum(acc: number): number {
  return ~foldSum(acc) & 0xffff;
}

/** RFC 1071 checksum of buf[start, end). Over data that includes a correct checksum it is 0. */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return finishChecksum(sumWords(buf, start, end));
}

/** RFC 8200 8.1 pseudo-header sum: source, destination, upper-layer length, next header. */
export function ipv6PseudoHeaderSum(src: Uint8Array, dst: Uint8Array, upperLayerLength: number, nextHeader: number): number {
  let acc = sumWords(src, 0, 16) + sumWords(dst, 0, 16);
  acc += Math.floor(upperLayerLength / 0x10000) + (upperLayerLength & 0xffff);
  return acc + (nextHeader & 0xff);
}

/** RFC 768 pseudo-header sum for IPv4 addresses given as unsigned 32-bit numbers. */
export function ipv4PseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff);
}
