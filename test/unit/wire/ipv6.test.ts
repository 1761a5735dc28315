import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ALL_NODES_MULTICAST,
  ALL_ROUTERS_MULTICAST,
  formatIpv6,
  ipv6Equal,
  isLinkLocal,
  isMulticastIpv6,
  isUnspecified,
  parseIpv6,
  solicitedNodeMulticast,
  writeIpv6MulticastMac,
} from "../../../src/wire/ipv6-address.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH, parseIpv6Header, type Ipv6Header } from "../../../src/wire/ipv6.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, errorOf, expectSane, hex, hostile, must, u16, u8, same } from "./bytes.ts";

describe("ipv6 addresses", () => {
  it("formats per RFC 5952", () => {
    const cases: [string, string][] = [
      ["20010db8000000000000000000000001", "2001:db8::1"], // 4.2.1 longest run
      ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"], // 4.2.2 single zero word kept
      ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"], // 4.2.3 first of equal runs
      ["20010000000000010000000000000001", "2001:0:0:1::1"], // 4.2.3 longest wins over first
      ["20010000000000000001000000000001", "2001::1:0:0:1"],
      ["20010db800000000000000000000abcd", "2001:db8::abcd"], // 4.3 lowercase
      ["00000000000000000000000000000000", "::"],
      ["00000000000000000000000000000001", "::1"],
      ["fe800000000000000000000000000000", "fe80::"],
      ["fe8000000000000000ff0000fe00000a", "fe80::ff:0:fe00:a"],
      ["00000000000000000000ffffc0000201", "::ffff:192.0.2.1"], // 5: IPv4-mapped
      ["00010002000300040005000600070008", "1:2:3:4:5:6:7:8"],
    ];
    for (const [bytes, text] of cases) {
      expect(formatIpv6(hex(bytes)), text).toBe(text);
      expect(parseIpv6(text), text).toEqual(hex(bytes));
    }
    expect(formatIpv6(hex("ffff 20010db8000000000000000000000001"), 2)).toBe("2001:db8::1");
  });

  it("parses the other RFC 4291 text forms", () => {
    expect(parseIpv6("2001:0DB8:0000:0000:0000:0000:0000:0001")).toEqual(hex("20010db8000000000000000000000001"));
    expect(parseIpv6("::192.0.2.1")).toEqual(hex("000000000000000000000000c0000201"));
    expect(parseIpv6("1:2:3:4:5:6:1.2.3.4")).toEqual(hex("000100020003000400050006 01020304"));
    expect(parseIpv6("1::")).toEqual(hex("00010000000000000000000000000000"));
    expect(parseIpv6("1:2:3:4:5:6:7::")).toEqual(hex("00010002000300040005000600070000"));
  });

  it("rejects malformed text", () => {
    for (const bad of [
      "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::", ":1::", "1::2:", "1:2:3:4:5:6:7:8::",
      "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4", " ::1", "::01.2.3.4",
    ]) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
  });

  it("predicates and derived addresses", () => {
    const ll = parseIpv6("fe80::ff:fe00:a")!;
    expect(isLinkLocal(ll)).toBe(true);
    expect(isLinkLocal(parseIpv6("febf::1")!)).toBe(true);
    expect(isLinkLocal(parseIpv6("fec0::1")!)).toBe(false);
    expect(isUnspecified(parseIpv6("::")!)).toBe(true);
    expect(isUnspecified(parseIpv6("::1")!)).toBe(false);
    expect(isMulticastIpv6(ALL_NODES_MULTICAST)).toBe(true);
    expect(formatIpv6(ALL_ROUTERS_MULTICAST)).toBe("ff02::2");
    expect(formatIpv6(solicitedNodeMulticast(parseIpv6("2001:db8::12:3456:789a")!))).toBe("ff02::1:ff56:789a");
    expect(ipv6Equal(ll, parseIpv6("fe80:0::ff:fe00:000a")!)).toBe(true);
    expect(ipv6Equal(ll, parseIpv6("fe80::ff:fe00:b")!)).toBe(false);
    const mac = new Uint8Array(6);
    expect(writeIpv6MulticastMac(parseIpv6("ff02::1:ff00:a")!, 0, mac, 0)).toBe(6);
    expect(mac).toEqual(hex("3333ff00000a"));
  });

  // Addresses with many zero words so the "::" logic is exercised, not just random bytes.
  const address = fc
    .array(fc.oneof(fc.constant(0), fc.constant(0), u16), { minLength: 8, maxLength: 8 })
    .map((ws) => Uint8Array.from(ws.flatMap((w) => [w >>> 8, w & 0xff])));

  it("format then parse is the identity, and the text is canonical", () => {
    fc.assert(
      fc.property(address, (a) => {
        const text = formatIpv6(a);
        same(parseIpv6(text), a);
        same(text, text.toLowerCase());
        same(/(^|:)0[0-9a-f]/.test(text), false); // no leading zeros
        same(text.includes(":::"), false);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("parseIpv6 never throws on arbitrary text", () => {
    const chars = fc.constantFrom(..."0123456789abcdefABCDEFg:.:%");
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 46 }), fc.string({ maxLength: 46 })), (s) => {
        const a = parseIpv6(s);
        if (a !== null) same(parseIpv6(formatIpv6(a)), a);
      }),
      { numRuns: propertyRuns() },
    );
  });
});

describe("ipv6 header", () => {
  // An RS from fe80::ff:fe00:a to ff02::2: tc 0xe0, flow label 0x12345, 16-byte payload, ICMPv6, hop limit 255.
  const golden = hex(
    "6e0 12345 | 0010 | 3a | ff | fe80 0000 0000 0000 0000 00ff fe00 000a | ff02 0000 0000 0000 0000 0000 0000 0002",
  );
  const value: Ipv6Header = {
    trafficClass: 0xe0,
    flowLabel: 0x12345,
    payloadLength: 16,
    nextHeader: 58,
    hopLimit: 255,
    src: parseIpv6("fe80::ff:fe00:a")!,
    dst: parseIpv6("ff02::2")!,
  };
  const packet = new Uint8Array(56);
  packet.set(golden);

  it("parses and encodes the golden header", () => {
    const r = parseIpv6Header(packet);
    expect(r.ok && r.length).toBe(40);
    expect(must(r)).toEqual(value);
    const out = new Uint8Array(40);
    expect(encodeIpv6Header(value, out, 0)).toBe(40);
    expect(out).toEqual(golden);
  });

  it("rejects a wrong version, a short header and a payload beyond the buffer", () => {
    expect(errorOf(parseIpv6Header(packet.subarray(0, 39)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseIpv6Header(packet.subarray(0, 55)))).toEqual({ kind: "truncated", at: 4 });
    const v4 = packet.slice();
    v4[0] = 0x4e;
    expect(errorOf(parseIpv6Header(v4))).toEqual({ kind: "bad-version", at: 0 });
    const at3 = new Uint8Array(3 + 56);
    at3.set(packet, 3);
    expect(errorOf(parseIpv6Header(at3, 3, 50))).toEqual({ kind: "truncated", at: 7 });
  });

  const header: fc.Arbitrary<Ipv6Header> = fc.record({
    trafficClass: u8,
    flowLabel: fc.integer({ min: 0, max: 0xfffff }),
    payloadLength: fc.nat({ max: 64 }),
    nextHeader: u8,
    hopLimit: u8,
    src: bytesOf(16),
    dst: bytesOf(16),
  });

  function encode(h: Ipv6Header, at = 0): Uint8Array {
    const out = new Uint8Array(at + IPV6_HEADER_LENGTH + h.payloadLength);
    encodeIpv6Header(h, out, at);
    return out;
  }

  it("encode then parse is the identity", () => {
    fc.assert(
      fc.property(header, fc.nat({ max: 4 }), (h, at) => {
        same(must(parseIpv6Header(encode(h, at), at)), h);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    fc.assert(
      fc.property(hostile(header.map((h) => encode(h))), (b) => {
        const r = parseIpv6Header(b);
        expectSane(r, 0, b.length);
        if (r.ok) same(40 + r.value.payloadLength <= b.length, true);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
