// The running firmware end to end, in network namespaces the test creates:
//   MN ns (a real Linux IPv6 stack) --veth-- AN ns (the bundled daemon, as nobody
//   with only CAP_NET_RAW + CAP_NET_ADMIN) --veth-- HA ns (a scripted peer).
// Independent witnesses: tshark decodes the daemon's --pcap file, tcpdump (root,
// in the AN namespace) records the access link, the MN's own `ip -6 addr`.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { parseRegistrationRequest } from "../../../src/wire/mip-registration.ts";
import { formatIpv4, parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { formatIpv6 } from "../../../src/wire/ipv6-address.ts";
import { writeTunnelHeaders } from "../../../src/wire/tunnel.ts";
import { parseIpv4Udp } from "../../../src/wire/udp.ts";
import { dadNeighborSolicitation, ethernetFrame, ip6, ipv6Packet, linkLocalOf, mac, routerAdvertisementPacket } from "../../support/frames.ts";
import { answer } from "../../support/home-agent-messages.ts";
import { Lab, waitFor } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";
import type { JsonChild } from "./daemon-lab.ts";
import { AS_NOBODY_WITH_NET_CAPS, bundleDaemon, bundlePeer, daemonLabGate, daemonNamespaces, scratchDir, sleep, spawnInNetns } from "./daemon-lab.ts";

const run = daemonLabGate();

const KEY_HEX = "6b65792d6d6174657269616c2d31323334353637383930";
const KEY: MnHaKey = { spi: 4097, secret: Uint8Array.from(Buffer.from(KEY_HEX, "hex")) };
const CODEC = DEFAULT_MIP_CODEC_OPTIONS;
const HA = "10.0.0.2";
const COAS = ["10.0.0.10", "10.0.0.11"];
const MN_MAC = "02:11:22:33:44:01";
const MN2_MAC = "02:11:22:33:44:02";
const STRANGER_MAC = "02:11:22:33:44:09";
const HA_MAC = "02:00:5e:00:53:01";
const HA_LL = "fe80::5eff:fe00:5301";
const NAI = "021122334401@example.net";
const NAI2 = "021122334402@example.net";

let stateFile = "";

function configOf(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stateFile,
    revision: 1,
    nodeId: "an-test",
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: COAS },
    realms: [{ realm: "example.net", homeAgent: HA, spi: KEY.spi, key: `hex:${KEY_HEX}` }],
    identity: { derivedRealm: "example.net" },
    registration: { lifetimeS: 600 },
    log: { level: "info" },
    telemetry: { intervalS: 0 },
    shutdown: { deregister: true },
    ...over,
  };
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytesOf = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

/** An IPv6 packet inside IPv4 protocol 41 from the HA to `coa`. */
function encapsulate(inner: Uint8Array, coa: string, src = HA): Uint8Array {
  const out = new Uint8Array(20 + inner.length);
  out.set(inner, 20);
  writeTunnelHeaders(out, 0, { src: parseIpv4(src)!, dst: parseIpv4(coa)!, ttl: 64, dontFragment: false, identification: 7, gre: null }, inner.length);
  return out;
}

describe.skipIf(!run)("an run: the daemon in network namespaces", () => {
  const lab = new Lab("and");
  let nsAn = "";
  let nsMn = "";
  let dir = "";
  let runDir = "";
  let configPath = "";
  let pcapPath = "";
  let accessCapture = "";
  let daemon: JsonChild;
  let peer: JsonChild;
  let injector: JsonChild | undefined;
  let coa = "";

  /** Inner IPv6 packets the peer received on protocol 41 from the AN, in order. */
  const tunnelInner = (): { hex: string; index: number; outerSrc: string }[] => {
    const out: { hex: string; index: number; outerSrc: string }[] = [];
    const haHex = hexOf(Uint8Array.of(...HA.split(".").map(Number)));
    peer.lines.forEach((l, index) => {
      if (l.event !== "tunnel") return;
      for (const p of l.packets as string[]) {
        if (p.slice(32, 40) !== haHex) continue;
        out.push({ hex: p.slice(40), index, outerSrc: formatIpv4(parseInt(p.slice(24, 32), 16)) });
      }
    });
    return out;
  };
  /** Frames on the access link (tcpdump in the AN namespace), as hex. */
  const accessFrames = (): Uint8Array[] => readPcap(readFileSync(accessCapture)).records.map((r) => r.data);
  const logLines = (msg: string): Record<string, unknown>[] => daemon.lines.filter((l) => l.msg === msg);
  const telemetry = async (): Promise<Record<string, Record<string, number>> & { sessions: number }> => {
    const from = daemon.lines.length;
    process.kill(daemon.pid, "SIGUSR2");
    const line = await daemon.waitFor((l) => l.msg === "telemetry", "telemetry line", 5000, from);
    return line.telemetry as Record<string, Record<string, number>> & { sessions: number };
  };

  beforeAll(async () => {
    const ns = daemonNamespaces(lab, { ha: HA, coas: COAS });
    [nsAn, nsMn] = [ns.an, ns.mn];
    const nsHa = ns.ha;
    lab.exec(nsMn, "ip", "link", "set", "eth0", "address", MN_MAC);

    ({ dir, run: runDir } = scratchDir());
    const anBundle = bundleDaemon(dir);
    const peerBundle = await bundlePeer(dir);
    configPath = join(dir, "an.json");
    stateFile = join(runDir, "state.json");
    writeFileSync(configPath, JSON.stringify(configOf()), { mode: 0o644 });
    pcapPath = join(runDir, "an.pcap");
    accessCapture = join(dir, "access.pcap");

    const env = { AN_NATIVE_ADDON: join(dir, "an_native.node") };
    peer = spawnInNetns(nsHa, "peer", [process.execPath, peerBundle], env);
    await peer.request("udp-listen", { address: HA, port: 434 });
    await peer.request("auto-answer", { enabled: true, spi: KEY.spi, secretHex: KEY_HEX });
    await peer.request("tunnel-open", { protocol: 41 });

    const tcpdump = lab.spawn(nsAn, "tcpdump", ["-i", "acc0", "--immediate-mode", "-U", "-n", "-w", accessCapture]);
    let tcpdumpErr = "";
    tcpdump.stderr?.on("data", (c: Buffer) => (tcpdumpErr += c.toString()));
    for (let i = 0; i < 100 && !tcpdumpErr.includes("listening"); i++) await sleep(50);

    // The daemon: bundled, as uid/gid 65534 with only CAP_NET_RAW and CAP_NET_ADMIN.
    daemon = spawnInNetns(nsAn, "daemon", [...AS_NOBODY_WITH_NET_CAPS, process.execPath, anBundle, "run", "--config", configPath, "--pcap", pcapPath]);
    await daemon.waitFor((l) => l.msg === "started", "the daemon to start", 15_000);
  }, 120_000);

  afterAll(() => {
    daemon?.kill();
    peer?.kill();
    injector?.kill();
    lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs as nobody holding only CAP_NET_RAW and CAP_NET_ADMIN", () => {
    const status = readFileSync(`/proc/${daemon.pid}/status`, "utf8");
    expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    const caps = (name: string): bigint => BigInt(`0x${/^(\w+):\s+([0-9a-f]+)$/m.exec(status.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "")?.[2] ?? "ff"}`);
    const NET_ADMIN_RAW = (1n << 12n) | (1n << 13n);
    expect(caps("CapEff")).toBe(NET_ADMIN_RAW);
    expect(caps("CapPrm")).toBe(NET_ADMIN_RAW);
    expect(caps("CapBnd")).toBe(NET_ADMIN_RAW);
  });

  it("without CAP_BPF the kernel fast path is refused (EPERM): said once, and the userspace datapath serves (every test below)", () => {
    const warned = logLines("kernel fast path unavailable: using the userspace datapath");
    expect(warned).toHaveLength(1);
    // The BPF object is next to the bundle (build/bundle.mjs copies it): the refusal is the kernel's.
    expect(String(warned[0]!.reason)).toMatch(/EPERM.*CAP_BPF/);
    expect(logLines("datapath opened")).toMatchObject([{ backend: "userspace" }]);
    expect(logLines("started")).toMatchObject([{ datapath: "userspace" }]);
  });

  it("sends an authenticated RRQ on the MN's first NS (tshark decodes it from --pcap)", async () => {
    lab.exec(nsMn, "ip", "link", "set", "eth0", "up");
    const rrq = await peer.waitFor((l) => l.event === "rrq", "the RRQ at the peer", 10_000);
    expect(rrq.verified).toBe(true);
    const parsed = parseRegistrationRequest(bytesOf(rrq.hex as string), CODEC);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    coa = formatIpv4(parsed.value.message.careOfAddress);
    expect(COAS).toContain(coa);
    expect(rrq.from).toBe(coa); // sourced from the CoA it registers
    expect(rrq.port).toBe(434);
    const registered = await daemon.waitFor((l) => l.msg === "registered", "registered", 5000);
    expect(registered.event).toMatchObject({ mac: MN_MAC, nai: NAI, careOf: coa, homeAgent: HA });
    expect((registered.event as { heldFramesReleased: number }).heldFramesReleased).toBeGreaterThanOrEqual(1); // the DAD NS

    // tshark, an independent decoder, reads the daemon's pcap.
    const fields = execFileSync(
      "tshark",
      ["-r", pcapPath, "-Y", "mip.type == 1", "-T", "fields", "-E", "separator=|", "-e", "mip.type", "-e", "mip.d", "-e", "mip.nai", "-e", "mip.auth.spi", "-e", "mip.coa", "-e", "mip.haaddr", "-e", "ip.src", "-e", "udp.srcport"],
      { encoding: "utf8", timeout: 20_000 },
    )
      .trim()
      .split("\n");
    expect(fields[0]?.split("|")).toEqual(["1", "1", NAI, `0x${KEY.spi.toString(16).padStart(8, "0")}`, coa, HA, coa, "434"]);
    // The authenticator in the recorded RRQ verifies under the key.
    const records = readPcap(readFileSync(pcapPath)).records;
    const rrqRecord = records.map((r) => parseIpv4Udp(r.data, 14)).find((p) => p.ok && p.value.udp.dstPort === 434 && p.value.payload[0] === 1);
    if (!rrqRecord?.ok) throw new Error("no RRQ record in the pcap");
    const rp = parseRegistrationRequest(rrqRecord.value.payload, CODEC);
    if (!rp.ok) throw new Error(rp.error.detail);
    expect(verifyMnHaAuth(rrqRecord.value.payload, rp.value, KEY)).toEqual({ ok: true });
    expect(rp.value.message.extensions.some((e) => e.kind === "ipv6-hoa-request")).toBe(true);
    // The reply went into the pcap too, and the MN's DAD NS.
    const kinds = execFileSync("tshark", ["-r", pcapPath, "-T", "fields", "-e", "mip.type", "-e", "icmpv6.type"], { encoding: "utf8", timeout: 20_000 });
    expect(kinds).toMatch(/^3\t/m);
    expect(kinds).toMatch(/\t135$/m);
  });

  it("sends the held DAD NS up the tunnel after the reply, byte-exact", async () => {
    const isNs = (h: string): boolean => h.slice(80, 82) === "87";
    await peer.waitFor(() => tunnelInner().some((p) => isNs(p.hex)), "the NS in the tunnel", 5000);
    const rrqIndex = peer.lines.findIndex((l) => l.event === "rrq");
    const first = tunnelInner().find((p) => isNs(p.hex))!;
    expect(first.outerSrc).toBe(coa);
    expect(first.index).toBeGreaterThan(rrqIndex);
    const inner = bytesOf(first.hex);
    expect(formatIpv6(inner, 8)).toBe("::"); // unspecified source: DAD
    expect(inner[40]).toBe(135); // NS
    expect(formatIpv6(inner, 48)).toBe(formatIpv6(linkLocalOf(mac(MN_MAC))));
    expect(inner.subarray(64)).toSatisfy((o: Uint8Array) => o[0] === 14); // nonce option
    // Byte-exact with what the MN put on the access link.
    const fromMn = (): string[] => accessFrames().filter((f) => hexOf(f.subarray(6, 12)) === MN_MAC.replace(/:/g, "")).map((f) => hexOf(f.subarray(14, 14 + inner.length)));
    await waitFor(() => (fromMn().includes(first.hex) ? true : undefined), 3000, "the DAD NS in the access capture");
  });

  it("persists the session context for a restart (atomic state file)", async () => {
    const state = await waitFor(() => {
      try {
        const s = JSON.parse(readFileSync(stateFile, "utf8")) as { contexts: { mac: string; nai: string; remainingLifetimeMs: number }[] };
        return s.contexts.length > 0 ? s : undefined;
      } catch {
        return undefined;
      }
    }, 3000, "the state file");
    expect(state.contexts[0]).toMatchObject({ mac: MN_MAC, nai: NAI });
    expect(state.contexts[0]!.remainingLifetimeMs).toBeGreaterThan(500_000);
  });

  it("delivers the HA's RA to the MN from the RA's SLLA, and the MN configures its address", async () => {
    const ra = routerAdvertisementPacket({ src: ip6(HA_LL), slla: mac(HA_MAC), mtu: 1480, prefix: ip6("2001:db8:1::") });
    expect(await peer.request("tunnel-send", { protocol: 41, hex: hexOf(encapsulate(ra, coa)) })).toBe(true);
    let addr = "";
    for (let i = 0; i < 60 && !addr; i++) {
      const out = lab.exec(nsMn, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global");
      if (/2001:db8:1:/.test(out) && !/tentative/.test(out)) addr = out;
      else await sleep(100);
    }
    expect(addr).toMatch(/inet6 2001:db8:1:0:11:22ff:fe33:4401\/64/);
    const frame = accessFrames().find((f) => f[54] === 134 && hexOf(f.subarray(0, 6)) === MN_MAC.replace(/:/g, ""));
    expect(frame).toBeDefined();
    expect(hexOf(frame!.subarray(6, 12))).toBe(HA_MAC.replace(/:/g, "")); // rewritten source: the SLLA
    expect(hexOf(frame!.subarray(14))).toBe(hexOf(ra)); // the RA itself untouched
    expect(lab.exec(nsMn, "ip", "-6", "neigh", "show", "dev", "eth0")).toMatch(new RegExp(`${HA_LL} lladdr ${HA_MAC} router`));
  });

  it("carries the MN's IPv6 packets byte-exact to the HA (hop limit unchanged)", async () => {
    const script = "const s=require('dgram').createSocket('udp6');let n=0;const t=setInterval(()=>{s.send(Buffer.from('hello '+n),9,'2001:db8:ffff::1');if(++n===3){clearInterval(t);setTimeout(()=>s.close(),100)}},50)";
    lab.exec(nsMn, process.execPath, "-e", script);
    const isUdp = (h: string): boolean => h.slice(12, 14) === "11" && formatIpv6(bytesOf(h), 24) === "2001:db8:ffff::1";
    await peer.waitFor(() => tunnelInner().filter((p) => isUdp(p.hex)).length >= 3, "3 UDP packets through the tunnel", 5000);
    const sent = tunnelInner().filter((p) => isUdp(p.hex)).map((p) => p.hex);
    const onLink = (): string[] =>
      accessFrames()
        .filter((f) => hexOf(f.subarray(6, 12)) === MN_MAC.replace(/:/g, "") && f[12] === 0x86 && f[13] === 0xdd)
        .map((f) => hexOf(f.subarray(14, 14 + 40 + ((f[18]! << 8) | f[19]!))));
    await waitFor(() => (sent.every((h) => onLink().includes(h)) ? true : undefined), 3000, "the MN's packets in the access capture");
    for (const h of sent) {
      expect(bytesOf(h)[7]).toBe(64); // the MN's hop limit, not decremented
    }
  });

  it("counts and logs once per cause malformed frames, forged and truncated replies, unknown MNs; fragments full-size packets; keeps serving", async () => {
    injector = spawnInNetns(nsMn, "injector", [process.execPath, join(dir, "peer-agent.mjs")], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    await injector.request("access-open", { ifname: "eth0" });
    const before = await telemetry();
    const lastRrq = bytesOf([...peer.lines].reverse().find((l) => l.event === "rrq")!.hex as string);
    const valid = answer(lastRrq, KEY, CODEC);
    const forged = answer(lastRrq, KEY, CODEC, { auth: "wrong-key" });
    const anMac = mac("02:00:00:00:00:00");
    const badVersion = ethernetFrame(mac(MN_MAC), anMac, ipv6Packet({ src: ip6("fe80::1"), dst: ip6("fe80::2"), nextHeader: 59, hopLimit: 64, payload: new Uint8Array(8) }));
    badVersion[14] = 0x40; // IPv4 version nibble in an IPv6 frame
    const strangerData = ethernetFrame(mac(STRANGER_MAC), mac(HA_MAC), ipv6Packet({ src: ip6("2001:db8:9::9"), dst: ip6("2001:db8:ffff::1"), nextHeader: 59, hopLimit: 64, payload: new Uint8Array(16) }));
    const oversize = ethernetFrame(mac(MN_MAC), mac(HA_MAC), ipv6Packet({ src: ip6("2001:db8:1::99"), dst: ip6("2001:db8:ffff::1"), nextHeader: 59, hopLimit: 64, payload: new Uint8Array(1460) }));
    const unmatched = encapsulate(ipv6Packet({ src: ip6("2001:db8:ffff::1"), dst: ip6("2001:db8:1::5"), nextHeader: 59, hopLimit: 64, payload: new Uint8Array(8) }), COAS.find((c) => c !== coa)!);
    for (let i = 0; i < 3; i++) {
      await peer.request("udp-send", { to: coa, port: 434, hex: hexOf(valid.subarray(0, 13)) }); // truncated reply
      await peer.request("udp-send", { to: coa, port: 434, hex: hexOf(forged) }); // forged reply
      await injector.request("access-send", { hex: hexOf(badVersion) });
      await injector.request("access-send", { hex: hexOf(strangerData) });
      await injector.request("access-send", { hex: hexOf(oversize) });
      await peer.request("tunnel-send", { protocol: 41, hex: hexOf(unmatched) });
    }
    await sleep(300);
    const after = await telemetry();
    const delta = (group: string, name: string): number => (after[group]![name] ?? 0) - (before[group]![name] ?? 0);
    expect(delta("engine", "repliesMalformed")).toBe(3);
    expect(delta("engine", "repliesForged")).toBe(3);
    expect(delta("engine", "framesMalformed")).toBe(3);
    expect(delta("engine", "framesUnknownMnNonTrigger")).toBe(3);
    expect(delta("engine", "packetsFromTunnelUnmatched")).toBe(3);
    // 1520-byte outer packets on a 1500 uplink: fragmented by the AN (DF clear), no longer refused (EMSGSIZE).
    expect(delta("datapath", "tunnelTxErrors")).toBe(0);
    const mtuOf = (t: Record<string, unknown>): Record<string, number> => (t.datapath as { mtu: Record<string, number> }).mtu;
    expect(mtuOf(after).fragmented! - mtuOf(before).fragmented!).toBe(3);
    expect(mtuOf(after).fragments! - mtuOf(before).fragments!).toBe(6);
    const oversizeInner = hexOf(oversize.subarray(14));
    await peer.waitFor(() => tunnelInner().filter((p) => p.hex === oversizeInner).length >= 3, "the 1500-byte packets reassembled at the peer", 5000);
    expect(after.sessions).toBe(1); // still bound
    const warned = (cause: string): number => daemon.lines.filter((l) => l.cause === cause).length;
    expect(warned("malformed registration-reply: truncated")).toBe(1);
    expect(warned("forged reply: MN-HA authentication mismatch")).toBe(1);
    expect(warned("counter framesMalformed")).toBe(1);
    expect(warned("counter packetsFromTunnelUnmatched")).toBe(1);
    expect(warned("tunnel send refused: EMSGSIZE")).toBe(0);
    expect(after.causes!["forged reply: MN-HA authentication mismatch"]).toBe(3);

    // A new MN still registers, and its held DAD NS goes through.
    const dad2 = dadNeighborSolicitation(mac(MN2_MAC));
    const rrqsBefore = peer.lines.filter((l) => l.event === "rrq").length;
    await injector.request("access-send", { hex: hexOf(dad2) });
    const rrq2 = await peer.waitFor((l) => l.event === "rrq" && parseRegistrationRequest(bytesOf(l.hex as string), CODEC).ok && String(l.hex).includes(Buffer.from(NAI2).toString("hex")), "the RRQ for MN2", 5000);
    expect(rrq2.verified).toBe(true);
    expect(peer.lines.filter((l) => l.event === "rrq").length).toBeGreaterThan(rrqsBefore);
    await daemon.waitFor((l) => l.msg === "registered" && (l.event as { mac: string }).mac === MN2_MAC, "MN2 registered", 5000);
    await peer.waitFor(() => tunnelInner().some((p) => p.hex === hexOf(dad2.subarray(14))), "MN2's DAD NS in the tunnel", 5000);
  });

  it("SIGHUP: refuses a bad config listing every problem and keeps the last good one; applies a good one keeping sessions", async () => {
    writeFileSync(configPath, JSON.stringify(configOf({ careOf: { mode: "pool", addresses: ["10.0.0.300"] }, realms: [{ realm: "example.net", homeAgent: HA, spi: 5, key: `hex:${KEY_HEX}` }] })));
    let from = daemon.lines.length;
    process.kill(daemon.pid, "SIGHUP");
    await daemon.waitFor((l) => l.msg === "config reload refused: keeping the last good config", "the refusal", 5000, from);
    const problems = daemon.lines.slice(from).filter((l) => l.msg === "config problem").map((l) => l.problem);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^careOf\.addresses\.0: /), expect.stringMatching(/^realms\.0\.spi: /)]));
    expect((await telemetry()).sessions).toBe(2);

    writeFileSync(configPath, JSON.stringify(configOf({ revision: 2, log: { level: "debug" } })));
    from = daemon.lines.length;
    process.kill(daemon.pid, "SIGHUP");
    const ok = await daemon.waitFor((l) => l.msg === "config reloaded", "the reload", 5000, from);
    expect(ok).toMatchObject({ revision: 2, level: "debug", sessions: 2 });
    expect((await telemetry()).sessions).toBe(2);
  });

  it("SIGUSR1 is ignored: Node's inspector never opens in the capable process, which keeps serving", async () => {
    const from = daemon.lines.length;
    process.kill(daemon.pid, "SIGUSR1");
    await daemon.waitFor((l) => l.msg === "SIGUSR1 ignored (telemetry is SIGUSR2)", "SIGUSR1 ignored", 5000, from);
    expect(daemon.stderr).not.toMatch(/Debugger listening|inspector/i);
    expect(daemon.exit).toBeUndefined();
    expect((await telemetry()).sessions).toBe(2);
  });

  it("SIGTERM: deregisters every MN (lifetime 0), exits 0, and never logged key material", async () => {
    const from = peer.lines.length;
    process.kill(daemon.pid, "SIGTERM");
    const exit = await daemon.waitExit(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    await peer.waitFor(() => peer.lines.slice(from).filter((l) => l.event === "rrq" && l.lifetime === 0).length >= 2, "two deregistrations", 5000);
    const dereg = peer.lines.slice(from).filter((l) => l.event === "rrq" && l.lifetime === 0);
    expect(dereg.every((l) => l.verified === true)).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, "utf8"))).toMatchObject({ contexts: [] }); // deregistered: nothing to resume
    expect(logLines("stopped")).toHaveLength(1);
    const everything = JSON.stringify(daemon.lines) + daemon.stderr;
    expect(everything.toLowerCase()).not.toContain(KEY_HEX);
    expect(everything).not.toContain(Buffer.from(KEY_HEX, "hex").toString("latin1"));
  });
});
