// Guards shared by the Mobile IPv4 encoders. Parsers never throw; encoders do,
// but only for values no wire form can carry (a caller's bug), because writing a
// silently truncated field would put a wrong message on the wire — worse with an
// authenticator computed over it afterwards.

export function checkUint(value: number, bits: 8 | 16 | 32, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${field} must be an unsigned ${bits}-bit integer, got ${String(value)}`);
  }
}

export function checkUint64(value: bigint, field: string): void {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`${field} must be an unsigned 64-bit integer`);
  }
}

/** Uint8Array stores beyond its end vanish silently: refuse up front instead. */
export function checkRoom(out: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > out.length) {
    throw new RangeError(`need ${length} bytes at offset ${offset}, buffer holds ${out.length}`);
  }
}

export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
