import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { parseIpv6 } from "../../../src/wire/ipv6-address.ts";
import {
  encapsulatedLength,
  isForbiddenDecapsulatedSource,
  parseTunnelPacket,
  tunnelHeaderLength,
  writeTunnelHeaders,
  type TunnelParams,
} from "../../../src/wire/tunnel.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, errorOf, expectSane, hex, hostile, must, referenceChecksum, u16, u32, u8, same } from "./bytes.ts";

// The inner packet: the golden Router Solicitation (IPv6 header + 16 bytes of ICMPv6).
const inner = hex(
  "6000 0000 0010 3a ff | fe80 0000 0000 0000 0000 00ff fe00 000a | ff02 0000 0000 0000 0000 0000 0000 0002" +
    "| 8500 7b1a 0000 0000 0101 0200 0000 000a",
);
const SRC = parseIpv4("192.0.2.10")!;
const DST = parseIpv4("198.51.100.1")!;
const base = { src: SRC, dst: DST, ttl: 64, dontFragment: false, identification: 0x1234 };
// Outer headers per RFC 4213 3.5 (TOS 0, IHL 5, protocol 41) and with GRE (protocol 47, K, 0x86dd, key 100).
// Header checksums computed independently and re-checked below.
const sixIn4 = hex("4500 004c 1234 0000 4029 7c16 c000 020a c633 6401");
const greIn4 = hex("4500 0054 1234 0000 402f 7c08 c000 020a c633 6401 | 2000 86dd 0000 0064");

describe("tunnel framing", () => {
  it("the golden outer checksums are right by the reference computation", () => {
    expect(referenceChecksum(sixIn4)).toBe(0);
    expect(referenceChecksum(greIn4.subarray(0, 20))).toBe(0);
  });

  it("6in4: headers are prepended in place and parse back", () => {
    const p: TunnelParams = { ...base, gre: null };
    expect(tunnelHeaderLength(p)).toBe(20);
    expect(encapsulatedLength(p, inner.length)).toBe(76);
    // The datapath's shape: inner packet placed at a fixed headroom, headers written in front.
    const headroom = 32;
    const out = new Uint8Array(headroom + inner.length);
    out.set(inner, headroom);
    const start = headroom - tunnelHeaderLength(p);
    expect(writeTunnelHeaders(out, start, p, inner.length)).toBe(20);
    expect(out.subarray(start)).toEqual(concat(sixIn4, inner));
    expect(out.subarray(0, start)).toEqual(new Uint8Array(start));
    const t = must(parseTunnelPacket(out, start));
    expect(t).toEqual({ src: SRC, dst: DST, kind: "ip6ip", key: null, sequence: null, innerOffset: headroom, innerLength: 56 });
  });

  it("GRE with key: headers are prepended in place and parse back", () => {
    const p: TunnelParams = { ...base, gre: { key: 100 } };
    expect(tunnelHeaderLength(p)).toBe(28);
    expect(tunnelHeaderLength({ gre: { key: null } })).toBe(24);
    const out = new Uint8Array(28 + inner.length);
    out.set(inner, 28);
    expect(writeTunnelHeaders(out, 0, p, inner.length)).toBe(28);
    expect(out).toEqual(concat(greIn4, inner));
    expect(must(parseTunnelPacket(out))).toEqual({ src: SRC, dst: DST, kind: "gre", key: 100, sequence: null, innerOffset: 28, innerLength: 56 });
  });

  it("takes the inner length from the IPv6 header, not the padded outer length (RFC 4213 3.6)", () => {
    const padded = concat(sixIn4, inner, hex("00000000"));
    padded[3] = 0x50;
    padded[10] = 0;
    padded[11] = 0;
    const c = referenceChecksum(padded.subarray(0, 20));
    padded[10] = c >>> 8;
    padded[11] = c & 0xff;
    expect(must(parseTunnelPacket(padded)).innerLength).toBe(56);
  });

  function reChecksum(b: Uint8Array): Uint8Array {
    b[10] = 0;
    b[11] = 0;
    const c = referenceChecksum(b.subarray(0, 20));
    b[10] = c >>> 8;
    b[11] = c & 0xff;
    return b;
  }

  it("rejects what is not a well-formed IPv6 tunnel packet", () => {
    const ok6in4 = concat(sixIn4, inner);
    const udp = ok6in4.slice();
    udp[9] = 17;
    expect(errorOf(parseTunnelPacket(reChecksum(udp)))).toEqual({ kind: "unexpected-type", at: 9 });
    const frag = ok6in4.slice();
    frag[6] = 0x20;
    expect(errorOf(parseTunnelPacket(reChecksum(frag)))).toEqual({ kind: "bad-value", at: 6 });
    const v4inner = ok6in4.slice();
    v4inner[20] = 0x45;
    expect(errorOf(parseTunnelPacket(v4inner))).toEqual({ kind: "bad-version", at: 20 });
    const longInner = ok6in4.slice();
    longInner[25] = 0x11; // inner payload length 17 > 16 present
    expect(errorOf(parseTunnelPacket(longInner))).toEqual({ kind: "truncated", at: 24 });
    const short = concat(sixIn4, inner.subarray(0, 39));
    short[3] = 59;
    expect(errorOf(parseTunnelPacket(reChecksum(short)))).toEqual({ kind: "truncated", at: 20 });
    const ipv4InGre = concat(greIn4, inner);
    ipv4InGre[22] = 0x08;
    ipv4InGre[23] = 0x00;
    expect(errorOf(parseTunnelPacket(ipv4InGre))).toEqual({ kind: "unexpected-type", at: 22 });
    const greV1 = concat(greIn4, inner);
    greV1[21] = 1;
    expect(errorOf(parseTunnelPacket(greV1))).toEqual({ kind: "bad-version", at: 21 });
    const badSum = concat(sixIn4, inner);
    badSum[8] = 1;
    expect(errorOf(parseTunnelPacket(badSum))).toEqual({ kind: "bad-checksum", at: 10 });
  });

  it("RFC 4213 3.6 source filter", () => {
    for (const bad of ["ff02::1", "::1", "::192.0.2.1", "::ffff:192.0.2.1", "::2"]) {
      expect(isForbiddenDecapsulatedSource(parseIpv6(bad)!), bad).toBe(true);
    }
    for (const good of ["::", "fe80::1", "2001:db8::1", "::1:0:0:1", "64:ff9b::c000:201"]) {
      expect(isForbiddenDecapsulatedSource(parseIpv6(good)!), good).toBe(false);
    }
  });

  const params: fc.Arbitrary<TunnelParams> = fc.record({
    src: u32,
    dst: u32,
    ttl: u8,
    dontFragment: fc.boolean(),
    identification: u16,
    tos: u8,
    gre: fc.option(fc.record({ key: fc.option(u32, { nil: null }) }), { nil: null }),
  });
  const innerPacket = fc.tuple(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ maxLength: 40 })).map(([h, payload]) => {
    h[0] = 0x60 | (h[0]! & 0x0f);
    h[4] = payload.length >>> 8;
    h[5] = payload.length & 0xff;
    return concat(h, payload);
  });

  function build(p: TunnelParams, inn: Uint8Array, headroom: number): Uint8Array {
    const out = new Uint8Array(headroom + inn.length);
    out.set(inn, headroom);
    writeTunnelHeaders(out, headroom - tunnelHeaderLength(p), p, inn.length);
    return out;
  }

  it("write then parse is the identity", () => {
    fc.assert(
      fc.property(params, innerPacket, fc.nat({ max: 8 }), (p, inn, slack) => {
        const headroom = tunnelHeaderLength(p) + slack;
        const out = build(p, inn, headroom);
        const start = slack;
        const r = parseTunnelPacket(out, start);
        same(r.ok && r.length, encapsulatedLength(p, inn.length));
        const t = must(r);
        same(t.kind, p.gre === null ? "ip6ip" : "gre");
        same(t.key, p.gre === null ? null : p.gre.key);
        same([t.src, t.dst, t.innerOffset, t.innerLength], [p.src, p.dst, headroom, inn.length]);
        same(out.subarray(t.innerOffset, t.innerOffset + t.innerLength), inn);
        same(out[start + 1], p.tos);
        same(out[start + 8], p.ttl);
        same((out[start + 6]! & 0x40) !== 0, p.dontFragment);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = fc.tuple(params, innerPacket).map(([p, inn]) => build(p, inn, tunnelHeaderLength(p)));
    fc.assert(
      fc.property(hostile(valid), (b) => {
        const r = parseTunnelPacket(b);
        expectSane(r, 0, b.length);
        if (r.ok) same(r.value.innerOffset + r.value.innerLength <= b.length, true);
        if (b.length >= 16) isForbiddenDecapsulatedSource(b);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
