import { describe, expect, it } from "vitest";
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH, verifyMnHaAuth } from "../../../../src/wire/mip-auth.ts";
import {
  encodeRegistrationRevocation,
  encodeRevocationAcknowledgment,
  isFromHomeAgent,
  parseRegistrationRevocation,
  parseRevocationAcknowledgment,
  registrationRevocationLength,
  revocationAcknowledgmentLength,
} from "../../../../src/wire/mip-revocation.ts";
import type { RegistrationRevocation, RevocationAcknowledgment } from "../../../../src/wire/mip-types.ts";
import { concat, hex, KEY, OPTS, referenceHmacMd5, unhex } from "./fixtures.ts";

const NAI_HEX = "83 0f 6d6e3140 6578616d706c652e6e6574";

describe("Registration Revocation (RFC 3543 3.3) golden bytes", () => {
  const msg: RegistrationRevocation = {
    aBit: true,
    iBit: true,
    homeAddress: 0x0a000005,
    homeDomainAddress: 0xc0000201,
    foreignDomainAddress: 0xc6336407,
    revocationId: 0x65000010,
    extensions: [{ kind: "mn-nai", nai: "mn1@example.net" }],
  };
  const covered = unhex(`07 00 c0 00 | 0a000005 | c0000201 | c6336407 | 65000010 | ${NAI_HEX} | 20 14 00000100`);
  const mac = referenceHmacMd5(KEY.secret, covered);
  const wire = concat(covered, mac);

  it("encodes with NAI and MN-HA authentication", () => {
    const n = registrationRevocationLength(msg, OPTS);
    const out = new Uint8Array(n + MN_HA_AUTH_EXTENSION_LENGTH);
    expect(encodeRegistrationRevocation(msg, OPTS, out, 0)).toBe(n);
    appendMnHaAuth(out, 0, n, KEY);
    expect(hex(out)).toBe(hex(wire));
  });
  it("parses and verifies", () => {
    const parsed = parseRegistrationRevocation(wire, OPTS);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.message).toEqual({
      ...msg,
      extensions: [...msg.extensions, { kind: "auth", type: 32, spi: KEY.spi, authenticator: mac }],
    });
    expect(isFromHomeAgent(parsed.value.message)).toBe(true);
    expect(verifyMnHaAuth(wire, parsed.value, KEY)).toEqual({ ok: true });
  });
  it("A and I bits are independent; reserved bits are ignored on receipt", () => {
    const b = unhex("07 ff 40 ff | 00000001 | 00000002 | 00000003 | 00000004");
    expect(parseRegistrationRevocation(b, OPTS)).toMatchObject({
      ok: true,
      value: { message: { aBit: false, iBit: true, homeAddress: 1, homeDomainAddress: 2, foreignDomainAddress: 3, revocationId: 4 } },
    });
    const out = new Uint8Array(20);
    encodeRegistrationRevocation({ ...msg, aBit: true, iBit: false, extensions: [] }, OPTS, out, 0);
    expect(hex(out.subarray(0, 4))).toBe("07008000");
  });
  it("rejects wrong type and short fixed part", () => {
    expect(parseRegistrationRevocation(unhex("0f00000000000000000000000000000000000000"), OPTS)).toMatchObject({ ok: false, error: { kind: "unexpected-type" } });
    expect(parseRegistrationRevocation(unhex("07000000 00000000 00000000 00000000 000000"), OPTS)).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });
});

describe("Revocation Acknowledgment (RFC 3543 3.4) golden bytes", () => {
  const msg: RevocationAcknowledgment = {
    iBit: true,
    homeAddress: 0x0a000005,
    revocationId: 0x65000010,
    extensions: [{ kind: "mn-nai", nai: "mn1@example.net" }],
  };
  const covered = unhex(`0f 00 80 00 | 0a000005 | 65000010 | ${NAI_HEX} | 20 14 00000100`);
  const mac = referenceHmacMd5(KEY.secret, covered);
  const wire = concat(covered, mac);

  it("encodes as the AN answers a revocation", () => {
    const n = revocationAcknowledgmentLength(msg, OPTS);
    const out = new Uint8Array(n + MN_HA_AUTH_EXTENSION_LENGTH);
    expect(encodeRevocationAcknowledgment(msg, OPTS, out, 0)).toBe(n);
    appendMnHaAuth(out, 0, n, KEY);
    expect(hex(out)).toBe(hex(wire));
  });
  it("parses and verifies", () => {
    const parsed = parseRevocationAcknowledgment(wire, OPTS);
    expect(parsed).toMatchObject({ ok: true, length: wire.length });
    if (!parsed.ok) return;
    expect(parsed.value.message).toEqual({
      ...msg,
      extensions: [...msg.extensions, { kind: "auth", type: 32, spi: KEY.spi, authenticator: mac }],
    });
    expect(verifyMnHaAuth(wire, parsed.value, KEY)).toEqual({ ok: true });
  });
  it("bare acknowledgment without extensions", () => {
    const bytes = unhex("0f 00 00 00 | 0a000005 | 00000001");
    const ack: RevocationAcknowledgment = { iBit: false, homeAddress: 0x0a000005, revocationId: 1, extensions: [] };
    expect(parseRevocationAcknowledgment(bytes, OPTS)).toEqual({ ok: true, value: { message: ack, spans: [] }, length: 12 });
    const out = new Uint8Array(12);
    expect(encodeRevocationAcknowledgment(ack, OPTS, out, 0)).toBe(12);
    expect(hex(out)).toBe(hex(bytes));
  });
  it("rejects wrong type and short fixed part", () => {
    expect(parseRevocationAcknowledgment(unhex("07 00 00 00 | 0a000005 | 00000001"), OPTS)).toMatchObject({ ok: false, error: { kind: "unexpected-type" } });
    expect(parseRevocationAcknowledgment(unhex("0f 00 00 00 | 0a000005 | 000000"), OPTS)).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });
});
