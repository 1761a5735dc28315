import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  computeIcmpv6Checksum,
  encodeIcmpv6,
  icmpv6EncodedLength,
  parseIcmpv6,
  verifyIcmpv6Checksum,
  type Icmpv6Message,
} from "../../../src/wire/icmpv6.ts";
import { parseIpv6 } from "../../../src/wire/ipv6-address.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, errorOf, expectSane, hex, hostile, ipv6Pseudo, must, referenceChecksum, u8, same } from "./bytes.ts";

const src = parseIpv6("fe80::ff:fe00:a")!;
const dst = parseIpv6("ff02::2")!;
// A Router Solicitation with an SLLA option, used here as a generic ICMPv6 message.
const golden = hex("85 00 7b1a 00000000 | 0101 0200 0000 000a");

describe("icmpv6", () => {
  it("the golden checksum is right by the reference computation", () => {
    expect(referenceChecksum(ipv6Pseudo(src, dst, golden.length, 58), golden)).toBe(0);
  });

  it("parses, verifies and re-encodes the golden message", () => {
    const r = parseIcmpv6(golden);
    expect(r.ok && r.length).toBe(16);
    const m = must(r);
    expect(m).toEqual({ type: 133, code: 0, checksum: 0x7b1a, body: hex("00000000 0101 0200 0000 000a") });
    expect(verifyIcmpv6Checksum(golden, 0, golden.length, src, dst)).toBe(true);
    expect(verifyIcmpv6Checksum(golden, 0, golden.length, dst, src)).toBe(true); // the sum is symmetric in src/dst
    expect(verifyIcmpv6Checksum(golden, 0, golden.length, src, ALL_ONES)).toBe(false);
    expect(computeIcmpv6Checksum(golden, 0, golden.length, src, dst)).toBe(0x7b1a);
    const out = new Uint8Array(16);
    expect(encodeIcmpv6({ ...m, checksum: 0 }, out, 0, src, dst)).toBe(16);
    expect(out).toEqual(golden);
  });

  it("needs four bytes", () => {
    expect(errorOf(parseIcmpv6(golden.subarray(0, 3)))).toEqual({ kind: "truncated", at: 0 });
    expect(verifyIcmpv6Checksum(golden, 0, 3, src, dst)).toBe(false);
  });

  const message: fc.Arbitrary<Icmpv6Message> = fc.record({ type: u8, code: u8, checksum: fc.constant(0), body: fc.uint8Array({ maxLength: 64 }) });
  const addrs = fc.tuple(bytesOf(16), bytesOf(16));

  it("encode then parse is the identity and the checksum verifies", () => {
    fc.assert(
      fc.property(message, addrs, fc.nat({ max: 3 }), (m, [s, d], at) => {
        const out = new Uint8Array(at + icmpv6EncodedLength(m));
        encodeIcmpv6(m, out, at, s, d);
        const got = must(parseIcmpv6(out, at));
        same({ ...got, checksum: 0 }, m);
        same(verifyIcmpv6Checksum(out, at, out.length, s, d), true);
        same(referenceChecksum(ipv6Pseudo(s, d, out.length - at, 58), out.subarray(at)), 0);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = message.map((m) => {
      const out = new Uint8Array(icmpv6EncodedLength(m));
      encodeIcmpv6(m, out, 0, src, dst);
      return out;
    });
    fc.assert(
      fc.property(hostile(valid), (b) => {
        expectSane(parseIcmpv6(b), 0, b.length);
        verifyIcmpv6Checksum(b, 0, b.length, src, dst);
      }),
      { numRuns: propertyRuns() },
    );
  });
});

const ALL_ONES = new Uint8Array(16).fill(0xff);
