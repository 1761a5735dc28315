// An independent decoder agrees with our codecs: we write codec output into a
// pcap file and ask tshark (Wireshark's dissectors) what each field says.
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { encodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../../../src/wire/ethernet.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { IPPROTO_ICMPV6 } from "../../../src/wire/ipv4.ts";
import { parseIpv6 } from "../../../src/wire/ipv6-address.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH } from "../../../src/wire/ipv6.ts";
import { parseMac } from "../../../src/wire/mac.ts";
import { appendMnHaAuth, MN_HA_AUTH_EXTENSION_LENGTH } from "../../../src/wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { ntpFromUnixMs } from "../../../src/wire/mip-identification.ts";
import {
  encodeRegistrationReply,
  encodeRegistrationRequest,
  registrationReplyLength,
  registrationRequestLength,
} from "../../../src/wire/mip-registration.ts";
import { encodeRegistrationRevocation, registrationRevocationLength } from "../../../src/wire/mip-revocation.ts";
import type { RegistrationReply, RegistrationRequest, RegistrationRevocation } from "../../../src/wire/mip-types.ts";
import { encodeNd, ndEncodedLength } from "../../../src/wire/ndisc.ts";
import type { NdMessage } from "../../../src/wire/ndisc.ts";
import { PCAP_LINKTYPE_ETHERNET, pcapRecordForMillis, writePcapGlobalHeader, writePcapRecordHeader } from "../../../src/wire/pcap.ts";
import { encodeIpv4Udp, ipv4UdpLength } from "../../../src/wire/udp.ts";
import { SELFTEST_NS, SELFTEST_RRQ } from "../../../src/app/selftest.ts";

const tsharkMissing = (() => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "tshark is not installed (.ci/run installs it; CI must not skip)";
  }
})();
if (tsharkMissing && process.env.CI === "true") throw new Error(tsharkMissing);
if (tsharkMissing) console.warn(`tshark-decode: skipped: ${tsharkMissing}`);

const opts = DEFAULT_MIP_CODEC_OPTIONS;
const key = { spi: 0x1234, secret: new TextEncoder().encode("lab-secret-key-0") };
const AN_MAC = parseMac("02:00:00:00:00:01")!;
const HA_MAC = parseMac("02:00:00:00:00:02")!;
const MN_MAC = parseMac("02:00:00:00:00:aa")!;
const COA = parseIpv4("192.0.2.10")!;
const HA = parseIpv4("198.51.100.1")!;
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function withAuth(encode: (out: Uint8Array) => number, bodyLength: number): Uint8Array {
  const out = new Uint8Array(bodyLength + MN_HA_AUTH_EXTENSION_LENGTH);
  const n = encode(out);
  appendMnHaAuth(out, 0, n, key);
  return out;
}

function ethernet(src: Uint8Array, dst: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + payload.length);
  encodeEthernet({ dst, src, vlan: null, etherType }, out, 0);
  out.set(payload, 14);
  return out;
}

function udpFrame(src: number, dst: number, payload: Uint8Array): Uint8Array {
  const ip = new Uint8Array(ipv4UdpLength(payload.length));
  encodeIpv4Udp({ src, dst, srcPort: 434, dstPort: 434, ttl: 64, identification: 1, dontFragment: false }, payload, ip, 0);
  return ethernet(AN_MAC, HA_MAC, ETHERTYPE_IPV4, ip);
}

function ndFrame(src: Uint8Array, dst: Uint8Array, m: NdMessage, from: Uint8Array, to: Uint8Array): Uint8Array {
  const len = ndEncodedLength(m);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len);
  encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: len, nextHeader: IPPROTO_ICMPV6, hopLimit: 255, src, dst }, out, 0);
  encodeNd(m, out, IPV6_HEADER_LENGTH, src, dst);
  return ethernet(from, to, ETHERTYPE_IPV6, out);
}

function pcap(frames: Uint8Array[]): Uint8Array {
  const total = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(total);
  let p = writePcapGlobalHeader({ linkType: PCAP_LINKTYPE_ETHERNET, snapLength: 65535, nanoseconds: false }, out, 0);
  frames.forEach((f, i) => {
    p += writePcapRecordHeader(pcapRecordForMillis(T0 + i, f.length), out, p);
    out.set(f, p);
    p += f.length;
  });
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "an-tshark-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One row per frame, fields in order; multiple occurrences joined with ','. */
function tshark(frames: Uint8Array[], fields: string[]): string[][] {
  const file = join(dir, `f${Math.random().toString(16).slice(2)}.pcap`);
  writeFileSync(file, pcap(frames));
  const args = ["-r", file];
  args.push("-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,");
  for (const f of fields) args.push("-e", f);
  const text = execFileSync("tshark", args, { encoding: "utf8", env: { ...process.env, TZ: "UTC" }, stdio: ["ignore", "pipe", "pipe"] });
  return text.trimEnd().split("\n").map((l) => l.split("\t"));
}

describe.skipIf(tsharkMissing !== undefined)("tshark decodes what we encode", () => {
  test("Registration Request as the AN sends it", () => {
    const id = ntpFromUnixMs(T0);
    const rrq: RegistrationRequest = {
      flags: { S: false, B: false, D: true, M: false, G: true, r: false, T: false, x: false },
      lifetime: 600,
      homeAddress: 0,
      homeAgent: HA,
      careOfAddress: COA,
      identification: id,
      extensions: [
        { kind: "mn-nai", nai: "020000000aa@lab.example" },
        { kind: "ipv6-hoa-request", iid: null },
        { kind: "revocation-support", iBit: false, timestamp: 0x5a5a5a5a },
        { kind: "gre-key", key: 0x1001 },
      ],
    };
    const bytes = withAuth((out) => encodeRegistrationRequest(rrq, opts, out, 0), registrationRequestLength(rrq, opts));
    const [row] = tshark([udpFrame(COA, HA, bytes)], [
      "mip.type", "mip.s", "mip.d", "mip.g", "mip.t", "mip.life", "mip.homeaddr", "mip.haaddr", "mip.coa",
      "mip.nai", "mip.auth.spi", "mip.auth.auth", "mip.ext.type", "mip.ext.rev.tstamp", "mip.ident",
    ]);
    const [type, s, d, g, t, life, home, ha, coa, nai, spi, auth, extTypes, revTs, ident] = row!;
    expect(type).toBe("1");
    expect([s, d, g, t]).toEqual(["0", "1", "1", "0"]); // tshark prints booleans as 0/1
    expect(life).toBe("600");
    expect([home, ha, coa]).toEqual(["0.0.0.0", "198.51.100.1", "192.0.2.10"]);
    expect(nai).toBe("020000000aa@lab.example");
    expect(Number(spi)).toBe(0x1234);
    // The authenticator tshark sees is the HMAC-MD5 of everything before it (RFC 3344 3.5.1).
    const expected = createHmac("md5", key.secret).update(bytes.subarray(0, bytes.length - 16)).digest("hex");
    expect(auth!.replace(/:/g, "")).toBe(expected);
    const types = extTypes!.split(",").map(Number);
    expect(types[0]).toBe(131);
    expect(types[types.length - 1]).toBe(32);
    expect(types).toContain(opts.ipv6HoaRequestType);
    expect(types).toContain(137);
    expect(Number(revTs)).toBe(0x5a5a5a5a);
    // Identification is an NTP timestamp: tshark shows it as a UTC date.
    expect(ident).toContain("2026");
    expect(ident).toMatch(/12:00:00/);
  });

  test("Registration Reply, accepted, with the empty IPv6 HoA extension; and code 133", () => {
    const base: RegistrationReply = {
      code: 0,
      lifetime: 300,
      homeAddress: parseIpv4("10.1.0.7")!,
      homeAgent: HA,
      identification: ntpFromUnixMs(T0),
      extensions: [
        { kind: "mn-nai", nai: "mn@lab.example" },
        { kind: "ipv6-hoa", unique: false, hoa: null },
      ],
    };
    const denied: RegistrationReply = { ...base, code: 133, lifetime: 0, extensions: [{ kind: "mn-nai", nai: "mn@lab.example" }] };
    const frames = [base, denied].map((r) =>
      udpFrame(HA, COA, withAuth((out) => encodeRegistrationReply(r, opts, out, 0), registrationReplyLength(r, opts))),
    );
    const rows = tshark(frames, ["mip.type", "mip.code", "mip.life", "mip.homeaddr", "mip.haaddr", "mip.nai", "mip.auth.spi", "mip.ext.type"]);
    expect(rows[0]!.slice(0, 6)).toEqual(["3", "0", "300", "10.1.0.7", "198.51.100.1", "mn@lab.example"]);
    expect(Number(rows[0]![6])).toBe(0x1234); // tshark prints the SPI in hex
    expect(rows[0]![7]!.split(",").map(Number)).toEqual([131, opts.ipv6HoaType, 32]);
    expect(rows[1]!.slice(0, 3)).toEqual(["3", "133", "0"]);
  });

  test("Registration Revocation", () => {
    const rev: RegistrationRevocation = {
      aBit: true,
      iBit: false,
      homeAddress: 0,
      homeDomainAddress: HA,
      foreignDomainAddress: COA,
      revocationId: 0x01020304,
      extensions: [{ kind: "mn-nai", nai: "mn@lab.example" }],
    };
    const bytes = withAuth((out) => encodeRegistrationRevocation(rev, opts, out, 0), registrationRevocationLength(rev, opts));
    const [row] = tshark([udpFrame(HA, COA, bytes)], ["mip.type", "mip.rev.a", "mip.rev.hda", "mip.rev.fda", "mip.revid", "mip.nai"]);
    expect(row).toEqual(["7", "1", "198.51.100.1", "192.0.2.10", String(0x01020304), "mn@lab.example"]);
  });

  test("Neighbor Discovery: DAD NS with nonce, RS, RA with SLLA, NA", () => {
    const ll = parseIpv6("fe80::aa")!;
    const unspecified = parseIpv6("::")!;
    const solicited = parseIpv6("ff02::1:ff00:aa")!;
    const allRouters = parseIpv6("ff02::2")!;
    const allNodes = parseIpv6("ff02::1")!;
    const haLl = parseIpv6("fe80::1")!;
    const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const frames = [
      ndFrame(unspecified, solicited, { kind: "ns", target: ll, options: [{ kind: "nonce", nonce }] }, MN_MAC, AN_MAC),
      ndFrame(ll, allRouters, { kind: "rs", options: [{ kind: "slla", address: MN_MAC }] }, MN_MAC, AN_MAC),
      ndFrame(
        haLl,
        allNodes,
        {
          kind: "ra",
          curHopLimit: 64,
          managed: false,
          other: false,
          reservedFlags: 0,
          routerLifetime: 1800,
          reachableTime: 0,
          retransTimer: 0,
          options: [
            { kind: "slla", address: HA_MAC },
            { kind: "mtu", mtu: 1480 },
            { kind: "prefix-info", prefixLength: 64, onLink: true, autonomous: true, reservedFlags: 0, validLifetime: 86400, preferredLifetime: 14400, prefix: parseIpv6("2001:db8:1::")! },
          ],
        },
        HA_MAC,
        MN_MAC,
      ),
      ndFrame(haLl, ll, { kind: "na", router: true, solicited: true, override: true, target: haLl, options: [{ kind: "tlla", address: HA_MAC }] }, HA_MAC, MN_MAC),
    ];
    const rows = tshark(frames, [
      "icmpv6.type", "icmpv6.checksum.status", "icmpv6.nd.ns.target_address", "icmpv6.opt.nonce",
      "icmpv6.opt.linkaddr", "icmpv6.opt.mtu", "icmpv6.opt.prefix", "icmpv6.nd.na.flag.s",
    ]);
    expect(rows.map((r) => r[0])).toEqual(["135", "133", "134", "136"]);
    // Checksum status 1 = good: our pseudo-header checksum agrees with Wireshark's.
    expect(rows.map((r) => r[1])).toEqual(["1", "1", "1", "1"]);
    expect(rows[0]![2]).toBe("fe80::aa");
    expect(rows[0]![3]!.replace(/:/g, "")).toBe("010203040506");
    expect(rows[1]![4]).toBe("02:00:00:00:00:aa");
    expect(rows[2]![4]).toBe("02:00:00:00:00:02");
    expect(rows[2]![5]).toBe("1480");
    expect(rows[2]![6]).toBe("2001:db8:1::");
    expect(rows[3]![4]).toBe("02:00:00:00:00:02");
    expect(rows[3]![7]).toBe("1");
  });

  // `an selftest` compares against hard-coded goldens (src/app/selftest.ts): here an
  // independent decoder says they are what they claim to be.
  test("the selftest's golden RRQ and NS decode as claimed, with a good authenticator and checksum", () => {
    const rrq = Uint8Array.from(Buffer.from(SELFTEST_RRQ.golden, "hex"));
    const [row] = tshark([udpFrame(SELFTEST_RRQ.params.careOf, SELFTEST_RRQ.params.homeAgent, rrq)], [
      "mip.type", "mip.d", "mip.g", "mip.life", "mip.homeaddr", "mip.haaddr", "mip.coa", "mip.ident", "mip.nai", "mip.auth.spi", "mip.auth.auth", "mip.ext.type", "mip.ext.rev.tstamp",
    ]);
    const [type, d, g, life, home, ha, coa, ident, nai, spi, auth, extTypes, revTs] = row!;
    expect([type, d, g, life, home, ha, coa]).toEqual(["1", "1", "1", "600", "0.0.0.0", "10.0.0.2", "10.0.0.10"]);
    // tshark shows the identification as an NTP timestamp (date and time of its upper 32 bits).
    const seconds = Number(SELFTEST_RRQ.params.identification >> 32n) - 2_208_988_800;
    const iso = new Date(seconds * 1000).toISOString();
    expect(ident).toContain(iso.slice(0, 4));
    expect(ident).toContain(iso.slice(11, 19));
    expect(nai).toBe(SELFTEST_RRQ.params.nai);
    expect(Number(spi)).toBe(SELFTEST_RRQ.key.spi);
    expect(auth!.replace(/:/g, "")).toBe(createHmac("md5", SELFTEST_RRQ.key.secret).update(rrq.subarray(0, rrq.length - 16)).digest("hex"));
    expect(extTypes!.split(",").map(Number)).toEqual([131, opts.ipv6HoaRequestType, 137, opts.greKeyType, 32]);
    expect(Number(revTs)).toBe(SELFTEST_RRQ.params.revocationTimestamp);
    const ns = ndFrame(SELFTEST_NS.src, SELFTEST_NS.dst, SELFTEST_NS.message, MN_MAC, parseMac("33:33:ff:00:00:01")!);
    const [nsRow] = tshark([ns], ["icmpv6.type", "icmpv6.checksum", "icmpv6.checksum.status", "icmpv6.nd.ns.target_address"]);
    expect(nsRow).toEqual(["135", `0x${SELFTEST_NS.checksum.toString(16).padStart(4, "0")}`, "1", "fe80::1"]);
  });
});
