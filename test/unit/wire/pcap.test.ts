import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parsePcapGlobalHeader,
  parsePcapRecordHeader,
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_LINKTYPE_ETHERNET,
  PCAP_LINKTYPE_IPV4,
  PCAP_LINKTYPE_RAW,
  PCAP_RECORD_HEADER_LENGTH,
  pcapRecordForMillis,
  writePcapGlobalHeader,
  writePcapRecordHeader,
  type PcapGlobalHeader,
  type PcapRecordHeader,
} from "../../../src/wire/pcap.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, errorOf, expectSane, hex, hostile, must, u32, same } from "./bytes.ts";

// What tcpdump -w writes on x86 for Ethernet, snaplen 262144: magic d4c3b2a1 (LE), 2.4, zone 0, sigfigs 0.
const ethernetHeader = hex("d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000");
const rawHeader = hex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 65000000");
// 2024-01-01T00:00:00.250Z, 62 bytes captured of 62.
const record = hex("80009265 90d00300 3e000000 3e000000");

describe("pcap", () => {
  it("writes the golden global headers", () => {
    const out = new Uint8Array(24);
    expect(writePcapGlobalHeader({ linkType: PCAP_LINKTYPE_ETHERNET, snapLength: 262144, nanoseconds: false }, out, 0)).toBe(24);
    expect(out).toEqual(ethernetHeader);
    writePcapGlobalHeader({ linkType: PCAP_LINKTYPE_RAW, snapLength: 65535, nanoseconds: false }, out, 0);
    expect(out).toEqual(rawHeader);
    expect([PCAP_LINKTYPE_ETHERNET, PCAP_LINKTYPE_RAW, PCAP_LINKTYPE_IPV4]).toEqual([1, 101, 228]);
  });

  it("writes the golden record header from a millisecond clock", () => {
    const r = pcapRecordForMillis(Date.UTC(2024, 0, 1, 0, 0, 0, 250), 62);
    expect(r).toEqual({ seconds: 1704067200, fraction: 250000, capturedLength: 62, originalLength: 62 });
    const out = new Uint8Array(16);
    expect(writePcapRecordHeader(r, out, 0)).toBe(16);
    expect(out).toEqual(record);
  });

  it("parses both byte orders and the nanosecond magic", () => {
    expect(must(parsePcapGlobalHeader(ethernetHeader))).toEqual({ linkType: 1, snapLength: 262144, nanoseconds: false, littleEndian: true });
    const be = hex("a1b23c4d 0002 0004 00000000 00000000 0000ffff 000000e4");
    expect(must(parsePcapGlobalHeader(be))).toEqual({ linkType: 228, snapLength: 65535, nanoseconds: true, littleEndian: false });
    const file = concat(ethernetHeader, record, new Uint8Array(62));
    const rec = parsePcapRecordHeader(file, PCAP_GLOBAL_HEADER_LENGTH, true);
    expect(must(rec)).toEqual({ seconds: 1704067200, fraction: 250000, capturedLength: 62, originalLength: 62 });
  });

  it("rejects what is not a pcap file or a complete record", () => {
    expect(errorOf(parsePcapGlobalHeader(hex("0a0d0d0a") /* pcapng */))).toEqual({ kind: "truncated", at: 0 });
    const ng = ethernetHeader.slice();
    ng.set(hex("0a0d0d0a"), 0);
    expect(errorOf(parsePcapGlobalHeader(ng))).toEqual({ kind: "unexpected-type", at: 0 });
    const v3 = ethernetHeader.slice();
    v3[4] = 3;
    expect(errorOf(parsePcapGlobalHeader(v3))).toEqual({ kind: "bad-version", at: 4 });
    expect(errorOf(parsePcapRecordHeader(concat(record, new Uint8Array(61)), 0, true))).toEqual({ kind: "truncated", at: 8 });
    expect(errorOf(parsePcapRecordHeader(record.subarray(0, 15), 0, true))).toEqual({ kind: "truncated", at: 0 });
  });

  const global: fc.Arbitrary<PcapGlobalHeader> = fc.record({
    linkType: fc.integer({ min: 0, max: 0x0fff_ffff }),
    snapLength: u32,
    nanoseconds: fc.boolean(),
  });
  const rec: fc.Arbitrary<PcapRecordHeader> = fc.record({ seconds: u32, fraction: u32, capturedLength: fc.nat({ max: 64 }), originalLength: u32 });

  it("write then parse is the identity", () => {
    fc.assert(
      fc.property(global, rec, fc.nat({ max: 3 }), (g, r, at) => {
        const out = new Uint8Array(at + PCAP_GLOBAL_HEADER_LENGTH + PCAP_RECORD_HEADER_LENGTH + r.capturedLength);
        writePcapGlobalHeader(g, out, at);
        writePcapRecordHeader(r, out, at + PCAP_GLOBAL_HEADER_LENGTH);
        same(must(parsePcapGlobalHeader(out, at)), { ...g, littleEndian: true });
        same(must(parsePcapRecordHeader(out, at + PCAP_GLOBAL_HEADER_LENGTH, true)), r);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = fc.tuple(global, rec).map(([g, r]) => {
      const out = new Uint8Array(40 + r.capturedLength);
      writePcapGlobalHeader(g, out, 0);
      writePcapRecordHeader(r, out, 24);
      return out;
    });
    fc.assert(
      fc.property(hostile(valid), fc.boolean(), (b, le) => {
        expectSane(parsePcapGlobalHeader(b), 0, b.length);
        if (b.length >= 24) expectSane(parsePcapRecordHeader(b, 24, le), 24, b.length);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
