// A batch of packets in preallocated memory: one ArrayBuffer cut into `capacity`
// slots of `slotSize` bytes, an Int32Array of lengths and per-slot metadata. The
// native receive path fills it in place (no allocation per packet); the same layout
// is what sendBatch sends.

/** Int32 metadata per slot, as the addon writes it. */
export const META_STRIDE = 4;
const META_IFINDEX = 0;
const META_PKTTYPE = 1;
const META_VLAN = 2;
const META_ETHERTYPE = 3;

/** AF_PACKET sll_pkttype values (linux/if_packet.h). */
export const PacketType = {
  host: 0,
  broadcast: 1,
  multicast: 2,
  otherHost: 3,
  outgoing: 4,
} as const;

export class PacketBatch {
  readonly buffer: ArrayBuffer;
  /** view over all slots; packet i is bytes[offset(i) .. offset(i) + length(i)) */
  readonly bytes: Uint8Array;
  readonly lengths: Int32Array;
  readonly meta: Int32Array;
  /** packets valid in this batch (set by the receive path, or by the sender) */
  count = 0;

  constructor(
    readonly capacity: number,
    readonly slotSize: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new RangeError(`batch capacity must be 1..4096, got ${capacity}`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 1) {
      throw new RangeError(`slot size must be a positive integer, got ${slotSize}`);
    }
    this.buffer = new ArrayBuffer(capacity * slotSize);
    this.bytes = new Uint8Array(this.buffer);
    this.lengths = new Int32Array(capacity);
    this.meta = new Int32Array(capacity * META_STRIDE);
  }

  offset(i: number): number {
    return i * this.slotSize;
  }

  length(i: number): number {
    return this.lengths[i] ?? 0;
  }

  /** A view of packet i (no copy): valid only until the slot is refilled. */
  packet(i: number): Uint8Array {
    const start = i * this.slotSize;
    return this.bytes.subarray(start, start + this.length(i));
  }

  /** Copies `data` into slot i; returns false when it does not fit. */
  set(i: number, data: Uint8Array): boolean {
    if (i < 0 || i >= this.capacity || data.length > this.slotSize) return false;
    this.bytes.set(data, i * this.slotSize);
    this.lengths[i] = data.length;
    return true;
  }

  /** Appends `data` as packet `count`; returns false when full or too big. */
  push(data: Uint8Array): boolean {
    if (!this.set(this.count, data)) return false;
    this.count++;
    return true;
  }

  clear(): void {
    this.count = 0;
  }

  /** Interface index the frame came in on (AF_PACKET; TUN: its own index; raw: -1). */
  ifindex(i: number): number {
    return this.meta[i * META_STRIDE + META_IFINDEX] ?? -1;
  }

  /** AF_PACKET pkttype (see PacketType), -1 for other endpoints. */
  packetType(i: number): number {
    return this.meta[i * META_STRIDE + META_PKTTYPE] ?? -1;
  }

  /** 802.1Q TCI the kernel stripped from the frame, or null when untagged. */
  vlanTci(i: number): number | null {
    const v = this.meta[i * META_STRIDE + META_VLAN] ?? -1;
    return v < 0 ? null : v;
  }

  /** Ethertype of the frame / packet (0x86dd IPv6, 0x0800 IPv4). */
  etherType(i: number): number {
    return this.meta[i * META_STRIDE + META_ETHERTYPE] ?? 0;
  }
}
