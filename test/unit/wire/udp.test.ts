import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import {
  encodeIpv4Udp,
  encodeUdpHeader,
  ipv4UdpLength,
  parseIpv4Udp,
  parseUdpHeader,
  verifyUdpIpv4Checksum,
  writeUdpIpv4,
  type Ipv4UdpParams,
  type UdpHeader,
} from "../../../src/wire/udp.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, errorOf, expectSane, hex, hostile, must, referenceChecksum, u16, u32, u8, same } from "./bytes.ts";

const SRC = parseIpv4("192.0.2.10")!;
const DST = parseIpv4("198.51.100.1")!;
const payload = hex("010203040506");
// 192.0.2.10:434 -> 198.51.100.1:434, id 0xabcd, TTL 64, no DF; checksums computed
// independently (Python, RFC 1071) and re-checked below with the BigInt reference.
const ipHeader = hex("4500 0022 abcd 0000 4011 e2be c000 020a c633 6401");
const udpHeader = hex("01b2 01b2 000e 0723");
const golden = concat(ipHeader, udpHeader, payload);
const params: Ipv4UdpParams = { src: SRC, dst: DST, srcPort: 434, dstPort: 434, ttl: 64, identification: 0xabcd, dontFragment: false };

describe("udp", () => {
  it("the golden checksums are right by the reference computation", () => {
    expect(referenceChecksum(ipHeader)).toBe(0);
    const pseudo = hex("c000020a c6336401 0011 000e");
    expect(referenceChecksum(pseudo, udpHeader, payload)).toBe(0);
  });

  it("parses the golden header and verifies its checksum", () => {
    const udp = golden.subarray(20);
    const r = parseUdpHeader(udp);
    expect(r.ok && r.length).toBe(8);
    expect(must(r)).toEqual({ srcPort: 434, dstPort: 434, length: 14, checksum: 0x0723 });
    expect(verifyUdpIpv4Checksum(udp, 0, SRC, DST)).toBe(true);
    expect(verifyUdpIpv4Checksum(udp, 0, SRC, DST + 1)).toBe(false);
    const out = new Uint8Array(8);
    expect(encodeUdpHeader(must(r), out, 0)).toBe(8);
    expect(out).toEqual(udpHeader);
  });

  it("encodeIpv4Udp writes the golden packet; parseIpv4Udp reads it back", () => {
    const out = new Uint8Array(ipv4UdpLength(payload.length) + 2).fill(0xee);
    expect(encodeIpv4Udp(params, payload, out, 1)).toBe(34);
    expect(out.subarray(1, 35)).toEqual(golden);
    expect([out[0], out[35]]).toEqual([0xee, 0xee]);
    const p = must(parseIpv4Udp(golden));
    expect(p.ip.src).toBe(SRC);
    expect(p.udp.dstPort).toBe(434);
    expect(p.payload).toEqual(payload);
  });

  it("a zero checksum means none; a computed zero is sent as ffff", () => {
    const noSum = golden.slice();
    noSum[26] = 0;
    noSum[27] = 0;
    expect(must(parseIpv4Udp(noSum)).udp.checksum).toBe(0);
    // Pick a payload whose checksum computes to zero: adjust the last word by the current sum.
    const buf = new Uint8Array(8 + 2);
    writeUdpIpv4(buf, 0, 1, 2, 2, SRC, DST);
    const c = (buf[6]! << 8) | buf[7]!;
    buf[8] = c >>> 8;
    buf[9] = c & 0xff;
    writeUdpIpv4(buf, 0, 1, 2, 2, SRC, DST);
    expect([buf[6], buf[7]]).toEqual([0xff, 0xff]);
    expect(verifyUdpIpv4Checksum(buf, 0, SRC, DST)).toBe(true);
  });

  it("reports malformations", () => {
    expect(errorOf(parseUdpHeader(udpHeader.subarray(0, 7)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseUdpHeader(hex("0001 0002 0007 0000")))).toEqual({ kind: "bad-length", at: 4 });
    expect(errorOf(parseUdpHeader(hex("0001 0002 0009 0000")))).toEqual({ kind: "truncated", at: 4 });
    const bad = golden.slice();
    bad[33] = bad[33]! ^ 1;
    expect(errorOf(parseIpv4Udp(bad))).toEqual({ kind: "bad-checksum", at: 26 });
    const gre = golden.slice();
    gre[9] = 47;
    gre[10] = 0;
    gre[11] = 0;
    const c = referenceChecksum(gre.subarray(0, 20));
    gre[10] = c >>> 8;
    gre[11] = c & 0xff;
    expect(errorOf(parseIpv4Udp(gre))).toEqual({ kind: "unexpected-type", at: 9 });
  });

  const header: fc.Arbitrary<UdpHeader> = fc.record({ srcPort: u16, dstPort: u16, length: fc.integer({ min: 8, max: 40 }), checksum: u16 });
  const packet = fc.record({
    p: fc.record({ src: u32, dst: u32, srcPort: u16, dstPort: u16, ttl: u8, identification: u16, dontFragment: fc.boolean(), dscp: fc.integer({ min: 0, max: 63 }) }),
    payload: fc.uint8Array({ maxLength: 40 }),
  });

  it("encode then parse is the identity (header and whole packet)", () => {
    fc.assert(
      fc.property(header, packet, (h, { p, payload: pl }) => {
        const hb = new Uint8Array(h.length);
        encodeUdpHeader(h, hb, 0);
        same(must(parseUdpHeader(hb)), h);
        const out = new Uint8Array(ipv4UdpLength(pl.length));
        encodeIpv4Udp(p, pl, out, 0);
        const r = must(parseIpv4Udp(out));
        same(r.payload, pl);
        same([r.ip.src, r.ip.dst, r.ip.ttl, r.ip.identification, r.ip.dontFragment, r.ip.dscp], [p.src, p.dst, p.ttl, p.identification, p.dontFragment, p.dscp]);
        same([r.udp.srcPort, r.udp.dstPort, r.udp.length], [p.srcPort, p.dstPort, 8 + pl.length]);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = packet.map(({ p, payload: pl }) => {
      const out = new Uint8Array(ipv4UdpLength(pl.length));
      encodeIpv4Udp(p, pl, out, 0);
      return out;
    });
    fc.assert(
      fc.property(hostile(valid), (b) => {
        expectSane(parseIpv4Udp(b), 0, b.length);
        expectSane(parseUdpHeader(b), 0, b.length);
        verifyUdpIpv4Checksum(b, 0, SRC, DST);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
