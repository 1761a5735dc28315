import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  finishChecksum,
  foldSum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  sumWords,
} from "../../../src/wire/checksum.ts";
import { propertyRuns } from "../../support/runs.ts";
import { hex, ipv6Pseudo, referenceChecksum, same } from "./bytes.ts";

describe("checksum", () => {
  it("RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2", () => {
    const data = hex("0001 f203 f4f5 f6f7");
    expect(foldSum(sumWords(data, 0, data.length))).toBe(0xddf2);
    expect(internetChecksum(data)).toBe(0x220d);
  });

  it("a published IPv4 header (Wikipedia 'IPv4 header checksum') checks to zero", () => {
    const h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    expect(internetChecksum(h)).toBe(0);
    h[10] = 0;
    h[11] = 0;
    expect(internetChecksum(h)).toBe(0xb861);
  });

  it("pads an odd final byte with zero", () => {
    expect(internetChecksum(hex("ff"))).toBe(0x00ff);
    expect(internetChecksum(hex("00 01 ff"), 0, 3)).toBe(~(0x0001 + 0xff00) & 0xffff);
  });

  it("clamps the range to the buffer and folds huge sums", () => {
    expect(sumWords(hex("0102"), 0, 100)).toBe(0x0102);
    expect(foldSum(0xffff_ffff_ffff)).toBe(0xffff);
    expect(finishChecksum(0)).toBe(0xffff);
  });

  it("matches the BigInt reference over random ranges and chained sums", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (b, x, y) => {
        const start = (x % (b.length + 1)) & ~1;
        const end = start + (y % (b.length - start + 1));
        same(internetChecksum(b, start, end), referenceChecksum(b.subarray(start, end)));
        // Chained: an even-length first range then the rest.
        const mid = start + (((end - start) >> 2) << 1);
        same(finishChecksum(sumWords(b, mid, end, sumWords(b, start, mid))), referenceChecksum(b.subarray(start, end)));
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("pseudo-header sums equal summing the RFC 8200 / RFC 768 pseudo-header bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (s, d, len, nh, s4, d4) => {
          same(finishChecksum(ipv6PseudoHeaderSum(s, d, len, nh)), referenceChecksum(ipv6Pseudo(s, d, len, nh)));
          const p4 = new Uint8Array(12);
          const v = new DataView(p4.buffer);
          v.setUint32(0, s4);
          v.setUint32(4, d4);
          v.setUint8(9, nh);
          v.setUint16(10, len & 0xffff);
          same(finishChecksum(ipv4PseudoHeaderSum(s4, d4, nh, len & 0xffff)), referenceChecksum(p4));
        },
      ),
      { numRuns: propertyRuns() },
    );
  });
});
