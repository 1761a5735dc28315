// How a DAD-failure detach reaches the link layer (stationControl.detachCommand):
// the configured command; with none, hostapd's DEAUTHENTICATE where a control
// interface is configured (`linkFallback`), else a warning that it was only requested.
// A reload may change the command: new requests go to the new one, the old one
// finishes what it runs and is closed at stop.
import type { DetachOutcome, StationControl, StationControlCounters } from "../io/station-control.ts";
import { CommandStationControl, newStationControlCounters, ReportingStationControl } from "../io/station-control.ts";
import type { Logger } from "./logger.ts";

export class StationControls implements StationControl {
  private current: StationControl;
  private argv: readonly string[] | null;
  /** Controls replaced by a reload, finishing their running commands (closed at stop). */
  private retired: CommandStationControl[] = [];
  private readonly counters = newStationControlCounters();

  constructor(
    private readonly log: Logger,
    argv: readonly string[] | null,
    /** No command but hostapd: the detach is a DEAUTHENTICATE on its control socket. */
    private readonly linkFallback?: (counters: StationControlCounters, report: (o: DetachOutcome) => void) => StationControl,
  ) {
    this.argv = argv;
    this.current = this.controlFor(argv);
  }

  detach(mac: string, reason: Parameters<StationControl["detach"]>[1]): void {
    this.current.detach(mac, reason);
  }

  /** A reload: a changed command replaces the control. */
  configure(argv: readonly string[] | null): void {
    if (sameArgv(this.argv, argv)) return;
    const old = this.current;
    this.retired = this.retired.filter((r) => !r.idle);
    if (old instanceof CommandStationControl && !old.idle) this.retired.push(old);
    else old.close();
    this.argv = argv;
    this.current = this.controlFor(argv);
    this.log.info({ detachCommand: argv }, "station control changed");
  }

  close(): void {
    for (const r of this.retired.splice(0)) r.close();
    this.current.close();
  }

  telemetry(): Record<string, unknown> {
    const commands = [...this.retired, ...(this.current instanceof CommandStationControl ? [this.current] : [])];
    return {
      command: this.argv !== null,
      ...this.counters,
      running: commands.reduce((n, c) => n + c.active, 0),
      queued: commands.reduce((n, c) => n + c.queued, 0),
    };
  }

  private controlFor(argv: readonly string[] | null): StationControl {
    if (argv === null && this.linkFallback) return this.linkFallback(this.counters, (o) => this.onOutcome(o));
    if (argv === null) {
      return new ReportingStationControl((mac, reason) => {
        this.counters.requested++;
        this.counters.refused++;
        this.log.warn({ mac, reason, performed: false }, "detach requested: no link-layer control configured (stationControl.detachCommand)");
      });
    }
    return new CommandStationControl({ argv, counters: this.counters, report: (o) => this.onOutcome(o) });
  }

  private onOutcome(o: DetachOutcome): void {
    if (o.performed) this.log.info(o, "detach performed");
    else if (o.refused !== undefined) this.log.error(o, `detach refused: ${o.refused}`);
    else this.log.error(o, o.timedOut ? "detach failed: the command timed out" : "detach failed");
  }
}

function sameArgv(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
