// IPv4 Identification values for the AN's outer tunnel packets (RFC 6864). Only
// packets that may be fragmented (DF clear) need one that is unique per source,
// destination and protocol for as long as fragments live: one counter per home agent,
// started at a random value (a restart does not reuse the last run's values, and an
// observer cannot predict them), stepped by one, skipping 0 (with IP_HDRINCL the
// kernel replaces an Identification of 0 with its own, which could collide with
// ours). DF-set (atomic) packets keep writing 0 and the kernel picks (RFC 6864 4.1:
// their value has no meaning). A per-HA counter gives every HA the longest possible
// wrap time: 65535 fragmentable packets towards that HA.
import { randomInt } from "node:crypto";

export class Ipv4Identifications {
  private readonly counters = new Map<number, { next: number }>();
  /** Most ANs talk to one HA: the last counter used, without a Map lookup per packet. */
  private lastHa = -1;
  private last: { next: number } = { next: 1 };

  constructor(private readonly random: () => number = () => randomInt(1, 0x10000)) {}

  /** The Identification for the next DF-clear packet towards `homeAgent` (1..65535). */
  take(homeAgent: number): number {
    let c = this.last;
    if (homeAgent !== this.lastHa) {
      c = this.counters.get(homeAgent) ?? { next: this.random() & 0xffff || 1 };
      this.counters.set(homeAgent, c);
      this.lastHa = homeAgent;
      this.last = c;
    }
    const id = c.next;
    c.next = id >= 0xffff ? 1 : id + 1;
    return id;
  }
}
