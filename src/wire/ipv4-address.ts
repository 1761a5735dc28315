// IPv4 addresses are unsigned 32-bit numbers throughout the project: cheap to
// compare, hash and store; text only at the edges (config, logs).

export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

// Strict: four decimal octets, no leading zeros (they are octal in inet_aton).
const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function parseIpv4(text: string): number | null {
  const m = DOTTED_QUAD.exec(text);
  if (m === null) return null;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function readIpv4(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function writeIpv4(n: number, out: Uint8Array, offset: number): void {
  out[offset] = n >>> 24;
  out[offset + 1] = n >>> 16;
  out[offset + 2] = n >>> 8;
  out[offset + 3] = n;
}
