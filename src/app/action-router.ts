// Carries out the engine's actions with the io adapters: signalling to UDP 434,
// packets to the datapath, detach to the station control, events to the log.
// (The --pcap record is taken by the ports themselves: io/recording-ports.ts.)
import type { Action, AnEvent } from "../core/events.ts";
import type { Datapath } from "../io/datapath.ts";
import type { StationControl } from "../io/station-control.ts";
import type { ActionSink } from "./driver.ts";

/** The part of SignallingSockets the router needs (fakes in tests). */
export interface SignallingPort {
  send(from: number, to: number, toPort: number, bytes: Uint8Array): boolean;
}

export type DatapathPort = Pick<Datapath, "toTunnel" | "toMn" | "bind" | "unbind" | "flush">;

export interface ActionRouterParts {
  readonly signalling: SignallingPort;
  readonly datapath: DatapathPort;
  readonly stations: StationControl;
  readonly onEvent: (event: AnEvent) => void;
  readonly onContextChanged: (mac: string) => void;
  /** A station without a session sent a non-trigger frame (the handover fetch looks for its context). */
  readonly onUnknownStation?: (mac: string, frame: Uint8Array, trigger: boolean) => void;
  /** After each flush (a burst of inputs handled). */
  readonly onFlush?: () => void;
}

/** IPv6 packets (no outer or Ethernet header) the engine forwarded, each way: the slow path's share of the traffic. */
export interface ForwardedTraffic {
  uplinkPackets: number;
  uplinkBytes: number;
  downlinkPackets: number;
  downlinkBytes: number;
}

export class ActionRouter implements ActionSink {
  /** Signalling the router could not hand to a socket. */
  signallingDropped = 0;
  /** Issue 10: bytes each way (the datapath counts packets only; the kernel fast path counts its own). */
  readonly forwarded: ForwardedTraffic = { uplinkPackets: 0, uplinkBytes: 0, downlinkPackets: 0, downlinkBytes: 0 };

  constructor(private readonly parts: ActionRouterParts) {}

  perform(_now: number, a: Action): void {
    const p = this.parts;
    switch (a.kind) {
      case "send-signalling":
        if (!p.signalling.send(a.from, a.to, a.toPort, a.bytes)) this.signallingDropped++;
        return;
      case "to-tunnel":
        this.forwarded.uplinkPackets++;
        this.forwarded.uplinkBytes += a.packet.length;
        p.datapath.toTunnel(a.tunnel, a.packet, a.mac);
        return;
      case "to-peer":
        p.datapath.toTunnel(a.tunnel, a.packet);
        return;
      case "to-mn":
        this.forwarded.downlinkPackets++;
        this.forwarded.downlinkBytes += a.packet.length;
        p.datapath.toMn(a.dst, a.src, a.packet);
        return;
      case "bind":
        p.datapath.bind(a.mac, a.tunnel, a.downlinkKey);
        return;
      case "unbind":
        p.datapath.unbind(a.mac);
        return;
      case "detach":
        p.stations.detach(a.mac, "dad-failure");
        return;
      case "context-changed":
        p.onContextChanged(a.mac);
        return;
      case "unknown-station":
        p.onUnknownStation?.(a.mac, a.frame, a.trigger);
        return;
      case "event":
        p.onEvent(a.event);
        return;
    }
  }

  flush(_now: number): void {
    this.parts.datapath.flush();
    this.parts.onFlush?.();
  }
}
