// The lab's plan: addresses, names and keys shared by the HA and AN configs, and
// the shape of its nodes (MNs, AN sites) and of what its tools report.
import type { z } from "zod";
import type { configSchema } from "../../src/app/config-schema.ts";
import type { HaEvent } from "./home-agent/events.ts";

/** Addresses, names and keys of the lab, shared by the HA and AN configs. */
export const LAB = {
  realm: "lab.example",
  spi: 0x1001,
  /** "lab-mn-ha-secret" */
  keyHex: "6c61622d6d6e2d68612d736563726574",
  core: { prefixLength: 24 },
  ha: "10.64.0.1",
  ans: [
    { address: "10.64.0.11", coas: ["10.64.0.101", "10.64.0.102", "10.64.0.103", "10.64.0.104"], mac: "02:00:00:00:a1:01" },
    { address: "10.64.0.12", coas: ["10.64.0.121", "10.64.0.122", "10.64.0.123", "10.64.0.124"], mac: "02:00:00:00:a2:01" },
  ],
  homePrefix: "2001:db8:1::/64",
  haHomeAddress: "2001:db8:1::1",
  haLinkLocal: "fe80::1",
  haMac: "02:00:5e:00:53:01",
  cnPrefix: "2001:db8:99::/64",
  haCnSide: "2001:db8:99::1",
  cn: "2001:db8:99::7",
  tun: "ha0",
  echoPort: 7007,
  /** The fleet's mosquitto (broker.ts): an address on the core bridge, reached over the ANs' uplinks. */
  broker: "10.64.0.5",
  brokerPort: 1883,
  /** Each AN's Ed25519 context key (its 32-byte seed, hex), by AN index - 1. Lab keys, not secrets. */
  contextSeeds: ["a1".repeat(32), "a2".repeat(32)],
} as const;

export type AnIndex = 1 | 2;

export interface MnSpec {
  /** Where the MN is plugged in at the start; null (default): unplugged (eth0 up, no carrier). */
  readonly at?: AnIndex | null;
}

export interface MnNode {
  readonly index: number;
  readonly ns: string;
  /** The MN's interface (inside its namespace). */
  readonly ifname: "eth0";
  readonly mac: string;
  /** The NAI an AN derives from the MAC (`<mac hex>@lab.example`). */
  readonly nai: string;
  /** The MN's SLAAC address in the home prefix (modified EUI-64). */
  readonly homeAddress: string;
  /** Its link-local address (fe80:: + the same interface identifier). */
  readonly linkLocal: string;
  /** The sw end of its veth. */
  readonly port: string;
  at: AnIndex | null;
}

export interface AnSite {
  readonly index: AnIndex;
  readonly ns: string;
  readonly access: "acc0";
  readonly uplink: "up0";
  readonly address: string;
  readonly coas: readonly string[];
  readonly mac: string;
}

export type AnConfigFile = z.input<typeof configSchema>;

export interface AddressInfo {
  readonly local: string;
  readonly prefixlen: number;
  readonly scope: string;
  readonly tentative: boolean;
  readonly dadfailed: boolean;
}

export interface PingSummary {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly lostSeqs: readonly number[];
  readonly duplicates: number;
  readonly maxGapMs: number;
  readonly firstReplyMs: number | null;
}

/** One JSON line of the HA peer: the HaEvent of that type without its packet, plus hex when configured. */
export type HaLine<T extends HaEvent["type"] = HaEvent["type"]> = Omit<Extract<HaEvent, { type: T }>, "type" | "packet"> & {
  readonly event: T;
  readonly t: number;
  readonly hex?: string;
};
export type AnyLine = { readonly event: string; readonly t: number } & Readonly<Record<string, unknown>>;
