// IEEE 802 MAC addresses. On the wire they are 6-byte views; as Map keys they are
// 48-bit numbers (exact in a JS number), which avoids building strings per frame.

export const MAC_LENGTH = 6;

const HEX = "0123456789abcdef";

function hexByte(b: number): string {
  return (HEX[b >>> 4] ?? "0") + (HEX[b & 0x0f] ?? "0");
}

/** "aa:bb:cc:dd:ee:ff" for the 6 bytes at `offset`. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let s = hexByte(bytes[offset] ?? 0);
  for (let i = 1; i < MAC_LENGTH; i++) s += ":" + hexByte(bytes[offset + i] ?? 0);
  return s;
}

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Parses colon-separated "aa:bb:cc:dd:ee:ff" (either case); null for anything else. */
export function parseMac(text: string): Uint8Array | null {
  if (!MAC_TEXT.test(text)) return null;
  const out = new Uint8Array(MAC_LENGTH);
  for (let i = 0; i < MAC_LENGTH; i++) out[i] = parseInt(text.slice(i * 3, i * 3 + 2), 16);
  return out;
}

/** The 6 bytes at `offset` as a 48-bit number (first byte most significant). */
export function macKey(bytes: Uint8Array, offset = 0): number {
  // The high 16 bits go through multiplication: shifts would truncate to 32 bits.
  const hi = ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
  const lo =
    (((bytes[offset + 2] ?? 0) << 24) |
      ((bytes[offset + 3] ?? 0) << 16) |
      ((bytes[offset + 4] ?? 0) << 8) |
      (bytes[offset + 5] ?? 0)) >>>
    0;
  return hi * 0x1_0000_0000 + lo;
}

/** Writes a 48-bit key as 6 bytes at `offset`; returns 6. */
export function writeMacKey(key: number, out: Uint8Array, offset: number): number {
  const hi = Math.floor(key / 0x1_0000_0000);
  const lo = key >>> 0;
  out[offset] = hi >>> 8;
  out[offset + 1] = hi;
  out[offset + 2] = lo >>> 24;
  out[offset + 3] = lo >>> 16;
  out[offset + 4] = lo >>> 8;
  out[offset + 5] = lo;
  return MAC_LENGTH;
}

export function macFromKey(key: number): Uint8Array {
  const out = new Uint8Array(MAC_LENGTH);
  writeMacKey(key, out, 0);
  return out;
}

/** I/G bit: group (multicast or broadcast) address. */
export function isMulticastMac(bytes: Uint8Array, offset = 0): boolean {
  return ((bytes[offset] ?? 0) & 0x01) !== 0;
}

export function isBroadcastMac(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (bytes[offset + i] !== 0xff) return false;
  return true;
}

export function macEqual(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}
