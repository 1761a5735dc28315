import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIcmpv6, verifyIcmpv6Checksum } from "../../../src/wire/icmpv6.ts";
import { encodePacketTooBig, mayAnswerWithPacketTooBig, packetTooBigLength, PTB_MAX_QUOTE } from "../../../src/wire/icmpv6-packet-too-big.ts";
import { parseIpv6 } from "../../../src/wire/ipv6-address.ts";
import { parseIpv6Header } from "../../../src/wire/ipv6.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, hex, ipv6Pseudo, must, referenceChecksum, toHex } from "./bytes.ts";

const ROUTER = parseIpv6("fe80::1")!;
// A UDP packet from the MN (2001:db8:1::5) to the CN (2001:db8:99::7): 40 + 8 bytes.
const invoking = hex("6000 0000 0008 11 40 | 2001 0db8 0001 0000 0000 0000 0000 0005 | 2001 0db8 0099 0000 0000 0000 0000 0007 | 1234 1b5f 0008 0000");

describe("ICMPv6 Packet Too Big (RFC 4443 3.2)", () => {
  it("golden: IPv6 header from the router's link-local to the invoking source, type 2 code 0, MTU 1480, the whole small packet quoted, checksum 0xd088", () => {
    const out = new Uint8Array(200);
    const n = encodePacketTooBig(out, 4, ROUTER, 1480, invoking);
    expect(n).toBe(96);
    expect(packetTooBigLength(invoking.length)).toBe(96);
    const expected = concat(
      hex("6000 0000 0038 3a 40 | fe80 0000 0000 0000 0000 0000 0000 0001 | 2001 0db8 0001 0000 0000 0000 0000 0005"),
      hex("02 00 d088 0000 05c8"),
      invoking,
    );
    expect(toHex(out.subarray(4, 4 + n))).toBe(toHex(expected));
    // The oracle: the RFC 1071 sum over pseudo-header and message is zero.
    expect(referenceChecksum(ipv6Pseudo(ROUTER, invoking.subarray(8, 24), 56, 58), expected.subarray(40))).toBe(0);
  });

  it("quotes at most 1232 bytes, so the PTB packet is never above 1280", () => {
    const big = new Uint8Array(1500);
    big.set(invoking.subarray(0, 40));
    big[4] = (1460 >>> 8) & 0xff;
    big[5] = 1460 & 0xff;
    for (let i = 40; i < big.length; i++) big[i] = i & 0xff;
    const out = new Uint8Array(1500);
    const n = encodePacketTooBig(out, 0, ROUTER, 1472, big);
    expect(n).toBe(1280);
    expect(PTB_MAX_QUOTE).toBe(1232);
    expect(out.subarray(48, 1280)).toEqual(big.subarray(0, 1232));
  });

  it("encodes from a view into the same buffer without losing the quote", () => {
    const buf = new Uint8Array(400);
    buf.set(invoking, 20);
    const n = encodePacketTooBig(buf, 0, ROUTER, 1280, buf.subarray(20, 20 + invoking.length));
    expect(buf.subarray(48, 48 + invoking.length)).toEqual(invoking);
    expect(verifyIcmpv6Checksum(buf, 40, n, ROUTER, invoking.subarray(8, 24))).toBe(true);
  });

  it("RFC 4443 2.4 (e): never in reply to an ICMPv6 error, an unspecified or a multicast source", () => {
    expect(mayAnswerWithPacketTooBig(invoking)).toBe(true);
    const icmpError = concat(invoking.subarray(0, 40), hex("0100 0000 0000 0000"));
    icmpError[6] = 58;
    expect(mayAnswerWithPacketTooBig(icmpError)).toBe(false);
    const echo = icmpError.slice();
    echo[40] = 128;
    expect(mayAnswerWithPacketTooBig(echo)).toBe(true);
    const unspecified = invoking.slice();
    unspecified.fill(0, 8, 24);
    expect(mayAnswerWithPacketTooBig(unspecified)).toBe(false);
    const multicast = invoking.slice();
    multicast[8] = 0xff;
    expect(mayAnswerWithPacketTooBig(multicast)).toBe(false);
    const multicastDst = invoking.slice();
    multicastDst[24] = 0xff;
    expect(mayAnswerWithPacketTooBig(multicastDst)).toBe(true);
    expect(mayAnswerWithPacketTooBig(invoking.subarray(0, 39))).toBe(false);
  });

  it("property: any invoking packet gives a valid IPv6 packet <= 1280 with a correct checksum, the MTU and the quote", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 2000 }), fc.integer({ min: 0, max: 0xffffffff }), (raw, mtu) => {
        const p = raw.slice();
        p[0] = 0x60 | (p[0]! & 0x0f);
        const out = new Uint8Array(1400);
        const n = encodePacketTooBig(out, 0, ROUTER, mtu, p);
        if (n > 1280 || n !== packetTooBigLength(p.length)) return false;
        const ip = must(parseIpv6Header(out.subarray(0, n)));
        if (ip.payloadLength !== n - 40 || ip.nextHeader !== 58 || Buffer.compare(ip.dst, p.subarray(8, 24)) !== 0) return false;
        const m = must(parseIcmpv6(out, 40, n));
        if (m.type !== 2 || m.code !== 0 || new DataView(m.body.buffer, m.body.byteOffset).getUint32(0) !== mtu) return false;
        return verifyIcmpv6Checksum(out, 40, n, ROUTER, p.subarray(8, 24)) && Buffer.compare(out.subarray(48, n), p.subarray(0, n - 48)) === 0;
      }),
      { numRuns: Math.ceil(propertyRuns() / 10) },
    );
  });
});
