// A real Linux stack in a network namespace brings its link up; we capture its DAD
// Neighbor Solicitation (with the RFC 7527 Nonce option) and its Router
// Solicitation, then parse them with our wire layer and re-encode them byte for
// byte, checksum included. This is the check that our ICMPv6 pseudo-header
// checksum and option codecs agree with the kernel the MNs actually run.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeEthernet, ETHERTYPE_IPV6, parseEthernet } from "../../../src/wire/ethernet.ts";
import { isUnspecified } from "../../../src/wire/ipv6-address.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH } from "../../../src/wire/ipv6.ts";
import { encodeNd, ndEncodedLength, parseNdPacket } from "../../../src/wire/ndisc.ts";
import type { NdPacket } from "../../../src/wire/ndisc.ts";
import { Lab, netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`linux-nd-capture: skipped: ${skipReason}`);

interface Captured {
  frame: Uint8Array;
  ipOffset: number;
  nd: NdPacket;
}

describe.skipIf(skipReason !== undefined)("ND packets from a real Linux MN", () => {
  const lab = new Lab("ndcap");
  const dir = mkdtempSync(join(tmpdir(), "an-ndcap-"));
  const file = join(dir, "mn.pcap");
  let captured: Captured[] = [];

  beforeAll(async () => {
    try {
      const mn = lab.netns("mn");
      const an = lab.netns("an");
      lab.veth(mn, "eth0", an, "acc0");
      // The capturing side must stay silent: no IPv6 of its own on the access port.
      lab.exec(an, "sysctl", "-qw", "net.ipv6.conf.acc0.disable_ipv6=1");
      lab.exec(an, "ip", "link", "set", "acc0", "up");
      const dumpcap = lab.spawn(an, "dumpcap", ["-q", "-P", "-i", "acc0", "-f", "ip6", "-w", file]);
      let dumpcapErr = "";
      dumpcap.stderr?.on("data", (d: Buffer) => (dumpcapErr += d.toString()));
      await waitFor(() => (existsSync(file) && statSync(file).size >= 24 ? true : undefined), 10_000, `dumpcap to start (${dumpcapErr})`);
      lab.exec(mn, "ip", "link", "set", "eth0", "up");
      captured = await waitFor(
        () => {
          const got = parseCapture(readFileSync(file));
          const haveDad = got.some((c) => c.nd.message.kind === "ns" && isUnspecified(c.nd.ip.src));
          const haveRs = got.some((c) => c.nd.message.kind === "rs");
          return haveDad && haveRs ? got : undefined;
        },
        20_000,
        "a DAD NS and an RS from the Linux MN",
        200,
      );
    } catch (e) {
      lab.cleanup();
      throw e;
    }
  }, 40_000);

  afterAll(() => {
    lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the DAD NS carries a Nonce and re-encodes byte for byte", () => {
    const dad = captured.find((c) => c.nd.message.kind === "ns" && isUnspecified(c.nd.ip.src));
    expect(dad).toBeDefined();
    const m = dad!.nd.message;
    expect(m.kind).toBe("ns");
    if (m.kind !== "ns") return;
    const nonce = m.options.find((o) => o.kind === "nonce");
    expect(nonce, "Linux enhanced DAD sends RFC 7527 nonces").toBeDefined();
    expect(nonce!.kind === "nonce" && nonce!.nonce.length).toBeGreaterThanOrEqual(6);
    // A DAD probe carries no SLLA (RFC 4861 7.2.2: not from the unspecified address).
    expect(m.options.some((o) => o.kind === "slla")).toBe(false);
    expectReencodes(dad!);
  });

  test("the RS re-encodes byte for byte", () => {
    const rs = captured.find((c) => c.nd.message.kind === "rs");
    expect(rs).toBeDefined();
    expectReencodes(rs!);
  });
});

function parseCapture(bytes: Uint8Array): Captured[] {
  const out: Captured[] = [];
  for (const r of readPcap(bytes).records) {
    const eth = parseEthernet(r.data);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV6) continue;
    const nd = parseNdPacket(r.data, eth.length);
    if (nd.ok) out.push({ frame: r.data, ipOffset: eth.length, nd: nd.value });
  }
  return out;
}

function expectReencodes(c: Captured): void {
  const eth = parseEthernet(c.frame);
  if (!eth.ok) throw new Error("frame no longer parses");
  const len = c.ipOffset + IPV6_HEADER_LENGTH + ndEncodedLength(c.nd.message);
  const out = new Uint8Array(len);
  let p = encodeEthernet(eth.value, out, 0);
  p += encodeIpv6Header(c.nd.ip, out, p);
  // encodeNd computes the checksum afresh: equality proves it matches the kernel's.
  p += encodeNd(c.nd.message, out, p, c.nd.ip.src, c.nd.ip.dst);
  expect(p).toBe(len);
  expect(Buffer.from(out).toString("hex")).toBe(Buffer.from(c.frame.subarray(0, len)).toString("hex"));
  expect(len).toBe(c.ipOffset + IPV6_HEADER_LENGTH + c.nd.ip.payloadLength);
}
