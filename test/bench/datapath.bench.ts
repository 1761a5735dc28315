// Datapath and start-up benchmarks (issue 12). A generator namespace (trafgen, pinned
// to CPU 0) on the access side plays a registered MN; a sink namespace behind the
// uplink plays the HA (it answers the registration, counts what arrives, and
// generates the downlink: IPv6-in-IPv4 to the MN's CoA). Each point is the frames
// per second delivered at the far veth, for the kernel backend, the userspace
// backend, and the Linux bridge on the same veths (the baseline, measured in this
// run), with loss (offered - delivered) and the daemon's CPU share. Start-up: daemon
// spawn to its "started" line, per backend, against `node -e 0`. The userspace backend
// runs twice: with the access socket's default receive buffer and with 4 MiB
// (datapath.accessReceiveBufferBytes, the default), so the buffer's effect is measured
// in the same run. A second test repeats the points with 1,000 MNs: 1,000 source
// MACs (trafgen cycles through one frame per MN), each bound with its own care-of
// address from a pool of 1,000 (so the downlink has 1,000 distinct tunnels too).
// Run: npm run bench [-- --quick]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { writeTunnelHeaders } from "../../src/wire/tunnel.ts";
import { bundleDaemon, bundlePeer, scratchDir, spawnInNetns } from "../integration/daemon/daemon-lab.ts";
import type { JsonChild } from "../integration/daemon/daemon-lab.ts";
import { Lab, netnsUnavailableReason } from "../support/netns.ts";
import { QUICK, record } from "./support/record.ts";

/** trafgen lives in /usr/sbin, which a non-login PATH may lack. */
const TRAFGEN = ["trafgen", "/usr/sbin/trafgen", "/sbin/trafgen"].find((t) => String(spawnSync(t, ["-v"]).stdout ?? "").startsWith("trafgen"));
const skip = netnsUnavailableReason() ?? (TRAFGEN !== undefined ? undefined : "trafgen missing (apt-get install netsniff-ng)");
if (skip) console.warn(`datapath bench skipped: ${skip}`);

const SECONDS = QUICK ? 1 : 5;
const SIZES = [64, 512, 1400];
const MN_MAC = "02:00:00:00:bb:01";
const HA = "10.70.0.1";
const COA = "10.70.0.11";
const KEY_HEX = "6c61622d6d6e2d68612d736563726574";
const SPI = 0x1001;
const STARTS = QUICK ? 2 : 10;
const MANY = 1000;
/** 10.70.0.0/16: the HA is 10.70.0.1, the single MN's CoA 10.70.0.11, the pool for MANY from 10.70.1.0 */
const poolCoa = (i: number): string => `10.70.${1 + (i >> 8)}.${i & 0xff}`;
const manyMac = (i: number): string => `02:00:00:01:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
const DEFAULT_RCVBUF = 4 * 1024 * 1024;

/** "userspace-rcvbuf-default": the userspace backend with the kernel's default access receive buffer */
type Backend = "kernel" | "userspace" | "userspace-rcvbuf-default" | "bridge";
interface Row {
  mns: number;
  direction: "uplink" | "downlink";
  frameBytes: number;
  backend: Backend;
  pps: number;
  offered: number;
  delivered: number;
  loss: number;
  daemonCpu: number | null;
  ratioToBridge: number | null;
}

const macBytes = (m: string): number[] => m.split(":").map((h) => parseInt(h, 16));
const ipv4Bytes = (a: string): number[] => a.split(".").map(Number);

/** An IPv6/UDP packet of `length` bytes (2001:db8:1::100 <-> 2001:db8:ff::1). */
function ipv6Packet(length: number, up: boolean): Uint8Array {
  const p = new Uint8Array(length);
  const mn = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
  const cn = [0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  p.set([0x60, 0, 0, 0, (length - 40) >> 8, (length - 40) & 0xff, 17, 64]);
  p.set(up ? mn : cn, 8);
  p.set(up ? cn : mn, 24);
  p.set([0x9c, 0x40, 0x9c, 0x40, (length - 40) >> 8, (length - 40) & 0xff, 0, 0], 40);
  return p;
}

function frame(dst: string, src: string, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

function encapsulated(inner: Uint8Array, coa = COA): Uint8Array {
  const out = new Uint8Array(20 + inner.length);
  out.set(inner, 20);
  const ip = (a: string): number => ipv4Bytes(a).reduce((n, b) => n * 256 + b, 0);
  writeTunnelHeaders(out, 0, { src: ip(HA), dst: ip(coa), ttl: 64, dontFragment: false, identification: 0, gre: null }, inner.length);
  return out;
}

/** One packet block per frame: trafgen sends them round-robin. */
function trafgenConfig(file: string, f: Uint8Array | readonly Uint8Array[]): string {
  const frames = f instanceof Uint8Array ? [f] : f;
  writeFileSync(file, frames.map((x) => `{ ${[...x].map((b) => `0x${b.toString(16).padStart(2, "0")}`).join(", ")} }\n`).join(""));
  return file;
}

describe_();

function describe_(): void {
  const lab = skip ? undefined : new Lab("bench");
  let nsGen = "";
  let nsAn = "";
  let nsSink = "";
  let dir = "";
  let daemonBundle = "";
  let peer: JsonChild | undefined;
  let accMac = "";
  let sinkMac = "";
  let upMac = "";
  const rows: Row[] = [];
  const telemetry: Record<string, unknown> = {};

  const stat = (ns: string, dev: string, what: string): number => Number(lab!.exec(ns, "cat", `/sys/class/net/${dev}/statistics/${what}`).trim());
  const cpuTicks = (pid: number): number => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  };

  /** trafgen for SECONDS in `ns` on `dev`; delivered counted at rxNs/rxDev. */
  function run(ns: string, dev: string, cfg: string, rxNs: string, rxDev: string, daemonPid: number | undefined): { offered: number; delivered: number; cpu: number | null } {
    const tx0 = stat(ns, dev, "tx_packets");
    const rx0 = stat(rxNs, rxDev, "rx_packets");
    const c0 = daemonPid !== undefined ? cpuTicks(daemonPid) : 0;
    const t0 = process.hrtime.bigint();
    spawnSync("ip", ["netns", "exec", ns, "timeout", "-s", "INT", String(SECONDS), "taskset", "-c", "0", TRAFGEN!, "--dev", dev, "--conf", cfg, "--no-sock-mem", "--cpus", "1", "-q"], { stdio: "ignore", timeout: (SECONDS + 10) * 1000 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // Let queued frames drain before counting.
    spawnSync("sleep", ["0.2"]);
    const offered = stat(ns, dev, "tx_packets") - tx0;
    const delivered = stat(rxNs, rxDev, "rx_packets") - rx0;
    const cpu = daemonPid !== undefined ? (cpuTicks(daemonPid) - c0) / 100 / seconds : null;
    return { offered: offered / seconds, delivered: delivered / seconds, cpu };
  }

  /**
   * BENCH_PROFILE=DIR: a system-wide perf profile (call graphs) of each 64-byte point
   * into DIR/perf-BACKEND-DIRECTION.txt, where the time goes when a goal is missed.
   */
  async function profiled<T>(name: string, size: number, fn: () => T): Promise<T> {
    const dirOut = process.env.BENCH_PROFILE;
    if (!dirOut || size !== 64) return fn();
    const data = join(dirOut, `perf-${name}.data`);
    // CPU 0 only (the generator and the softirq work it triggers), started before it.
    const perf = spawn("perf", ["record", "-C", "0", "-g", "-o", data, "--", "sleep", String(SECONDS + 1.5)], { stdio: "ignore" });
    await new Promise((ok) => setTimeout(ok, 700));
    const r = fn();
    await once(perf, "exit");
    const report = spawnSync("perf", ["report", "-i", data, "--stdio", "--no-children", "--comm", "trafgen", "--percent-limit", "1", "-g", "none", "--sort", "symbol"], { encoding: "utf8", maxBuffer: 64 << 20 });
    writeFileSync(join(dirOut, `perf-${name}.txt`), report.stdout);
    return r;
  }

  /**
   * While measuring, both far ends drop what they receive at tc ingress (ARP passes,
   * so the AN's neighbour entry for the HA stays valid): rx_packets still counts it,
   * and no backend pays for the sink's stack (6in4 with no tunnel would cost route
   * lookups and ICMP per packet in the same softirq, the bridge's IPv6 frames not).
   */
  function sinks(on: boolean): void {
    for (const [ns, dev] of [[nsSink, "s0"], [nsGen, "g0"]] as const) {
      if (on) {
        lab!.exec(ns, "tc", "qdisc", "add", "dev", dev, "clsact");
        lab!.exec(ns, "tc", "filter", "add", "dev", dev, "ingress", "bpf", "da", "bytecode", "4,40 0 0 12,21 0 1 2054,6 0 0 0,6 0 0 2");
      } else lab!.exec(ns, "tc", "qdisc", "del", "dev", dev, "clsact");
    }
  }

  async function measure(backend: Backend, daemonPid: number | undefined, mns = 1): Promise<void> {
    sinks(true);
    try {
      await measureAll(backend, daemonPid, mns);
    } finally {
      sinks(false);
    }
  }

  async function measureAll(backend: Backend, daemonPid: number | undefined, mns: number): Promise<void> {
    // --quick: the extra variants (1,000 MNs, the default receive buffer) at 64 bytes only
    const sizes = QUICK && (mns > 1 || backend === "userspace-rcvbuf-default") ? [64] : SIZES;
    const ids = Array.from({ length: mns }, (_, i) => i);
    const mnMac = (i: number): string => (mns === 1 ? MN_MAC : manyMac(i));
    const coa = (i: number): string => (mns === 1 ? COA : poolCoa(i));
    for (const size of sizes) {
      const upDst = backend === "bridge" ? sinkMac : accMac;
      const upInner = ipv6Packet(size - 14, true);
      const downInner = ipv6Packet(size - 14, false);
      const up = trafgenConfig(join(dir, `up-${size}.cfg`), ids.map((i) => frame(upDst, mnMac(i), 0x86dd, upInner)));
      const down = trafgenConfig(join(dir, `down-${size}.cfg`), ids.map((i) => frame(backend === "bridge" ? mnMac(i) : upMac, sinkMac, 0x0800, encapsulated(downInner, coa(i)))));
      for (const [direction, cfg, ns, dev, rxNs, rxDev] of [
        ["uplink", up, nsGen, "g0", nsSink, "s0"],
        ["downlink", down, nsSink, "s0", nsGen, "g0"],
      ] as const) {
        const r = await profiled(`${backend}-${direction}-${mns}mn`, size, () => run(ns, dev, cfg, rxNs, rxDev, daemonPid));
        rows.push({ mns, direction, frameBytes: size, backend, pps: r.delivered, offered: r.offered, delivered: r.delivered, loss: r.offered > 0 ? Math.max(0, 1 - r.delivered / r.offered) : 0, daemonCpu: r.cpu, ratioToBridge: null });
      }
    }
  }

  async function startDaemon(backend: "kernel" | "userspace", opts: { rcvbuf?: number; mns?: number } = {}): Promise<JsonChild> {
    const mns = opts.mns ?? 1;
    const config = {
      nodeId: "bench",
      access: { interface: "acc0", promiscuous: true },
      uplink: { interface: "up0" },
      careOf: { mode: "pool", addresses: mns === 1 ? [COA] : Array.from({ length: mns }, (_, i) => poolCoa(i)) },
      limits: { sessionStartsPerSecond: 0 },
      realms: [{ realm: "bench.example", homeAgent: HA, spi: SPI, key: `hex:${KEY_HEX}` }],
      identity: { derivedRealm: "bench.example" },
      triggerOn: "any-ipv6",
      datapath: { backend, accessReceiveBufferBytes: opts.rcvbuf ?? DEFAULT_RCVBUF },
      log: { level: "info" },
    };
    const file = join(dir, `an-${backend}-${mns}.json`);
    writeFileSync(file, JSON.stringify(config));
    // BENCH_CPU_PROF=DIR: a V8 CPU profile of each daemon (written when it stops), where its time goes.
    const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=daemon-${backend}-${mns}mn-rcvbuf${opts.rcvbuf ?? DEFAULT_RCVBUF}.cpuprofile`] : [];
    const d = spawnInNetns(nsAn, `daemon-${backend}`, [process.execPath, ...prof, daemonBundle, "run", "--config", file], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    // A daemon that refuses to start says why on stdout (its JSON log): show that, not only stderr.
    await d.waitFor((l) => l.msg === "started", "daemon started", 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; daemon log: ${JSON.stringify(d.lines.slice(-8))}`);
    });
    return d;
  }

  /** The daemon's datapath counters (SIGUSR2): where the frames went. */
  async function datapathTelemetry(d: JsonChild): Promise<unknown> {
    const from = d.lines.length;
    d.child.kill("SIGUSR2");
    const line = await d.waitFor((l) => l.msg === "telemetry", "telemetry", 5000, from);
    return (line.telemetry as { datapath: unknown }).datapath;
  }

  async function stopDaemon(d: JsonChild): Promise<void> {
    d.child.kill("SIGTERM");
    await d.waitExit(10_000);
  }

  /** One frame from the MN starts its session; resolves once bound. */
  async function register(d: JsonChild): Promise<void> {
    const trigger = trafgenConfig(join(dir, "trigger.cfg"), frame(accMac, MN_MAC, 0x86dd, ipv6Packet(64, true)));
    for (let i = 0; i < 20 && !d.lines.some((l) => l.msg === "registered"); i++) {
      spawnSync("ip", ["netns", "exec", nsGen, TRAFGEN!, "--dev", "g0", "--conf", trigger, "--no-sock-mem", "-n", "1", "-q"], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 250));
    }
    await d.waitFor((l) => l.msg === "registered", "MN registered", 5000);
  }

  /** One frame from each of `n` MNs (repeated until all are bound, bounded): resolves with the bound count. */
  async function registerMany(d: JsonChild, n: number): Promise<number> {
    const trigger = trafgenConfig(join(dir, "trigger-many.cfg"), Array.from({ length: n }, (_, i) => frame(accMac, manyMac(i), 0x86dd, ipv6Packet(64, true))));
    const bound = (): number => new Set(d.lines.filter((l) => l.msg === "registered").map((l) => String((l.event as { mac?: unknown } | undefined)?.mac))).size;
    for (let i = 0; i < 30 && bound() < n; i++) {
      spawnSync("ip", ["netns", "exec", nsGen, TRAFGEN!, "--dev", "g0", "--conf", trigger, "--no-sock-mem", "--cpus", "1", "-n", String(n), "-q"], { stdio: "ignore", timeout: 20_000 });
      await new Promise((r) => setTimeout(r, 500));
    }
    if (bound() < n) {
      const msgs = new Map<string, number>();
      for (const l of d.lines) msgs.set(String(l.msg), (msgs.get(String(l.msg)) ?? 0) + 1);
      console.warn(`registerMany: ${bound()} of ${n} bound; daemon lines by msg: ${JSON.stringify([...msgs])}`);
    }
    return bound();
  }

  function ratios(): void {
    for (const r of rows) {
      const base = rows.find((b) => b.backend === "bridge" && b.mns === r.mns && b.direction === r.direction && b.frameBytes === r.frameBytes);
      r.ratioToBridge = base && base.pps > 0 ? r.pps / base.pps : null;
    }
  }

  async function bridgeBaseline(mns: number): Promise<void> {
    lab!.ipBatch(nsAn, ["link add br0 type bridge", "link set acc0 master br0", "link set up0 master br0", "link set br0 up"]);
    try {
      // The bridge floods until it has learnt the MACs (the uplink points teach it the MNs'): same cost here.
      await measure("bridge", undefined, mns);
    } finally {
      lab!.ipBatch(nsAn, ["link set acc0 nomaster", "link set up0 nomaster", "link del br0"]);
    }
  }

  beforeAll(async () => {
    if (!lab) return;
    nsGen = lab.netns("gen", { ipv6: false });
    nsAn = lab.netns("an", { ipv6: false });
    nsSink = lab.netns("sink", { ipv6: false });
    lab.veth(nsAn, "acc0", nsGen, "g0", { macB: MN_MAC });
    lab.veth(nsAn, "up0", nsSink, "s0");
    lab.ip(nsAn, "addr", "add", `${COA}/16`, "dev", "up0");
    lab.ip(nsSink, "addr", "add", `${HA}/16`, "dev", "s0");
    for (const [ns, dev] of [[nsAn, "acc0"], [nsAn, "up0"], [nsGen, "g0"], [nsSink, "s0"]] as const) lab.ip(ns, "link", "set", dev, "up");
    accMac = lab.exec(nsAn, "cat", "/sys/class/net/acc0/address").trim();
    sinkMac = lab.exec(nsSink, "cat", "/sys/class/net/s0/address").trim();
    upMac = lab.exec(nsAn, "cat", "/sys/class/net/up0/address").trim();
    ({ dir } = scratchDir());
    daemonBundle = bundleDaemon(dir);
    const peerBundle = await bundlePeer(dir);
    peer = spawnInNetns(nsSink, "peer", [process.execPath, peerBundle], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    await peer.request("udp-listen", { address: HA, port: 434 });
    await peer.request("auto-answer", { enabled: true, spi: SPI, secretHex: KEY_HEX });
  }, 180_000);

  afterAll(() => {
    peer?.kill();
    lab?.cleanup();
  });

  test.skipIf(skip !== undefined)("datapath: kernel and userspace backends against the Linux bridge, 64/512/1400-byte frames, both ways", async () => {
    for (const [backend, rcvbuf] of [["kernel", DEFAULT_RCVBUF], ["userspace", DEFAULT_RCVBUF], ["userspace-rcvbuf-default", 0]] as const) {
      const d = await startDaemon(backend === "kernel" ? "kernel" : "userspace", { rcvbuf });
      expect(d.lines.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: backend === "kernel" ? "kernel" : "userspace" });
      await register(d);
      await measure(backend, d.pid);
      telemetry[backend] = await datapathTelemetry(d);
      await stopDaemon(d);
    }
    await bridgeBaseline(1);
    ratios();
    record("datapath", { seconds: SECONDS, generator: "trafgen on CPU 0, one process", rows, telemetry });
    // Every point moved traffic (a broken setup would show zeros, not a slow path).
    for (const r of rows) expect(r.delivered, `${r.backend} ${r.direction} ${r.frameBytes}`).toBeGreaterThan(0);
  }, 600_000);

  test.skipIf(skip !== undefined)(`datapath with ${MANY} MNs: both backends against the bridge`, async () => {
    const first = rows.length;
    lab!.ipBatch(nsAn, Array.from({ length: MANY }, (_, i) => `addr add ${poolCoa(i)}/16 dev up0`));
    const bound: Record<string, number> = {};
    try {
      for (const backend of ["kernel", "userspace"] as const) {
        const d = await startDaemon(backend, { mns: MANY });
        try {
          bound[backend] = await registerMany(d, MANY);
          await measure(backend, d.pid, MANY);
          telemetry[`${backend}-${MANY}`] = await datapathTelemetry(d);
        } finally {
          await stopDaemon(d);
        }
      }
      await bridgeBaseline(MANY);
    } finally {
      lab!.ipBatch(nsAn, Array.from({ length: MANY }, (_, i) => `addr del ${poolCoa(i)}/16 dev up0`));
    }
    ratios();
    record("datapath", { seconds: SECONDS, generator: "trafgen on CPU 0, one process", rows, telemetry, bound });
    expect(bound).toEqual({ kernel: MANY, userspace: MANY });
    for (const r of rows.slice(first)) expect(r.delivered, `${r.backend} ${r.direction} ${r.frameBytes} ${MANY} MNs`).toBeGreaterThan(0);
  }, 600_000);

  test.skipIf(skip !== undefined)("start-up: daemon spawn to \"started\", per backend, against node -e 0", async () => {
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const nodeMs: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const t0 = process.hrtime.bigint();
      execFileSync("ip", ["netns", "exec", nsAn, process.execPath, "-e", "0"]);
      nodeMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const rowsOut = [{ what: "node -e 0 (baseline)", medianMs: median(nodeMs), ratio: 1 }];
    for (const backend of ["userspace", "kernel"] as const) {
      const ms: number[] = [];
      for (let i = 0; i < STARTS; i++) {
        const t0 = process.hrtime.bigint();
        const d = await startDaemon(backend);
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        await stopDaemon(d);
      }
      rowsOut.push({ what: `daemon start to ready (${backend})`, medianMs: median(ms), ratio: median(ms) / median(nodeMs) });
    }
    record("startup", { runs: STARTS, rows: rowsOut });
    expect(rowsOut.every((r) => r.medianMs > 0)).toBe(true);
  }, 300_000);
}
