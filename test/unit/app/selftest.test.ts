// `an selftest`: its known answers pass on this build, each check fails when what it
// guards breaks, and the exit code follows. The goldens themselves are checked against
// tshark in test/integration/wire/tshark-decode.test.ts and against the RFCs here.
import { createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { knownAnswerChecks, packetSocketCheck, RFC8032_TEST1, runSelftest, SELFTEST_CONTEXT, SELFTEST_NS, SELFTEST_RRQ } from "../../../src/app/selftest.ts";
import type { NativeAddon, NativeIoError } from "../../../src/io/native-addon.ts";
import { CONTEXT_SIGNATURE_DOMAIN, ed25519PrivateKey, ed25519PublicKey, signContextRecord, verifyContextRecord } from "../../../src/wire/context-signature.ts";

const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));

function ioError(code: string, syscall: string): NativeIoError {
  return Object.assign(new Error(`${syscall} failed: ${code}`), { code, errno: -92, syscall });
}

/** An addon whose openPacket does `open` (unit tests of the check only; the real one runs in CI's image selftests). */
function fakeAddon(open: () => { fd: number; close(): void }): () => NativeAddon {
  return () => ({ openPacket: open }) as unknown as NativeAddon;
}

describe("an selftest", () => {
  it("every known-answer check passes on this build", () => {
    const results = knownAnswerChecks();
    expect(results.map((r) => r.name)).toEqual([
      "hmac-md5 (RFC 2202, 7 cases)",
      "rrq encode (golden bytes)",
      "nd checksum (NS, ICMPv6 over the pseudo-header)",
      "context signature (Ed25519: RFC 8032 test 1, fixed record)",
    ]);
    for (const r of results) expect(r, r.detail).toMatchObject({ ok: true });
  });

  it("the RRQ golden is the engine's RRQ: type 1, 24-byte fixed part, MN-HA authenticator over everything before it", () => {
    const b = unhex(SELFTEST_RRQ.golden);
    expect(b[0]).toBe(1);
    expect(b.length).toBe(24 + 17 + 3 + 8 + 9 + 22);
    expect(b[b.length - 22]).toBe(32);
  });

  it("the NS checksum golden is the one's complement sum over the IPv6 pseudo-header (computed here independently)", () => {
    // ICMPv6 NS: type 135, code 0, checksum, reserved, target (24 bytes)
    const icmp = new Uint8Array(24);
    icmp[0] = 135;
    icmp.set(SELFTEST_NS.message.kind === "ns" ? SELFTEST_NS.message.target : new Uint8Array(16), 8);
    const pseudo = new Uint8Array(40);
    pseudo.set(SELFTEST_NS.src, 0);
    pseudo.set(SELFTEST_NS.dst, 16);
    pseudo[35] = 24;
    pseudo[39] = 58;
    let sum = 0;
    for (const part of [pseudo, icmp]) for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) | part[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(~sum & 0xffff).toBe(SELFTEST_NS.checksum);
  });

  it("the context signature golden verifies with node:crypto directly under the RFC 8032 test 1 public key; a changed record or key does not", () => {
    const pub = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(RFC8032_TEST1.publicKey, "hex").toString("base64url") }, format: "jwk" });
    const signed = Buffer.concat([CONTEXT_SIGNATURE_DOMAIN, Buffer.from(SELFTEST_CONTEXT.record)]);
    expect(verify(null, signed, pub, unhex(SELFTEST_CONTEXT.signature))).toBe(true);
    const record = new TextEncoder().encode(SELFTEST_CONTEXT.record);
    const key = ed25519PrivateKey(unhex(RFC8032_TEST1.seed));
    expect(verifyContextRecord(record, signContextRecord(record, key), ed25519PublicKey(unhex(RFC8032_TEST1.publicKey)))).toBe(true);
    const other = ed25519PublicKey(new Uint8Array(32).fill(0x11));
    expect(verifyContextRecord(record, unhex(SELFTEST_CONTEXT.signature), other)).toBe(false);
    expect(verifyContextRecord(record, unhex(SELFTEST_CONTEXT.signature).subarray(0, 63), ed25519PublicKey(unhex(RFC8032_TEST1.publicKey)))).toBe(false);
    expect(() => ed25519PrivateKey(new Uint8Array(31))).toThrow(RangeError);
  });

  it("packet socket: ok when the addon opens and closes it; FAIL when the addon cannot load or the open fails", () => {
    let closed = 0;
    expect(packetSocketCheck({ interface: "lo" }, fakeAddon(() => ({ fd: 7, close: () => void closed++ })))).toMatchObject({ ok: true });
    expect(closed).toBe(1);
    const noAddon = packetSocketCheck({ interface: "lo" }, () => {
      throw new Error("cannot load the embedded native addon from /tmp: /tmp is mounted noexec");
    });
    expect(noAddon).toMatchObject({ ok: false, detail: expect.stringContaining("noexec") });
    const eperm = packetSocketCheck({ interface: "lo" }, fakeAddon(() => {
      throw ioError("EPERM", "socket(AF_PACKET)");
    }));
    expect(eperm.ok).toBe(false);
  });

  it("--emulated forgives only qemu-user's missing SOL_PACKET options", () => {
    const auxdata = fakeAddon(() => {
      throw ioError("ENOPROTOOPT", "setsockopt(PACKET_AUXDATA)");
    });
    expect(packetSocketCheck({ interface: "lo" }, auxdata).ok).toBe(false);
    expect(packetSocketCheck({ interface: "lo", emulated: true }, auxdata)).toMatchObject({ ok: true, detail: expect.stringContaining("emulator") });
    const other = fakeAddon(() => {
      throw ioError("EPERM", "socket(AF_PACKET)");
    });
    expect(packetSocketCheck({ interface: "lo", emulated: true }, other).ok).toBe(false);
  });

  it("exit 0 only when every check passes, one line per check", () => {
    const lines: string[] = [];
    expect(runSelftest({ interface: "lo" }, (l) => lines.push(l), fakeAddon(() => ({ fd: 3, close: () => undefined })))).toBe(0);
    expect(lines).toHaveLength(6);
    expect(lines[5]).toBe("selftest: all 5 checks passed");
    const failing: string[] = [];
    expect(runSelftest({ interface: "nosuch0" }, (l) => failing.push(l), fakeAddon(() => {
      throw ioError("ENODEV", "if_nametoindex");
    }))).toBe(1);
    expect(failing.filter((l) => l.startsWith("FAIL"))).toHaveLength(1);
    expect(failing.at(-1)).toBe("selftest: 1 of 5 checks FAILED");
  });
});
