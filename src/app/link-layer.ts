// The link layer's word on stations (issue 11): hostapd's control interface for
// the access interface, turned into the engine's station-authorised / station-left
// inputs, and the detach (draft 3.2.4) carried out as a DEAUTHENTICATE through the
// same socket when no detach command is configured.
import type { EngineInput } from "../core/engine.ts";
import type { ControlStatus, OpenChannel, StationLinkEvent } from "../io/hostapd-control.ts";
import { HostapdControl, openUnixChannel } from "../io/hostapd-control.ts";
import type { DetachOutcome, DetachReason, StationControl, StationControlCounters } from "../io/station-control.ts";
import { STATION_MAC } from "../io/station-control.ts";
import type { Logger } from "./logger.ts";

export interface LinkLayerOptions {
  readonly hostapdControl: string;
  readonly missingGraceMs: number;
  readonly leaveSettleMs?: number;
  readonly feed: (input: EngineInput) => void;
  readonly log: Logger;
  /** MACs of the sessions the AN holds (restored from the state file): dropped at the first attach if hostapd has not authorised them. */
  readonly sessions: () => Iterable<string>;
  readonly open?: OpenChannel;
}

/** Malformed control messages logged at most this many times (all counted). */
const MALFORMED_LOGGED = 10;

export class LinkLayer {
  readonly control: HostapdControl;
  private firstAttach = true;
  private malformedLogged = 0;

  constructor(private readonly o: LinkLayerOptions) {
    this.control = new HostapdControl({
      path: o.hostapdControl,
      open: o.open ?? openUnixChannel,
      missingGraceMs: o.missingGraceMs,
      ...(o.leaveSettleMs !== undefined ? { leaveSettleMs: o.leaveSettleMs } : {}),
      onStation: (e) => this.onStation(e),
      onStatus: (s) => this.onStatus(s),
    });
  }

  start(): void {
    this.control.start();
  }

  stop(): void {
    this.control.stop();
  }

  private onStation(e: StationLinkEvent): void {
    switch (e.type) {
      case "authorised":
        this.o.log.info({ mac: e.mac, identity: e.identity, via: e.via }, "station authorised");
        this.o.feed(e.identity !== null ? { kind: "station-authorised", mac: e.mac, identity: e.identity } : { kind: "station-authorised", mac: e.mac });
        return;
      case "left":
        this.o.log.info({ mac: e.mac, via: e.via }, "station left");
        this.o.feed({ kind: "station-left", mac: e.mac });
        return;
      case "eap":
        this.o.log.info({ mac: e.mac, eap: e.name }, "station eap");
        return;
    }
  }

  private onStatus(s: ControlStatus): void {
    switch (s.type) {
      case "attached":
        this.o.log.info({ hostapd: s.path, stations: s.stations, afterAttempts: s.attempt }, "hostapd attached");
        if (this.firstAttach) {
          this.firstAttach = false;
          // Sessions restored from the state file: served only if hostapd says so.
          for (const mac of [...this.o.sessions()]) if (!this.control.isAuthorised(mac)) this.o.feed({ kind: "station-left", mac });
        }
        return;
      case "detached":
        // The first failure and then every 10th: a hostapd down for long must not flood the log.
        if (s.attempt === 1 || s.attempt % 10 === 0) this.o.log.warn({ hostapd: s.path, reason: s.reason, retryInMs: s.retryInMs, attempt: s.attempt }, "hostapd not attached");
        return;
      case "malformed":
        if (this.malformedLogged++ < MALFORMED_LOGGED) this.o.log.warn({ hostapd: s.path, what: s.what, error: s.error }, "hostapd sent malformed text");
        return;
    }
  }

  /** A detach as DEAUTHENTICATE through hostapd; outcomes reported as the command control's. */
  stationControl(counters: StationControlCounters, report: (o: DetachOutcome) => void): StationControl {
    let closed = false;
    return {
      detach: (mac: string, reason: DetachReason) => {
        counters.requested++;
        if (closed || !STATION_MAC.test(mac)) {
          counters.refused++;
          report({ mac, reason, performed: false, refused: closed ? "closed" : "malformed-mac" });
          return;
        }
        const started = Date.now();
        void this.control.deauthenticate(mac).then((ok) => {
          if (ok) counters.performed++;
          else counters.failed++;
          report({ mac, reason, performed: ok, durationMs: Date.now() - started, ...(ok ? {} : { error: this.control.attached ? "hostapd refused DEAUTHENTICATE" : "hostapd not attached" }) });
        });
      },
      close: () => {
        closed = true;
      },
    };
  }

  telemetry(): Record<string, unknown> {
    return { attached: this.control.attached, ...this.control.counters };
  }
}
