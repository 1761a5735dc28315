// The lab of the signalling benchmarks (attach storm, signalling under load): a
// generator namespace on the access side (trafgen plays the MNs), the AN, and a sink
// namespace behind the uplink with the peer agent answering registrations at once (the
// HA). Latency comes from kernel packet timestamps: tcpdump captures on the AN's access
// interface (what came in) and on the HA's veth (what the AN sent, what the HA answered);
// all namespaces share one clock, so the AN's daemon never times itself.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { parseRegistrationReply, parseRegistrationRequest } from "../../../src/wire/mip-registration.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { parseTunnelPacket } from "../../../src/wire/tunnel.ts";
import { dadNeighborSolicitation, echoRequestPacket, ethernetFrame, ip6, mac, routerSolicitation } from "../../support/frames.ts";
import { bundleDaemon, bundlePeer, scratchDir, spawnInNetns } from "../../integration/daemon/daemon-lab.ts";
import type { JsonChild } from "../../integration/daemon/daemon-lab.ts";
import { Lab } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

/** trafgen lives in /usr/sbin, which a non-login PATH may lack. */
export const TRAFGEN = ["trafgen", "/usr/sbin/trafgen", "/sbin/trafgen"].find((t) => String(spawnSync(t, ["-v"]).stdout ?? "").startsWith("trafgen"));
const TCPDUMP = ["tcpdump", "/usr/bin/tcpdump", "/usr/sbin/tcpdump"].find((t) => spawnSync(t, ["--version"]).status === 0);
/** Why the signalling benches cannot run here (tools), or undefined. */
export function toolsMissing(): string | undefined {
  if (TRAFGEN === undefined) return "trafgen missing (apt-get install netsniff-ng)";
  if (TCPDUMP === undefined) return "tcpdump missing (apt-get install tcpdump)";
  return undefined;
}

export const HA = "10.71.0.1";
export const COA = "10.71.0.11";
export const KEY_HEX = "6c61622d6d6e2d68612d736563726574";
export const SPI = 0x1001;
export const REALM = "bench.example";
/** MN i's MAC: 02:5a:00 and i in the low three bytes. */
export const stormMac = (i: number): string => ["02", "5a", "00", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => (typeof b === "string" ? b : b.toString(16).padStart(2, "0"))).join(":");
/** The MN i's data address (2001:db8:1::/64, i in the low bits) and the correspondent's. */
const mnAddress = (i: number): Uint8Array => ip6(`2001:db8:1::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
const CN = ip6("2001:db8:ff::1");

export interface SignallingLab {
  readonly lab: Lab;
  readonly nsGen: string;
  readonly nsAn: string;
  readonly nsSink: string;
  readonly dir: string;
  readonly accMac: string;
  readonly daemonBundle: string;
  readonly peer: JsonChild;
}

/** gen --g0/acc0-- an --up0/s0-- sink; the peer agent on HA:434 answering every valid RRQ. */
export async function openSignallingLab(label: string): Promise<SignallingLab> {
  const lab = new Lab(label);
  try {
    const nsGen = lab.netns("gen", { ipv6: false });
    const nsAn = lab.netns("an", { ipv6: false });
    const nsSink = lab.netns("sink", { ipv6: false });
    lab.veth(nsAn, "acc0", nsGen, "g0");
    lab.veth(nsAn, "up0", nsSink, "s0");
    lab.ip(nsAn, "addr", "add", `${COA}/16`, "dev", "up0");
    lab.ip(nsSink, "addr", "add", `${HA}/16`, "dev", "s0");
    for (const [ns, dev] of [[nsAn, "acc0"], [nsAn, "up0"], [nsGen, "g0"], [nsSink, "s0"]] as const) lab.ip(ns, "link", "set", dev, "up");
    // The HA has no tunnel endpoint: tunnel packets are captured (taps run before tc) and dropped at tc ingress,
    // so neither the sink's stack nor ICMP errors back to the AN cost anything. cBPF: IPv4 protocol 41 or 47 -> drop.
    lab.exec(nsSink, "tc", "qdisc", "add", "dev", "s0", "clsact");
    lab.exec(nsSink, "tc", "filter", "add", "dev", "s0", "ingress", "bpf", "da", "bytecode", "7,40 0 0 12,21 0 4 2048,48 0 0 23,21 1 0 41,21 0 1 47,6 0 0 2,6 0 0 0");
    // Both neighbour entries (AN -> HA, HA -> CoA) fixed: no ARP resolution inside a measurement.
    const macOf = (ns: string, dev: string): string => lab.exec(ns, "cat", `/sys/class/net/${dev}/address`).trim();
    lab.ip(nsAn, "neigh", "replace", HA, "lladdr", macOf(nsSink, "s0"), "dev", "up0", "nud", "permanent");
    lab.ip(nsSink, "neigh", "replace", COA, "lladdr", macOf(nsAn, "up0"), "dev", "s0", "nud", "permanent");
    const accMac = macOf(nsAn, "acc0");
    const { dir } = scratchDir();
    lab.onCleanup(() => spawnSync("rm", ["-rf", dir]));
    const daemonBundle = bundleDaemon(dir);
    const peer = spawnInNetns(nsSink, "peer", [process.execPath, await bundlePeer(dir)], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    lab.onCleanup(() => peer.kill());
    await peer.request("udp-listen", { address: HA, port: 434 });
    await peer.request("auto-answer", { enabled: true, spi: SPI, secretHex: KEY_HEX, report: false });
    return { lab, nsGen, nsAn, nsSink, dir, accMac, daemonBundle, peer };
  } catch (e) {
    lab.cleanup();
    throw e;
  }
}

/** The lab for one bench file: opened before its tests (unless skipped), cleaned up after them. */
export function signallingLabFor(label: string, skipped: boolean): () => SignallingLab {
  let l: SignallingLab | undefined;
  beforeAll(async () => {
    if (!skipped) l = await openSignallingLab(label);
  }, 180_000);
  afterAll(() => l?.lab.cleanup());
  return () => l ?? fail("the signalling lab is not open");
}

const fail = (why: string): never => {
  throw new Error(why);
};

/** The AN's config for these benches; `extra` overrides top-level sections. */
export function anConfig(backend: "kernel" | "userspace", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nodeId: "bench",
    access: { interface: "acc0", promiscuous: true },
    uplink: { interface: "up0" },
    careOf: { mode: "shared", address: COA },
    realms: [{ realm: REALM, homeAgent: HA, spi: SPI, key: `hex:${KEY_HEX}` }],
    identity: { derivedRealm: REALM },
    datapath: { backend },
    log: { level: "info" },
    ...extra,
  };
}

/**
 * A daemon whose log goes to a file, not a pipe: pino writes stdout synchronously, so a
 * pipe whose reader (this bench, on the same 2 cores) falls behind blocks the daemon
 * (measured: 26 % of its time in writeString during a 1,000-MN storm), which is the
 * bench measuring itself. `lines` re-reads the file's new complete lines.
 */
export class FileDaemon {
  private readonly parsed: Record<string, unknown>[] = [];
  private offset = 0;
  exit: { code: number | null; signal: string | null } | undefined;

  constructor(
    readonly child: ChildProcess,
    private readonly file: string,
  ) {
    child.on("exit", (code, signal) => (this.exit = { code, signal }));
  }

  get lines(): readonly Record<string, unknown>[] {
    const text = readFileSync(this.file, "utf8");
    const end = text.lastIndexOf("\n") + 1;
    for (const line of text.slice(this.offset, end).split("\n")) {
      if (line === "") continue;
      try {
        this.parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.parsed.push({ raw: line });
      }
    }
    this.offset = Math.max(this.offset, end);
    return this.parsed;
  }

  count(msg: string): number {
    return this.lines.filter((x) => x.msg === msg).length;
  }

  async waitFor(pred: (l: Record<string, unknown>) => boolean, what: string, timeoutMs: number, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (this.exit) throw new Error(`daemon exited (${JSON.stringify(this.exit)}) while waiting for ${what}; log: ${JSON.stringify(this.lines.slice(-8))}`);
      if (Date.now() > deadline) throw new Error(`daemon: timed out after ${timeoutMs} ms waiting for ${what}; log: ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  /** The daemon's telemetry line (SIGUSR2). */
  async telemetry(): Promise<Record<string, unknown>> {
    const from = this.lines.length;
    this.child.kill("SIGUSR2");
    const line = await this.waitFor((l) => l.msg === "telemetry", "telemetry", 5000, from);
    return line.telemetry as Record<string, unknown>;
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise((ok) => this.child.once("exit", ok));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts the daemon in the AN namespace, its log in a file; BENCH_CPU_PROF=DIR: with a V8 CPU profile named `name`. */
export async function startDaemon(l: SignallingLab, name: string, config: Record<string, unknown>): Promise<FileDaemon> {
  const file = join(l.dir, `an-${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=daemon-${name}.cpuprofile`] : [];
  const logFile = join(l.dir, `an-${name}.log`);
  const fd = openSync(logFile, "w");
  const child = spawn("ip", ["netns", "exec", l.nsAn, process.execPath, ...prof, l.daemonBundle, "run", "--config", file], { stdio: ["ignore", fd, fd], env: { ...process.env, AN_NATIVE_ADDON: join(l.dir, "an_native.node") } });
  closeSync(fd);
  l.lab.onCleanup(() => child.kill("SIGKILL"));
  const d = new FileDaemon(child, logFile);
  await d.waitFor((x) => x.msg === "started", "daemon started", 30_000).catch(async (e: unknown) => {
    await d.stop();
    throw e;
  });
  return d;
}

/** MN i's first frames: a DAD NS (even i) or an RS (odd i), then one data packet (the AN must hold it until bound). */
export function attachFrames(i: number, accMac: string): Uint8Array[] {
  const m = mac(stormMac(i));
  const trigger = i % 2 === 0 ? dadNeighborSolicitation(m) : routerSolicitation(m);
  return [trigger, ethernetFrame(m, mac(accMac), echoRequestPacket(mnAddress(i), CN, i & 0xffff))];
}

/** Writes a trafgen config: one packet block per frame, sent in order. */
export function trafgenConfig(file: string, frames: readonly Uint8Array[]): string {
  writeFileSync(file, frames.map((x) => `{ ${[...x].map((b) => `0x${b.toString(16).padStart(2, "0")}`).join(", ")} }\n`).join(""));
  return file;
}

/** Sends every frame of `cfg` once (`count` frames), `gapUs` apart (0: as fast as trafgen goes); the event loop stays free meanwhile. */
export async function sendOnce(l: SignallingLab, cfg: string, count: number, gapUs: number): Promise<void> {
  const gap = gapUs > 0 ? ["-t", `${gapUs}us`] : [];
  const r = await l.lab.run(l.nsGen, TRAFGEN!, ["--dev", "g0", "--conf", cfg, "--no-sock-mem", "--cpus", "1", "-q", "-n", String(count), ...gap], 120_000);
  if (r.code !== 0) throw new Error(`trafgen failed (${r.code}): ${r.stderr}`);
}

/** A running trafgen (the saturating load, on CPU 0), stopped with stop(). trafgen forks a worker: SIGINT goes to the whole group. */
export function startLoad(l: SignallingLab, cfg: string): { stop: () => Promise<void> } {
  const child = spawn("ip", ["netns", "exec", l.nsGen, "taskset", "-c", "0", TRAFGEN!, "--dev", "g0", "--conf", cfg, "--no-sock-mem", "--cpus", "1", "-q"], { stdio: "ignore", detached: true });
  const group = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  l.lab.onCleanup(() => group("SIGKILL"));
  return {
    stop: async () => {
      if (child.exitCode !== null) throw new Error(`trafgen load exited early (${child.exitCode})`);
      const exited = new Promise((ok) => child.once("exit", ok));
      group("SIGINT");
      const timer = setTimeout(() => group("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A tcpdump on `dev` in `ns` into `file` (64 MiB buffer, filter `filter`); stop() returns its records and refuses a lossy capture. */
export class PcapCapture {
  private stderr = "";
  private constructor(
    private readonly child: ChildProcess,
    private readonly file: string,
    readonly what: string,
  ) {
    child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
  }

  static async start(l: SignallingLab, ns: string, dev: string, file: string, filter = ""): Promise<PcapCapture> {
    const args = ["netns", "exec", ns, TCPDUMP!, "-i", dev, "-w", file, "-s", "512", "-B", "65536", "-n", "--immediate-mode", "-Z", "root", ...(filter ? [filter] : [])];
    const child = spawn("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
    l.lab.onCleanup(() => child.kill("SIGKILL"));
    const c = new PcapCapture(child, file, `${dev} in ${ns}`);
    const deadline = Date.now() + 10_000;
    while (!c.stderr.includes("listening on")) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tcpdump on ${c.what} did not start: ${c.stderr}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
    return c;
  }

  async stop(): Promise<{ t: number; data: Uint8Array }[]> {
    await new Promise((ok) => setTimeout(ok, 200)); // the last frames reach the capture's buffer
    this.child.kill("SIGINT");
    if (this.child.exitCode === null) await new Promise((ok) => this.child.once("exit", ok));
    const dropped = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    if (!dropped) throw new Error(`tcpdump on ${this.what}: no statistics: ${this.stderr}`);
    if (Number(dropped[1]) > 0) throw new Error(`tcpdump on ${this.what} dropped ${dropped[1]} packets: the capture is incomplete`);
    const { linkType, records } = readPcap(new Uint8Array(readFileSync(this.file)));
    if (linkType !== 1) throw new Error(`capture on ${this.what}: link type ${linkType}, expected Ethernet`);
    return records.map((r) => ({ t: r.tsSec * 1000 + r.tsUsec / 1000, data: r.data }));
  }
}

/** What one MN did on the wire (ms, capture clock): triggers in, RRQs and replies, tunnel packets out. */
export interface MnTrace {
  triggers: number[];
  /** Its data frames at the access link. */
  data: number[];
  rrqs: { t: number; lifetime: number }[];
  replies: { t: number; code: number }[];
  tunnel: number[];
}

const macText = (b: Uint8Array, o: number): string => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
const naiMac = (nai: string): string => (nai.split("@")[0] ?? "").replace(/(..)(?!$)/g, "$1:");

/**
 * Per MN MAC: what the access capture saw from it (NS/RS triggers, other IPv6) and what
 * the uplink capture saw for it (RRQs by their NAI, replies by identification, GRE
 * packets by the key the RRQ carried). The HA is `HA`, the AN's uplink address `COA`.
 */
export function traceMns(access: readonly { t: number; data: Uint8Array }[], uplink: readonly { t: number; data: Uint8Array }[]): Map<string, MnTrace> {
  const mns = new Map<string, MnTrace>();
  const of = (m: string): MnTrace => {
    let x = mns.get(m);
    if (!x) mns.set(m, (x = { triggers: [], data: [], rrqs: [], replies: [], tunnel: [] }));
    return x;
  };
  for (const r of access) {
    const f = r.data;
    if (f.length < 14 + 41 || ((f[12]! << 8) | f[13]!) !== 0x86dd) continue;
    const src = macText(f, 6);
    const icmpType = f[14 + 6] === 58 ? f[14 + 40] : undefined;
    if (icmpType === 135 || icmpType === 133) of(src).triggers.push(r.t);
    else of(src).data.push(r.t);
  }
  const byId = new Map<bigint, string>();
  const byKey = new Map<number, string>();
  for (const r of uplink) {
    const f = r.data;
    if (f.length < 34 || ((f[12]! << 8) | f[13]!) !== 0x0800) continue;
    const ihl = (f[14]! & 0x0f) * 4;
    const proto = f[14 + 9];
    if (proto === 17) {
      const udp = 14 + ihl;
      const dport = (f[udp + 2]! << 8) | f[udp + 3]!;
      const payload = f.subarray(udp + 8, udp + ((f[udp + 4]! << 8) | f[udp + 5]!));
      // Both ways are port 434 (the AN listens on it too): the message type tells them apart (RFC 5944: 1 request, 3 reply).
      if (dport !== 434) continue;
      if (payload[0] === 1) {
        const p = parseRegistrationRequest(payload, DEFAULT_MIP_CODEC_OPTIONS);
        if (!p.ok) continue;
        const nai = p.value.message.extensions.find((e) => e.kind === "mn-nai");
        if (nai?.kind !== "mn-nai") continue;
        const m = naiMac(nai.nai);
        byId.set(p.value.message.identification, m);
        const key = p.value.message.extensions.find((e) => e.kind === "gre-key");
        if (key?.kind === "gre-key") byKey.set(key.key, m);
        of(m).rrqs.push({ t: r.t, lifetime: p.value.message.lifetime });
      } else if (payload[0] === 3) {
        const p = parseRegistrationReply(payload, DEFAULT_MIP_CODEC_OPTIONS);
        const m = p.ok ? byId.get(p.value.message.identification) : undefined;
        if (p.ok && m !== undefined) of(m).replies.push({ t: r.t, code: p.value.message.code });
      }
    } else if (proto === 47 || proto === 41) {
      const p = parseTunnelPacket(f, 14);
      const m = p.ok && p.value.key !== null ? byKey.get(p.value.key) : undefined;
      if (m !== undefined) of(m).tunnel.push(r.t);
    }
  }
  return mns;
}

/** p50/p99/max of `xs` (ms), rounded to µs; null when empty. */
export function spread(xs: readonly number[]): { n: number; p50: number; p99: number; max: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const us = (x: number): number => Math.round(x * 1000) / 1000;
  return { n: s.length, p50: us(at(0.5)), p99: us(at(0.99)), max: us(s[s.length - 1]!) };
}

/** The first element of `xs` at or after `t`, or undefined. */
export const firstAfter = (xs: readonly number[], t: number): number | undefined => xs.find((x) => x >= t);
