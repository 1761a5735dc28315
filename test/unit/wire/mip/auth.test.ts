import { describe, expect, it } from "vitest";
import {
  appendMnHaAuth,
  hmacMd5,
  isReservedSpi,
  MN_HA_AUTH_EXTENSION_LENGTH,
  verifyMnHaAuth,
} from "../../../../src/wire/mip-auth.ts";
import { parseRegistrationReply } from "../../../../src/wire/mip-registration.ts";
import { concat, hex, KEY, OPTS, referenceHmacMd5, unhex } from "./fixtures.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("HMAC-MD5 (RFC 2202 section 2, all seven cases)", () => {
  const cases: [number, Uint8Array, Uint8Array, string][] = [
    [1, new Uint8Array(16).fill(0x0b), text("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"],
    [2, text("Jefe"), text("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"],
    [3, new Uint8Array(16).fill(0xaa), new Uint8Array(50).fill(0xdd), "56be34521d144c88dbb8c733f0e8b3f6"],
    [4, unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), new Uint8Array(50).fill(0xcd), "697eaf0aca3a3aea3a75164746ffaa79"],
    [5, new Uint8Array(16).fill(0x0c), text("Test With Truncation"), "56461ef2342edc00f9bab995690efd4c"],
    [6, new Uint8Array(80).fill(0xaa), text("Test Using Larger Than Block-Size Key - Hash Key First"), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"],
    [
      7,
      new Uint8Array(80).fill(0xaa),
      text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
      "6f630fad67cda0ee1fb1f562db3aa53e",
    ],
  ];
  for (const [n, key, data, digest] of cases) {
    it(`test case ${n}`, () => {
      expect(hex(hmacMd5(key, data))).toBe(digest);
    });
  }
  it("case 5 truncated to 96 bits and the data lengths match the RFC", () => {
    expect(hex(hmacMd5(new Uint8Array(16).fill(0x0c), text("Test With Truncation")).subarray(0, 12))).toBe("56461ef2342edc00f9bab995");
    expect(cases.map(([, , d]) => d.length)).toEqual([8, 28, 50, 50, 20, 54, 73]);
  });
});

describe("appendMnHaAuth covers RFC 3344 3.5.1's range exactly", () => {
  it("from messageStart through the SPI, nothing before the message", () => {
    const udpHeader = unhex("aaaa 01b2 0000 0000"); // bytes before the message: not covered
    const message = unhex("03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | f8 01 00");
    const out = new Uint8Array(udpHeader.length + message.length + MN_HA_AUTH_EXTENSION_LENGTH);
    out.set(udpHeader, 0);
    out.set(message, udpHeader.length);
    const end = udpHeader.length + message.length;
    expect(appendMnHaAuth(out, udpHeader.length, end, KEY)).toBe(22);
    const covered = concat(message, unhex("20 14 00000100"));
    expect(hex(out.subarray(udpHeader.length))).toBe(hex(concat(covered, referenceHmacMd5(KEY.secret, covered))));
    expect(hex(out.subarray(0, udpHeader.length))).toBe(hex(udpHeader));
  });
  it("refuses a buffer without room, a bad range or a bad SPI", () => {
    expect(() => appendMnHaAuth(new Uint8Array(41), 0, 20, KEY)).toThrow(RangeError);
    expect(() => appendMnHaAuth(new Uint8Array(60), 21, 20, KEY)).toThrow(RangeError);
    expect(() => appendMnHaAuth(new Uint8Array(60), 0, 20, { ...KEY, spi: 2 ** 32 })).toThrow(RangeError);
  });
});

describe("verifyMnHaAuth", () => {
  const body = "03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | 83 03 612062 | f8 01 00";
  function signed(extraAfter = ""): Uint8Array {
    const covered = unhex(`${body} | 20 14 00000100`);
    return concat(covered, referenceHmacMd5(KEY.secret, covered), unhex(extraAfter));
  }
  function verify(wire: Uint8Array, key = KEY): ReturnType<typeof verifyMnHaAuth> | "unparsable" {
    const p = parseRegistrationReply(wire, OPTS);
    return p.ok ? verifyMnHaAuth(wire, p.value, key) : "unparsable";
  }

  it("a valid reply passes", () => {
    expect(verify(signed())).toEqual({ ok: true });
  });
  it("flipping any single byte of the message fails", () => {
    const good = signed();
    for (let i = 0; i < good.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = good.slice();
        bad[i] = (bad[i] ?? 0) ^ mask;
        const verdict = verify(bad);
        expect(verdict, `byte ${i} ^ ${mask}`).not.toEqual({ ok: true });
      }
    }
  });
  it("a flipped SPI byte is a spi-mismatch, a flipped covered byte a mismatch", () => {
    const good = signed();
    const spiByte = good.length - 16 - 1;
    const a = good.slice();
    a[spiByte] = 0x01;
    expect(verify(a)).toEqual({ ok: false, reason: "spi-mismatch" });
    const b = good.slice();
    b[2] = 0x00; // lifetime
    expect(verify(b)).toEqual({ ok: false, reason: "mismatch" });
    const c = good.slice();
    c[c.length - 1] = (c[c.length - 1] ?? 0) ^ 1; // the authenticator itself
    expect(verify(c)).toEqual({ ok: false, reason: "mismatch" });
  });
  it("wrong SPI in the key", () => {
    expect(verify(signed(), { ...KEY, spi: 0x101 })).toEqual({ ok: false, reason: "spi-mismatch" });
  });
  it("wrong secret", () => {
    expect(verify(signed(), { ...KEY, secret: text("another secret") })).toEqual({ ok: false, reason: "mismatch" });
  });
  it("missing", () => {
    expect(verify(unhex(body))).toEqual({ ok: false, reason: "missing" });
    // FA-HA authentication is not MN-HA authentication.
    const covered = unhex(`${body} | 22 14 00000100`);
    expect(verify(concat(covered, referenceHmacMd5(KEY.secret, covered)))).toEqual({ ok: false, reason: "missing" });
  });
  it("not last: anything after the MN-HA authenticator is refused", () => {
    expect(verify(signed("c8 01 00"))).toEqual({ ok: false, reason: "not-last" });
    expect(verify(signed("00"))).toEqual({ ok: false, reason: "not-last" });
  });
  it("two MN-HA authentication extensions are refused even when the last verifies (RFC 5944 3.6.2.1: exactly one)", () => {
    const first = signed();
    const covered = concat(first, unhex("20 14 00000100"));
    expect(verify(concat(covered, referenceHmacMd5(KEY.secret, covered)))).toEqual({ ok: false, reason: "duplicate" });
  });
  it("an authenticator that is not 16 bytes never verifies", () => {
    const covered = unhex(`${body} | 20 10 00000100`);
    expect(verify(concat(covered, referenceHmacMd5(KEY.secret, covered).subarray(0, 12)))).toEqual({ ok: false, reason: "mismatch" });
  });
  it("a different buffer than the one parsed fails closed", () => {
    const good = signed();
    const p = parseRegistrationReply(good, OPTS);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(verifyMnHaAuth(good.subarray(0, good.length - 1), p.value, KEY)).toEqual({ ok: false, reason: "mismatch" });
  });
  it("verdicts never carry key material", () => {
    const verdict = verify(signed(), { ...KEY, secret: text("another secret") });
    expect(JSON.stringify(verdict)).not.toContain("secret");
    expect(Object.keys(verdict as object).sort()).toEqual(["ok", "reason"]);
  });
});

describe("SPI", () => {
  it("0-255 are reserved (RFC 3344/5944 1.6)", () => {
    expect(isReservedSpi(0)).toBe(true);
    expect(isReservedSpi(255)).toBe(true);
    expect(isReservedSpi(256)).toBe(false);
    expect(isReservedSpi(0xffffffff)).toBe(false);
  });
});
