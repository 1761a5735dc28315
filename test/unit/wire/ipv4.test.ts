import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv4, parseIpv4, readIpv4, writeIpv4 } from "../../../src/wire/ipv4-address.ts";
import {
  encodeIpv4Header,
  IPPROTO_GRE,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPPROTO_UDP,
  ipv4HeaderLength,
  parseIpv4Header,
  type Ipv4Header,
} from "../../../src/wire/ipv4.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, errorOf, expectSane, hex, hostile, must, referenceChecksum, u16, u32, u8, same } from "./bytes.ts";

// Wikipedia's worked "IPv4 header checksum" example: 192.168.0.1 -> 192.168.0.199, UDP, DF.
const golden = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");

function withPayload(header: Uint8Array, total: number): Uint8Array {
  const b = new Uint8Array(total);
  b.set(header);
  return b;
}

describe("ipv4 addresses", () => {
  it("formats and parses dotted quads as unsigned numbers", () => {
    expect(formatIpv4(0xc0a800c7)).toBe("192.168.0.199");
    expect(parseIpv4("255.255.255.255")).toBe(0xffff_ffff);
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4("0.0.0.0")).toBe(0);
  });

  it("rejects anything but a strict dotted quad", () => {
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "1..3.4", "0x1.2.3.4", "-1.2.3.4", "1.2.3.a"]) {
      expect(parseIpv4(bad), bad).toBeNull();
    }
  });

  it("text, read and write round trip for every 32-bit value drawn", () => {
    fc.assert(
      fc.property(u32, (n) => {
        same(parseIpv4(formatIpv4(n)), n);
        const b = new Uint8Array(4);
        writeIpv4(n, b, 0);
        same(readIpv4(b, 0), n);
      }),
      { numRuns: propertyRuns() },
    );
  });
});

describe("ipv4 header", () => {
  it("parses the golden header", () => {
    const r = parseIpv4Header(withPayload(golden, 0x73));
    expect(r.ok && r.length).toBe(20);
    expect(must(r)).toEqual({
      dscp: 0,
      ecn: 0,
      totalLength: 0x73,
      identification: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IPPROTO_UDP,
      checksum: 0xb861,
      src: 0xc0a80001,
      dst: 0xc0a800c7,
      options: new Uint8Array(0),
    });
  });

  it("encodes the golden header, computing the checksum", () => {
    const h = must(parseIpv4Header(withPayload(golden, 0x73)));
    const out = new Uint8Array(20);
    expect(encodeIpv4Header({ ...h, checksum: 0 }, out, 0)).toBe(20);
    expect(out).toEqual(golden);
  });

  it("keeps options and pads them to 4 bytes", () => {
    // IHL 6: one Router Alert option (94 04 0000).
    const hdr = hex("4600 0018 0001 2000 0102 0000 0a00 0001 0a00 0002 9404 0000");
    const c = referenceChecksum(hdr);
    hdr[10] = c >>> 8;
    hdr[11] = c & 0xff;
    const h = must(parseIpv4Header(hdr));
    expect(h.options).toEqual(hex("94040000"));
    expect(h.moreFragments).toBe(true);
    expect(h.protocol).toBe(2);
    const out = new Uint8Array(24);
    expect(encodeIpv4Header(h, out, 0)).toBe(24);
    expect(out).toEqual(hdr);
    expect(ipv4HeaderLength({ options: hex("0102 03") })).toBe(24);
  });

  it("reports each malformation with its kind and offset", () => {
    const b = withPayload(golden, 0x73);
    expect(errorOf(parseIpv4Header(b.subarray(0, 19)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseIpv4Header(b.subarray(0, 0x72)))).toEqual({ kind: "truncated", at: 2 });
    const v6 = b.slice();
    v6[0] = 0x65;
    expect(errorOf(parseIpv4Header(v6))).toEqual({ kind: "bad-version", at: 0 });
    const ihl4 = b.slice();
    ihl4[0] = 0x44;
    expect(errorOf(parseIpv4Header(ihl4))).toEqual({ kind: "bad-length", at: 0 });
    const ihl15 = b.slice(0, 40);
    ihl15[0] = 0x4f;
    expect(errorOf(parseIpv4Header(ihl15))).toEqual({ kind: "truncated", at: 0 });
    const short = b.slice();
    short[2] = 0;
    short[3] = 19;
    expect(errorOf(parseIpv4Header(short))).toEqual({ kind: "bad-length", at: 2 });
    const bad = b.slice();
    bad[8] = 63;
    expect(errorOf(parseIpv4Header(bad))).toEqual({ kind: "bad-checksum", at: 10 });
  });

  it("reports offsets relative to the buffer given", () => {
    const b = new Uint8Array(5 + 0x73);
    b.set(golden, 5);
    expect(must(parseIpv4Header(b, 5)).dst).toBe(0xc0a800c7);
    expect(errorOf(parseIpv4Header(b, 5, 5 + 0x70))).toEqual({ kind: "truncated", at: 7 });
  });

  it("protocol constants", () => {
    expect([IPPROTO_IPV6, IPPROTO_GRE, IPPROTO_UDP, IPPROTO_ICMPV6]).toEqual([41, 47, 17, 58]);
  });

  const header: fc.Arbitrary<Ipv4Header> = fc
    .record({
      dscp: fc.integer({ min: 0, max: 63 }),
      ecn: fc.integer({ min: 0, max: 3 }),
      extra: fc.nat({ max: 64 }),
      identification: u16,
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
      ttl: u8,
      protocol: u8,
      src: u32,
      dst: u32,
      words: fc.nat({ max: 10 }),
      optionBytes: bytesOf(40),
    })
    .map(({ extra, words, optionBytes, ...h }) => {
      const options = optionBytes.subarray(0, words * 4);
      return { ...h, options, checksum: 0, totalLength: 20 + options.length + extra };
    });

  function encode(h: Ipv4Header, at = 0): Uint8Array {
    const out = new Uint8Array(at + h.totalLength);
    encodeIpv4Header(h, out, at);
    return out;
  }

  it("encode then parse is the identity", () => {
    fc.assert(
      fc.property(header, fc.nat({ max: 4 }), (h, at) => {
        const out = encode(h, at);
        const r = parseIpv4Header(out, at);
        same(r.ok && r.length, ipv4HeaderLength(h));
        const got = must(r);
        same(referenceChecksum(out.subarray(at, at + ipv4HeaderLength(h))), 0);
        same({ ...got, checksum: 0 }, h);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    fc.assert(
      fc.property(hostile(header.map((h) => encode(h))), (b) => {
        const r = parseIpv4Header(b);
        expectSane(r, 0, b.length);
        if (r.ok) same(referenceChecksum(b.subarray(0, r.length)), 0);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
