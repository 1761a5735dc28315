import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4Header } from "../../../src/wire/ipv4.ts";
import { ipv4FragmentCount, writeIpv4Fragment } from "../../../src/wire/ipv4-fragment.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { writeTunnelHeaders } from "../../../src/wire/tunnel.ts";
import { propertyRuns } from "../../support/runs.ts";
import { hex, must, referenceChecksum, toHex } from "./bytes.ts";

const SRC = parseIpv4("192.0.2.10")!;
const DST = parseIpv4("198.51.100.1")!;

/** A 6in4 packet around a 1500-byte IPv6 packet (payload bytes numbered), DF clear, id 0x1234. */
function sixIn4(innerLength = 1500, dontFragment = false): Uint8Array {
  const out = new Uint8Array(20 + innerLength);
  for (let i = 20; i < out.length; i++) out[i] = i & 0xff;
  out[20] = 0x60;
  out[24] = (innerLength - 40) >>> 8;
  out[25] = innerLength - 40;
  writeTunnelHeaders(out, 0, { src: SRC, dst: DST, ttl: 64, dontFragment, identification: 0x1234, gre: null }, innerLength);
  return out;
}

/** RFC 791 reassembly, the obvious way: fragments sorted by offset, checked for holes; returns the payload. */
function reassemble(fragments: Uint8Array[]): Uint8Array {
  const parts = fragments.map((f) => {
    const h = must(parseIpv4Header(f));
    return { h, data: f.subarray(20 + h.options.length, h.totalLength) };
  });
  parts.sort((a, b) => a.h.fragmentOffset - b.h.fragmentOffset);
  const last = parts[parts.length - 1]!;
  if (last.h.moreFragments) throw new Error("the last fragment has MF set");
  const payload = new Uint8Array(last.h.fragmentOffset * 8 + last.data.length);
  let at = 0;
  for (const p of parts) {
    // Plain checks in the loop: expect() per fragment is too slow for the property runs.
    if (p.h.fragmentOffset * 8 !== at) throw new Error(`hole or overlap at ${at}`);
    if (p.h.identification !== parts[0]!.h.identification) throw new Error("identification differs");
    payload.set(p.data, at);
    at += p.data.length;
  }
  return payload;
}

describe("IPv4 fragmentation (RFC 791 3.2)", () => {
  it("a 1520-byte 6in4 packet at MTU 1500: two fragments, golden headers, offsets in 8-byte units", () => {
    const p = sixIn4();
    expect(ipv4FragmentCount(p, 0, 1500)).toBe(2);
    const f1 = new Uint8Array(100);
    expect(writeIpv4Fragment(p, 0, 1500, 1, f1, 10)).toBe(40);
    // Fragment 1: total length 40, id 0x1234, MF clear, offset 1480/8 = 185 (0x00b9), checksum 0x7b81.
    expect(toHex(f1.subarray(10, 30))).toBe(toHex(hex("4500 0028 1234 00b9 4029 7b81 c000 020a c633 6401")));
    expect(f1.subarray(30, 50)).toEqual(p.subarray(1500, 1520));
    // Fragment 0 in place: total length 1500, MF set, offset 0, checksum 0x5686; payload untouched.
    const copy = p.slice();
    expect(writeIpv4Fragment(p, 0, 1500, 0, p, 0)).toBe(1500);
    expect(toHex(p.subarray(0, 20))).toBe(toHex(hex("4500 05dc 1234 2000 4029 5686 c000 020a c633 6401")));
    expect(p.subarray(20, 1500)).toEqual(copy.subarray(20, 1500));
    expect(referenceChecksum(p.subarray(0, 20))).toBe(0);
    expect(referenceChecksum(f1.subarray(10, 30))).toBe(0);
  });

  it("a packet that fits is one fragment, written unchanged", () => {
    const p = sixIn4(1480);
    expect(ipv4FragmentCount(p, 0, 1500)).toBe(1);
    const out = new Uint8Array(1500);
    expect(writeIpv4Fragment(p, 0, 1500, 0, out, 0)).toBe(1500);
    expect(out).toEqual(p);
  });

  it("refuses what must not or cannot be fragmented", () => {
    expect(() => ipv4FragmentCount(sixIn4(1500, true), 0, 1500)).toThrow(/DF/);
    expect(() => ipv4FragmentCount(sixIn4(), 0, 60)).toThrow(/minimum/);
    expect(() => ipv4FragmentCount(hex("6000"), 0, 1500)).toThrow(RangeError);
    const p = sixIn4();
    expect(() => writeIpv4Fragment(p, 0, 1500, 2, new Uint8Array(2000), 0)).toThrow(/fragment 2 of 2/);
    expect(() => writeIpv4Fragment(p, 0, 1500, 1, p, 100)).toThrow(/overlap/);
  });

  it("options: all in the first fragment, only copied ones (security, 0x82) in the others", () => {
    // IHL 8: NOP, Security (type 130, copied, 11 bytes), Record Route (type 7, not copied, 7 bytes), EOL pad
    const opts = hex("01 820b 0000 0000 0000 0000 00 0707 0400 0000 00 00");
    expect(opts.length).toBe(20);
    const p = new Uint8Array(40 + 200);
    p.set(hex("4a00 00f0 abcd 0000 4011 0000 c000 020a c633 6401"));
    p.set(opts, 20);
    for (let i = 40; i < p.length; i++) p[i] = i & 0xff;
    expect(must(parseIpv4Header(fixChecksum(p))).totalLength).toBe(240);
    const mtu = 128;
    const n = ipv4FragmentCount(p, 0, mtu);
    const frags: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const out = new Uint8Array(mtu);
      frags.push(out.subarray(0, writeIpv4Fragment(p, 0, mtu, i, out, 0)));
    }
    expect(frags[0]![0]).toBe(0x4a);
    expect(frags[0]!.subarray(20, 40)).toEqual(opts);
    // Later fragments: IHL 8 -> 11 bytes of security option padded to 12 = IHL 8 (20 + 12 = 32 bytes)
    expect(frags[1]![0]).toBe(0x48);
    expect(toHex(frags[1]!.subarray(20, 32))).toBe(toHex(hex("820b 0000 0000 0000 0000 00 00")));
    for (const f of frags) expect(f.length).toBeLessThanOrEqual(mtu);
    const whole = reassemble(frags);
    expect(whole).toEqual(p.subarray(40, 240));
  });

  it("property: fragments fit the MTU, carry 8-byte aligned offsets and one identification, MF on all but the last, and reassemble to the original", () => {
    fc.assert(
      fc.property(fc.integer({ min: 68, max: 1600 }), fc.integer({ min: 40, max: 3000 }), fc.integer({ min: 0, max: 0xffff }), (mtu, innerLength, id) => {
        const p = sixIn4(innerLength);
        p[4] = id >>> 8;
        p[5] = id;
        fixChecksum(p);
        const original = p.slice();
        const n = ipv4FragmentCount(p, 0, mtu);
        const chunk = (mtu - 20) & ~7;
        if (n !== (p.length <= mtu ? 1 : 1 + Math.ceil((p.length - 20 - chunk) / chunk))) return false;
        // In place, as the datapath does it: the whole packet in slot 0, fragments k into slot k, last first.
        const slot = 3200;
        const slots = new Uint8Array(slot * (n + 1));
        slots.set(p, 0);
        const lengths: number[] = [];
        for (let k = n - 1; k >= 0; k--) lengths[k] = writeIpv4Fragment(slots, 0, mtu, k, slots, k * slot);
        const frags = lengths.map((len, k) => slots.slice(k * slot, k * slot + len));
        for (const [k, f] of frags.entries()) {
          const h = must(parseIpv4Header(f));
          if (f.length > mtu || h.identification !== id || h.moreFragments !== k < n - 1 || h.dontFragment) return false;
          if (k < n - 1 && (f.length - 20) % 8 !== 0) return false;
        }
        if (Buffer.compare(reassemble(frags), original.subarray(20)) !== 0) return false;
        return n > 1 || Buffer.compare(frags[0]!, original) === 0;
      }),
      // Each case fragments up to 3 KB into as many as 62 pieces: a tenth of the usual runs.
      { numRuns: Math.ceil(propertyRuns() / 10) },
    );
  });
});

function fixChecksum(p: Uint8Array): Uint8Array {
  const hl = (p[0]! & 0x0f) * 4;
  p[10] = 0;
  p[11] = 0;
  const c = referenceChecksum(p.subarray(0, hl));
  p[10] = c >>> 8;
  p[11] = c;
  return p;
}

