// `an run`: the running firmware. Opens the ports (daemon-start.ts), builds the
// engine from the config, and wires them through the driver. Signals (installed
// by main, see process-signals.ts): SIGHUP reloads the config (last good config
// kept on error), SIGUSR2 logs a telemetry line now, SIGTERM/SIGINT stop
// cleanly. A receive socket that stops, or an uncaught exception, ends the
// process non-zero for the supervisor to restart.
//
// The daemon's other jobs each have their own file: the state file
// (restart-state.ts), telemetry (telemetry-sampler.ts), event logging
// (event-log.ts), station controls (station-controls.ts), the --pcap recording
// (io/recording-ports.ts). What the engine knows (sessions, CoAs in use) is
// asked of the engine, never mirrored here.
import { Engine } from "../core/engine.ts";
import type { AnEvent } from "../core/events.ts";
import { CarrierWatch } from "../io/carrier-watch.ts";
import type { Clock } from "../io/clock.ts";
import { systemClock, systemRandom } from "../io/clock.ts";
import type { Datapath } from "../io/datapath.ts";
import { PcapWriter } from "../io/pcap-writer.ts";
import { pcapWallMs, PortRecorder } from "../io/recording-ports.ts";
import type { SignallingSockets } from "../io/signalling-sockets.ts";
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { ActionRouter } from "./action-router.ts";
import type { LoadedConfig } from "./config-file.ts";
import { careOfAddresses, formatProblems } from "./config-file.ts";
import { ConfigKeeper } from "./config-keeper.ts";
import type { AnConfig } from "./config-schema.ts";
import { bindHint, ipv4, openPorts } from "./daemon-start.ts";
import type { DaemonArgs, DaemonParts } from "./daemon-start.ts";
import { DaemonFleet } from "./daemon-fleet.ts";
import { EngineDriver, realTimerHost } from "./driver.ts";
import { describeError } from "./errors.ts";
import { EventLog } from "./event-log.ts";
import type { ApplyOutcome } from "./fleet-agent.ts";
import type { Logger } from "./logger.ts";
import { EXIT } from "./process-signals.ts";
import type { SignalTarget } from "./process-signals.ts";
import { loadEffectiveConfig } from "./remote-config.ts";
import { RestartState } from "./restart-state.ts";
import { RESUME_HOLD_MS } from "./resume-check.ts";
import { LinkLayer } from "./link-layer.ts";
import { StationControls } from "./station-controls.ts";
import { TelemetrySampler } from "./telemetry-sampler.ts";
import { VERSION } from "./version.ts";

export type { DaemonArgs, DaemonParts } from "./daemon-start.ts";
export { STATE_SNAPSHOT_INTERVAL_MS } from "./restart-state.ts";
export { DATAPATH_SAMPLE_MS } from "./telemetry-sampler.ts";
export { EXIT };

/** The wall clock is handed to the engine this often (and at start): RRQ timestamps follow an NTP step. */
export const WALL_CLOCK_INTERVAL_MS = 10_000;

export class Daemon implements SignalTarget {
  private readonly keeper: ConfigKeeper;
  private readonly events: EventLog;
  private readonly driver: EngineDriver;
  private readonly router: ActionRouter;
  private readonly stations: StationControls;
  /** hostapd's control interface (linkLayer.hostapdControl), if configured. */
  private readonly linkLayer: LinkLayer | undefined;
  private readonly state: RestartState;
  private readonly sampler: TelemetrySampler;
  private wallClockTimer: ReturnType<typeof setInterval> | undefined;
  /** Signalling sockets left over from an older config: closed once no session uses them. */
  private retiring = false;
  private reloading: Promise<void> = Promise.resolve();
  private stopping: Promise<number> | undefined;
  /** The fleet over MQTT (config.fleet); never awaited by the data plane. */
  private fleet: DaemonFleet | undefined;
  private configSource: { readonly from: string; readonly note?: string } | undefined;
  /** issue 9 item 4: the access port's carrier, watched when the board says it is per-station. */
  private carrierWatch: CarrierWatch | undefined;
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
    private readonly recorder: PortRecorder,
    engine: Engine,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.keeper = new ConfigKeeper(config, accessMac);
    this.events = new EventLog(log, config.log.oncePerCauseS * 1000, () => clock.monotonicMs());
    this.linkLayer =
      config.linkLayer.hostapdControl === ""
        ? undefined
        : new LinkLayer({
            hostapdControl: config.linkLayer.hostapdControl,
            missingGraceMs: config.linkLayer.missingGraceS * 1000,
            leaveSettleMs: config.linkLayer.leaveSettleMs,
            feed: (input) => this.driver.feed(input),
            log,
            sessions: () => [...this.driver.engine.sessions()].map((s) => s.mac),
          });
    const link = this.linkLayer;
    this.stations = new StationControls(log, config.stationControl.detachCommand, link ? (counters, report) => link.stationControl(counters, report) : undefined);
    this.router = new ActionRouter({
      signalling: recorder.signalling(signalling, signalling.port),
      datapath,
      stations: this.stations,
      onEvent: (e) => this.onEvent(e),
      onContextChanged: (mac) => {
        this.state.markDirty();
        this.fleet?.contextChanged(mac);
      },
      onUnknownStation: (mac, frame, trigger) => this.fleet?.unknownStation(mac, frame, trigger),
      onFlush: () => {
        this.sampler.afterBurst();
        this.state.scheduleSave();
      },
    });
    this.driver = new EngineDriver(engine, realTimerHost(() => clock.monotonicMs()), this.router, (where, error) =>
      // The message only: never the input, which may be a frame or a context.
      this.events.once(`internal error in ${where}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200), {}),
    );
    this.state = new RestartState(() => this.config.stateFile, this.driver, clock, log, this.events, () => this.stopping !== undefined);
    this.sampler = new TelemetrySampler({ driver: this.driver, datapath, signalling, router: this.router, stations: this.stations, linkLayer: this.linkLayer, events: this.events, recorder, clock, log });
  }

  /** Starts the daemon; resolves with it running, or with an exit code when it could not start. */
  static async start(args: DaemonArgs, clock: Clock = systemClock, parts: DaemonParts = {}): Promise<Daemon | number> {
    const ref: { daemon?: Daemon; log?: Logger } = {};
    const recorder = new PortRecorder(() => pcapWallMs(clock)); // issue 9 item 5: microseconds
    const opened = await openPorts(args, parts, recorder, {
      // issue 9 item 5: `local`, so the acknowledgement leaves from where the revocation was sent to.
      message: (from, fromPort, local, bytes) => ref.daemon?.driver.feed({ kind: "signalling", from, fromPort, local, bytes }),
      error: (local, error) => {
        ref.log?.error({ careOf: formatIpv4(local), err: describeError(error) }, "signalling socket failed; exiting so the supervisor restarts");
        // Without it every request from that CoA fails and no reply arrives: deaf, not degraded.
        void ref.daemon?.stop("signalling socket failed", EXIT.failed);
      },
    });
    if (typeof opened === "number") return opened;
    ref.log = opened.log;
    const engine = new Engine(opened.engineConfig, { random: systemRandom(), wallOffsetMs: clock.wallMs() - clock.monotonicMs() });
    const daemon = new Daemon(args, opened.log, clock, opened.config, opened.accessMac, opened.datapath, opened.signalling, recorder, engine);
    daemon.configSource = opened.configSource;
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
        this.recorder.attach(PcapWriter.open(path, (e) => this.log.error({ pcap: path, code: e.code ?? null }, "pcap write failed: capture disabled, serving on")));
      } catch (e) {
        this.log.error({ pcap: path, err: describeError(e) }, "cannot open the pcap file: running without capture");
      }
    }
    // In a fleet, the resumed refreshes wait (bounded) for the check that the MN did not move meanwhile (resume-check.ts).
    const checkResumes = DaemonFleet.canCheckResumes(c);
    const resumed = this.state.restore(checkResumes ? RESUME_HOLD_MS : 0);
    this.datapath.start({
      frameFromMn: (frame) => this.driver.input({ kind: "frame-from-mn", frame }),
      tunnelPacket: (outerSrc, outerDst, greKey, packet) => this.driver.input({ kind: "tunnel-packet", outerSrc, outerDst, greKey, packet }),
      tunnelPacketDropped: (cause) => this.events.once(cause, {}),
      // RFC 4213 3.4: ICMPv4 errors about tunnel packets are logged as tunnel errors (once per cause).
      tunnelIcmpError: (r) => this.events.once(`ICMPv4 error ${r.type}/${r.code} from ${r.from} about the tunnel to ${r.homeAgent}`, { pathMtu: r.pathMtu }),
      batchDone: () => this.driver.settle(),
      // Frames the kernel fast path carried: the engine's idle timer must count them.
      sessionsActive: (macs) => {
        for (const mac of macs) this.driver.input({ kind: "mn-active", mac });
        this.driver.settle();
      },
      ioError: (where, error, stopped) => {
        if (!stopped) {
          this.events.once(`io ${where}: ${error.code}`, { err: describeError(error) });
          return;
        }
        // Deaf on that socket for good: stop cleanly (deregistering) and let the supervisor restart us.
        const socket = where.startsWith("access") ? "access" : "tunnel";
        this.log.fatal({ where, err: describeError(error) }, `${socket} socket stopped: ${error.code} ${error.syscall}; exiting so the supervisor restarts`);
        void this.stop(`${socket} socket stopped`, EXIT.failed);
      },
    });
    this.driver.settle();
    this.linkLayer?.start();
    // issue 9 item 4: a per-station wired access port losing its carrier: its stations left.
    if (c.access.perStationPort) this.carrierWatch = new CarrierWatch({ interface: c.access.interface, onChange: (up) => this.onAccessCarrier(up) }).start();
    this.feedWallClock();
    this.wallClockTimer = setInterval(() => this.tick(), WALL_CLOCK_INTERVAL_MS);
    this.wallClockTimer.unref();
    this.sampler.arm(c.telemetry.intervalS);
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
        hostapd: c.linkLayer.hostapdControl || null,
        configFrom: this.configSource ?? null,
        fleet: c.fleet ? { url: c.fleet.url, prefix: c.fleet.prefix } : null,
      },
      "started",
    );
    this.fleet = DaemonFleet.start({
      log: this.log,
      board: this.args.board,
      config: () => this.config,
      apply: (candidate) => this.applyConfig(candidate),
      telemetry: () => {
        this.sampler.sampleDatapath();
        return this.telemetry();
      },
      sessionCount: () => this.driver.engine.sessionCount,
      exportContext: (mac) => this.driver.engine.exportContext(this.driver.now(), mac),
      hasSession: (mac) => this.driver.engine.session(mac) !== undefined,
      releasable: (mac, careOf) => this.driver.engine.releasable(this.driver.now(), mac, careOf),
      feed: (input) => this.driver.feed(input),
      stopping: () => this.stopping !== undefined,
      wallMs: () => this.clock.wallMs(),
      monotonicMs: () => this.clock.monotonicMs(),
    });
    if (checkResumes && resumed && resumed.macs.length > 0) {
      if (this.fleet) this.fleet.checkResumed(resumed.macs, resumed.savedAtWallMs);
      else {
        // The fleet did not start: nobody will check, refresh now as without a fleet.
        for (const mac of resumed.macs) this.driver.input({ kind: "resume-checked", mac });
        this.driver.settle();
      }
    }
  }

  private onEvent(e: AnEvent): void {
    // A forged or malformed packet's event goes to the fleet only when it is logged (once per cause per window).
    const logged = this.events.event(e);
    if (logged) this.fleet?.event(e);
    if (e.type === "released") {
      // The last session of a care-of address the config dropped: its socket goes now.
      if (this.retiring && !this.stopping) this.retireSockets();
      this.state.markDirty();
    }
  }

  /** Every WALL_CLOCK_INTERVAL_MS: the wall clock to the engine, the datapath counters sampled, the state snapshot, once-per-cause summaries. */
  private tick(): void {
    this.feedWallClock();
    this.sampler.sampleDatapath();
    this.state.tick();
    this.events.summarize();
  }

  private feedWallClock(): void {
    this.driver.feed({ kind: "wall-clock", wallMs: this.clock.wallMs() });
  }

  /**
   * issue 9 item 4: the link layer says a station left (a link-layer adapter, the
   * access port's carrier): its session deregisters (lifetime 0), counted as
   * stationsLeft. Unknown MACs are ignored.
   */
  stationLeft(mac: string): void {
    if (this.stopping) return;
    this.driver.feed({ kind: "station-left", mac });
  }

  private onAccessCarrier(up: boolean): void {
    const stations = [...this.driver.engine.sessions()].map((s) => s.mac);
    this.log.info({ interface: this.config.access.interface, carrier: up, stations: up ? 0 : stations.length }, up ? "access port carrier back" : "access port lost its carrier: its stations left");
    if (!up) for (const mac of stations) this.stationLeft(mac);
  }

  telemetry(): Record<string, unknown> {
    return { ...this.sampler.telemetry(), ...(this.fleet ? this.fleet.stats() : {}) };
  }

  logTelemetry(): void {
    this.sampler.logTelemetry();
  }

  // ---- reload ----------------------------------------------------------------------------

  /** SIGHUP: validate the file (or the stored remote config) again; apply it whole or keep the last good config. */
  reload(): Promise<void> {
    return this.applyConfig(() => loadEffectiveConfig(this.args.configPath, this.args.board)).then(() => undefined);
  }

  /** The one way a config is replaced (SIGHUP, the fleet): serialized, applied whole or not at all. */
  applyConfig(candidate: LoadedConfig | (() => LoadedConfig)): Promise<ApplyOutcome> {
    const run = this.reloading.then(() => this.reloadNow(typeof candidate === "function" ? candidate() : candidate));
    this.reloading = run.then(
      () => undefined,
      (e: unknown) => this.log.error({ err: describeError(e) }, "reload failed"),
    );
    return run.catch((e: unknown) => ({ ok: false as const, problems: [{ path: "(apply)", message: e instanceof Error ? e.message : String(e) }] }));
  }

  private async reloadNow(candidate: LoadedConfig): Promise<ApplyOutcome> {
    const stopping: ApplyOutcome = { ok: false, problems: [{ path: "(daemon)", message: "stopping" }] };
    if (this.stopping) return stopping;
    const offer = this.keeper.offer(candidate);
    const keep = (problems: readonly { path: string; message: string }[]): ApplyOutcome => {
      for (const line of formatProblems(problems)) this.log.error({ problem: line }, "config problem");
      this.log.error({ problems: problems.length, keptRevision: this.config.revision }, "config reload refused: keeping the last good config");
      return { ok: false, problems };
    };
    if (!offer.ok) return keep(offer.problems);
    const failures = await this.signalling.ensure(careOfAddresses(offer.config).map(ipv4));
    // Stopped while binding: the stop owns the sockets and the engine now.
    if (this.stopping) return stopping;
    if (failures.length > 0) {
      const out = keep(failures.map((f) => ({ path: "careOf", message: `${f.address}: ${bindHint(f.code)}` })));
      this.retireSockets(); // the ones this attempt opened
      return out;
    }
    const c = offer.config;
    this.driver.engine.reconfigure(offer.engine);
    this.driver.drain();
    this.driver.settle();
    this.keeper.commit(c);
    this.log.level = c.log.level;
    this.events.setWindow(c.log.oncePerCauseS * 1000);
    this.datapath.setOuterHeader({ ttl: c.tunnel.ttl, dontFragment: c.tunnel.dontFragment });
    this.sampler.arm(c.telemetry.intervalS);
    this.retireSockets();
    this.stations.configure(c.stationControl.detachCommand);
    if (offer.needsRestart.length > 0) this.log.warn({ fields: offer.needsRestart }, "changed fields take effect only after a restart");
    this.log.info({ revision: c.revision, level: c.log.level, sessions: this.driver.engine.sessionCount }, "config reloaded");
    return { ok: true, needsRestart: offer.needsRestart };
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
      if (this.driver.engine.careOfInUse(a)) {
        kept++;
        continue;
      }
      this.signalling.release(a);
      this.log.info({ careOf: formatIpv4(a) }, "signalling socket closed: care-of address no longer in the config");
    }
    this.retiring = kept > 0;
  }

  // ---- stop -------------------------------------------------------------------------------

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
    this.state.cancel();
    this.sampler.stop();
    if (this.wallClockTimer) clearInterval(this.wallClockTimer);
    // Without deregistration the bindings live on at the HA: keep them for the restart.
    if (!deregister) this.state.save();
    this.carrierWatch?.stop();
    this.driver.input({ kind: "shutdown", deregister });
    this.driver.settle();
    // issue 9 item 5: deregistrations waiting for their 1 s slot (RFC 5944 3.6.3) go out first.
    for (let i = 0; i < 60 && this.driver.engine.shutdownPending > 0; i++) await new Promise((r) => setTimeout(r, 25));
    this.driver.stop();
    this.linkLayer?.stop();
    // A detach still running is killed (and reported) while the signalling flushes.
    this.stations.close();
    await this.signalling.flushed(1000);
    if (deregister) this.state.save([]);
    await this.fleet?.stop(reason);
    this.log.info({ telemetry: this.telemetry() }, "telemetry");
    this.signalling.close();
    this.datapath.close();
    this.recorder.close();
    this.log.info({ reason, code }, "stopped");
    this.resolveDone(code);
    return code;
  }
}
