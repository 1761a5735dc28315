// Telemetry: the line SIGUSR2 and `telemetry.intervalS` log (every counter), and
// the sampling after bursts that turns counter increases without events of
// their own into once-per-cause warnings.
import type { EngineCounters } from "../core/counters.ts";
import type { Clock } from "../io/clock.ts";
import type { Datapath, FastPathStats } from "../io/datapath.ts";
import type { PortRecorder } from "../io/recording-ports.ts";
import type { SignallingSockets } from "../io/signalling-sockets.ts";
import type { ActionRouter, ForwardedTraffic } from "./action-router.ts";
import type { EngineDriver } from "./driver.ts";
import type { EventLog } from "./event-log.ts";
import type { Logger } from "./logger.ts";
import type { StationControls } from "./station-controls.ts";

/** Datapath counters (native calls and a getsockopt) are read at most this often after bursts. */
export const DATAPATH_SAMPLE_MS = 1000;

/** Engine counters whose increase is logged (once per cause): they have no event of their own. */
const WATCHED_COUNTERS: readonly (keyof EngineCounters)[] = [
  "framesMalformed",
  "framesNotIpv6",
  "framesUnknownMnNonTrigger",
  "framesDroppedNoService",
  "framesUnauthorised",
  "packetsFromTunnelUnmatched",
  "packetsFromTunnelWrongSource",
  "packetsFromTunnelMalformed",
  "repliesUnmatched",
  "signallingUnexpectedType",
  "revocationsUnmatched",
  "revocationsReplayed",
  "contextsRejected",
];

export interface TelemetrySources {
  readonly driver: EngineDriver;
  readonly datapath: Datapath;
  readonly signalling: SignallingSockets;
  readonly router: ActionRouter;
  readonly stations: StationControls;
  /** hostapd's control interface, when configured. */
  readonly linkLayer?: { telemetry(): unknown } | undefined;
  readonly events: EventLog;
  readonly recorder: PortRecorder;
  readonly clock: Clock;
  readonly log: Logger;
}

export class TelemetrySampler {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastDatapathSample = -Infinity;
  private readonly watched = new Map<string, number>();
  private lastTunnelTxErrors = 0;

  constructor(private readonly s: TelemetrySources) {}

  /** After every burst: counters without events of their own. */
  afterBurst(): void {
    const counters = this.s.driver.engine.counters;
    for (const name of WATCHED_COUNTERS) {
      const v = counters[name];
      if (v !== (this.watched.get(name) ?? 0)) {
        this.watched.set(name, v);
        this.s.events.once(`counter ${name}`, { count: v });
      }
    }
    // Not after every burst: stats() is native calls and a getsockopt.
    if (this.s.clock.monotonicMs() - this.lastDatapathSample >= DATAPATH_SAMPLE_MS) this.sampleDatapath();
  }

  sampleDatapath(): void {
    this.lastDatapathSample = this.s.clock.monotonicMs();
    const d = this.s.datapath.stats();
    if (d.tunnelTxErrors !== this.lastTunnelTxErrors) {
      this.lastTunnelTxErrors = d.tunnelTxErrors;
      this.s.events.once(`tunnel send refused: ${d.lastTunnelTxError ?? "?"}`, { count: d.tunnelTxErrors });
    }
  }

  telemetry(): Record<string, unknown> {
    const { driver, datapath, signalling, router, stations, events, recorder } = this.s;
    const e = driver.engine;
    const d = datapath.stats();
    const sessionsByState: Record<string, number> = {};
    for (const s of e.sessions()) sessionsByState[s.state] = (sessionsByState[s.state] ?? 0) + 1;
    const registrations = e.registrationTelemetry();
    const m = process.memoryUsage();
    return {
      sessions: e.sessionCount,
      sessionsByState,
      heldFrames: e.heldFrames,
      heldBytes: e.heldBytes,
      engine: { ...e.counters },
      // Issue 10 (README "The fleet over MQTT", telemetry fields).
      registrationsByCode: registrations.byCode,
      registrationRttMs: registrations.rttMs,
      handovers: { in: e.counters.handoversIn, out: e.counters.handoversOut, interruptionMs: e.handoverInterruption() },
      traffic: trafficEachWay(router.forwarded, d.fastPath),
      memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external },
      datapath: d,
      signalling: { ...signalling.stats(), dropped: router.signallingDropped },
      stations: stations.telemetry(),
      causes: events.totals(),
      linkLayer: this.s.linkLayer?.telemetry() ?? null,
      pcapRecords: recorder.records,
      inputs: driver.inputs,
      internalErrors: driver.internalErrors,
    };
  }

  logTelemetry(): void {
    this.sampleDatapath();
    this.s.log.info({ telemetry: this.telemetry() }, "telemetry");
  }

  /** (Re)arms the periodic line; 0 s: none. */
  arm(intervalS: number): void {
    this.stop();
    if (intervalS > 0) this.timer = setInterval(() => this.logTelemetry(), intervalS * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** IPv6 packets and bytes each way: what the engine forwarded plus what the kernel fast path carried. */
export function trafficEachWay(slow: ForwardedTraffic, fast: FastPathStats | undefined): { uplink: { packets: number; bytes: number }; downlink: { packets: number; bytes: number } } {
  return {
    uplink: { packets: slow.uplinkPackets + (fast?.uplinkPackets ?? 0), bytes: slow.uplinkBytes + (fast?.uplinkBytes ?? 0) },
    downlink: { packets: slow.downlinkPackets + (fast?.downlinkPackets ?? 0), bytes: slow.downlinkBytes + (fast?.downlinkBytes ?? 0) },
  };
}
