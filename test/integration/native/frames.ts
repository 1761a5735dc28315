// Hand-built test packets (independent of src/wire, so these tests check the addon
// against bytes written out here).

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;

export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(":").map((b) => parseInt(b, 16)));
}

export function ethernet(dst: Uint8Array, src: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  f.set(payload, 14);
  return f;
}

export function vlanEthernet(dst: Uint8Array, src: Uint8Array, tci: number, etherType: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(18 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([0x81, 0x00, tci >> 8, tci & 0xff, etherType >> 8, etherType & 0xff], 12);
  f.set(payload, 18);
  return f;
}

/** An IPv6 packet (UDP-less next header 59 "no next header") with a marker payload. */
export function ipv6(marker: number, payloadLength = 16): Uint8Array {
  const p = new Uint8Array(40 + payloadLength);
  p[0] = 0x60;
  p[4] = payloadLength >> 8;
  p[5] = payloadLength & 0xff;
  p[6] = 59;
  p[7] = 64;
  p.set([0x20, 0x01, 0x0d, 0xb8], 8); // 2001:db8::1 -> 2001:db8::2
  p[23] = 1;
  p.set([0x20, 0x01, 0x0d, 0xb8], 24);
  p[39] = 2;
  const view = new DataView(p.buffer);
  for (let i = 0; i + 4 <= payloadLength; i += 4) view.setUint32(40 + i, (marker + i) >>> 0);
  return p;
}

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4Address(text: string): Uint8Array {
  return Uint8Array.from(text.split(".").map(Number));
}

/** A complete IPv4 packet with a correct header checksum (DF clear unless asked). */
export function ipv4(opts: {
  src: string;
  dst: string;
  protocol: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  df?: boolean;
}): Uint8Array {
  const p = new Uint8Array(20 + opts.payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, opts.id ?? 0x1234);
  v.setUint16(6, opts.df ? 0x4000 : 0);
  p[8] = opts.ttl ?? 64;
  p[9] = opts.protocol;
  p.set(ipv4Address(opts.src), 12);
  p.set(ipv4Address(opts.dst), 16);
  v.setUint16(10, checksum(p, 0, 20));
  p.set(opts.payload, 20);
  return p;
}

/** ICMP echo request inside IPv4. */
export function icmpEcho(src: string, dst: string, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  const v = new DataView(icmp.buffer);
  icmp[0] = 8;
  v.setUint16(4, ident);
  v.setUint16(6, seq);
  icmp.set(data, 8);
  v.setUint16(2, checksum(icmp, 0, icmp.length + (icmp.length % 2)));
  return ipv4({ src, dst, protocol: 1, payload: icmp, id: 0x4242 });
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
export const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
