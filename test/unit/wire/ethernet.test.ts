import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeEthernet,
  ethernetHeaderLength,
  ethernetPayloadOffset,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  parseEthernet,
  type EthernetHeader,
} from "../../../src/wire/ethernet.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, errorOf, expectSane, hex, hostile, must, u16, same } from "./bytes.ts";

const untagged = hex("3333 0000 0002 | 0200 0000 000a | 86dd");
// PCP 5, DEI 1, VID 0x123 -> TCI 1011 0001 0010 0011 = 0xb123
const tagged = hex("0200 0000 0001 | 0200 0000 000a | 8100 | b123 | 86dd");

describe("ethernet", () => {
  it("parses an untagged header", () => {
    const r = parseEthernet(untagged);
    expect(r.ok && r.length).toBe(14);
    expect(must(r)).toEqual({ dst: hex("333300000002"), src: hex("02000000000a"), vlan: null, etherType: ETHERTYPE_IPV6 });
  });

  it("parses and re-encodes an 802.1Q tagged header", () => {
    const r = parseEthernet(tagged);
    expect(r.ok && r.length).toBe(18);
    const h = must(r);
    expect(h).toEqual({ dst: hex("020000000001"), src: hex("02000000000a"), vlan: { pcp: 5, dei: true, vid: 0x123 }, etherType: 0x86dd });
    const out = new Uint8Array(20).fill(0xee);
    expect(encodeEthernet(h, out, 1)).toBe(18);
    expect(out.subarray(1, 19)).toEqual(tagged);
    expect(out[0]).toBe(0xee);
    expect(out[19]).toBe(0xee);
    expect(ethernetPayloadOffset(tagged)).toBe(18);
    expect(ethernetPayloadOffset(untagged)).toBe(14);
  });

  it("encodes the untagged golden bytes", () => {
    const out = new Uint8Array(14);
    expect(encodeEthernet({ dst: hex("333300000002"), src: hex("02000000000a"), vlan: null, etherType: ETHERTYPE_IPV6 }, out, 0)).toBe(14);
    expect(out).toEqual(untagged);
  });

  it("rejects short headers and short tags", () => {
    expect(errorOf(parseEthernet(untagged.subarray(0, 13)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseEthernet(tagged.subarray(0, 17)))).toEqual({ kind: "truncated", at: 14 });
    expect(ethernetPayloadOffset(tagged.subarray(0, 17))).toBe(-1);
    expect(errorOf(parseEthernet(tagged, 0, 10))).toEqual({ kind: "truncated", at: 0 });
  });

  it("constants", () => {
    expect([ETHERTYPE_IPV6, ETHERTYPE_IPV4, ETHERTYPE_VLAN]).toEqual([0x86dd, 0x0800, 0x8100]);
  });

  const header: fc.Arbitrary<EthernetHeader> = fc.record({
    dst: bytesOf(6),
    src: bytesOf(6),
    vlan: fc.option(fc.record({ pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 4095 }) }), { nil: null }),
    // A tag's inner type of 0x8100 stays a type (one tag unwrapped) but the outer must not be one when untagged.
    etherType: u16,
  }).filter((h) => h.vlan !== null || h.etherType !== ETHERTYPE_VLAN);

  it("encode then parse is the identity", () => {
    fc.assert(
      fc.property(header, fc.nat({ max: 6 }), (h, at) => {
        const out = new Uint8Array(at + ethernetHeaderLength(h));
        const n = encodeEthernet(h, out, at);
        same(n, ethernetHeaderLength(h));
        const r = parseEthernet(out, at);
        same(r.ok && r.length, n);
        same(must(r), h);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = header.map((h) => {
      const out = new Uint8Array(ethernetHeaderLength(h));
      encodeEthernet(h, out, 0);
      return out;
    });
    fc.assert(
      fc.property(hostile(valid), (b) => {
        expectSane(parseEthernet(b), 0, b.length);
        const p = ethernetPayloadOffset(b);
        same(p === -1 || p === 14 || p === 18, true);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
