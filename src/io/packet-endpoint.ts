// What the three packet endpoints (access link, tunnel, TUN) share: batched receive
// into one preallocated PacketBatch, single and batched send, stats, close.
import type { EndpointStats, NativeEndpoint, NativeIoError } from "./native-addon.ts";
import { PacketBatch } from "./packet-batch.ts";

export interface BatchOptions {
  /** packets per receive batch (recvmmsg vlen); default 64 */
  readonly batchSize?: number;
  /** bytes per slot; a bigger packet is dropped and counted (stats().rxTruncated) */
  readonly slotSize?: number;
}

export type BatchHandler = (batch: PacketBatch) => void;
/** `stopped`: the error ended receiving (onBatch may be called again); else transient. */
export type ErrorHandler = (error: NativeIoError, stopped: boolean) => void;

export const DEFAULT_BATCH_SIZE = 64;

export abstract class PacketEndpoint {
  /** The receive batch: refilled in place on every callback; copy what you keep. */
  readonly batch: PacketBatch;
  private receiving = false;
  private isClosed = false;

  protected constructor(
    protected readonly native: NativeEndpoint,
    batchSize: number,
    slotSize: number,
  ) {
    try {
      this.batch = new PacketBatch(batchSize, slotSize);
    } catch (error) {
      native.close();
      throw error;
    }
  }

  get fd(): number {
    return this.native.fd;
  }

  /** Interface name (AF_PACKET, TUN, or the raw socket's bound device; else ""). */
  get name(): string {
    return this.native.name;
  }

  get ifindex(): number {
    return this.native.ifindex;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Starts receiving: `onBatch` runs from the event loop with `batch.count` packets
   * filled in; the slots are reused as soon as it returns. `onError` gets receive
   * errors (transient ones like ENETDOWN keep the endpoint receiving; others stop it).
   */
  onBatch(onBatch: BatchHandler, onError: ErrorHandler): this {
    if (this.isClosed) throw new Error(`${this.describe()} is closed`);
    if (this.receiving) throw new Error(`${this.describe()} already has a batch handler`);
    const batch = this.batch;
    this.native.startReceive(
      batch.buffer,
      batch.slotSize,
      batch.lengths,
      batch.meta,
      (count) => {
        batch.count = count;
        onBatch(batch);
      },
      (error, stopped) => {
        if (stopped) this.receiving = false;
        onError(error, stopped);
      },
    );
    this.receiving = true;
    return this;
  }

  /** Stops receiving. onBatch may be called again, though not from inside the batch handler. */
  stopReceiving(): void {
    if (!this.receiving) return;
    this.receiving = false;
    this.native.stopReceive();
  }

  /** Sends one packet; false when the kernel would block or dropped it. */
  send(packet: Uint8Array): boolean {
    return this.native.send(packet);
  }

  /**
   * Sends packets first..count-1 of `batch` with sendmmsg; returns how many were
   * consumed (sent, or refused one by one and counted in stats().txErrors). Fewer
   * than count - first means the kernel would block: retry the rest later or drop.
   */
  sendBatch(batch: PacketBatch, count: number = batch.count, first = 0): number {
    if (count === 0 || first >= count) return 0;
    return this.native.sendBatch(batch.buffer, batch.slotSize, batch.lengths, count, first);
  }

  stats(): EndpointStats {
    return this.native.stats();
  }

  /** Keep the process alive while receiving (default). */
  ref(): this {
    this.native.ref();
    return this;
  }

  /** Let the process exit even while receiving. */
  unref(): this {
    this.native.unref();
    return this;
  }

  /** Stops receiving and closes the descriptor; idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.receiving = false;
    this.native.close();
  }

  protected abstract describe(): string;
}
