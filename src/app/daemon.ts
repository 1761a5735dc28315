// `an run`: the running firmware. Opens the access packet socket, the tunnel raw
// sockets and the UDP 434 sockets, builds the engine from the config, and wires
// them through the driver. Signals: SIGHUP reloads the config (last good config
// kept on error), SIGUSR1 logs a telemetry line now, SIGTERM/SIGINT stop cleanly.
import { validateContext } from "../core/context.ts";
import { Engine } from "../core/engine.ts";
import type { EngineCounters } from "../core/counters.ts";
import type { AnEvent } from "../core/events.ts";
import type { Clock } from "../io/clock.ts";
import { systemClock, systemRandom } from "../io/clock.ts";
import { UserspaceDatapath } from "../io/datapath.ts";
import { isNativeIoError } from "../io/native-addon.ts";
import { isRecordedNd, PcapWriter } from "../io/pcap-writer.ts";
import { SignallingSockets } from "../io/signalling-sockets.ts";
import { readStateFile, STATE_FILE_VERSION, writeStateFile } from "../io/state-file.ts";
import { ReportingStationControl } from "../io/station-control.ts";
import { formatIpv4, parseIpv4 } from "../wire/ipv4-address.ts";
import { parseMac } from "../wire/mac.ts";
import { ActionRouter } from "./action-router.ts";
import type { BoardProfile } from "./board.ts";
import { careOfAddresses, engineConfigOf, formatProblems, loadConfigFile } from "./config-file.ts";
import { ConfigKeeper } from "./config-keeper.ts";
import type { AnConfig } from "./config-schema.ts";
import { EngineDriver, realTimerHost } from "./driver.ts";
import { OncePerCause } from "./log-once.ts";
import type { Logger } from "./logger.ts";
import { createLogger } from "./logger.ts";
import { VERSION } from "./version.ts";

export interface DaemonArgs {
  readonly configPath: string;
  readonly board?: BoardProfile | undefined;
  readonly pcapPath?: string | undefined;
}

/** Exit codes of `an run`. */
export const EXIT = { ok: 0, badConfig: 1, usage: 2, startFailed: 3 } as const;

/** Engine counters whose increase is logged (once per cause): they have no event of their own. */
const WATCHED_COUNTERS: readonly (keyof EngineCounters)[] = [
  "framesMalformed",
  "framesNotIpv6",
  "framesUnknownMnNonTrigger",
  "framesDroppedNoService",
  "packetsFromTunnelUnmatched",
  "packetsFromTunnelWrongSource",
  "packetsFromTunnelMalformed",
  "repliesUnmatched",
  "signallingUnexpectedType",
  "revocationsUnmatched",
  "revocationsReplayed",
  "contextsRejected",
];

const ipv4 = (s: string): number => parseIpv4(s)!;

export class Daemon {
  private readonly keeper: ConfigKeeper;
  private readonly oncer: OncePerCause;
  private readonly driver: EngineDriver;
  private readonly router: ActionRouter;
  private pcap: PcapWriter | undefined;
  private telemetryTimer: ReturnType<typeof setInterval> | undefined;
  private stateTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly known = new Set<string>();
  private stateDirty = false;
  private readonly watched = new Map<string, number>();
  private lastTunnelTxErrors = 0;
  private reloading: Promise<void> = Promise.resolve();
  private stopping: Promise<number> | undefined;
  private resolveDone: (code: number) => void = () => {};
  /** Resolves with the exit code once stopped. */
  readonly done: Promise<number>;

  private constructor(
    private readonly args: DaemonArgs,
    private readonly log: Logger,
    private readonly clock: Clock,
    config: AnConfig,
    private readonly accessMac: Uint8Array,
    private readonly datapath: UserspaceDatapath,
    private readonly signalling: SignallingSockets,
    engine: Engine,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.keeper = new ConfigKeeper(config, accessMac);
    this.oncer = new OncePerCause(config.log.oncePerCauseS * 1000, () => clock.monotonicMs());
    const stations = new ReportingStationControl((mac, reason) =>
      this.log.warn({ mac, reason, performed: false }, "detach requested: no link-layer control configured (hostapd control is not built yet)"),
    );
    this.router = new ActionRouter({
      signalling,
      datapath,
      stations,
      wallMs: () => clock.wallMs(),
      onEvent: (e) => this.onEvent(e),
      onContextChanged: (mac) => {
        this.known.add(mac);
        this.stateDirty = true;
      },
      onFlush: () => this.afterBurst(),
    });
    this.driver = new EngineDriver(engine, realTimerHost(() => clock.monotonicMs()), this.router);
  }

  /** Starts the daemon; resolves with it running, or with an exit code when it could not start. */
  static async start(args: DaemonArgs, clock: Clock = systemClock): Promise<Daemon | number> {
    const loaded = loadConfigFile(args.configPath, args.board);
    if (!loaded.ok) {
      const log = createLogger("info");
      for (const line of formatProblems(loaded.problems)) log.error({ problem: line }, "config problem");
      log.fatal({ config: args.configPath, problems: loaded.problems.length }, "config refused: not starting");
      return EXIT.badConfig;
    }
    const config = loaded.config;
    const log = createLogger(config.log.level, undefined, { nodeId: config.nodeId });
    let datapath: UserspaceDatapath;
    try {
      datapath = UserspaceDatapath.open({
        accessInterface: config.access.interface,
        uplinkInterface: config.uplink.interface,
        promiscuous: config.access.promiscuous,
        ttl: config.tunnel.ttl,
        dontFragment: config.tunnel.dontFragment,
      });
    } catch (e) {
      log.fatal({ err: describeError(e) }, "cannot open the packet sockets (needs CAP_NET_RAW; interfaces must exist)");
      return EXIT.startFailed;
    }
    const accessMac = config.access.mac !== undefined ? parseMac(config.access.mac) : datapath.accessMac;
    if (!accessMac) {
      datapath.close();
      log.fatal({ interface: config.access.interface }, "the access interface has no Ethernet address: set access.mac");
      return EXIT.startFailed;
    }
    const ec = engineConfigOf(config, accessMac);
    if (!ec.ok) {
      datapath.close();
      for (const line of formatProblems(ec.problems)) log.error({ problem: line }, "config problem");
      log.fatal("config refused: not starting");
      return EXIT.badConfig;
    }
    const ref: { daemon?: Daemon } = {};
    const signalling = new SignallingSockets({
      message: (from, fromPort, local, bytes) => ref.daemon?.onSignalling(from, fromPort, local, bytes),
      error: (local, error) => log.error({ careOf: formatIpv4(local), err: describeError(error) }, "signalling socket failed"),
    });
    const failures = await signalling.ensure(careOfAddresses(config).map(ipv4));
    if (failures.length > 0) {
      for (const f of failures) log.error({ careOf: f.address, code: f.code }, bindHint(f.code));
      signalling.close();
      datapath.close();
      log.fatal({ failed: failures.length }, "cannot bind UDP 434 on every care-of address: not starting");
      return EXIT.startFailed;
    }
    const engine = new Engine(ec.engine, { random: systemRandom(), wallOffsetMs: clock.wallMs() - clock.monotonicMs() });
    const daemon = new Daemon(args, log, clock, config, accessMac, datapath, signalling, engine);
    ref.daemon = daemon;
    daemon.run();
    return daemon;
  }

  private get config(): AnConfig {
    return this.keeper.current;
  }

  private run(): void {
    const c = this.config;
    if (this.args.pcapPath) {
      this.pcap = PcapWriter.open(this.args.pcapPath);
      this.router.pcap = this.pcap;
    }
    this.restoreState();
    this.datapath.start({
      frameFromMn: (frame) => {
        if (this.pcap && isRecordedNd(frame)) this.pcap.frame(this.clock.wallMs(), frame);
        this.driver.input({ kind: "frame-from-mn", frame });
      },
      tunnelPacket: (outerSrc, outerDst, greKey, packet) => this.driver.input({ kind: "tunnel-packet", outerSrc, outerDst, greKey, packet }),
      tunnelPacketDropped: (cause) => this.once(cause, {}),
      batchDone: () => this.driver.settle(),
      ioError: (where, error, stopped) => {
        if (stopped) this.log.error({ where, err: describeError(error) }, "receive stopped");
        else this.once(`io ${where}: ${error.code}`, { err: describeError(error) });
      },
    });
    this.driver.settle();
    process.on("SIGHUP", () => void this.reload());
    process.on("SIGUSR1", () => this.logTelemetry());
    process.on("SIGTERM", () => void this.stop("SIGTERM"));
    process.on("SIGINT", () => void this.stop("SIGINT"));
    this.armTelemetry();
    this.log.info(
      {
        version: VERSION,
        revision: c.revision,
        board: this.args.board?.name ?? null,
        access: this.config.access.interface,
        accessMac: [...this.accessMac].map((b) => b.toString(16).padStart(2, "0")).join(":"),
        uplink: c.uplink.interface,
        careOf: c.careOf.mode === "pool" ? { mode: "pool", addresses: c.careOf.addresses.length } : { mode: "shared", address: c.careOf.address },
        realms: c.realms.map((r) => ({ realm: r.realm, homeAgent: r.homeAgent, spi: r.spi })),
        pcap: this.args.pcapPath ?? null,
        stateFile: c.stateFile || null,
      },
      "started",
    );
  }

  private onSignalling(from: number, fromPort: number, local: number, bytes: Uint8Array): void {
    this.pcap?.udp(this.clock.wallMs(), from, fromPort, local, this.signalling.port, bytes);
    this.driver.feed({ kind: "signalling", from, fromPort, bytes });
  }

  // ---- logging ---------------------------------------------------------------------

  private once(cause: string, fields: Record<string, unknown>): void {
    const a = this.oncer.admit(cause);
    if (a) this.log.warn({ cause, total: a.total, suppressedSinceLast: a.suppressed, ...fields }, cause);
  }

  private onEvent(e: AnEvent): void {
    switch (e.type) {
      case "forged":
        return this.once(`forged ${e.what}: ${e.reason}`, { event: e });
      case "malformed":
        return this.once(`malformed ${e.what}: ${e.error.split(" at ")[0]}`, { event: e });
      case "refused":
        return this.once(`refused: ${e.reason}`, { event: e });
      case "hold-dropped":
        return this.once(`hold dropped: ${e.reason}`, { event: e });
      case "registration-sent":
        this.log.debug({ event: e }, e.type);
        return;
      case "released":
        this.known.delete(e.mac);
        this.stateDirty = true;
        this.log.info({ event: e }, e.type);
        return;
      default:
        this.log.info({ event: e }, e.type);
    }
  }

  /** After every burst: counters without events of their own, and the state file. */
  private afterBurst(): void {
    const counters = this.driver.engine.counters;
    for (const name of WATCHED_COUNTERS) {
      const v = counters[name];
      if (v !== (this.watched.get(name) ?? 0)) {
        this.watched.set(name, v);
        this.once(`counter ${name}`, { count: v });
      }
    }
    const d = this.datapath.stats();
    if (d.tunnelTxErrors !== this.lastTunnelTxErrors) {
      this.lastTunnelTxErrors = d.tunnelTxErrors;
      this.once(`tunnel send refused: ${d.lastTunnelTxError ?? "?"}`, { count: d.tunnelTxErrors });
    }
    if (this.stateDirty && this.config.stateFile && this.stateTimer === undefined && !this.stopping) {
      // At most one write a second: a burst of refreshes is one write.
      this.stateTimer = setTimeout(() => {
        this.stateTimer = undefined;
        this.saveState();
      }, 1000);
    }
  }

  telemetry(): Record<string, unknown> {
    const e = this.driver.engine;
    return {
      sessions: e.sessionCount,
      heldFrames: e.heldFrames,
      heldBytes: e.heldBytes,
      engine: { ...e.counters },
      datapath: this.datapath.stats(),
      signalling: { ...this.signalling.stats(), dropped: this.router.signallingDropped },
      causes: this.oncer.totals(),
      pcapRecords: this.pcap?.records ?? 0,
      inputs: this.driver.inputs,
    };
  }

  logTelemetry(): void {
    this.driver.input({ kind: "wall-clock", wallMs: this.clock.wallMs() });
    this.log.info({ telemetry: this.telemetry() }, "telemetry");
  }

  private armTelemetry(): void {
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
    const s = this.config.telemetry.intervalS;
    if (s > 0) this.telemetryTimer = setInterval(() => this.logTelemetry(), s * 1000);
  }

  // ---- restart state ---------------------------------------------------------------------

  private saveState(contexts?: unknown[]): void {
    const path = this.config.stateFile;
    if (!path) return;
    this.stateDirty = false;
    const now = this.driver.now();
    const list = contexts ?? [...this.known].map((m) => this.driver.engine.exportContext(now, m)).filter((c) => c !== undefined);
    try {
      writeStateFile(path, { version: STATE_FILE_VERSION, savedAtWallMs: this.clock.wallMs(), contexts: list });
    } catch (e) {
      this.once(`state file write failed: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { path, err: describeError(e) });
    }
  }

  private restoreState(): void {
    const path = this.config.stateFile;
    if (!path) return;
    let state;
    try {
      state = readStateFile(path);
    } catch (e) {
      this.log.error({ path, err: describeError(e) }, "state file unreadable: starting without it");
      return;
    }
    if (!state) return;
    const elapsed = Math.max(0, this.clock.wallMs() - state.savedAtWallMs);
    let restored = 0;
    for (const raw of state.contexts) {
      const v = validateContext(raw);
      if (!v.ok) {
        this.log.warn({ path, field: v.error.field, problem: v.error.problem }, "state file: context skipped");
        continue;
      }
      const context = { ...v.value, remainingLifetimeMs: Math.max(0, v.value.remainingLifetimeMs - elapsed) };
      this.driver.input({ kind: "import-context", context, resume: true });
      this.known.add(context.mac);
      restored++;
    }
    this.driver.settle();
    this.log.info({ path, restored, of: state.contexts.length }, "state restored");
  }

  // ---- reload and stop --------------------------------------------------------------------

  /** SIGHUP: validate the file again; apply it whole or keep the last good config. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadNow()).catch((e: unknown) => this.log.error({ err: describeError(e) }, "reload failed"));
    return this.reloading;
  }

  private async reloadNow(): Promise<void> {
    if (this.stopping) return;
    const offer = this.keeper.offer(loadConfigFile(this.args.configPath, this.args.board));
    const keep = (problems: readonly { path: string; message: string }[]): void => {
      for (const line of formatProblems(problems)) this.log.error({ problem: line }, "config problem");
      this.log.error({ problems: problems.length, keptRevision: this.config.revision }, "config reload refused: keeping the last good config");
    };
    if (!offer.ok) return keep(offer.problems);
    const failures = await this.signalling.ensure(careOfAddresses(offer.config).map(ipv4));
    if (failures.length > 0) return keep(failures.map((f) => ({ path: "careOf", message: `${f.address}: ${bindHint(f.code)}` })));
    const c = offer.config;
    this.driver.engine.reconfigure(offer.engine);
    this.driver.drain();
    this.driver.settle();
    this.keeper.commit(c);
    this.log.level = c.log.level;
    this.oncer.setWindow(c.log.oncePerCauseS * 1000);
    this.datapath.setOuterHeader({ ttl: c.tunnel.ttl, dontFragment: c.tunnel.dontFragment });
    this.armTelemetry();
    if (offer.needsRestart.length > 0) this.log.warn({ fields: offer.needsRestart }, "changed fields take effect only after a restart");
    this.log.info({ revision: c.revision, level: c.log.level, sessions: this.driver.engine.sessionCount }, "config reloaded");
  }

  /** Stops: deregisters (per config), flushes, closes every socket; resolves with the exit code. */
  stop(reason: string): Promise<number> {
    this.stopping ??= this.stopNow(reason);
    return this.stopping;
  }

  private async stopNow(reason: string): Promise<number> {
    const deregister = this.config.shutdown.deregister;
    this.log.info({ reason, deregister, sessions: this.driver.engine.sessionCount }, "stopping");
    if (this.stateTimer) clearTimeout(this.stateTimer);
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    // Without deregistration the bindings live on at the HA: keep them for the restart.
    if (!deregister) this.saveState();
    this.driver.input({ kind: "shutdown", deregister });
    this.driver.settle();
    this.driver.stop();
    await this.signalling.flushed(1000);
    if (deregister) this.saveState([]);
    this.log.info({ telemetry: this.telemetry() }, "telemetry");
    this.signalling.close();
    this.datapath.close();
    this.pcap?.close();
    this.log.info({ reason }, "stopped");
    this.resolveDone(EXIT.ok);
    return EXIT.ok;
  }
}

function bindHint(code: string): string {
  switch (code) {
    case "EACCES":
      return "cannot bind UDP port 434: grant CAP_NET_BIND_SERVICE or set net.ipv4.ip_unprivileged_port_start=434 in this network namespace";
    case "EADDRNOTAVAIL":
      return "care-of address is not an address of this host: add it to the uplink (ip addr add ADDR/32 dev UPLINK)";
    case "EADDRINUSE":
      return "UDP 434 on this care-of address is taken by another process";
    default:
      return `cannot bind UDP 434 (${code})`;
  }
}

function describeError(e: unknown): Record<string, unknown> {
  if (isNativeIoError(e)) return { message: e.message, code: e.code, syscall: e.syscall };
  if (e instanceof Error) return { message: e.message, code: (e as NodeJS.ErrnoException).code };
  return { message: String(e) };
}
