// `an run`: the running firmware. Opens the access packet socket, the tunnel raw
// sockets and the UDP 434 sockets, builds the engine from the config, and wires
// them through the driver. Signals (installed by main, see process-signals.ts):
// SIGHUP reloads the config (last good config kept on error), SIGUSR2 logs a
// telemetry line now, SIGTERM/SIGINT stop cleanly. A receive socket that stops, or
// an uncaught exception, ends the process non-zero for the supervisor to restart.
import { validateContext } from "../core/context.ts";
import { Engine } from "../core/engine.ts";
import type { EngineCounters } from "../core/counters.ts";
import type { AnEvent } from "../core/events.ts";
import type { Clock } from "../io/clock.ts";
import { systemClock, systemRandom } from "../io/clock.ts";
import type { Datapath, UserspaceDatapathOptions } from "../io/datapath.ts";
import { isNativeIoError } from "../io/native-addon.ts";
import { isRecordedNd, PcapWriter } from "../io/pcap-writer.ts";
import { SignallingSockets } from "../io/signalling-sockets.ts";
import { readStateFile, STATE_FILE_VERSION, writeStateFile } from "../io/state-file.ts";
import type { DetachOutcome, StationControl } from "../io/station-control.ts";
import { CommandStationControl, newStationControlCounters, ReportingStationControl } from "../io/station-control.ts";
import { formatIpv4, parseIpv4 } from "../wire/ipv4-address.ts";
import { parseMac } from "../wire/mac.ts";
import { ActionRouter } from "./action-router.ts";
import type { BoardProfile } from "./board.ts";
import { careOfAddresses, engineConfigOf, formatProblems, loadConfigFile } from "./config-file.ts";
import { ConfigKeeper } from "./config-keeper.ts";
import type { DatapathOpeners } from "./datapath-select.ts";
import { selectDatapath } from "./datapath-select.ts";
import type { AnConfig } from "./config-schema.ts";
import { EngineDriver, realTimerHost } from "./driver.ts";
import { OncePerCause } from "./log-once.ts";
import type { DestinationStream, Logger } from "./logger.ts";
import { createLogger } from "./logger.ts";
import { EXIT } from "./process-signals.ts";
import type { SignalTarget } from "./process-signals.ts";
import { VERSION } from "./version.ts";

export interface DaemonArgs {
  readonly configPath: string;
  readonly board?: BoardProfile | undefined;
  readonly pcapPath?: string | undefined;
}

export { EXIT };

/** What start() opens and where it logs: the real ones by default, fakes in tests. */
export interface DaemonParts {
  readonly openDatapath?: (options: UserspaceDatapathOptions) => Datapath;
  /** Backends for datapath.backend (when openDatapath is not given); tests force a kernel failure. */
  readonly datapathOpeners?: DatapathOpeners;
  /** UDP port of the signalling sockets (434; tests: a free high port). */
  readonly signallingPort?: number;
  /** Log destination (default: synchronous stdout). */
  readonly logDestination?: DestinationStream;
  /** A stop requested by a signal while starting: the startup is abandoned (exit 0). */
  readonly stopRequested?: () => string | undefined;
}

/** The wall clock is handed to the engine this often (and at start): RRQ timestamps follow an NTP step. */
export const WALL_CLOCK_INTERVAL_MS = 10_000;
/** How often the state file is rewritten while sessions exist and nothing else changed. */
export const STATE_SNAPSHOT_INTERVAL_MS = 60_000;
/** Datapath counters (native calls and a getsockopt) are read at most this often after bursts. */
export const DATAPATH_SAMPLE_MS = 1000;

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

export class Daemon implements SignalTarget {
  private readonly keeper: ConfigKeeper;
  private readonly oncer: OncePerCause;
  private readonly driver: EngineDriver;
  private readonly router: ActionRouter;
  private pcap: PcapWriter | undefined;
  private telemetryTimer: ReturnType<typeof setInterval> | undefined;
  private wallClockTimer: ReturnType<typeof setInterval> | undefined;
  private lastDatapathSample = -Infinity;
  /** The care-of address of every session (from its session-started event), and sessions per address. */
  private readonly live = new Map<string, number>();
  private readonly coaUse = new Map<number, number>();
  /** Signalling sockets left over from an older config: closed once no session uses them. */
  private retiring = false;
  private stateTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly known = new Set<string>();
  private stateDirty = false;
  private lastStateSnapshot = 0;
  private readonly watched = new Map<string, number>();
  private lastTunnelTxErrors = 0;
  private reloading: Promise<void> = Promise.resolve();
  /** How a detach is carried out (stationControl.detachCommand); replaced when a reload changes the command. */
  private stations: StationControl;
  private stationCommand: readonly string[] | null;
  /** Controls replaced by a reload, finishing their running commands (closed at stop). */
  private retiredStations: CommandStationControl[] = [];
  private readonly stationCounters = newStationControlCounters();
  private stopping: Promise<number> | undefined;
  private resolveDone: (code: number) => void = () => {};
  /** Resolves with the exit code once stopped. */
  readonly done: Promise<number>;

  private constructor(
    private readonly args: DaemonArgs,
    readonly log: Logger,
    private readonly clock: Clock,
    config: AnConfig,
    private readonly accessMac: Uint8Array,
    private readonly datapath: Datapath,
    private readonly signalling: SignallingSockets,
    engine: Engine,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.keeper = new ConfigKeeper(config, accessMac);
    this.oncer = new OncePerCause(config.log.oncePerCauseS * 1000, () => clock.monotonicMs());
    this.stationCommand = config.stationControl.detachCommand;
    this.stations = this.stationControl(this.stationCommand);
    this.router = new ActionRouter({
      signalling,
      datapath,
      // Through the field: a reload may replace the control.
      stations: { detach: (mac, reason) => this.stations.detach(mac, reason), close: () => this.stations.close() },
      wallMs: () => clock.wallMs(),
      onEvent: (e) => this.onEvent(e),
      onContextChanged: (mac) => {
        this.known.add(mac);
        this.stateDirty = true;
      },
      onFlush: () => this.afterBurst(),
    });
    this.driver = new EngineDriver(engine, realTimerHost(() => clock.monotonicMs()), this.router, (where, error) =>
      // The message only: never the input, which may be a frame or a context.
      this.once(`internal error in ${where}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200), {}),
    );
  }

  /** Starts the daemon; resolves with it running, or with an exit code when it could not start. */
  static async start(args: DaemonArgs, clock: Clock = systemClock, parts: DaemonParts = {}): Promise<Daemon | number> {
    const loaded = loadConfigFile(args.configPath, args.board);
    if (!loaded.ok) {
      const log = createLogger("info", parts.logDestination);
      for (const line of formatProblems(loaded.problems)) log.error({ problem: line }, "config problem");
      log.fatal({ config: args.configPath, problems: loaded.problems.length }, "config refused: not starting");
      return EXIT.badConfig;
    }
    const config = loaded.config;
    const log = createLogger(config.log.level, parts.logDestination, { nodeId: config.nodeId });
    let datapath: Datapath;
    try {
      const options = {
        accessInterface: config.access.interface,
        uplinkInterface: config.uplink.interface,
        promiscuous: config.access.promiscuous,
        ttl: config.tunnel.ttl,
        dontFragment: config.tunnel.dontFragment,
      };
      const chosen = parts.openDatapath ? parts.openDatapath(options) : selectDatapath(config, options, log, parts.datapathOpeners);
      if (!chosen) return EXIT.startFailed;
      datapath = chosen;
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
      error: (local, error) => {
        log.error({ careOf: formatIpv4(local), err: describeError(error) }, "signalling socket failed; exiting so the supervisor restarts");
        // Without it every request from that CoA fails and no reply arrives: deaf, not degraded.
        void ref.daemon?.stop("signalling socket failed", EXIT.failed);
      },
    }, parts.signallingPort);
    const failures = await signalling.ensure(careOfAddresses(config).map(ipv4));
    const stopReason = parts.stopRequested?.();
    if (stopReason !== undefined) {
      signalling.close();
      datapath.close();
      log.info({ signal: stopReason }, "stop requested during startup: not starting");
      return EXIT.ok;
    }
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
      const path = this.args.pcapPath;
      try {
        this.pcap = PcapWriter.open(path, (e) => this.log.error({ pcap: path, code: e.code ?? null }, "pcap write failed: capture disabled, serving on"));
        this.router.pcap = this.pcap;
      } catch (e) {
        this.log.error({ pcap: path, err: describeError(e) }, "cannot open the pcap file: running without capture");
      }
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
      // Frames the kernel fast path carried: the engine's idle timer must count them.
      sessionsActive: (macs) => {
        for (const mac of macs) this.driver.input({ kind: "mn-active", mac });
        this.driver.settle();
      },
      ioError: (where, error, stopped) => {
        if (!stopped) return this.once(`io ${where}: ${error.code}`, { err: describeError(error) });
        // Deaf on that socket for good: stop cleanly (deregistering) and let the supervisor restart us.
        const socket = where.startsWith("access") ? "access" : "tunnel";
        this.log.fatal({ where, err: describeError(error) }, `${socket} socket stopped: ${error.code} ${error.syscall}; exiting so the supervisor restarts`);
        void this.stop(`${socket} socket stopped`, EXIT.failed);
      },
    });
    this.driver.settle();
    this.feedWallClock();
    this.wallClockTimer = setInterval(() => this.tick(), WALL_CLOCK_INTERVAL_MS);
    this.wallClockTimer.unref();
    this.armTelemetry();
    this.log.info(
      {
        version: VERSION,
        revision: c.revision,
        board: this.args.board?.name ?? null,
        access: this.config.access.interface,
        accessMac: [...this.accessMac].map((b) => b.toString(16).padStart(2, "0")).join(":"),
        uplink: c.uplink.interface,
        datapath: this.datapath.stats().backend ?? "userspace",
        careOf: c.careOf.mode === "pool" ? { mode: "pool", addresses: c.careOf.addresses.length } : { mode: "shared", address: c.careOf.address },
        realms: c.realms.map((r) => ({ realm: r.realm, homeAgent: r.homeAgent, spi: r.spi })),
        pcap: this.args.pcapPath ?? null,
        stateFile: c.stateFile || null,
      },
      "started",
    );
  }

  private stationControl(argv: readonly string[] | null): StationControl {
    if (argv === null) {
      return new ReportingStationControl((mac, reason) => {
        this.stationCounters.requested++;
        this.stationCounters.refused++;
        this.log.warn({ mac, reason, performed: false }, "detach requested: no link-layer control configured (stationControl.detachCommand)");
      });
    }
    return new CommandStationControl({ argv, counters: this.stationCounters, report: (o) => this.onDetachOutcome(o) });
  }

  private onDetachOutcome(o: DetachOutcome): void {
    if (o.performed) this.log.info(o, "detach performed");
    else if (o.refused !== undefined) this.log.error(o, `detach refused: ${o.refused}`);
    else this.log.error(o, o.timedOut ? "detach failed: the command timed out" : "detach failed");
  }

  /** A reload changed stationControl.detachCommand: new requests go to the new command. */
  private replaceStationControl(argv: readonly string[] | null): void {
    const old = this.stations;
    this.retiredStations = this.retiredStations.filter((r) => !r.idle);
    if (old instanceof CommandStationControl && !old.idle) this.retiredStations.push(old);
    else old.close();
    this.stationCommand = argv;
    this.stations = this.stationControl(argv);
    this.log.info({ detachCommand: argv }, "station control changed");
  }

  private closeStations(): void {
    for (const r of this.retiredStations.splice(0)) r.close();
    this.stations.close();
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
      case "session-started": {
        const coa = parseIpv4(e.careOf);
        if (coa !== null) this.trackSession(e.mac, coa);
        this.log.info({ event: e }, e.type);
        return;
      }
      case "released":
        this.known.delete(e.mac);
        this.untrackSession(e.mac);
        this.stateDirty = true;
        this.log.info({ event: e }, e.type);
        return;
      default:
        this.log.info({ event: e }, e.type);
    }
  }

  /** Every WALL_CLOCK_INTERVAL_MS: the wall clock to the engine, the datapath counters sampled. */
  private tick(): void {
    this.feedWallClock();
    this.sampleDatapath();
    // Refreshes do not mark the state dirty (one write per refresh wears flash);
    // a periodic snapshot keeps the recorded lifetimes from going stale.
    const now = this.clock.monotonicMs();
    if (this.known.size > 0 && now - this.lastStateSnapshot >= STATE_SNAPSHOT_INTERVAL_MS) {
      this.lastStateSnapshot = now;
      this.stateDirty = true;
      this.scheduleStateSave();
    }
  }

  private feedWallClock(): void {
    this.driver.feed({ kind: "wall-clock", wallMs: this.clock.wallMs() });
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
    // Not after every burst: stats() is native calls and a getsockopt.
    if (this.clock.monotonicMs() - this.lastDatapathSample >= DATAPATH_SAMPLE_MS) this.sampleDatapath();
    this.scheduleStateSave();
  }

  private scheduleStateSave(): void {
    if (this.stateDirty && this.config.stateFile && this.stateTimer === undefined && !this.stopping) {
      // At most one write a second: a burst of attaches is one write.
      this.stateTimer = setTimeout(() => {
        this.stateTimer = undefined;
        this.saveState();
      }, 1000);
    }
  }

  private sampleDatapath(): void {
    this.lastDatapathSample = this.clock.monotonicMs();
    const d = this.datapath.stats();
    if (d.tunnelTxErrors !== this.lastTunnelTxErrors) {
      this.lastTunnelTxErrors = d.tunnelTxErrors;
      this.once(`tunnel send refused: ${d.lastTunnelTxError ?? "?"}`, { count: d.tunnelTxErrors });
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
      stations: {
        command: this.stationCommand !== null,
        ...this.stationCounters,
        running: this.commandStations().reduce((n, c) => n + c.active, 0),
        queued: this.commandStations().reduce((n, c) => n + c.queued, 0),
      },
      causes: this.oncer.totals(),
      pcapRecords: this.pcap?.records ?? 0,
      inputs: this.driver.inputs,
      internalErrors: this.driver.internalErrors,
    };
  }

  private commandStations(): CommandStationControl[] {
    return [...this.retiredStations, ...(this.stations instanceof CommandStationControl ? [this.stations] : [])];
  }

  logTelemetry(): void {
    this.sampleDatapath();
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
    this.lastStateSnapshot = this.clock.monotonicMs();
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
      // Only contexts the engine took: a refused one (realm gone, no CoA) never gets
      // a release event and would keep the periodic state snapshot going forever.
      if (!this.driver.engine.session(context.mac)) continue;
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
    // Stopped while binding: the stop owns the sockets and the engine now.
    if (this.stopping) return;
    if (failures.length > 0) {
      keep(failures.map((f) => ({ path: "careOf", message: `${f.address}: ${bindHint(f.code)}` })));
      this.retireSockets(); // the ones this attempt opened
      return;
    }
    const c = offer.config;
    this.driver.engine.reconfigure(offer.engine);
    this.driver.drain();
    this.driver.settle();
    this.keeper.commit(c);
    this.log.level = c.log.level;
    this.oncer.setWindow(c.log.oncePerCauseS * 1000);
    this.datapath.setOuterHeader({ ttl: c.tunnel.ttl, dontFragment: c.tunnel.dontFragment });
    this.armTelemetry();
    this.retireSockets();
    if (!sameArgv(this.stationCommand, c.stationControl.detachCommand)) this.replaceStationControl(c.stationControl.detachCommand);
    if (offer.needsRestart.length > 0) this.log.warn({ fields: offer.needsRestart }, "changed fields take effect only after a restart");
    this.log.info({ revision: c.revision, level: c.log.level, sessions: this.driver.engine.sessionCount }, "config reloaded");
  }

  /**
   * Closes the signalling sockets of care-of addresses the config no longer lists
   * and no session uses; those still in use close when their last session goes.
   */
  private retireSockets(): void {
    const wanted = new Set(careOfAddresses(this.config).map(ipv4));
    const extra = this.signalling.addresses().filter((a) => !wanted.has(a));
    if (extra.length === 0) {
      this.retiring = false;
      return;
    }
    let kept = 0;
    for (const a of extra) {
      if (this.coaUse.has(a)) {
        kept++;
        continue;
      }
      this.signalling.release(a);
      this.log.info({ careOf: formatIpv4(a) }, "signalling socket closed: care-of address no longer in the config");
    }
    this.retiring = kept > 0;
  }

  private trackSession(mac: string, coa: number): void {
    const old = this.live.get(mac);
    if (old === coa) return;
    if (old !== undefined) this.untrackSession(mac);
    this.live.set(mac, coa);
    this.coaUse.set(coa, (this.coaUse.get(coa) ?? 0) + 1);
  }

  private untrackSession(mac: string): void {
    const coa = this.live.get(mac);
    if (coa === undefined) return;
    this.live.delete(mac);
    const n = (this.coaUse.get(coa) ?? 1) - 1;
    if (n > 0) return void this.coaUse.set(coa, n);
    this.coaUse.delete(coa);
    // The last session of a care-of address the config dropped: its socket goes now.
    if (this.retiring && !this.stopping) this.retireSockets();
  }

  /** Stops: deregisters (per config), flushes, closes every socket; resolves with the exit code. */
  stop(reason: string, code: number = EXIT.ok): Promise<number> {
    this.stopping ??= this.stopNow(reason, code);
    return this.stopping;
  }

  private async stopNow(reason: string, code: number): Promise<number> {
    // A reload in progress finishes first (it sees `stopping` and applies nothing).
    await this.reloading;
    const deregister = this.config.shutdown.deregister;
    this.log.info({ reason, deregister, sessions: this.driver.engine.sessionCount }, "stopping");
    if (this.stateTimer) clearTimeout(this.stateTimer);
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    if (this.wallClockTimer) clearInterval(this.wallClockTimer);
    // Without deregistration the bindings live on at the HA: keep them for the restart.
    if (!deregister) this.saveState();
    this.driver.input({ kind: "shutdown", deregister });
    this.driver.settle();
    this.driver.stop();
    // A detach still running is killed (and reported) while the signalling flushes.
    this.closeStations();
    await this.signalling.flushed(1000);
    if (deregister) this.saveState([]);
    this.log.info({ telemetry: this.telemetry() }, "telemetry");
    this.signalling.close();
    this.datapath.close();
    this.pcap?.close();
    this.log.info({ reason, code }, "stopped");
    this.resolveDone(code);
    return code;
  }
}

function sameArgv(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
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
