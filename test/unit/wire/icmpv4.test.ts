import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeIcmpv4Error, parseIcmpv4Error } from "../../../src/wire/icmpv4.ts";
import { encodeIpv4Header } from "../../../src/wire/ipv4.ts";
import { formatIpv4, parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, errorOf, expectSane, hex, hostile, must } from "./bytes.ts";

// A router (10.64.0.254) tells the CoA 10.64.0.101 that its 1520-byte 6in4 packet (DF) to the HA
// 10.64.0.1 needs fragmentation, next-hop MTU 1400 (0x0578), quoting the IPv4 header and 8 bytes.
const fragNeeded = hex(
  "4500 0038 0000 0000 4001 64e3 0a40 00fe 0a40 0065 | 0304 863b 0000 0578 | 4500 05f0 0000 4000 4029 2000 0a40 0065 0a40 0001 | 6000 0000 0008 1140",
);

describe("ICMPv4 errors (RFC 792, RFC 1191)", () => {
  it("golden: fragmentation needed with the next-hop MTU and the quoted tunnel packet", () => {
    const e = must(parseIcmpv4Error(fragNeeded));
    expect(formatIpv4(e.from)).toBe("10.64.0.254");
    expect(formatIpv4(e.to)).toBe("10.64.0.101");
    expect([e.type, e.code, e.nextHopMtu]).toEqual([3, 4, 1400]);
    expect(e.quoted).toEqual({ src: parseIpv4("10.64.0.101"), dst: parseIpv4("10.64.0.1"), protocol: 41, identification: 0, totalLength: 1520, dontFragment: true, headerLength: 20 });
    expect(e.quotedGreKey).toBeNull();
    expect(e.quotedPayload).toEqual(hex("6000 0000 0008 1140"));
  });

  it("the encoder (tests, peers) writes the same bytes", () => {
    const out = new Uint8Array(fragNeeded.length);
    encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: 56, identification: 0, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, checksum: 0, src: parseIpv4("10.64.0.254")!, dst: parseIpv4("10.64.0.101")!, options: new Uint8Array(0) }, out, 0);
    encodeIcmpv4Error(out, 20, 3, 4, 1400, fragNeeded.subarray(28));
    expect(out).toEqual(fragNeeded);
  });

  it("a quoted GRE packet gives its key (with and without the checksum word)", () => {
    const quoteOf = (gre: Uint8Array): Uint8Array => concat(hex("4500 05f8 0000 4000 402f 0000 0a40 0065 0a40 0001"), gre);
    const build = (gre: Uint8Array): Uint8Array => {
      const q = quoteOf(gre);
      const out = new Uint8Array(28 + q.length);
      encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: out.length, identification: 0, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, checksum: 0, src: 1, dst: 2, options: new Uint8Array(0) }, out, 0);
      encodeIcmpv4Error(out, 20, 11, 0, 0, q);
      return out;
    };
    expect(must(parseIcmpv4Error(build(hex("2000 86dd 0000 1001")))).quotedGreKey).toBe(0x1001);
    expect(must(parseIcmpv4Error(build(hex("a000 86dd 0000 0000 0000 1002")))).quotedGreKey).toBe(0x1002);
    const e = must(parseIcmpv4Error(build(hex("0000 86dd 6000 0000"))));
    expect([e.type, e.quotedGreKey, e.nextHopMtu]).toEqual([11, null, 0]);
  });

  it("refuses non-errors, bad checksums and short quotes with typed errors", () => {
    const echo = fragNeeded.slice();
    echo[20] = 8;
    echo[21] = 0;
    fixIcmpChecksum(echo);
    expect(errorOf(parseIcmpv4Error(echo)).kind).toBe("unexpected-type");
    const bad = fragNeeded.slice();
    bad[27] = bad[27]! ^ 1;
    expect(errorOf(parseIcmpv4Error(bad))).toEqual({ kind: "bad-checksum", at: 22 });
    const short = new Uint8Array(20 + 8 + 24);
    short.set(fragNeeded.subarray(0, 52));
    short[3] = short.length;
    short[10] = 0;
    short[11] = 0;
    encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: short.length, identification: 0, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, checksum: 0, src: 1, dst: 2, options: new Uint8Array(0) }, short, 0);
    fixIcmpChecksum(short);
    expect(errorOf(parseIcmpv4Error(short)).kind).toBe("truncated");
    const udp = fragNeeded.slice();
    udp[9] = 17;
    expect(errorOf(parseIcmpv4Error(udp)).kind).not.toBe(undefined);
  });

  it("property: hostile input never throws and stays inside the buffer", () => {
    fc.assert(
      fc.property(hostile(fc.constant(fragNeeded)), (b) => {
        expectSane(parseIcmpv4Error(b), 0, b.length);
      }),
      { numRuns: propertyRuns() },
    );
  });
});

function fixIcmpChecksum(p: Uint8Array): void {
  p[22] = 0;
  p[23] = 0;
  let s = 0;
  for (let i = 20; i < p.length; i += 2) s += (p[i]! << 8) | (p[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  p[22] = c >>> 8;
  p[23] = c;
}
