// `an selftest`: known-answer checks of the parts a broken build or a foreign CPU
// would get wrong (crypto, byte order, checksums), then a packet socket opened and
// closed through the addon this program really loads (in an image: the embedded one,
// extracted to $AN_RUNTIME_DIR). Exit 0 only when every check passes. The golden
// values are checked independently in test/unit/app/selftest.test.ts (tshark decodes
// the RRQ, a separate checksum routine, the RFC texts).
import { registrationRequest, signedRegistrationRequest } from "../core/signalling-messages.ts";
import { isNativeIoError, nativeAddon } from "../io/native-addon.ts";
import type { NativeAddon } from "../io/native-addon.ts";
import { ed25519PrivateKey, ed25519PublicKey, ed25519Sign, ed25519Verify, signContextRecord, verifyContextRecord } from "../wire/context-signature.ts";
import { verifyIcmpv6Checksum } from "../wire/icmpv6.ts";
import { hmacMd5 } from "../wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../wire/mip-extension.ts";
import { encodeNd, ndEncodedLength } from "../wire/ndisc.ts";
import type { NdMessage } from "../wire/ndisc.ts";

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const fill = (byte: number, n: number): Uint8Array => new Uint8Array(n).fill(byte);

/** RFC 2202 section 2: the seven HMAC-MD5 test cases (full 16-byte digests). */
export const RFC2202_HMAC_MD5: readonly { readonly key: Uint8Array; readonly data: Uint8Array; readonly digest: string }[] = [
  { key: fill(0x0b, 16), data: text("Hi There"), digest: "9294727a3638bb1c13f48ef8158bfc9d" },
  { key: text("Jefe"), data: text("what do ya want for nothing?"), digest: "750c783e6ab0b503eaa86e310a5db738" },
  { key: fill(0xaa, 16), data: fill(0xdd, 50), digest: "56be34521d144c88dbb8c733f0e8b3f6" },
  { key: unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), data: fill(0xcd, 50), digest: "697eaf0aca3a3aea3a75164746ffaa79" },
  { key: fill(0x0c, 16), data: text("Test With Truncation"), digest: "56461ef2342edc00f9bab995690efd4c" },
  { key: fill(0xaa, 80), data: text("Test Using Larger Than Block-Size Key - Hash Key First"), digest: "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" },
  { key: fill(0xaa, 80), data: text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"), digest: "6f630fad67cda0ee1fb1f562db3aa53e" },
];

/** An initial RRQ as the engine builds it (core/registration.ts), MN-HA authenticated. */
export const SELFTEST_RRQ = {
  params: {
    nai: "mn1@example.net",
    homeAgent: 0x0a000002, // 10.0.0.2
    careOf: 0x0a00000a, // 10.0.0.10
    greKey: 0x1001,
    lifetimeS: 600,
    identification: 0xe8f0_1234_0000_0001n,
    initial: true,
    revocationSupport: true,
    revocationTimestamp: 0x5f5e_1000,
  },
  key: { spi: 0x1001, secret: text("an-ha shared secret 0001") },
  golden:
    "01280258" + "00000000" + "0a000002" + "0a00000a" + "e8f0123400000001" + // type 1, flags D G, lifetime 600, HoA 0, HA, CoA, identification
    "830f6d6e31406578616d706c652e6e6574" + // MN-NAI (131), "mn1@example.net"
    "780100" + // IPv6 HoA Request (draft 4.1, default type 120), empty
    "890600005f5e1000" + // Revocation Support (137), timestamp
    "300700000000001001" + // GRE Key (48), key 0x1001
    "201400001001e8fd83aff2b1cc31cdc4f717f87d2adb", // MN-HA authentication (32), SPI 0x1001, HMAC-MD5
} as const;

/** A Neighbor Solicitation (DAD form: source ::, no options) for fe80::1 and its ICMPv6 checksum. */
export const SELFTEST_NS = {
  src: new Uint8Array(16),
  dst: unhex("ff0200000000000000000001ff000001"),
  message: { kind: "ns", target: unhex("fe800000000000000000000000000001"), options: [] } as NdMessage,
  checksum: 0x7c25,
};

/** RFC 8032 section 7.1 TEST 1: secret key, public key, empty message, signature. */
export const RFC8032_TEST1 = {
  seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
} as const;

/** A fixed context record signed with the RFC 8032 TEST 1 key (the record format is not final: it only has to stay fixed here). */
export const SELFTEST_CONTEXT = {
  record: '{"v":1,"mac":"02:00:00:00:00:01","nai":"mn1@example.net","ha":"10.0.0.2","seq":1}',
  signature: "72c5c7cd04a6a6fe830ca419bed33e5d01b528601bf2403e0ec1205aa61f47a1c67093e92988acb575c4a2b0908af3fd3740c57cfef7ef7415cdcf8af05c1306",
} as const;

function check(name: string, f: () => string | true): CheckResult {
  try {
    const r = f();
    return r === true ? { name, ok: true, detail: "" } : { name, ok: false, detail: r };
  } catch (e) {
    return { name, ok: false, detail: `threw: ${(e as Error).message}` };
  }
}

export function knownAnswerChecks(): CheckResult[] {
  return [
    check("hmac-md5 (RFC 2202, 7 cases)", () => {
      for (const [i, c] of RFC2202_HMAC_MD5.entries()) {
        const got = hex(hmacMd5(c.key, c.data));
        if (got !== c.digest) return `case ${i + 1}: ${got}, expected ${c.digest}`;
      }
      return true;
    }),
    check("rrq encode (golden bytes)", () => {
      const got = hex(signedRegistrationRequest(registrationRequest(SELFTEST_RRQ.params), DEFAULT_MIP_CODEC_OPTIONS, SELFTEST_RRQ.key));
      return got === SELFTEST_RRQ.golden || `${got}, expected ${SELFTEST_RRQ.golden}`;
    }),
    check("nd checksum (NS, ICMPv6 over the pseudo-header)", () => {
      const out = new Uint8Array(ndEncodedLength(SELFTEST_NS.message));
      const n = encodeNd(SELFTEST_NS.message, out, 0, SELFTEST_NS.src, SELFTEST_NS.dst);
      const sum = (out[2]! << 8) | out[3]!;
      if (sum !== SELFTEST_NS.checksum) return `checksum 0x${sum.toString(16)}, expected 0x${SELFTEST_NS.checksum.toString(16)}`;
      return verifyIcmpv6Checksum(out, 0, n, SELFTEST_NS.src, SELFTEST_NS.dst) || "the encoded NS does not verify";
    }),
    check("context signature (Ed25519: RFC 8032 test 1, fixed record)", () => {
      const key = ed25519PrivateKey(unhex(RFC8032_TEST1.seed));
      const pub = ed25519PublicKey(unhex(RFC8032_TEST1.publicKey));
      const rfc = hex(ed25519Sign(new Uint8Array(0), key));
      if (rfc !== RFC8032_TEST1.signature) return `RFC 8032 test 1: ${rfc}`;
      if (!ed25519Verify(new Uint8Array(0), unhex(rfc), pub)) return "RFC 8032 test 1 signature does not verify";
      const record = text(SELFTEST_CONTEXT.record);
      const sig = signContextRecord(record, key);
      if (hex(sig) !== SELFTEST_CONTEXT.signature) return `context record: ${hex(sig)}, expected ${SELFTEST_CONTEXT.signature}`;
      if (!verifyContextRecord(record, sig, pub)) return "context record signature does not verify";
      const tampered = record.slice();
      const at = tampered.length - 2;
      tampered[at] = tampered[at]! ^ 1;
      if (verifyContextRecord(tampered, sig, pub)) return "a tampered record verifies";
      return true;
    }),
  ];
}

export interface SelftestOptions {
  /** interface for the packet socket (default lo) */
  readonly interface: string;
  /**
   * Running under qemu-user (CI runs the ARM images so): qemu does not implement the
   * SOL_PACKET socket options (setsockopt PACKET_AUXDATA gives ENOPROTOOPT there), so
   * that one refusal is reported as an emulator gap; anything else still fails.
   */
  readonly emulated?: boolean;
}

/** Opens and closes an AF_PACKET socket on `ifname` through the addon. */
export function packetSocketCheck(o: SelftestOptions, addon: () => NativeAddon = nativeAddon): CheckResult {
  const name = `packet socket (AF_PACKET on ${o.interface}, native addon)`;
  let loaded: NativeAddon;
  try {
    loaded = addon();
  } catch (e) {
    return { name, ok: false, detail: `addon: ${(e as Error).message}` };
  }
  try {
    const ep = loaded.openPacket(o.interface, { filter: "ipv6" });
    const fd = ep.fd;
    ep.close();
    return fd >= 0 ? { name, ok: true, detail: "" } : { name, ok: false, detail: `fd ${fd}` };
  } catch (e) {
    if (o.emulated === true && isNativeIoError(e) && e.code === "ENOPROTOOPT" && e.syscall.startsWith("setsockopt(PACKET_")) {
      return { name, ok: true, detail: `addon loaded, socket opened, ${e.syscall} refused by the emulator (qemu-user has no SOL_PACKET options): not a firmware fault` };
    }
    return { name, ok: false, detail: (e as Error).message };
  }
}

/** `an selftest [--interface IF] [--emulated]`: prints one line per check; 0 when all pass, 1 otherwise. */
export function runSelftest(o: SelftestOptions, out: (line: string) => void, addon: () => NativeAddon = nativeAddon): number {
  const results = [...knownAnswerChecks(), packetSocketCheck(o, addon)];
  for (const r of results) out(`${r.ok ? "ok  " : "FAIL"} ${r.name}${r.detail ? `: ${r.detail}` : ""}`);
  const failed = results.filter((r) => !r.ok).length;
  out(failed === 0 ? `selftest: all ${results.length} checks passed` : `selftest: ${failed} of ${results.length} checks FAILED`);
  return failed === 0 ? 0 : 1;
}
