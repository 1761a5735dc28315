import { describe, expect, it } from "vitest";
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH, verifyMnHaAuth } from "../../../../src/wire/mip-auth.ts";
import {
  encodeRegistrationReply,
  encodeRegistrationRequest,
  parseRegistrationReply,
  parseRegistrationRequest,
  peekMipMessageType,
  registrationReplyLength,
  registrationRequestLength,
} from "../../../../src/wire/mip-registration.ts";
import type { MipExtension, RegistrationFlags, RegistrationReply, RegistrationRequest } from "../../../../src/wire/mip-types.ts";
import { concat, hex, KEY, OPTS, referenceHmacMd5, unhex } from "./fixtures.ts";

const NO_FLAGS: RegistrationFlags = { S: false, B: false, D: false, M: false, G: false, r: false, T: false, x: false };
const HA = 0xc0000201; // 192.0.2.1
const COA = 0xc6336407; // 198.51.100.7
const ID = 0xe9a3b1c2_12345678n;
const NAI: MipExtension = { kind: "mn-nai", nai: "mn1@example.net" };
const NAI_HEX = "83 0f 6d6e3140 6578616d706c652e6e6574";

/** The authenticated bytes (up to and including the SPI) + HMAC-MD5 over exactly them. */
function sealed(beforeMac: string): { wire: Uint8Array; mac: Uint8Array } {
  const covered = unhex(beforeMac);
  const mac = referenceHmacMd5(KEY.secret, covered);
  return { wire: concat(covered, mac), mac };
}

/** Encodes as core does: message and extensions, then the MN-HA auth appended. */
function sendAsAn(encode: (out: Uint8Array) => number, length: number): Uint8Array {
  const out = new Uint8Array(length + MN_HA_AUTH_EXTENSION_LENGTH);
  const n = encode(out);
  expect(n).toBe(length);
  expect(appendMnHaAuth(out, 0, n, KEY)).toBe(22);
  return out;
}

const mnHa = (mac: Uint8Array): MipExtension => ({ kind: "auth", type: 32, spi: KEY.spi, authenticator: mac });

describe("Registration Request golden bytes", () => {
  const request = (hoaRequest: MipExtension): RegistrationRequest => ({
    flags: { ...NO_FLAGS, D: true },
    lifetime: 600,
    homeAddress: 0,
    homeAgent: HA,
    careOfAddress: COA,
    identification: ID,
    extensions: [
      NAI,
      hoaRequest,
      { kind: "revocation-support", iBit: true, timestamp: 0x65000001 },
      { kind: "gre-key", key: 0x1001 },
    ],
  });

  const cases: [string, MipExtension, string][] = [
    ["empty IPv6 HoA Request (Length 1)", { kind: "ipv6-hoa-request", iid: null }, "78 01 00"],
    [
      "IPv6 HoA Request with IID (Length 9)",
      { kind: "ipv6-hoa-request", iid: unhex("0211 22ff fe33 4455") },
      "78 09 00 021122fffe334455",
    ],
  ];
  for (const [name, hoaReq, hoaReqHex] of cases) {
    it(`as the AN sends it, ${name}`, () => {
      const { wire, mac } = sealed(`
        01 20 0258 | 00000000 | c0000201 | c6336407 | e9a3b1c2 12345678
        ${NAI_HEX}
        ${hoaReqHex}
        89 06 8000 65000001
        30 07 00 0000 00001001
        20 14 00000100`);
      const msg = request(hoaReq);
      const len = registrationRequestLength(msg, OPTS);
      expect(hex(sendAsAn((out) => encodeRegistrationRequest(msg, OPTS, out, 0), len))).toBe(hex(wire));

      const withAuth: RegistrationRequest = { ...msg, extensions: [...msg.extensions, mnHa(mac)] };
      const out = new Uint8Array(wire.length);
      expect(encodeRegistrationRequest(withAuth, OPTS, out, 0)).toBe(wire.length);
      expect(hex(out)).toBe(hex(wire));

      const parsed = parseRegistrationRequest(wire, OPTS);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.length).toBe(wire.length);
      expect(parsed.value.message).toEqual(withAuth);
      const authAt = wire.length - 22;
      expect(parsed.value.spans.at(-1)).toEqual({ offset: authAt, length: 22 });
      expect(parsed.value.spans[0]).toEqual({ offset: 24, length: 17 });
      expect(verifyMnHaAuth(wire, parsed.value, KEY)).toEqual({ ok: true });
    });
  }

  it("encodes at an offset inside a larger buffer", () => {
    const msg = request({ kind: "ipv6-hoa-request", iid: null });
    const len = registrationRequestLength(msg, OPTS);
    const out = new Uint8Array(len + 10).fill(0xee);
    expect(encodeRegistrationRequest(msg, OPTS, out, 5)).toBe(len);
    expect(out[4]).toBe(0xee);
    expect(out[5 + len]).toBe(0xee);
    expect(parseRegistrationRequest(out.subarray(5, 5 + len), OPTS)).toMatchObject({ ok: true, value: { message: msg } });
  });

  it("every flag bit sits where RFC 3344 3.3 draws it (S B D M G r T x)", () => {
    const names = ["S", "B", "D", "M", "G", "r", "T", "x"] as const;
    names.forEach((name, i) => {
      const msg: RegistrationRequest = {
        flags: { ...NO_FLAGS, [name]: true },
        lifetime: 0,
        homeAddress: 0,
        homeAgent: 0,
        careOfAddress: 0,
        identification: 0n,
        extensions: [],
      };
      const out = new Uint8Array(24);
      encodeRegistrationRequest(msg, OPTS, out, 0);
      expect(out[1]).toBe(0x80 >> i);
      expect(parseRegistrationRequest(out, OPTS)).toMatchObject({ ok: true, value: { message: msg } });
    });
  });
});

describe("Registration Reply golden bytes", () => {
  const HOME = 0x0a000005; // 10.0.0.5, assigned by the HA (RFC 2794)
  const reply = (code: number, id: bigint, lifetime: number, extra: MipExtension[]): RegistrationReply => ({
    code,
    lifetime,
    homeAddress: HOME,
    homeAgent: HA,
    identification: id,
    extensions: [NAI, ...extra],
  });

  const cases: [string, RegistrationReply, string][] = [
    [
      "accepted with the empty IPv6 HoA extension (Length 1)",
      reply(0, ID, 600, [{ kind: "ipv6-hoa", unique: false, hoa: null }]),
      `03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | ${NAI_HEX} | f8 01 00 | 20 14 00000100`,
    ],
    [
      "accepted with the 17-byte IPv6 HoA extension and U bit",
      reply(0, ID, 600, [{ kind: "ipv6-hoa", unique: true, hoa: unhex("20010db8000000000000000000000001") }]),
      `03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | ${NAI_HEX} | f8 11 80 20010db8000000000000000000000001 | 20 14 00000100`,
    ],
    [
      "accepted without the IPv6 HoA extension (no v6 service, draft 5.2.1)",
      reply(1, ID, 300, []),
      `03 01 012c | 0a000005 | c0000201 | e9a3b1c2 12345678 | ${NAI_HEX} | 20 14 00000100`,
    ],
    [
      "code 133 with the HA's time in the high-order 32 bits",
      reply(133, 0xe9a3b200_12345678n, 0, []),
      `03 85 0000 | 0a000005 | c0000201 | e9a3b200 12345678 | ${NAI_HEX} | 20 14 00000100`,
    ],
    [
      "with an unknown skippable extension kept",
      reply(0, ID, 600, [{ kind: "ipv6-hoa", unique: false, hoa: null }, { kind: "unknown", type: 0xc8, body: unhex("aabbcc") }]),
      `03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | ${NAI_HEX} | f8 01 00 | c8 03 aabbcc | 20 14 00000100`,
    ],
  ];
  for (const [name, msg, beforeMac] of cases) {
    it(name, () => {
      const { wire, mac } = sealed(beforeMac);
      const len = registrationReplyLength(msg, OPTS);
      expect(hex(sendAsAn((out) => encodeRegistrationReply(msg, OPTS, out, 0), len))).toBe(hex(wire));
      const parsed = parseRegistrationReply(wire, OPTS);
      expect(parsed).toMatchObject({ ok: true, length: wire.length });
      if (!parsed.ok) return;
      expect(parsed.value.message).toEqual({ ...msg, extensions: [...msg.extensions, mnHa(mac)] });
      expect(verifyMnHaAuth(wire, parsed.value, KEY)).toEqual({ ok: true });
    });
  }

  it("an unknown non-skippable extension rejects the whole reply", () => {
    const { wire } = sealed(`03 00 0258 | 0a000005 | c0000201 | e9a3b1c2 12345678 | ${NAI_HEX} | 50 02 0000 | 20 14 00000100`);
    expect(parseRegistrationReply(wire, OPTS)).toEqual({
      ok: false,
      error: { kind: "unknown-nonskippable-extension", at: 37, detail: "extension type 80 is not understood" },
    });
  });
});

describe("registration message framing", () => {
  it("peeks the message type", () => {
    expect(peekMipMessageType(unhex("03 00"))).toBe(3);
    expect(peekMipMessageType(new Uint8Array(0))).toBeUndefined();
  });
  it("rejects the wrong message type", () => {
    const rrq = new Uint8Array(24);
    rrq[0] = 1;
    expect(parseRegistrationReply(rrq, OPTS)).toMatchObject({ ok: false, error: { kind: "unexpected-type", at: 0 } });
    const rrp = new Uint8Array(24);
    rrp[0] = 3;
    expect(parseRegistrationRequest(rrp, OPTS)).toMatchObject({ ok: false, error: { kind: "unexpected-type", at: 0 } });
  });
  it("rejects a short fixed part", () => {
    const rrq = new Uint8Array(23);
    rrq[0] = 1;
    expect(parseRegistrationRequest(rrq, OPTS)).toMatchObject({ ok: false, error: { kind: "truncated" } });
    const rrp = new Uint8Array(19);
    rrp[0] = 3;
    expect(parseRegistrationReply(rrp, OPTS)).toMatchObject({ ok: false, error: { kind: "truncated" } });
    expect(parseRegistrationReply(new Uint8Array(0), OPTS)).toMatchObject({ ok: false, error: { kind: "truncated", at: 0 } });
  });
  it("accepts the bare fixed part (authorization is the caller's check)", () => {
    const rrp = new Uint8Array(20);
    rrp[0] = 3;
    expect(parseRegistrationReply(rrp, OPTS)).toMatchObject({ ok: true, value: { message: { extensions: [] }, spans: [] } });
  });
  it("refuses out-of-range fields and too-small buffers when encoding", () => {
    const msg: RegistrationRequest = {
      flags: NO_FLAGS,
      lifetime: 0x10000,
      homeAddress: 0,
      homeAgent: 0,
      careOfAddress: 0,
      identification: 0n,
      extensions: [],
    };
    expect(() => encodeRegistrationRequest(msg, OPTS, new Uint8Array(24), 0)).toThrow(RangeError);
    expect(() => encodeRegistrationRequest({ ...msg, lifetime: 1, identification: 1n << 64n }, OPTS, new Uint8Array(24), 0)).toThrow(RangeError);
    expect(() => encodeRegistrationRequest({ ...msg, lifetime: 1 }, OPTS, new Uint8Array(23), 0)).toThrow(RangeError);
  });
});
