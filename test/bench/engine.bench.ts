// Engine figures the issue asks for: state bytes per idle bound session at
// 100,000 sessions, and events per second through the engine. Each figure comes
// with a baseline measured in the same run, and the ratio is what to compare
// across runs and machines. Run: npm run bench
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
import { record } from "./support/record.ts";

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 100_000);
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

  // Refresh: every session's refresh deadline fires (one RRQ each).
  now += 600_000 * 0.8 + 1000;
  t0 = performance.now();
  engine.handle(now, { kind: "deadline" });
  drain();
  const refreshMs = performance.now() - t0;
  expect(requests.length).toBe(SESSIONS);

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
  record("engine", { sessions: SESSIONS, rows: figures, timeRatiosAre: "engine time / baseline time (higher: slower)" });
  report(`sessions: ${SESSIONS}`);
  report(`state per idle bound session: ${Math.round(perSession)} B (baseline Map entry ${Math.round(baselineBytes)} B, ratio ${(perSession / baselineBytes).toFixed(1)})`);
  report(`attach (DAD NS -> signed RRQ): ${rate(SESSIONS, attachMs)}`);
  report(`replies (verify + bind + release held): ${rate(SESSIONS, replyMs)}`);
  report(`uplink frames: ${rate(N, uplinkMs)} (baseline classify+lookup ${rate(N, uplinkBaseMs)}, ratio ${(uplinkMs / uplinkBaseMs).toFixed(2)}x the time)`);
  report(`downlink packets: ${rate(N, downlinkMs)} (ratio to uplink baseline ${(downlinkMs / uplinkBaseMs).toFixed(2)}x)`);
  report(`refresh deadlines (signed RRQ each): ${rate(SESSIONS, refreshMs)}`);
});
