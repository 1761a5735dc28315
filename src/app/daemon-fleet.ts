// The daemon's side of the fleet (config.fleet): the MQTT agent (status, remote
// config, telemetry, events, context records) and, with fleet keys configured, the
// context fetch for stations that arrive without a session (handover in). Nothing
// here is awaited by the data plane: the engine is fed, never held.
import type { EngineInput } from "../core/engine.ts";
import type { AnEvent } from "../core/events.ts";
import type { CareOf } from "../core/care-of.ts";
import type { SessionContext } from "../core/context.ts";
import type { BoardProfile } from "./board.ts";
import type { LoadedConfig } from "./config-file.ts";
import type { AnConfig } from "./config-schema.ts";
import type { ApplyOutcome } from "./fleet-agent.ts";
import { FleetAgent } from "./fleet-agent.ts";
import { HandoverFetch } from "./handover-fetch.ts";
import type { Logger } from "./logger.ts";
import { checkResumes } from "./resume-check.ts";

export interface FleetHost {
  readonly log: Logger;
  readonly board: BoardProfile | undefined;
  config(): AnConfig;
  apply(candidate: LoadedConfig): Promise<ApplyOutcome>;
  telemetry(): Record<string, unknown>;
  sessionCount(): number;
  exportContext(mac: string): SessionContext | undefined;
  hasSession(mac: string): boolean;
  /** A session, or a revoked one still lingering: a release has something to let go (and forward). */
  releasable(mac: string, careOf?: CareOf): boolean;
  feed(input: EngineInput): void;
  stopping(): boolean;
  wallMs(): number;
  monotonicMs(): number;
}

export class DaemonFleet {
  /** MACs whose leave window ran out: their deregistration does not clear the record (event()). */
  private readonly leftElsewhere = new Set<string>();

  private constructor(
    private readonly agent: FleetAgent,
    private readonly handover: HandoverFetch | undefined,
    private readonly host: FleetHost,
  ) {}

  /** Undefined without a fleet section, or when the agent cannot start (logged: the AN serves on without it). */
  static start(host: FleetHost): DaemonFleet | undefined {
    const fleetConfig = host.config().fleet;
    if (!fleetConfig) return undefined;
    const f = FleetAgent.start({
      log: host.log,
      board: host.board,
      config: () => host.config(),
      apply: (candidate) => host.apply(candidate),
      telemetry: () => host.telemetry(),
      sessions: () => host.sessionCount(),
      exportContext: (mac) => host.exportContext(mac),
      release: (mac, forwardTo, from) => {
        // Only the session the asker took over (its record's CoA): a newer one is the MN back here.
        if (!host.releasable(mac, from)) {
          // The engine keeps the newer one and counts the request (releasesNotOurs): without
          // this feed that counter never moved in the daemon.
          if (from && host.releasable(mac)) host.feed({ kind: "hand-over", mac, forwardTo, careOf: from });
          return false;
        }
        host.feed({ kind: "hand-over", mac, forwardTo, ...(from ? { careOf: from } : {}) });
        return true;
      },
      wallMs: () => host.wallMs(),
    });
    if ("error" in f) {
      host.log.error({ problem: f.error }, "fleet not started: serving without the broker");
      return undefined;
    }
    const handover =
      Object.keys(fleetConfig.fleetKeys).length === 0
        ? undefined
        : new HandoverFetch({
            fetch: (mac) => f.fetchRecord(mac),
            importContext: (fetched, askedAt) => {
              const { signer } = fetched;
              // A session started meanwhile (a trigger arrived): it stands.
              if (host.stopping() || host.hasSession(fetched.context.mac)) return;
              // Our own record: the MN is back before the AN we released it to wrote its own
              // (A -> B -> A). That AN forwards to us from the CoA it named for the MN, not
              // from our old one: the window that takes its 6in4 must name that CoA.
              const taken = signer === host.config().nodeId ? f.takenBy(fetched.context.mac) : undefined;
              const context = taken ? { ...fetched.context, careOf: { address: taken.careOf, greKey: null } } : fetched.context;
              host.log.info({ mac: context.mac, nai: context.nai, from: signer }, "context record imported: registering at once");
              // The handover's interruption is measured from the frame that started the fetch (issue 10).
              host.feed({ kind: "import-context", context, resume: false, firstSeenAt: askedAt });
              // The old AN lets go (no deregistration: our registration replaces its binding) and
              // forwards what the HA still sends it to our CoA for the MN (handover-forward.ts).
              // Asked again while unanswered (fleet-agent.ts), as long as this session stands.
              const ours = host.exportContext(context.mac);
              if (ours) {
                const coa = ours.careOf;
                const wanted = (): boolean => {
                  const now = host.exportContext(context.mac)?.careOf;
                  return !host.stopping() && now !== undefined && now.address === coa.address && now.greKey === coa.greKey;
                };
                void f.requestRelease(signer, context.mac, coa.address, undefined, { wanted, from: context.careOf });
              }
            },
            noContext: (mac) => {
              if (host.stopping() || host.hasSession(mac)) return;
              // No record (or the broker is down): a fresh registration, so the MN keeps its address all the same.
              host.log.info({ mac, broker: f.connected ? "connected" : "unreachable" }, "no context record: registering from scratch");
              host.feed({ kind: "register-station", mac });
            },
            // The frame that asked goes to the engine again, now that it has a session (held until bound).
            replay: (frame) => host.feed({ kind: "frame-from-mn", frame }),
            nowMs: () => host.monotonicMs(),
          });
    return new DaemonFleet(f, handover, host);
  }

  /** Whether a restart's resumed sessions can be checked (fleet keys to verify other ANs' records). */
  static canCheckResumes(config: AnConfig): boolean {
    return config.fleet !== undefined && Object.keys(config.fleet.fleetKeys).length > 0;
  }

  /**
   * After a restart: asks the broker for each resumed MAC's record and tells the
   * engine to refresh it, or to drop it when another AN bound the MN after
   * `savedAtWallMs` (resume-check.ts). Bounded; nothing waits for it.
   */
  checkResumed(macs: readonly string[], savedAtWallMs: number): void {
    const host = this.host;
    void checkResumes({
      macs,
      savedAtWallMs,
      self: host.config().nodeId,
      whenConnected: (ms) => this.agent.whenConnected(ms),
      fetch: (mac, timeoutMs) => this.agent.fetchRecord(mac, timeoutMs, { remember: false }),
      verdict: (mac, supersededBy) => {
        if (!host.stopping()) host.feed({ kind: "resume-checked", mac, ...(supersededBy !== undefined ? { supersededBy } : {}) });
      },
      nowMs: () => host.monotonicMs(),
      log: host.log,
    });
  }

  unknownStation(mac: string, frame?: Uint8Array, trigger = false): void {
    this.handover?.unknownStation(mac, frame, trigger);
  }

  contextChanged(mac: string): void {
    const ctx = this.host.exportContext(mac);
    if (ctx) this.agent.publishContext(ctx);
  }

  event(e: AnEvent): void {
    this.agent.event(e);
    if (e.type === "session-started") this.handover?.sessionStarted(e.mac);
    // Issue 10: a leave window that ran out (no release, no revocation) deregisters
    // 1.5 s after the MN left: the new AN may have published its record on the same
    // topic by then, so that deregistration leaves the record (it expires with the
    // binding's lifetime). Kept until the session's release: bounded by the sessions.
    if (e.type === "leave-hold-ended" && e.outcome === "expired" && e.revoked !== true) this.leftElsewhere.add(e.mac);
    // Superseded (a restart found another AN's newer record): that record is the MN's now.
    if (e.type === "released" && !this.leftElsewhere.delete(e.mac) && e.reason !== "handed-over" && e.reason !== "revoked" && e.reason !== "superseded") this.agent.clearContext(e.mac);
    // A refresh extends the binding: the record (whose expiry is the binding's) is written again.
    if (e.type === "refreshed") this.contextChanged(e.mac);
  }

  stats(): Record<string, unknown> {
    return { fleet: this.agent.stats(), ...(this.handover ? { handoverFetch: this.handover.stats() } : {}) };
  }

  stop(reason: string): Promise<void> {
    return this.agent.stop(reason);
  }
}
