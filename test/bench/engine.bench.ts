// Engine figures the issue asks for: state bytes per idle bound session at
// 100,000 sessions, and events per second through the engine. Each figure comes
// with a baseline measured in the same run, and the ratio is what to compare
// across runs and machines. Run: npm run bench
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { expect, test } from "vitest";
import { DEFAULT_HOLD_CAPS, DEFAULT_REGISTRATION_TIMING } from "../../src/core/config.ts";
import type { EngineConfig } from "../../src/core/config.ts";
import { Engine } from "../../src/core/engine.ts";
import { seededRandom } from "../../src/core/random.ts";
import { formatMac, macKey } from "../../src/wire/mac.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../src/wire/mip-extension.ts";
import { classifyFrame } from "../../src/wire/ndisc.ts";
import { dadNeighborSolicitation, dataFrame, echoRequestPacket, ip6, mac } from "../support/frames.ts";
import { answer } from "../support/home-agent-messages.ts";
import { QUICK, record } from "./support/record.ts";

// --quick: 20,000 (the per-session figures hardly move; the full run is the reference)
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? (process.env.BENCH_QUICK === "1" ? 20_000 : 100_000));
const HA = 0xc0000201;
const COA = 0xcb007101;
const KEY = { spi: 0x1001, secret: new TextEncoder().encode("bench MN-HA key") };
const WALL = 1_750_000_000_000;

function config(): EngineConfig {
  return {
    codec: DEFAULT_MIP_CODEC_OPTIONS,
    accessMac: mac("02:00:00:00:0a:01"),
    realms: [{ realm: "example.net", homeAgent: HA, mnHaKey: KEY }],
    derivedRealm: "example.net",
    provisioned: new Map(),
    careOf: { mode: "shared", address: COA, firstKey: 0x10000, keyCount: 1 << 20 },
    triggerOn: "neighbor-discovery",
    sessionStartsPerSecond: 0,
    registration: DEFAULT_REGISTRATION_TIMING,
    revocationSupport: true,
    maxSessions: SESSIONS + 10,
    hold: { ...DEFAULT_HOLD_CAPS, framesTotal: 1 << 20, bytesTotal: 1 << 30 },
    idleTimeoutMs: 0,
    dadFailureWindowMs: 10_000,
    maxLearnedAddresses: 8,
    revocationLingerMs: 2000,
    dadFailureHoldOffMs: 300_000,
  };
}

function macOf(i: number): Uint8Array {
  return Uint8Array.of(0x02, 0x10, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc (npm run bench does)");
  gc();
  gc();
  // Typed-array backing stores live outside the JS heap: count them too.
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`;
}

const rows: string[] = [];
function report(line: string): void {
  rows.push(line);
  console.log(line);
}

test(`engine at ${SESSIONS} sessions`, () => {
  // Baseline for memory: the smallest possible table, a Map from MAC text to a
  // two-field record. The ratio says how much heavier a real session is.
  const base0 = heapUsed();
  const baseline = new Map<string, { key: number; state: number }>();
  for (let i = 0; i < SESSIONS; i++) baseline.set(formatMac(macOf(i)), { key: i, state: 1 });
  const baselineBytes = (heapUsed() - base0) / SESSIONS;
  expect(baseline.size).toBe(SESSIONS);

  const engine = new Engine(config(), { random: seededRandom(7), wallOffsetMs: WALL });
  let now = 0;
  const requests: Uint8Array[] = [];
  const drain = () => {
    for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "send-signalling") requests.push(a.bytes);
  };
  const heap0 = heapUsed();

  // Attach: one DAD NS per MN (held), RRQ out.
  const frames = Array.from({ length: SESSIONS }, (_, i) => dadNeighborSolicitation(macOf(i)));
  let t0 = performance.now();
  for (const f of frames) {
    engine.handle(now, { kind: "frame-from-mn", frame: f });
    drain();
  }
  const attachMs = performance.now() - t0;
  expect(requests.length).toBe(SESSIONS);

  // Replies, answered as the HA would (their signing is outside the timed part).
  const replies = requests.map((r) => answer(r, KEY, DEFAULT_MIP_CODEC_OPTIONS, { lifetime: 600 }));
  requests.length = 0;
  now += 100;
  t0 = performance.now();
  for (const r of replies) {
    engine.handle(now, { kind: "signalling", from: HA, fromPort: 434, local: COA, bytes: r });
    drain();
  }
  const replyMs = performance.now() - t0;
  expect(engine.counters.repliesAccepted).toBe(SESSIONS);
  frames.length = 0;
  replies.length = 0;
  const perSession = (heapUsed() - heap0) / SESSIONS;

  // Uplink: frames of bound MNs become to-tunnel actions.
  const N = Math.min(SESSIONS, 200_000);
  const uplink = Array.from({ length: 1024 }, (_, i) =>
    dataFrame(macOf(i % SESSIONS), mac("02:00:5e:00:53:01"), ip6("2001:db8::1"), i),
  );
  // Baseline: the least an AN must do per frame (classify it, find the session).
  const table = new Map<number, number>();
  for (let i = 0; i < 1024; i++) table.set(macKey(macOf(i % SESSIONS)), i);
  let hits = 0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const f = uplink[i & 1023]!;
    if (classifyFrame(f) === 1 && table.has(macKey(f, 6))) hits++;
  }
  const uplinkBaseMs = performance.now() - t0;
  expect(hits).toBe(N);
  let tunnelled = 0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    engine.handle(now, { kind: "frame-from-mn", frame: uplink[i & 1023]! });
    for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "to-tunnel") tunnelled++;
  }
  const uplinkMs = performance.now() - t0;
  expect(tunnelled).toBe(N);

  // Downlink: decapsulated packets matched by GRE key.
  const inner = echoRequestPacket(ip6("2001:db8::1"), ip6("2001:db8:1::99"), 1);
  let delivered = 0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    engine.handle(now, { kind: "tunnel-packet", outerSrc: HA, outerDst: COA, greKey: 0x10000 + (i % SESSIONS), packet: inner });
    for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "to-mn") delivered++;
  }
  const downlinkMs = performance.now() - t0;
  expect(delivered).toBe(N);

  // Refresh: the clock steps one second at a time through the lifetime; each
  // session's refresh RRQ goes out once. The spread is when they go out (all bound
  // at the same instant: the worst case for bunching) and the most in one second.
  const boundAt = now;
  const perSecondOut: number[] = [];
  let refreshMs = 0;
  for (let s = 1; s <= 600 && requests.length < SESSIONS; s++) {
    const before = requests.length;
    t0 = performance.now();
    engine.handle(boundAt + s * 1000, { kind: "deadline" });
    drain();
    refreshMs += performance.now() - t0;
    if (requests.length > before) perSecondOut.push(s, requests.length - before);
    // Answered (outside the timed part) so that no retransmission is counted as a refresh.
    for (const r of requests.slice(before)) {
      engine.handle(boundAt + s * 1000, { kind: "signalling", from: HA, fromPort: 434, local: COA, bytes: answer(r, KEY, DEFAULT_MIP_CODEC_OPTIONS, { lifetime: 600 }) });
      for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "send-signalling") requests.push(a.bytes);
    }
  }
  expect(requests.length).toBe(SESSIONS);
  const seconds = perSecondOut.filter((_, i) => i % 2 === 0);
  const refreshSpread = { firstS: seconds[0]!, lastS: seconds[seconds.length - 1]!, busiestSecond: Math.max(...perSecondOut.filter((_, i) => i % 2 === 1)), lifetimeS: 600 };

  const perSecond = (n: number, ms: number): number => Math.round((n / ms) * 1000);
  const figures = [
    { what: "state per idle bound session (B)", value: Math.round(perSession), baseline: Math.round(baselineBytes), baselineIs: "Map<MAC text, 2-field record> entry (B)", ratio: perSession / baselineBytes },
    { what: "attach: DAD NS -> signed RRQ (/s)", value: perSecond(SESSIONS, attachMs), baseline: null, baselineIs: null, ratio: null },
    { what: "replies: verify + bind + release held (/s)", value: perSecond(SESSIONS, replyMs), baseline: null, baselineIs: null, ratio: null },
    // ratio: time per frame relative to the least an AN must do (classify, find the session)
    { what: "uplink frames (/s)", value: perSecond(N, uplinkMs), baseline: perSecond(N, uplinkBaseMs), baselineIs: "classify + Map lookup (/s)", ratio: uplinkMs / uplinkBaseMs },
    { what: "downlink packets (/s)", value: perSecond(N, downlinkMs), baseline: perSecond(N, uplinkBaseMs), baselineIs: "classify + Map lookup (/s)", ratio: downlinkMs / uplinkBaseMs },
    { what: "refresh deadlines: signed RRQ each (/s)", value: perSecond(SESSIONS, refreshMs), baseline: null, baselineIs: null, ratio: null },
  ];
  record("engine", { sessions: SESSIONS, rows: figures, refreshSpread, timeRatiosAre: "engine time / baseline time (higher: slower)" });
  report(`sessions: ${SESSIONS}`);
  report(`state per idle bound session: ${Math.round(perSession)} B (baseline Map entry ${Math.round(baselineBytes)} B, ratio ${(perSession / baselineBytes).toFixed(1)})`);
  report(`attach (DAD NS -> signed RRQ): ${rate(SESSIONS, attachMs)}`);
  report(`replies (verify + bind + release held): ${rate(SESSIONS, replyMs)}`);
  report(`uplink frames: ${rate(N, uplinkMs)} (baseline classify+lookup ${rate(N, uplinkBaseMs)}, ratio ${(uplinkMs / uplinkBaseMs).toFixed(2)}x the time)`);
  report(`downlink packets: ${rate(N, downlinkMs)} (ratio to uplink baseline ${(downlinkMs / uplinkBaseMs).toFixed(2)}x)`);
  report(`refresh deadlines (signed RRQ each): ${rate(SESSIONS, refreshMs)}; spread ${refreshSpread.firstS}-${refreshSpread.lastS} s after binding, busiest second ${refreshSpread.busiestSecond}`);
});

/** Self bytes by "type:name" over a heap snapshot (what the engine's state is made of). */
function heapByKind(): Map<string, number> {
  (globalThis as { gc?: () => void }).gc?.();
  const file = writeHeapSnapshot(join(tmpdir(), `an-engine-${process.pid}-${Date.now()}.heapsnapshot`));
  const text = readFileSync(file, "utf8");
  rmSync(file);
  const snap = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const [iType, iName, iSize, width] = [f.indexOf("type"), f.indexOf("name"), f.indexOf("self_size"), f.length];
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    // strings and numbers by type only (their names are their contents)
    const name = type === "object" || type === "closure" || type === "native" || type === "hidden" || type === "array" ? snap.strings[snap.nodes[i + iName]!]! : "";
    const k = `${type}:${name.slice(0, 60)}`;
    out.set(k, (out.get(k) ?? 0) + snap.nodes[i + iSize]!);
  }
  return out;
}

test("where an idle bound session's bytes go (heap snapshot diff) and the fast path's map entries", () => {
  const n = QUICK ? 2000 : 10_000;
  const engine = new Engine({ ...config(), maxSessions: n + 10 }, { random: seededRandom(7), wallOffsetMs: WALL });
  const requests: Uint8Array[] = [];
  const drain = () => {
    for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "send-signalling") requests.push(a.bytes);
  };
  const before = heapByKind();
  for (let i = 0; i < n; i++) {
    engine.handle(0, { kind: "frame-from-mn", frame: dadNeighborSolicitation(macOf(i)) });
    drain();
  }
  const replies = requests.map((r) => answer(r, KEY, DEFAULT_MIP_CODEC_OPTIONS, { lifetime: 600 }));
  requests.length = 0;
  for (const r of replies) {
    engine.handle(100, { kind: "signalling", from: HA, fromPort: 434, local: COA, bytes: r });
    drain();
  }
  replies.length = 0;
  expect(engine.counters.repliesAccepted).toBe(n);
  const after = heapByKind();
  const kinds = [...after].map(([k, v]) => ({ kind: k, bytesPerSession: (v - (before.get(k) ?? 0)) / n })).filter((x) => Math.abs(x.bytesPerSession) >= 4);
  kinds.sort((a, b) => b.bytesPerSession - a.bytesPerSession);
  const heapPerSession = kinds.reduce((t, x) => t + x.bytesPerSession, 0);

  // The fast path: one uplink (MAC) and one downlink (CoA, key) entry per bound
  // session in no-prealloc hash maps (src/bpf/an_fastpath.bpf.c). Measured: maps of
  // the same shapes filled with n entries, the kernel's own memory accounting.
  const maps = fastPathMapBytes(n);
  const total = heapPerSession + (maps?.bytesPerSession ?? 0);
  record("engine-state", { sessions: n, goalBytes: 1000, heapPerSession: Math.round(heapPerSession), fastPathMaps: maps, totalPerSession: Math.round(total), overGoalBytes: Math.round(total - 1000), breakdown: kinds.slice(0, 20).map((k) => ({ kind: k.kind, bytesPerSession: Math.round(k.bytesPerSession) })) });
  console.log(`state per idle session at ${n}: heap ${Math.round(heapPerSession)} B + maps ${maps ? Math.round(maps.bytesPerSession) : "?"} B = ${Math.round(total)} B (goal 1000)`);
  for (const k of kinds.slice(0, 20)) console.log(`  ${Math.round(k.bytesPerSession)} B  ${k.kind}`);
  expect(heapPerSession).toBeGreaterThan(0);
});

/** memlock of an up-shaped and a down-shaped hash map holding n entries (bpftool), per entry pair; null without bpftool/root. */
function fastPathMapBytes(n: number): { bytesPerSession: number; up: number; down: number; keyValueBytes: number } | null {
  const bpftool = ["bpftool", "/usr/sbin/bpftool"].find((t) => spawnSync(t, ["version"]).status === 0);
  if (!bpftool) return null;
  const pinDir = join("/sys/fs/bpf", `an-bench-${process.pid}`);
  const shapes = { up: { key: 8, value: 32 }, down: { key: 12, value: 32 } };
  const memlock: Record<string, number> = {};
  try {
    mkdirSync(pinDir);
    for (const [name, { key, value }] of Object.entries(shapes)) {
      const pin = join(pinDir, name);
      // flags 1: BPF_F_NO_PREALLOC, as the fast path's maps
      execFileSync(bpftool, ["map", "create", pin, "type", "hash", "key", String(key), "value", String(value), "entries", String(n), "name", `bench_${name}`, "flags", "1"]);
      const hex = (x: number, bytes: number): string => Array.from({ length: bytes }, (_, b) => String((x >>> (8 * (b % 4))) & 0xff)).join(" ");
      const lines = Array.from({ length: n }, (_, i) => `map update pinned ${pin} key ${hex(i + 1, key)} value ${hex(i, value)}`);
      const batch = join(tmpdir(), `an-bench-${name}-${process.pid}.batch`);
      writeFileSync(batch, `${lines.join("\n")}\n`);
      execFileSync(bpftool, ["batch", "file", batch], { stdio: "ignore", maxBuffer: 1 << 26, timeout: 120_000 });
      rmSync(batch);
      const show = JSON.parse(execFileSync(bpftool, ["-j", "map", "show", "pinned", pin], { encoding: "utf8" })) as { bytes_memlock: number };
      memlock[name] = show.bytes_memlock;
    }
  } catch (e) {
    console.warn(`fast path map sizes not measured: ${(e as Error).message.split("\n")[0]}`);
    return null;
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
  return { bytesPerSession: (memlock.up! + memlock.down!) / n, up: memlock.up! / n, down: memlock.down! / n, keyValueBytes: 8 + 32 + 12 + 32 };
}
