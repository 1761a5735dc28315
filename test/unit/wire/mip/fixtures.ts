// Shared by the MIPv4 wire tests: hex helpers, the test key, and fast-check
// generators for every representation.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../../src/wire/mip-extension.ts";
import type {
  MipCodecOptions,
  MipExtension,
  RegistrationFlags,
  RegistrationReply,
  RegistrationRequest,
  RegistrationRevocation,
  RevocationAcknowledgment,
} from "../../../../src/wire/mip-types.ts";
import type { MnHaKey } from "../../../../src/wire/mip-auth.ts";

/** Hex with whitespace and `|` separators allowed, so goldens can follow the RFC figures. */
export function unhex(s: string): Uint8Array {
  const clean = s.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${s}`);
  return Uint8Array.from(Buffer.from(clean, "hex"));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** HMAC-MD5 straight from node:crypto, independent of src/wire/mip-auth.ts. */
export function referenceHmacMd5(secret: Uint8Array, data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHmac("md5", secret).update(data).digest());
}

export const KEY: MnHaKey = { spi: 0x0000_0100, secret: new TextEncoder().encode("an-ha shared secret 0001") };

/** Options with a long-format type declared, for the long-format cases. */
export const OPTS: MipCodecOptions = DEFAULT_MIP_CODEC_OPTIONS;
export const OPTS_LONG: MipCodecOptions = { ...DEFAULT_MIP_CODEC_OPTIONS, longTypes: [47, 100] };

const u32 = fc.nat({ max: 0xffff_ffff });
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

const utf8 = new TextEncoder();
const nai = fc
  .string({ unit: "grapheme", maxLength: 30 })
  .filter((s) => utf8.encode(s).length <= 255);

/** Skippable types no parse under OPTS_LONG would read as a known extension. */
const unknownType = fc
  .integer({ min: 128, max: 255 })
  .filter((t) => t !== 131 && t !== 137 && t !== OPTS.ipv6HoaType);

export const extensionArb: fc.Arbitrary<MipExtension> = fc.oneof(
  fc.constant<MipExtension>({ kind: "padding" }),
  nai.map((n): MipExtension => ({ kind: "mn-nai", nai: n })),
  fc
    .record({
      type: fc.constantFrom(32, 33, 34),
      spi: u32,
      authenticator: fc.uint8Array({ maxLength: 40 }),
    })
    .map((r): MipExtension => ({ kind: "auth", ...r })),
  fc.record({ iBit: fc.boolean(), timestamp: u32 }).map((r): MipExtension => ({ kind: "revocation-support", ...r })),
  fc.option(bytes(8), { nil: null }).map((iid): MipExtension => ({ kind: "ipv6-hoa-request", iid })),
  fc
    .record({ unique: fc.boolean(), hoa: fc.option(bytes(16), { nil: null }) })
    .map((r): MipExtension => ({ kind: "ipv6-hoa", ...r })),
  u32.map((key): MipExtension => ({ kind: "gre-key", key })),
  fc
    .record({
      type: fc.constantFrom(47, 100),
      subType: fc.nat({ max: 255 }),
      data: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 256, maxLength: 300 })),
    })
    .map((r): MipExtension => ({ kind: "long", ...r })),
  fc.record({ type: unknownType, body: fc.uint8Array({ maxLength: 40 }) }).map((r): MipExtension => ({ kind: "unknown", ...r })),
);

export const extensionsArb = fc.array(extensionArb, { maxLength: 8 });

const flagsArb: fc.Arbitrary<RegistrationFlags> = fc.record({
  S: fc.boolean(),
  B: fc.boolean(),
  D: fc.boolean(),
  M: fc.boolean(),
  G: fc.boolean(),
  r: fc.boolean(),
  T: fc.boolean(),
  x: fc.boolean(),
});

const id64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });

export const requestArb: fc.Arbitrary<RegistrationRequest> = fc.record({
  flags: flagsArb,
  lifetime: fc.nat({ max: 0xffff }),
  homeAddress: u32,
  homeAgent: u32,
  careOfAddress: u32,
  identification: id64,
  extensions: extensionsArb,
});

export const replyArb: fc.Arbitrary<RegistrationReply> = fc.record({
  code: fc.nat({ max: 255 }),
  lifetime: fc.nat({ max: 0xffff }),
  homeAddress: u32,
  homeAgent: u32,
  identification: id64,
  extensions: extensionsArb,
});

export const revocationArb: fc.Arbitrary<RegistrationRevocation> = fc.record({
  aBit: fc.boolean(),
  iBit: fc.boolean(),
  homeAddress: u32,
  homeDomainAddress: u32,
  foreignDomainAddress: u32,
  revocationId: u32,
  extensions: extensionsArb,
});

export const ackArb: fc.Arbitrary<RevocationAcknowledgment> = fc.record({
  iBit: fc.boolean(),
  homeAddress: u32,
  revocationId: u32,
  extensions: extensionsArb,
});
