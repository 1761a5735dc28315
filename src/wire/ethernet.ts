// Ethernet II header with at most one IEEE 802.1Q tag. A second tag (QinQ) is not
// unwrapped: it shows up as the inner etherType so the caller can decide.

import { fail, ok, type Parsed } from "./parsed.ts";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_HEADER_LENGTH = 14;
export const VLAN_TAG_LENGTH = 4;

export interface VlanTag {
  /** Priority code point, 3 bits. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier, 12 bits. */
  readonly vid: number;
}

export interface EthernetHeader {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly vlan: VlanTag | null;
  readonly etherType: number;
}

/** Offset of the payload after the header and an optional single tag; -1 if the frame is too short. */
export function ethernetPayloadOffset(frame: Uint8Array, offset = 0, end = frame.length): number {
  if (end - offset < ETHERNET_HEADER_LENGTH) return -1;
  if (((frame[offset + 12]! << 8) | frame[offset + 13]!) !== ETHERTYPE_VLAN) return offset + ETHERNET_HEADER_LENGTH;
  if (end - offset < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) return -1;
  return offset + ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

/** Parses the header; `length` is 14, or 18 with a tag. `dst`/`src` are views into `buf`. */
export function parseEthernet(buf: Uint8Array, offset = 0, end = buf.length): Parsed<EthernetHeader> {
  if (end > buf.length) end = buf.length;
  if (end - offset < ETHERNET_HEADER_LENGTH) return fail("truncated", offset, "ethernet header needs 14 bytes");
  const dst = buf.subarray(offset, offset + 6);
  const src = buf.subarray(offset + 6, offset + 12);
  const type = (buf[offset + 12]! << 8) | buf[offset + 13]!;
  if (type !== ETHERTYPE_VLAN) return ok({ dst, src, vlan: null, etherType: type }, ETHERNET_HEADER_LENGTH);
  if (end - offset < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) {
    return fail("truncated", offset + 14, "802.1Q tag needs 4 more bytes");
  }
  const tci = (buf[offset + 14]! << 8) | buf[offset + 15]!;
  const vlan: VlanTag = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
  const etherType = (buf[offset + 16]! << 8) | buf[offset + 17]!;
  return ok({ dst, src, vlan, etherType }, ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH);
}

export function ethernetHeaderLength(h: { readonly vlan: VlanTag | null }): number {
  return h.vlan === null ? ETHERNET_HEADER_LENGTH : ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

export function encodeEthernet(h: EthernetHeader, out: Uint8Array, offset: number): number {
  const len = ethernetHeaderLength(h);
  if (offset < 0 || out.length - offset < len) throw new RangeError("ethernet header does not fit");
  out.set(h.dst.subarray(0, 6), offset);
  out.set(h.src.subarray(0, 6), offset + 6);
  let p = offset + 12;
  if (h.vlan !== null) {
    const tci = ((h.vlan.pcp & 0x7) << 13) | (h.vlan.dei ? 0x1000 : 0) | (h.vlan.vid & 0x0fff);
    out[p] = ETHERTYPE_VLAN >>> 8;
    out[p + 1] = ETHERTYPE_VLAN & 0xff;
    out[p + 2] = tci >>> 8;
    out[p + 3] = tci & 0xff;
    p += 4;
  }
  out[p] = h.etherType >>> 8;
  out[p + 1] = h.etherType & 0xff;
  return len;
}
