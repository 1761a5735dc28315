import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatMac,
  isBroadcastMac,
  isMulticastMac,
  macEqual,
  macFromKey,
  macKey,
  parseMac,
  writeMacKey,
} from "../../../src/wire/mac.ts";
import { propertyRuns } from "../../support/runs.ts";
import { bytesOf, hex, same } from "./bytes.ts";

describe("mac", () => {
  it("formats and parses the canonical text", () => {
    expect(formatMac(hex("02 00 5e 10 ab ff"))).toBe("02:00:5e:10:ab:ff");
    expect(formatMac(hex("ffff 0a0b0c0d0e0f"), 2)).toBe("0a:0b:0c:0d:0e:0f");
    expect(parseMac("02:00:5E:10:ab:FF")).toEqual(hex("02005e10abff"));
  });

  it("rejects malformed text", () => {
    for (const bad of ["", "02:00:5e:10:ab", "02:00:5e:10:ab:ff:00", "2:00:5e:10:ab:ff", "02-00-5e-10-ab-ff", "02:00:5e:10:ab:fg", " 02:00:5e:10:ab:ff"]) {
      expect(parseMac(bad), bad).toBeNull();
    }
  });

  it("keys are the 48-bit big-endian value", () => {
    expect(macKey(hex("000000000001"))).toBe(1);
    expect(macKey(hex("ffffffffffff"))).toBe(0xffff_ffff_ffff);
    expect(macKey(hex("800000000000"))).toBe(0x8000_0000_0000);
    expect(macKey(hex("00 010203040506"), 1)).toBe(0x010203040506);
    expect(macFromKey(0x0a0b0c0d0e0f)).toEqual(hex("0a0b0c0d0e0f"));
  });

  it("group and broadcast bits", () => {
    expect(isMulticastMac(hex("333300000001"))).toBe(true);
    expect(isMulticastMac(hex("020000000001"))).toBe(false);
    expect(isBroadcastMac(hex("ffffffffffff"))).toBe(true);
    expect(isBroadcastMac(hex("fffffffffffe"))).toBe(false);
    expect(macEqual(hex("aa 010203040506"), 1, hex("010203040506"), 0)).toBe(true);
    expect(macEqual(hex("010203040507"), 0, hex("010203040506"), 0)).toBe(false);
  });

  it("text and key round trips are identities", () => {
    fc.assert(
      fc.property(bytesOf(6), fc.nat({ max: 8 }), (mac, pad) => {
        const buf = new Uint8Array(pad + 6);
        buf.set(mac, pad);
        same(parseMac(formatMac(buf, pad)), mac);
        const key = macKey(buf, pad);
        same(Number.isSafeInteger(key) && key >= 0 && key < 2 ** 48, true);
        same(macFromKey(key), mac);
        const out = new Uint8Array(6);
        same(writeMacKey(key, out, 0), 6);
        same(out, mac);
      }),
      { numRuns: propertyRuns() },
    );
  });

  it("parseMac never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 24 }), (s) => {
        const r = parseMac(s);
        if (r !== null) same(formatMac(r), s.toLowerCase());
      }),
      { numRuns: propertyRuns() },
    );
  });
});
