import { describe, expect, it } from "vitest";
import {
  checkMipCodecOptions,
  DEFAULT_MIP_CODEC_OPTIONS,
  encodeExtension,
  extensionLength,
  parseExtensions,
} from "../../../../src/wire/mip-extension.ts";
import type { MipExtension } from "../../../../src/wire/mip-types.ts";
import { hex, OPTS, OPTS_LONG, unhex } from "./fixtures.ts";

function encodeOne(ext: MipExtension, opts = OPTS): Uint8Array {
  const out = new Uint8Array(extensionLength(ext, opts));
  expect(encodeExtension(ext, opts, out, 0)).toBe(out.length);
  return out;
}

function both(ext: MipExtension, wire: string, opts = OPTS): void {
  const bytes = unhex(wire);
  expect(hex(encodeOne(ext, opts))).toBe(hex(bytes));
  const parsed = parseExtensions(bytes, 0, bytes.length, opts);
  expect(parsed).toEqual({ ok: true, value: { extensions: [ext], spans: [{ offset: 0, length: bytes.length }] }, length: bytes.length });
}

describe("extension golden bytes, both ways", () => {
  it("MN-NAI (RFC 2794: type 131, Length = NAI bytes)", () => {
    both({ kind: "mn-nai", nai: "mn1@example.net" }, "83 0f 6d6e3140 6578616d706c652e6e6574");
    both({ kind: "mn-nai", nai: "é@x" }, "83 04 c3a9 40 78");
  });
  it("MN-HA / MN-FA / FA-HA authentication (3.5.2-3.5.4: Length = 4 + authenticator)", () => {
    const a = "00112233445566778899aabbccddeeff";
    both({ kind: "auth", type: 32, spi: 0x100, authenticator: unhex(a) }, `20 14 00000100 ${a}`);
    both({ kind: "auth", type: 33, spi: 0xdeadbeef, authenticator: unhex("0102") }, "21 06 deadbeef 0102");
    both({ kind: "auth", type: 34, spi: 7, authenticator: new Uint8Array(0) }, "22 04 00000007");
  });
  it("Revocation Support (RFC 3543 3.2: 137, Length 6, I bit, 15 reserved, timestamp)", () => {
    both({ kind: "revocation-support", iBit: true, timestamp: 0x65000001 }, "89 06 8000 65000001");
    both({ kind: "revocation-support", iBit: false, timestamp: 0xffffffff }, "89 06 0000 ffffffff");
  });
  it("GRE Key (RFC 6245: 48, Length 7, Sub-Type 0, Reserved 16, key 32)", () => {
    both({ kind: "gre-key", key: 0x00001001 }, "30 07 00 0000 00001001");
  });
  it("IPv6 HoA Request (draft 4.1, short format): empty (Length 1) and with IID (Length 9)", () => {
    both({ kind: "ipv6-hoa-request", iid: null }, "78 01 00");
    both({ kind: "ipv6-hoa-request", iid: unhex("0211 22ff fe33 4455") }, "78 09 00 021122fffe334455");
  });
  it("IPv6 HoA (draft 4.2, short format): empty, and with U bit and address (Length 17)", () => {
    both({ kind: "ipv6-hoa", unique: false, hoa: null }, "f8 01 00");
    both({ kind: "ipv6-hoa", unique: true, hoa: null }, "f8 01 80");
    both(
      { kind: "ipv6-hoa", unique: true, hoa: unhex("20010db8 00000000 00000000 00000001") },
      "f8 11 80 20010db8000000000000000000000001",
    );
  });
  it("draft extensions follow the configured type numbers, short format whatever the number", () => {
    const opts = { ...OPTS, ipv6HoaRequestType: 200, ipv6HoaType: 40 };
    both({ kind: "ipv6-hoa-request", iid: null }, "c8 01 00", opts);
    both({ kind: "ipv6-hoa", unique: false, hoa: unhex("fe800000000000000000000000000001") }, "28 11 00 fe800000000000000000000000000001", opts);
  });
  it("one-byte padding (RFC 3344 1.8 type 0) has no Length", () => {
    const bytes = unhex("00 00 83 01 61 00");
    const parsed = parseExtensions(bytes, 0, bytes.length, OPTS);
    expect(parsed.ok && parsed.value.extensions).toEqual([
      { kind: "padding" },
      { kind: "padding" },
      { kind: "mn-nai", nai: "a" },
      { kind: "padding" },
    ]);
    expect(parsed.ok && parsed.value.spans).toEqual([
      { offset: 0, length: 1 },
      { offset: 1, length: 1 },
      { offset: 2, length: 3 },
      { offset: 5, length: 1 },
    ]);
    expect(hex(encodeOne({ kind: "padding" }))).toBe("00");
  });
  it("unknown skippable extension (128-255) is kept and re-encoded byte-exact", () => {
    both({ kind: "unknown", type: 0xc8, body: unhex("aabbcc") }, "c8 03 aabbcc");
    both({ kind: "unknown", type: 255, body: unhex("01 00") }, "ff 02 0100"); // RFC 4064 experimental, short format
    both({ kind: "unknown", type: 131 + 1, body: new Uint8Array(0) }, "84 00");
  });
  it("unknown non-skippable extension (0-127) makes the list invalid (RFC 3344 1.9)", () => {
    const bytes = unhex("83 01 61 50 02 0000");
    expect(parseExtensions(bytes, 0, bytes.length, OPTS)).toMatchObject({
      ok: false,
      error: { kind: "unknown-nonskippable-extension", at: 3 },
    });
    const exp = unhex("7f 01 0002 abcd"); // RFC 4064 experimental non-skippable, not enabled
    expect(parseExtensions(exp, 0, exp.length, OPTS)).toMatchObject({ ok: false, error: { kind: "unknown-nonskippable-extension", at: 0 } });
  });
  it("long format (RFC 3344 1.10: Type, Sub-Type, 16-bit Length) for declared non-skippable types", () => {
    // RFC 5563 5.1: PMIPv4 Per-Node Authentication Method, type 47 sub-type 1, Length 1, method 1.
    both({ kind: "long", type: 47, subType: 1, data: unhex("01") }, "2f 01 0001 01", OPTS_LONG);
    const big = new Uint8Array(300).fill(0x5a);
    const bytes = encodeOne({ kind: "long", type: 100, subType: 9, data: big }, OPTS_LONG);
    expect(hex(bytes.subarray(0, 4))).toBe("64 09 012c".replace(/ /g, ""));
    both({ kind: "long", type: 100, subType: 9, data: big }, hex(bytes), OPTS_LONG);
    // Without the declaration the same bytes are an unknown non-skippable extension.
    const pmip = unhex("2f 01 0001 01");
    expect(parseExtensions(pmip, 0, pmip.length, OPTS)).toMatchObject({ ok: false, error: { kind: "unknown-nonskippable-extension" } });
  });
  it("spans are relative to the buffer, and the walk honours start/end", () => {
    const bytes = unhex("ffff 83 01 61 78 01 00 eeee");
    const parsed = parseExtensions(bytes, 2, 8, OPTS);
    expect(parsed).toEqual({
      ok: true,
      value: {
        extensions: [{ kind: "mn-nai", nai: "a" }, { kind: "ipv6-hoa-request", iid: null }],
        spans: [{ offset: 2, length: 3 }, { offset: 5, length: 3 }],
      },
      length: 6,
    });
  });
  it("parsed values do not alias the receive buffer", () => {
    const bytes = unhex("c8 02 0102");
    const parsed = parseExtensions(bytes, 0, bytes.length, OPTS);
    bytes[2] = 0xff;
    expect(parsed.ok && parsed.value.extensions[0]).toEqual({ kind: "unknown", type: 0xc8, body: unhex("0102") });
  });
});

describe("extension errors", () => {
  const cases: [string, string, string, number][] = [
    ["type without Length", "83", "truncated", 0],
    ["Length beyond the end", "83 05 6161", "truncated", 0],
    ["long header cut", "2f 01 00", "truncated", 0],
    ["long data cut", "2f 01 0005 0102", "truncated", 0],
    ["HoA Request Length 0", "78 00", "bad-length", 0],
    ["HoA Request Length 5", "78 05 00 01020304", "bad-length", 0],
    ["HoA Request Sub-Type 1", "78 01 01", "bad-value", 2],
    ["HoA Length 9", "f8 09 00 0102030405060708", "bad-length", 0],
    ["GRE Key Length 6", "30 06 00 0000 000010", "bad-length", 0],
    ["GRE Key Sub-Type 1", "30 07 01 0000 00001001", "unknown-nonskippable-extension", 2],
    ["auth Length 3", "20 03 000001", "bad-length", 0],
    ["Revocation Support Length 5", "89 05 8000 650000", "bad-length", 0],
    ["NAI not UTF-8", "83 02 c328", "bad-value", 2],
  ];
  for (const [name, wire, kind, at] of cases) {
    it(name, () => {
      const bytes = unhex(wire);
      expect(parseExtensions(bytes, 0, bytes.length, OPTS_LONG)).toMatchObject({ ok: false, error: { kind, at } });
    });
  }
  it("a longer Revocation Support (RFC 3543 leaves room for more bits) is still read", () => {
    const bytes = unhex("89 08 8000 65000001 abcd");
    expect(parseExtensions(bytes, 0, bytes.length, OPTS)).toMatchObject({
      ok: true,
      value: { extensions: [{ kind: "revocation-support", iBit: true, timestamp: 0x65000001 }] },
    });
  });
});

describe("extension encoders refuse values no wire form carries", () => {
  const bad: [string, MipExtension][] = [
    ["NAI > 255 bytes", { kind: "mn-nai", nai: "a".repeat(256) }],
    ["IID of 7 bytes", { kind: "ipv6-hoa-request", iid: new Uint8Array(7) }],
    ["HoA of 4 bytes", { kind: "ipv6-hoa", unique: false, hoa: new Uint8Array(4) }],
    ["GRE key 2^32", { kind: "gre-key", key: 2 ** 32 }],
    ["negative SPI", { kind: "auth", type: 32, spi: -1, authenticator: new Uint8Array(16) }],
    ["unknown body 256", { kind: "unknown", type: 200, body: new Uint8Array(256) }],
    ["unknown type 0", { kind: "unknown", type: 0, body: new Uint8Array(0) }],
    ["long skippable", { kind: "long", type: 200, subType: 0, data: new Uint8Array(0) }],
  ];
  for (const [name, ext] of bad) {
    it(name, () => {
      const out = new Uint8Array(600);
      expect(() => encodeExtension(ext, OPTS, out, 0)).toThrow(RangeError);
    });
  }
  it("refuses to write past the buffer", () => {
    expect(() => encodeExtension({ kind: "gre-key", key: 1 }, OPTS, new Uint8Array(8), 0)).toThrow(RangeError);
    expect(encodeExtension({ kind: "gre-key", key: 1 }, OPTS, new Uint8Array(10), 1)).toBe(9);
  });
});

describe("codec options", () => {
  it("defaults are consistent and avoid RFC 4064's experimental numbers", () => {
    expect(checkMipCodecOptions(DEFAULT_MIP_CODEC_OPTIONS)).toBeUndefined();
    expect(DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaRequestType).toBeLessThan(128);
    expect([127, 255]).not.toContain(DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaRequestType);
    expect([127, 255]).not.toContain(DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaType);
    expect(DEFAULT_MIP_CODEC_OPTIONS.greKeyType).toBe(48);
  });
  it("reports collisions and misplaced types", () => {
    expect(checkMipCodecOptions({ ...OPTS, ipv6HoaRequestType: 130 })).toMatch(/< 128/);
    expect(checkMipCodecOptions({ ...OPTS, ipv6HoaType: 131 })).toMatch(/collides/);
    expect(checkMipCodecOptions({ ...OPTS, ipv6HoaType: 48 })).toMatch(/twice/);
    expect(checkMipCodecOptions({ ...OPTS, longTypes: [200] })).toMatch(/skippable/);
    expect(checkMipCodecOptions({ ...OPTS, greKeyType: 0 })).toMatch(/1-255/);
  });
});
