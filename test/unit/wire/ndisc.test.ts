import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../../../src/wire/ethernet.ts";
import { parseIpv6, solicitedNodeMulticast, UNSPECIFIED_ADDRESS } from "../../../src/wire/ipv6-address.ts";
import { encodeIpv6Header } from "../../../src/wire/ipv6.ts";
import { macKey } from "../../../src/wire/mac.ts";
import {
  classifyFrame,
  encodeNd,
  findFrameSourceLinkLayerAddress,
  findNdOption,
  FRAME_IPV6,
  FRAME_MALFORMED_IPV6,
  FRAME_NOT_IPV6,
  ND_NEIGHBOR_ADVERTISEMENT,
  ND_NEIGHBOR_SOLICITATION,
  ND_OPT_MTU,
  ND_OPT_SOURCE_LINK_LAYER_ADDRESS,
  ND_ROUTER_ADVERTISEMENT,
  ND_ROUTER_SOLICITATION,
  ndEncodedLength,
  parseNd,
  parseNdChecked,
  parseNdOptions,
  parseNdPacket,
  type NdMessage,
  type NdOption,
} from "../../../src/wire/ndisc.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, concat, errorOf, expectSane, hex, hostile, ipv6Pseudo, must, referenceChecksum, u16, u32, u8, same } from "./bytes.ts";

// The cast of the golden packets: an MN (02:00:00:00:00:0a, EUI-64 link-local
// fe80::ff:fe00:a) and the HA's router (02:00:00:00:00:01, fe80::1).
const MN_MAC = hex("02000000000a");
const HA_MAC = hex("020000000001");
const MN_LL = parseIpv6("fe80::ff:fe00:a")!;
const HA_LL = parseIpv6("fe80::1")!;
const ALL_NODES = parseIpv6("ff02::1")!;
const ALL_ROUTERS = parseIpv6("ff02::2")!;

// Checksums computed independently (Python, RFC 1071 over the RFC 8200 8.1
// pseudo-header) and re-checked by the BigInt reference in the first test.
const golden = {
  // NS for fe80::1 from the MN, to its solicited-node group: SLLA + Nonce.
  ns: {
    src: MN_LL,
    dst: parseIpv6("ff02::1:ff00:1")!,
    bytes: hex("87 00 d3b1 00000000 | fe80 0000 0000 0000 0000 0000 0000 0001 | 01 01 0200 0000 000a | 0e 01 1122 3344 5566"),
  },
  // DAD NS (RFC 7527): source ::, no SLLA, nonce only.
  dad: {
    src: UNSPECIFIED_ADDRESS,
    dst: parseIpv6("ff02::1:ff00:a")!,
    bytes: hex("87 00 238c 00000000 | fe80 0000 0000 0000 0000 00ff fe00 000a | 0e 01 a1b2 c3d4 e5f6"),
  },
  rs: { src: MN_LL, dst: ALL_ROUTERS, bytes: hex("85 00 7b1a 00000000 | 01 01 0200 0000 000a") },
  // RA: hop limit 64, O set plus Prf=01 (high) in the low bits (0x48), lifetime 1800,
  // SLLA, MTU 1480, PIO 2001:db8:1::/64 L+A valid 86400 preferred 14400.
  ra: {
    src: HA_LL,
    dst: ALL_NODES,
    bytes: hex(
      "86 00 2ba4 | 40 48 0708 | 00000000 | 00000000 | 01 01 0200 0000 0001 | 05 01 0000 000005c8" +
        "| 03 04 40 c0 00015180 00003840 00000000 2001 0db8 0001 0000 0000 0000 0000 0000",
    ),
  },
  // Solicited NA from the router: R, S, O; TLLA.
  na: { src: HA_LL, dst: MN_LL, bytes: hex("88 00 9913 e0000000 | fe80 0000 0000 0000 0000 0000 0000 0001 | 02 01 0200 0000 0001") },
  // RA with an RDNSS option (type 25, RFC 8106) this code does not know: kept as-is.
  raUnknown: {
    src: HA_LL,
    dst: ALL_NODES,
    bytes: hex("86 00 dce5 | 40 00 0708 | 00000000 | 00000000 | 19 03 0000 00000e10 2001 0db8 0000 0000 0000 0000 0000 0053 | 01 01 0200 0000 0001"),
  },
};

const values: Record<keyof typeof golden, NdMessage> = {
  ns: { kind: "ns", target: HA_LL, options: [{ kind: "slla", address: MN_MAC }, { kind: "nonce", nonce: hex("112233445566") }] },
  dad: { kind: "ns", target: MN_LL, options: [{ kind: "nonce", nonce: hex("a1b2c3d4e5f6") }] },
  rs: { kind: "rs", options: [{ kind: "slla", address: MN_MAC }] },
  ra: {
    kind: "ra",
    curHopLimit: 64,
    managed: false,
    other: true,
    reservedFlags: 0x08,
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    options: [
      { kind: "slla", address: HA_MAC },
      { kind: "mtu", mtu: 1480 },
      {
        kind: "prefix-info",
        prefixLength: 64,
        onLink: true,
        autonomous: true,
        reservedFlags: 0,
        validLifetime: 86400,
        preferredLifetime: 14400,
        prefix: parseIpv6("2001:db8:1::")!,
      },
    ],
  },
  na: { kind: "na", router: true, solicited: true, override: true, target: HA_LL, options: [{ kind: "tlla", address: HA_MAC }] },
  raUnknown: {
    kind: "ra",
    curHopLimit: 64,
    managed: false,
    other: false,
    reservedFlags: 0,
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    options: [
      { kind: "unknown", type: 25, body: hex("0000 00000e10 20010db8000000000000000000000053") },
      { kind: "slla", address: HA_MAC },
    ],
  },
};

const names = Object.keys(golden) as (keyof typeof golden)[];

/** An Ethernet frame (optionally VLAN-tagged) carrying an IPv6 ND packet. */
function frameOf(g: { src: Uint8Array; dst: Uint8Array; bytes: Uint8Array }, vlan = false, hopLimit = 255): Uint8Array {
  const eth = new Uint8Array(vlan ? 18 : 14);
  encodeEthernet({ dst: hex("333300000001"), src: MN_MAC, vlan: vlan ? { pcp: 0, dei: false, vid: 7 } : null, etherType: ETHERTYPE_IPV6 }, eth, 0);
  const ip = new Uint8Array(40);
  encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: g.bytes.length, nextHeader: 58, hopLimit, src: g.src, dst: g.dst }, ip, 0);
  return concat(eth, ip, g.bytes);
}

describe("ndisc golden messages", () => {
  it("the golden checksums are right by the reference computation", () => {
    for (const n of names) {
      const g = golden[n];
      expect(referenceChecksum(ipv6Pseudo(g.src, g.dst, g.bytes.length, 58), g.bytes), n).toBe(0);
    }
  });

  it.each(names)("%s: parse gives the expected value", (n) => {
    const g = golden[n];
    const r = parseNdChecked(g.bytes, 0, g.bytes.length, g.src, g.dst);
    expect(r.ok && r.length).toBe(g.bytes.length);
    expect(must(r)).toEqual(values[n]);
  });

  it.each(names)("%s: encode gives exactly the golden bytes", (n) => {
    const g = golden[n];
    const v = values[n];
    expect(ndEncodedLength(v)).toBe(g.bytes.length);
    const out = new Uint8Array(g.bytes.length + 4).fill(0xee);
    expect(encodeNd(v, out, 2, g.src, g.dst)).toBe(g.bytes.length);
    expect(out.subarray(2, 2 + g.bytes.length)).toEqual(g.bytes);
    expect([out[0], out[1], out[out.length - 2], out[out.length - 1]]).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  it("the DAD NS target's solicited-node group is its destination", () => {
    expect(solicitedNodeMulticast(MN_LL)).toEqual(golden.dad.dst);
  });

  it("a wrong checksum is rejected by the checked parse only", () => {
    const b = golden.ns.bytes.slice();
    b[3] = b[3]! ^ 0x01;
    expect(errorOf(parseNdChecked(b, 0, b.length, golden.ns.src, golden.ns.dst))).toEqual({ kind: "bad-checksum", at: 2 });
    expect(must(parseNd(b))).toEqual(values.ns);
    // The same bytes checked against the wrong source fail too.
    expect(errorOf(parseNdChecked(golden.ns.bytes, 0, golden.ns.bytes.length, HA_LL, golden.ns.dst)).kind).toBe("bad-checksum");
  });
});

describe("ndisc malformed messages", () => {
  it("rejects a zero-length option wherever it is", () => {
    const b = concat(golden.rs.bytes, hex("19 00 000000000000"));
    expect(errorOf(parseNd(b))).toEqual({ kind: "zero-length-option", at: 17 });
    const first = golden.ra.bytes.slice();
    first[17] = 0;
    expect(errorOf(parseNd(first))).toEqual({ kind: "zero-length-option", at: 17 });
    expect(findNdOption(first, 0, first.length, ND_OPT_MTU)).toBe(-1);
  });

  it("rejects options running past the end", () => {
    // The PIO (last option, 32 bytes) cut by one byte.
    const ra = golden.ra.bytes;
    expect(errorOf(parseNd(ra.subarray(0, ra.length - 1)))).toEqual({ kind: "truncated", at: 33 });
    // A lone trailing byte is not an option header.
    expect(errorOf(parseNd(concat(golden.rs.bytes, hex("01"))))).toEqual({ kind: "truncated", at: 16 });
    // A length claiming more than is there.
    expect(errorOf(parseNd(concat(golden.rs.bytes, hex("01 02 0200 0000 000a"))))).toEqual({ kind: "truncated", at: 17 });
    expect(errorOf(parseNdOptions(hex("0e 02 00"), 0, 3))).toEqual({ kind: "truncated", at: 1 });
  });

  it("rejects short fixed parts, non-ND types, non-zero codes and bad known-option lengths", () => {
    expect(errorOf(parseNd(golden.ns.bytes.subarray(0, 23)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseNd(golden.ra.bytes.subarray(0, 15)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseNd(golden.rs.bytes.subarray(0, 3)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseNd(hex("80 00 0000 00000000")))).toEqual({ kind: "unexpected-type", at: 0 });
    expect(errorOf(parseNd(hex("89 00 0000 00000000")))).toEqual({ kind: "unexpected-type", at: 0 });
    expect(errorOf(parseNd(hex("85 01 0000 00000000")))).toEqual({ kind: "bad-value", at: 1 });
    expect(errorOf(parseNd(concat(hex("85 00 0000 00000000"), hex("05 02 0000 000005c8 0000000000000000"))))).toEqual({ kind: "bad-length", at: 9 });
    expect(errorOf(parseNd(concat(hex("85 00 0000 00000000"), hex("03 01 40c0 00000000"))))).toEqual({ kind: "bad-length", at: 9 });
  });

  it("keeps ignored reserved bits out of the value and encodes them as zero", () => {
    // NS with a non-zero Reserved field and an NA with reserved flag bits: RFC 4861 says ignore.
    const ns = golden.ns.bytes.slice();
    ns[7] = 0x55;
    expect(must(parseNd(ns))).toEqual(values.ns);
    const na = golden.na.bytes.slice();
    na[4] = 0xff;
    na[5] = 0xff;
    expect(must(parseNd(na))).toEqual(values.na);
  });

  it("an SLLA longer than Ethernet keeps its whole body", () => {
    const opts = must(parseNdOptions(hex("01 02 0102 0304 0506 0708 0900 0000 0000"), 0, 16));
    expect(opts).toEqual([{ kind: "slla", address: hex("0102 0304 0506 0708 0900 0000 0000") }] satisfies NdOption[]);
  });
});

describe("ndisc whole packets and the hot path", () => {
  it("parseNdPacket checks hop limit, next header and checksum", () => {
    const frame = frameOf(golden.ra);
    const p = must(parseNdPacket(frame, 14));
    expect(p.message).toEqual(values.ra);
    expect(p.ip.hopLimit).toBe(255);
    expect(errorOf(parseNdPacket(frameOf(golden.ra, false, 254), 14))).toEqual({ kind: "bad-value", at: 21 });
    const udp = frame.slice();
    udp[14 + 6] = 17;
    expect(errorOf(parseNdPacket(udp, 14))).toEqual({ kind: "unexpected-type", at: 20 });
    const flipped = frame.slice();
    flipped[frame.length - 1] = flipped[frame.length - 1]! ^ 0x80;
    expect(errorOf(parseNdPacket(flipped, 14))).toEqual({ kind: "bad-checksum", at: 56 });
  });

  it("classifies frames without parsing them", () => {
    expect(classifyFrame(frameOf(golden.rs))).toBe(ND_ROUTER_SOLICITATION);
    expect(classifyFrame(frameOf(golden.ra, true))).toBe(ND_ROUTER_ADVERTISEMENT);
    expect(classifyFrame(frameOf(golden.ns))).toBe(ND_NEIGHBOR_SOLICITATION);
    expect(classifyFrame(frameOf(golden.na))).toBe(ND_NEIGHBOR_ADVERTISEMENT);
    // Echo request (128): IPv6 but not ND.
    expect(classifyFrame(frameOf({ src: MN_LL, dst: HA_LL, bytes: hex("80 00 0000 00010001") }))).toBe(FRAME_IPV6);
    const v4 = frameOf(golden.rs);
    v4[12] = ETHERTYPE_IPV4 >>> 8;
    v4[13] = ETHERTYPE_IPV4 & 0xff;
    expect(classifyFrame(v4)).toBe(FRAME_NOT_IPV6);
    const badVersion = frameOf(golden.rs);
    badVersion[14] = 0x40;
    expect(classifyFrame(badVersion)).toBe(FRAME_MALFORMED_IPV6);
    const f = frameOf(golden.rs);
    expect(classifyFrame(f, 0, f.length - 1)).toBe(FRAME_MALFORMED_IPV6);
    expect(classifyFrame(f.subarray(0, 13))).toBe(FRAME_NOT_IPV6);
    const code1 = frameOf(golden.rs);
    code1[55] = 1;
    expect(classifyFrame(code1)).toBe(FRAME_IPV6);
  });

  it("finds the RA's source link-layer address in place, tagged or not", () => {
    for (const vlan of [false, true]) {
      const f = frameOf(golden.ra, vlan);
      const at = findFrameSourceLinkLayerAddress(f);
      expect(at).toBe((vlan ? 18 : 14) + 40 + 16 + 2);
      expect(macKey(f, at)).toBe(macKey(HA_MAC));
    }
    expect(macKey(frameOf(golden.rs), findFrameSourceLinkLayerAddress(frameOf(golden.rs)))).toBe(macKey(MN_MAC));
    expect(findFrameSourceLinkLayerAddress(frameOf(golden.dad))).toBe(-1); // no SLLA in a DAD NS
    expect(findFrameSourceLinkLayerAddress(frameOf(golden.na))).toBe(-1); // NA carries a TLLA
    // SLLA after an unknown option is still found.
    const u = frameOf(golden.raUnknown);
    expect(macKey(u, findFrameSourceLinkLayerAddress(u))).toBe(macKey(HA_MAC));
    expect(findNdOption(golden.ra.bytes, 0, golden.ra.bytes.length, ND_OPT_SOURCE_LINK_LAYER_ADDRESS)).toBe(18);
    expect(findNdOption(golden.ra.bytes, 0, golden.ra.bytes.length, 99)).toBe(-1);
  });
});

// ---- properties ----

const linkAddr = fc.nat({ max: 3 }).chain((k) => bytesOf(6 + 8 * k));
const option: fc.Arbitrary<NdOption> = fc.oneof(
  linkAddr.map((address): NdOption => ({ kind: "slla", address })),
  linkAddr.map((address): NdOption => ({ kind: "tlla", address })),
  fc.record({
    kind: fc.constant("prefix-info" as const),
    prefixLength: u8,
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    reservedFlags: fc.integer({ min: 0, max: 63 }),
    validLifetime: u32,
    preferredLifetime: u32,
    prefix: bytesOf(16),
  }),
  u32.map((mtu): NdOption => ({ kind: "mtu", mtu })),
  linkAddr.map((nonce): NdOption => ({ kind: "nonce", nonce })),
  fc
    .record({ type: u8.filter((t) => ![1, 2, 3, 5, 14].includes(t)), body: linkAddr })
    .map(({ type, body }): NdOption => ({ kind: "unknown", type, body })),
);
const options = fc.array(option, { maxLength: 4 });
const message: fc.Arbitrary<NdMessage> = fc.oneof(
  options.map((o): NdMessage => ({ kind: "rs", options: o })),
  fc.record({
    kind: fc.constant("ra" as const),
    curHopLimit: u8,
    managed: fc.boolean(),
    other: fc.boolean(),
    reservedFlags: fc.integer({ min: 0, max: 63 }),
    routerLifetime: u16,
    reachableTime: u32,
    retransTimer: u32,
    options,
  }),
  fc.record({ kind: fc.constant("ns" as const), target: bytesOf(16), options }),
  fc.record({ kind: fc.constant("na" as const), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: bytesOf(16), options }),
);

describe("ndisc properties", () => {
  it("encode then parse is the identity", () => {
    fc.assert(
      fc.property(message, bytesOf(16), fc.nat({ max: 3 }), (m, src, at) => {
        const len = ndEncodedLength(m);
        const out = new Uint8Array(at + len + 2);
        same(encodeNd(m, out, at, src, ALL_NODES), len);
        const r = parseNdChecked(out, at, at + len, src, ALL_NODES);
        same(r.ok && r.length, len);
        same(must(r), m);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile ND messages, and a success re-encodes to the same length", () => {
    const valid = fc.oneof(
      fc.constantFrom(...names.map((n) => golden[n].bytes)),
      message.map((m) => {
        const out = new Uint8Array(ndEncodedLength(m));
        encodeNd(m, out, 0, MN_LL, ALL_NODES);
        return out;
      }),
    );
    fc.assert(
      fc.property(hostile(valid), (b) => {
        const r = parseNd(b);
        expectSane(r, 0, b.length);
        expectSane(parseNdChecked(b, 0, b.length, MN_LL, ALL_NODES), 0, b.length);
        if (r.ok) same(ndEncodedLength(r.value), b.length);
        findNdOption(b, 0, b.length, ND_OPT_SOURCE_LINK_LAYER_ADDRESS);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile frames (classifier, SLLA finder, packet parse)", () => {
    const valid = fc.tuple(fc.constantFrom(...names), fc.boolean()).map(([n, vlan]) => frameOf(golden[n], vlan));
    fc.assert(
      fc.property(hostile(valid), (f) => {
        const c = classifyFrame(f);
        same(c === FRAME_NOT_IPV6 || c === FRAME_IPV6 || c === FRAME_MALFORMED_IPV6 || (c >= 133 && c <= 137), true);
        const at = findFrameSourceLinkLayerAddress(f);
        same(at === -1 || (at >= 0 && at + 6 <= f.length), true);
        const ipAt = Math.min(f[12] === 0x81 ? 18 : 14, f.length);
        expectSane(parseNdPacket(f, ipAt), ipAt, f.length);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
