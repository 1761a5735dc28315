// The daemon with a fake datapath, real UDP signalling sockets on loopback
// addresses (a free high port instead of 434), an in-memory log and an injected
// clock: signals during startup, last-resort exception handling, reload/stop
// ordering, stopped sockets, the wall-clock feed, and the datapath sampling rate.
import { createSocket } from "node:dgram";
import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { Daemon, EXIT, WALL_CLOCK_INTERVAL_MS } from "../../../src/app/daemon.ts";
import type { DaemonParts } from "../../../src/app/daemon.ts";
import { main } from "../../../src/app/main.ts";
import { HANDLED_SIGNALS, ProcessSignals } from "../../../src/app/process-signals.ts";
import { createLogger } from "../../../src/app/logger.ts";
import { Engine } from "../../../src/core/engine.ts";
import type { EngineInput } from "../../../src/core/engine.ts";
import type { Clock } from "../../../src/io/clock.ts";
import type { Datapath, DatapathHandlers, DatapathStats } from "../../../src/io/datapath.ts";
import type { NativeIoError } from "../../../src/io/native-addon.ts";
import { SignallingSockets } from "../../../src/io/signalling-sockets.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { dadNeighborSolicitation, ip6, linkLocalOf, mac, mldReport, neighborAdvertisementPacket } from "../../support/frames.ts";
import { answer, registrationRevocation } from "../../support/home-agent-messages.ts";

const dir = mkdtempSync(join(tmpdir(), "an-daemon-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const KEY = "hex:00112233445566778899aabbccddeeff";

class FakeDatapath implements Datapath {
  handlers: DatapathHandlers | undefined;
  statsCalls = 0;
  closed = false;
  readonly accessMac = mac("02:00:00:00:00:aa");
  start(h: DatapathHandlers): void {
    this.handlers = h;
  }
  toTunnel(): void {}
  toMn(): void {}
  bind(): void {}
  unbind(): void {}
  flush(): void {}
  setOuterHeader(): void {}
  stats(): DatapathStats {
    this.statsCalls++;
    return {
      accessRx: 0,
      accessRxTruncated: 0,
      accessKernelDrops: 0,
      accessTx: 0,
      accessTxErrors: 0,
      tunnelRx: 0,
      tunnelRxTruncated: 0,
      tunnelRxMalformed: 0,
      tunnelRxForbiddenSource: 0,
      tunnelTx: 0,
      tunnelTxErrors: 0,
      lastTunnelTxError: null,
      txOversize: 0,
      txDroppedWouldBlock: 0,
      bound: 0,
    };
  }
  close(): void {
    this.closed = true;
  }
  /** One receive batch of these frames. */
  burst(...frames: Uint8Array[]): void {
    for (const f of frames) this.handlers!.frameFromMn(f);
    this.handlers!.batchDone();
  }
}

type Line = Record<string, unknown> & { msg: string };

/** A daemon world: the config file, the fake datapath, the log lines, a steerable clock. */
function world(config: Record<string, unknown> = {}) {
  const lines: Line[] = [];
  const datapath = new FakeDatapath();
  const clock = { monoShift: 0, wallShift: 0 };
  const c: Clock = { monotonicMs: () => performance.now() + clock.monoShift, wallMs: () => Date.now() + clock.wallShift };
  let n = 0;
  const configPath = join(dir, `an-${Math.random().toString(36).slice(2)}.json`);
  const write = (over: Record<string, unknown> = {}): void =>
    writeFileSync(
      configPath,
      JSON.stringify({
        revision: ++n,
        nodeId: "an-unit",
        access: { interface: "acc0", mac: "02:00:00:00:00:aa" },
        uplink: { interface: "up0" },
        careOf: { mode: "pool", addresses: ["127.0.0.2", "127.0.0.3"] },
        realms: [{ realm: "example.net", homeAgent: "127.0.0.1", spi: 4097, key: KEY }],
        identity: { derivedRealm: "example.net" },
        telemetry: { intervalS: 0 },
        shutdown: { deregister: false },
        // Debug: the tests follow an attach by its session-started line (debug since one info line per attach).
        log: { level: "debug" },
        ...config,
        ...over,
      }),
    );
  write();
  const port = { value: 0 };
  const parts = (): DaemonParts => ({
    openDatapath: () => datapath,
    signallingPort: port.value,
    logDestination: { write: (l: string) => void lines.push(JSON.parse(l) as Line) },
  });
  const waitLine = async (msg: string | RegExp, timeoutMs = 3000): Promise<Line> => {
    const t0 = Date.now();
    for (;;) {
      const l = lines.find((x) => (typeof msg === "string" ? x.msg === msg : msg.test(x.msg)));
      if (l) return l;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no log line ${String(msg)}; got ${lines.map((x) => x.msg).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const start = async (): Promise<Daemon> => {
    port.value = await freePort();
    const d = await Daemon.start({ configPath }, c, parts());
    if (typeof d === "number") throw new Error(`start failed: ${d}; ${lines.map((x) => x.msg).join(" | ")}`);
    return d;
  };
  return { lines, datapath, clock, c, configPath, write, parts, port, waitLine, start, msgs: () => lines.map((l) => l.msg) };
}

async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** True when address:port can be bound now (no daemon socket holds it). */
async function bindable(address: string, port: number): Promise<boolean> {
  const s = createSocket({ type: "udp4", reuseAddr: false });
  const ok = await new Promise<boolean>((r) => {
    s.once("error", () => r(false));
    s.bind({ address, port, exclusive: true }, () => r(true));
  });
  await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

const ioError = (code: string, syscall: string): NativeIoError => Object.assign(new Error(`${syscall}: ${code}`), { code, errno: -100, syscall });

describe("signals (main, run path)", () => {
  it("are handled from main's first synchronous step: SIGUSR1 ignored, SIGHUP/SIGUSR2 during startup carried out once running, SIGTERM exits 0", async () => {
    const w = world();
    w.port.value = await freePort();
    const signals = new EventEmitter();
    const run = main(["run", "--config", w.configPath], () => {}, () => {}, { signals, daemon: w.parts() });
    // Before main's first await: every signal already has its listener (none acts by default).
    for (const s of HANDLED_SIGNALS) expect(signals.listenerCount(s), s).toBe(1);
    expect(signals.listenerCount("uncaughtException")).toBe(1);
    signals.emit("SIGUSR1");
    signals.emit("SIGHUP");
    signals.emit("SIGUSR2");
    await w.waitLine("telemetry");
    await w.waitLine("config reloaded");
    const m = w.msgs();
    expect(m).toContain("SIGUSR1 ignored (telemetry is SIGUSR2)");
    expect(m.indexOf("started")).toBeGreaterThan(-1);
    expect(m.indexOf("telemetry")).toBeGreaterThan(m.indexOf("started"));
    expect(m.indexOf("config reloaded")).toBeGreaterThan(m.indexOf("started"));
    // Running: SIGUSR2 is telemetry, SIGUSR1 still nothing, SIGTERM a clean stop.
    signals.emit("SIGUSR2");
    signals.emit("SIGUSR1");
    expect(w.msgs().filter((x) => x === "telemetry")).toHaveLength(2);
    expect(w.msgs().filter((x) => x === "SIGUSR1 ignored (telemetry is SIGUSR2)")).toHaveLength(2);
    signals.emit("SIGTERM");
    expect(await run).toBe(EXIT.ok);
    expect(w.msgs().at(-1)).toBe("stopped");
  });

  it("SIGTERM during startup abandons the start: exit 0, every socket closed, never started", async () => {
    const w = world();
    w.port.value = await freePort();
    const signals = new EventEmitter();
    const run = main(["run", "--config", w.configPath], () => {}, () => {}, { signals, daemon: w.parts() });
    signals.emit("SIGTERM");
    expect(await run).toBe(EXIT.ok);
    expect(w.msgs()).toContain("stop requested during startup: not starting");
    expect(w.msgs()).not.toContain("started");
    expect(w.datapath.closed).toBe(true);
    expect(await bindable("127.0.0.2", w.port.value)).toBe(true);
    expect(signals.listenerCount("SIGTERM")).toBe(0);
  });

  it("an uncaught exception is logged and ends the process non-zero", () => {
    const lines: Line[] = [];
    const source = new EventEmitter();
    const exits: number[] = [];
    const p = new ProcessSignals(source, createLogger("info", { write: (l: string) => void lines.push(JSON.parse(l) as Line) }), (code) => void exits.push(code));
    source.emit("uncaughtException", new Error("kaboom"));
    expect(exits).toEqual([EXIT.failed]);
    expect(lines.map((l) => l.msg)).toEqual(["uncaught exception: exiting so the supervisor restarts"]);
    expect(JSON.stringify(lines[0])).toContain("kaboom");
    p.close();
    expect(source.listenerCount("uncaughtException")).toBe(0);
  });
});

describe("Daemon", () => {
  it("an exception in a packet handler is caught, logged once per cause, counted (internalErrors), and the daemon keeps serving", async () => {
    const w = world();
    const d = await w.start();
    const original = Engine.prototype.handle;
    const handle = vi.spyOn(Engine.prototype, "handle").mockImplementation(function (this: Engine, now: number, input: EngineInput) {
      if (input.kind === "frame-from-mn") throw new Error("engine bug");
      original.call(this, now, input);
    });
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    expect(() => w.datapath.burst(ns, ns, ns)).not.toThrow();
    const internal = w.lines.filter((l) => l.msg === "internal error in handle frame-from-mn: engine bug");
    expect(internal).toHaveLength(1);
    expect(d.telemetry().internalErrors).toBe(3);
    handle.mockRestore();
    w.datapath.burst(ns);
    await w.waitLine("session-started");
    await d.stop("test");
  });

  it("a stopped receive on the access socket stops cleanly and exits non-zero", async () => {
    const w = world();
    const d = await w.start();
    w.datapath.handlers!.ioError("access acc0", ioError("ENETDOWN", "recvmmsg"), true);
    expect(await d.done).toBe(EXIT.failed);
    expect(w.msgs()).toContain("access socket stopped: ENETDOWN recvmmsg; exiting so the supervisor restarts");
    expect(w.msgs().at(-1)).toBe("stopped");
    expect(w.datapath.closed).toBe(true);
  });

  it("a stopped receive on a tunnel socket does the same; a transient error does not", async () => {
    const w = world();
    const d = await w.start();
    w.datapath.handlers!.ioError("tunnel protocol 47", ioError("ENOBUFS", "recvmmsg"), false);
    expect(w.msgs()).not.toContain("stopping");
    w.datapath.handlers!.ioError("tunnel protocol 47", ioError("EBADF", "recvmmsg"), true);
    expect(await d.done).toBe(EXIT.failed);
    expect(w.msgs()).toContain("tunnel socket stopped: EBADF recvmmsg; exiting so the supervisor restarts");
  });

  it("stop during a reload waits for it, and the reload then applies nothing (no socket or timer left behind)", async () => {
    const w = world();
    const d = await w.start();
    w.write({ careOf: { mode: "pool", addresses: ["127.0.0.2", "127.0.0.3", "127.0.0.5"] }, telemetry: { intervalS: 1 } });
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    const original = SignallingSockets.prototype.ensure;
    const ensure = vi.spyOn(SignallingSockets.prototype, "ensure").mockImplementationOnce(async function (this: SignallingSockets, addresses: readonly number[]) {
      await gate;
      return original.call(this, addresses);
    });
    const reloaded = d.reload();
    await vi.waitFor(() => expect(ensure).toHaveBeenCalled());
    let stopped = false;
    const stopping = d.stop("test").then((code) => {
      stopped = true;
      return code;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).toBe(false); // waits for the reload
    release();
    await reloaded;
    expect(await stopping).toBe(EXIT.ok);
    expect(w.msgs()).not.toContain("config reloaded");
    expect(w.msgs().at(-1)).toBe("stopped");
    expect(await bindable("127.0.0.5", w.port.value)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(w.msgs().at(-1)).toBe("stopped"); // no telemetry timer armed by the reload
  });

  it("reload closes the signalling socket of a care-of address removed from the config, unless a session still uses it", async () => {
    const w = world();
    const d = await w.start();
    w.datapath.burst(dadNeighborSolicitation(mac("02:11:22:33:44:01")));
    const started = await w.waitLine("session-started");
    const used = (started.event as { careOf: string }).careOf;
    const unused = used === "127.0.0.2" ? "127.0.0.3" : "127.0.0.2";
    expect(await bindable(unused, w.port.value)).toBe(false);
    w.write({ careOf: { mode: "pool", addresses: ["127.0.0.4"] } });
    await d.reload();
    await w.waitLine("config reloaded");
    const closed = w.lines.filter((l) => l.msg === "signalling socket closed: care-of address no longer in the config").map((l) => l.careOf);
    expect(closed).toEqual([unused]);
    expect(await bindable(unused, w.port.value)).toBe(true);
    expect(await bindable(used, w.port.value)).toBe(false); // its session still registers from it
    expect(await bindable("127.0.0.4", w.port.value)).toBe(false);
    await d.stop("test");
  });

  it("hands the wall clock to the engine at start and every 10 s, with telemetry off: RRQ timestamps follow an NTP step", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const handle = vi.spyOn(Engine.prototype, "handle");
    const w = world({ telemetry: { intervalS: 0 } });
    const d = await w.start();
    const wallInputs = (): number[] => handle.mock.calls.map((c) => c[1]).flatMap((i) => (i.kind === "wall-clock" ? [i.wallMs] : []));
    expect(wallInputs()).toHaveLength(1);
    expect(Math.abs(wallInputs()[0]! - Date.now())).toBeLessThan(1000);
    w.clock.wallShift = 3_600_000; // NTP steps the clock an hour forward
    vi.advanceTimersByTime(WALL_CLOCK_INTERVAL_MS);
    expect(wallInputs()).toHaveLength(2);
    expect(Math.abs(wallInputs()[1]! - (Date.now() + 3_600_000))).toBeLessThan(1000);
    await d.stop("test");
  });

  it("reads the datapath counters (native calls, a getsockopt) at most once a second, not after every receive batch", async () => {
    const w = world();
    const d = await w.start();
    w.clock.monoShift = 10_000;
    const frame = new Uint8Array(60);
    w.datapath.burst(frame);
    const base = w.datapath.statsCalls;
    for (let i = 0; i < 100; i++) w.datapath.burst(frame);
    expect(w.datapath.statsCalls).toBe(base);
    w.clock.monoShift += 1000;
    w.datapath.burst(frame);
    expect(w.datapath.statsCalls).toBe(base + 1);
    await d.stop("test");
  });
});

describe("state file", () => {
  it("is written when a session binds, not per refresh, and snapshotted once a minute while sessions exist", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const statePath = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
    const w = world({ stateFile: statePath });
    const sent: Uint8Array[] = [];
    vi.spyOn(SignallingSockets.prototype, "send").mockImplementation((_from, _to, _port, bytes) => {
      sent.push(bytes.slice());
      return true;
    });
    const d = await w.start();
    w.datapath.burst(dadNeighborSolicitation(mac("02:11:22:33:44:01")));
    expect(sent).toHaveLength(1);
    // The HA (127.0.0.1) accepts: the session binds, its context must reach the disk.
    const ha = createSocket("udp4");
    await new Promise<void>((r) => ha.bind(0, "127.0.0.1", r));
    const reply = answer(sent[0]!, { spi: 4097, secret: Buffer.from(KEY.slice(4), "hex") }, DEFAULT_MIP_CODEC_OPTIONS);
    await new Promise<void>((r) => ha.send(reply, w.port.value, "127.0.0.2", () => r()));
    await w.waitLine("registered");
    const saved = async (after: number): Promise<{ savedAtWallMs: number; contexts: { mac: string }[] }> => {
      const t0 = Date.now();
      for (;;) {
        try {
          const s = JSON.parse(readFileSync(statePath, "utf8")) as { savedAtWallMs: number; contexts: { mac: string }[] };
          if (s.savedAtWallMs > after) return s;
        } catch {
          // not written yet
        }
        if (Date.now() - t0 > 3000) throw new Error("state file not (re)written");
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const first = await saved(0);
    expect(first.contexts.map((c) => c.mac)).toEqual(["02:11:22:33:44:01"]);
    // Ten seconds on, nothing changed: no write.
    vi.advanceTimersByTime(WALL_CLOCK_INTERVAL_MS);
    await new Promise((r) => setTimeout(r, 1200));
    expect((JSON.parse(readFileSync(statePath, "utf8")) as { savedAtWallMs: number }).savedAtWallMs).toBe(first.savedAtWallMs);
    // A minute on: a snapshot keeps the recorded lifetimes fresh.
    w.clock.monoShift += 60_000;
    vi.advanceTimersByTime(WALL_CLOCK_INTERVAL_MS);
    const second = await saved(first.savedAtWallMs);
    expect(second.contexts.map((c) => c.mac)).toEqual(["02:11:22:33:44:01"]);
    ha.close();
    await d.stop("test");
  });
});

describe("station control (draft 3.2.4 detach)", () => {
  it("a DAD-failure revocation runs stationControl.detachCommand with the MAC, logs and counts it; a reload replaces the command", async () => {
    const out = join(dir, `detached-${Math.random().toString(36).slice(2)}`);
    const record = (tag: string): string[] => ["/bin/sh", "-c", 'echo "$1 $2" >> "$3"', "sh", tag, "{mac}", out];
    const w = world({ stationControl: { detachCommand: record("first") } });
    const sent: Uint8Array[] = [];
    vi.spyOn(SignallingSockets.prototype, "send").mockImplementation((_from, _to, _port, bytes) => {
      sent.push(bytes.slice());
      return true;
    });
    const d = await w.start();
    const mn = "02:11:22:33:44:01";
    w.datapath.burst(dadNeighborSolicitation(mac(mn)));
    const careOf = ((await w.waitLine("session-started")).event as { careOf: string }).careOf;
    const key = { spi: 4097, secret: Uint8Array.from(Buffer.from(KEY.slice(4), "hex")) };
    const ha = createSocket("udp4");
    await new Promise<void>((r) => ha.bind(0, "127.0.0.1", r));
    const fromHa = (bytes: Uint8Array): Promise<void> => new Promise((r) => ha.send(bytes, w.port.value, careOf, () => r()));
    await fromHa(answer(sent[0]!, key, DEFAULT_MIP_CODEC_OPTIONS));
    await w.waitLine("registered");
    // The HA's proxy DAD answers the probe (the NA goes to the MN), then it revokes.
    const na = neighborAdvertisementPacket({ src: ip6("fe80::1"), target: linkLocalOf(mac(mn)), tlla: mac("02:99:99:99:99:99") });
    w.datapath.handlers!.tunnelPacket(parseIpv4("127.0.0.1")!, parseIpv4(careOf)!, null, na);
    w.datapath.handlers!.batchDone();
    const revocation = (revocationId: number): Uint8Array =>
      registrationRevocation({
        homeDomainAddress: parseIpv4("127.0.0.1")!,
        foreignDomainAddress: parseIpv4(careOf)!,
        revocationId,
        nai: "021122334401@example.net",
        key,
        codec: DEFAULT_MIP_CODEC_OPTIONS,
      });
    await fromHa(revocation(0x1000));
    await w.waitLine("detach");
    const performed = await w.waitLine(/^detach (performed|failed|refused)/);
    expect(performed).toMatchObject({ msg: "detach performed", mac: mn, reason: "dad-failure", performed: true, exitCode: 0 });
    expect(readFileSync(out, "utf8")).toBe(`first ${mn}\n`);
    expect(d.telemetry().stations).toEqual({ command: true, requested: 1, performed: 1, failed: 0, refused: 0, coalesced: 0, running: 0, queued: 0 });

    // A reload to null replaces the command: a later detach is only logged.
    w.write({ stationControl: { detachCommand: null } });
    await d.reload();
    expect(w.lines.find((l) => l.msg === "station control changed")).toMatchObject({ detachCommand: null });
    ha.close();
    await d.stop("test");
    expect(d.telemetry().stations).toMatchObject({ command: false, requested: 1, performed: 1 });
  });
});

describe("state file restore", () => {
  it("a context the engine refuses (its realm is gone) does not keep the periodic snapshot going", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const statePath = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
    const context = {
      version: 1,
      mac: "02:11:22:33:44:09",
      nai: "carol@gone.example",
      homeAgent: 0x7f000001,
      careOf: { address: 0x7f000002, greKey: null },
      identification: "1",
      clockOffsetMs: 0,
      haLinkLayer: null,
      addresses: [],
      remainingLifetimeMs: 300_000,
      homeAddress: 0,
      heldFrames: [],
    };
    const written = { version: 1, savedAtWallMs: Date.now() - 1000, contexts: [context] };
    writeFileSync(statePath, JSON.stringify(written));
    const w = world({ stateFile: statePath });
    const d = await w.start();
    expect((await w.waitLine("state restored")).restored).toBe(0);
    w.clock.monoShift += 120_000;
    vi.advanceTimersByTime(WALL_CLOCK_INTERVAL_MS);
    await new Promise((r) => setTimeout(r, 1200));
    expect((JSON.parse(readFileSync(statePath, "utf8")) as { savedAtWallMs: number }).savedAtWallMs).toBe(written.savedAtWallMs);
    await d.stop("test");
  });
});

describe("field behaviour (issue 9)", () => {
  async function registered(config: Record<string, unknown> = {}) {
    const w = world(config);
    const sent: { from: number; bytes: Uint8Array; at: number }[] = [];
    vi.spyOn(SignallingSockets.prototype, "send").mockImplementation((from, _to, _port, bytes) => {
      sent.push({ from, bytes: bytes.slice(), at: performance.now() });
      return true;
    });
    const d = await w.start();
    const mn = "02:11:22:33:44:01";
    w.datapath.burst(dadNeighborSolicitation(mac(mn)));
    const careOf = ((await w.waitLine("session-started")).event as { careOf: string }).careOf;
    const key = { spi: 4097, secret: Uint8Array.from(Buffer.from(KEY.slice(4), "hex")) };
    const ha = createSocket("udp4");
    await new Promise<void>((r) => ha.bind(0, "127.0.0.1", r));
    await new Promise<void>((r) => ha.send(answer(sent[0]!.bytes, key, DEFAULT_MIP_CODEC_OPTIONS), w.port.value, careOf, () => r()));
    await w.waitLine("registered");
    return { w, d, sent, mn, ha };
  }
  const lifetimeOf = (b: Uint8Array): number => (b[2]! << 8) | b[3]!;

  it("stationLeft(mac), the entry for link-layer adapters, deregisters the station (lifetime 0) and counts it", async () => {
    const { w, d, sent, mn, ha } = await registered();
    d.stationLeft(mn);
    await w.waitLine("station-left");
    // RFC 5944 3.6.3: 1 s after the registration request.
    for (let i = 0; i < 100 && sent.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sent).toHaveLength(2);
    expect(lifetimeOf(sent[1]!.bytes)).toBe(0);
    expect(d.telemetry().engine).toMatchObject({ stationsLeft: 1, deregistrationsSent: 1 });
    ha.close();
    await d.stop("test");
  });

  it("a stop right after a registration waits for the 1 s slot before the lifetime-0 request, then exits", async () => {
    const { d, sent, ha } = await registered({ shutdown: { deregister: true } });
    const code = await d.stop("test");
    expect(code).toBe(EXIT.ok);
    expect(sent.map((s) => lifetimeOf(s.bytes))).toEqual([600, 0]);
    expect(lifetimeOf(sent[1]!.bytes)).toBe(0);
    // The engine's clock stamped the first request before its (cold, first-call) signing; the
    // send is recorded after it: so not exactly 1000. Without the 1 s slot this gap is a few ms.
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(900);
    ha.close();
  });

  it("an MLD report from an unknown station before its first NS is not logged at warn level", async () => {
    const w = world({ triggerOn: "neighbor-discovery" });
    const d = await w.start();
    w.datapath.burst(mldReport(mac("02:11:22:33:44:01")));
    await new Promise((r) => setTimeout(r, 20));
    expect(d.telemetry().engine).toMatchObject({ framesUnknownMnMld: 1 });
    expect(w.lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg)).toEqual([]);
    await d.stop("test");
  });
});
