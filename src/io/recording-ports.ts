// `--pcap`: one recorder over the two ports the AN talks through. The signalling
// port is recorded both ways (every UDP datagram, with the socket's real port),
// the datapath for Neighbor Discovery only (frames from the MN and packets to
// it; data traffic is left out). Wrap the ports once at start; the writer is
// attached when the capture opens and detached when it closes or fails.
import type { Clock } from "./clock.ts";
import type { Datapath, DatapathHandlers } from "./datapath.ts";
import { isRecordedNd, isRecordedNdPacket } from "./pcap-writer.ts";
import type { PcapWriter } from "./pcap-writer.ts";
import type { SignallingHandlers } from "./signalling-sockets.ts";

/** issue 9 item 5: pcap timestamps with microseconds when the clock has them. */
export function pcapWallMs(clock: Clock): number {
  return clock.preciseWallMs?.() ?? clock.wallMs();
}

/** The sending side of the signalling sockets. */
export interface SignallingSend {
  send(from: number, to: number, toPort: number, bytes: Uint8Array): boolean;
}

export class PortRecorder {
  private writer: PcapWriter | undefined;

  constructor(private readonly wallMs: () => number) {}

  /** Starts (or, with undefined, stops) recording into this writer. */
  attach(writer: PcapWriter | undefined): void {
    this.writer = writer;
  }

  get records(): number {
    return this.writer?.records ?? 0;
  }

  close(): void {
    this.writer?.close();
  }

  /** Receive handlers for the signalling sockets (listening on `port`) that record first. */
  signallingHandlers(inner: SignallingHandlers, port: number): SignallingHandlers {
    return {
      message: (from, fromPort, local, bytes) => {
        this.writer?.udp(this.wallMs(), from, fromPort, local, port, bytes);
        inner.message(from, fromPort, local, bytes);
      },
      error: (local, error) => inner.error(local, error),
    };
  }

  /** The signalling sockets' send (from `from`:port), recording each datagram. */
  signalling(inner: SignallingSend, port: number): SignallingSend {
    return {
      send: (from, to, toPort, bytes) => {
        this.writer?.udp(this.wallMs(), from, port, to, toPort, bytes);
        return inner.send(from, to, toPort, bytes);
      },
    };
  }

  /** The datapath, recording the ND it carries to and from the MNs. */
  datapath(inner: Datapath): Datapath {
    return new RecordingDatapath(inner, () => this.writer, this.wallMs);
  }
}

class RecordingDatapath implements Datapath {
  constructor(
    private readonly inner: Datapath,
    private readonly writer: () => PcapWriter | undefined,
    private readonly wallMs: () => number,
  ) {}

  start(handlers: DatapathHandlers): void {
    this.inner.start({
      ...handlers,
      frameFromMn: (frame) => {
        const w = this.writer();
        if (w && isRecordedNd(frame)) w.frame(this.wallMs(), frame);
        handlers.frameFromMn(frame);
      },
    });
  }

  toMn(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void {
    const w = this.writer();
    if (w && isRecordedNdPacket(packet)) w.ipv6(this.wallMs(), dst, src, packet);
    this.inner.toMn(dst, src, packet);
  }

  toTunnel(...a: Parameters<Datapath["toTunnel"]>): void {
    this.inner.toTunnel(...a);
  }

  bind(...a: Parameters<Datapath["bind"]>): void {
    this.inner.bind(...a);
  }

  unbind(mac: string): void {
    this.inner.unbind(mac);
  }

  flush(): void {
    this.inner.flush();
  }

  setOuterHeader(...a: Parameters<Datapath["setOuterHeader"]>): void {
    this.inner.setOuterHeader(...a);
  }

  get accessMac(): Uint8Array | null {
    return this.inner.accessMac;
  }

  stats(): ReturnType<Datapath["stats"]> {
    return this.inner.stats();
  }

  close(): void {
    this.inner.close();
  }
}
