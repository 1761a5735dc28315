import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeGre, greHeaderLength, parseGre, type GreHeader } from "../../../src/wire/gre.ts";
import { propertyRuns } from "../../support/runs.ts";
import { concat, errorOf, expectSane, hex, hostile, must, referenceChecksum, u16, u32, same } from "./bytes.ts";

// K set, protocol IPv6, key 100: what the AN sends with a GRE key from the HA.
const withKey = hex("2000 86dd | 0000 0064");
// C, K, S set; checksum over header + the 4 payload bytes (computed independently);
// Reserved1 0; key 0x2a2a; sequence 7.
const full = hex("b000 86dd | 3ef0 0000 | 0000 2a2a | 0000 0007 | 6000 0000");

describe("gre", () => {
  it("parses and encodes a keyed header", () => {
    const r = parseGre(concat(withKey, hex("60000000")));
    expect(r.ok && r.length).toBe(8);
    const h = must(r);
    expect(h).toEqual({ protocolType: 0x86dd, checksum: null, key: 100, sequence: null });
    const out = new Uint8Array(8);
    expect(encodeGre(h, out, 0)).toBe(8);
    expect(out).toEqual(withKey);
  });

  it("parses and encodes checksum + key + sequence, verifying the checksum", () => {
    expect(referenceChecksum(full)).toBe(0);
    const r = parseGre(full);
    expect(r.ok && r.length).toBe(16);
    const h = must(r);
    expect(h).toEqual({ protocolType: 0x86dd, checksum: 0x3ef0, key: 0x2a2a, sequence: 7 });
    const out = new Uint8Array(20);
    out.set(full.subarray(16), 16); // the checksum covers the payload, which must already be there
    expect(encodeGre({ ...h, checksum: 0 }, out, 0, 4)).toBe(16);
    expect(out).toEqual(full);
  });

  it("rejects a bad checksum, a non-zero version, RFC 1701 bits, and truncation", () => {
    const bad = full.slice();
    bad[19] = 1;
    expect(errorOf(parseGre(bad))).toEqual({ kind: "bad-checksum", at: 4 });
    expect(errorOf(parseGre(hex("2001 880b 0000 0064")))).toEqual({ kind: "bad-version", at: 1 }); // PPTP's enhanced GRE
    expect(errorOf(parseGre(hex("4000 86dd 0000 0000")))).toEqual({ kind: "bad-value", at: 0 }); // R (routing)
    expect(errorOf(parseGre(hex("0800 86dd")))).toEqual({ kind: "bad-value", at: 0 }); // s (strict route)
    expect(errorOf(parseGre(hex("0400 86dd")))).toEqual({ kind: "bad-value", at: 0 }); // recursion
    expect(must(parseGre(hex("03f8 86dd"))).protocolType).toBe(0x86dd); // bits 6-12 ignored
    expect(errorOf(parseGre(withKey.subarray(0, 7)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseGre(withKey.subarray(0, 3)))).toEqual({ kind: "truncated", at: 0 });
    expect(errorOf(parseGre(concat(hex("00"), withKey), 1, 5))).toEqual({ kind: "truncated", at: 1 });
  });

  const header: fc.Arbitrary<GreHeader> = fc.record({
    protocolType: u16,
    checksum: fc.option(fc.constant(0), { nil: null }),
    key: fc.option(u32, { nil: null }),
    sequence: fc.option(u32, { nil: null }),
  });

  function encode(h: GreHeader, payload: Uint8Array, at = 0): Uint8Array {
    const len = greHeaderLength(h);
    const out = new Uint8Array(at + len + payload.length);
    out.set(payload, at + len);
    same(encodeGre(h, out, at, payload.length), len);
    return out;
  }

  it("encode then parse is the identity", () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 32 }), fc.nat({ max: 3 }), (h, payload, at) => {
        const out = encode(h, payload, at);
        const r = parseGre(out, at);
        same(r.ok && r.length, greHeaderLength(h));
        const got = must(r);
        same({ ...got, checksum: got.checksum === null ? null : 0 }, h);
        if (h.checksum !== null) same(referenceChecksum(out.subarray(at)), 0);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("never throws on hostile input", () => {
    const valid = fc.tuple(header, fc.uint8Array({ maxLength: 32 })).map(([h, p]) => encode(h, p));
    fc.assert(
      fc.property(hostile(valid), (b) => {
        expectSane(parseGre(b), 0, b.length);
      }),
      { numRuns: propertyRuns() },
    );
  });
});
