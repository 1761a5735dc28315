// Issue 11: the per-NAI key table "scales to 100k entries without slowing attach".
// Attach = station-authorised with an EAP identity -> session started, RRQ signed,
// timed for N stations three ways in the same run: no key table (baseline: the
// realm's key), a table of 10 entries, a table of 100,000 entries (every station's
// key looked up). Plus the table file parse. Ratios to the baseline are the figures.
// Run: npm run bench
import { expect, test } from "vitest";
import { parseKeyTable } from "../../src/app/key-table.ts";
import { DEFAULT_HOLD_CAPS, DEFAULT_REGISTRATION_TIMING } from "../../src/core/config.ts";
import type { EngineConfig } from "../../src/core/config.ts";
import { Engine } from "../../src/core/engine.ts";
import { seededRandom } from "../../src/core/random.ts";
import { formatMac } from "../../src/wire/mac.ts";
import type { MnHaKey } from "../../src/wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../src/wire/mip-extension.ts";
import { mac } from "../support/frames.ts";

const TABLE = 100_000;
const STATIONS = Number(process.env.BENCH_STATIONS ?? (process.env.BENCH_QUICK === "1" ? 5_000 : 20_000));
const HA = 0xc0000201;
const KEY: MnHaKey = { spi: 0x1001, secret: new TextEncoder().encode("bench realm MN-HA key") };

function config(naiKeys: ReadonlyMap<string, MnHaKey> | undefined): EngineConfig {
  return {
    codec: DEFAULT_MIP_CODEC_OPTIONS,
    accessMac: mac("02:00:00:00:0a:01"),
    realms: [{ realm: "example.net", homeAgent: HA, mnHaKey: KEY, realmKeyFallback: true }],
    derivedRealm: "example.net",
    provisioned: new Map(),
    ...(naiKeys ? { naiKeys } : {}),
    linkLayer: { requireAuthorised: true, registerOnAuthorised: true },
    careOf: { mode: "shared", address: 0xcb007101, firstKey: 0x10000, keyCount: 1 << 20 },
    triggerOn: "neighbor-discovery",
    sessionStartsPerSecond: 0,
    registration: DEFAULT_REGISTRATION_TIMING,
    revocationSupport: true,
    maxSessions: STATIONS + 10,
    hold: DEFAULT_HOLD_CAPS,
    idleTimeoutMs: 0,
    dadFailureWindowMs: 10_000,
    maxLearnedAddresses: 8,
    revocationLingerMs: 2000,
    dadFailureHoldOffMs: 300_000,
  };
}

const macText = (i: number): string => formatMac(Uint8Array.of(0x02, 0x10, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff));
const nai = (i: number): string => `user${i}@example.net`;

function attachMs(keys: ReadonlyMap<string, MnHaKey> | undefined): number {
  const engine = new Engine(config(keys), { random: seededRandom(3), wallOffsetMs: 1_750_000_000_000 });
  const macs = Array.from({ length: STATIONS }, (_, i) => macText(i));
  let sent = 0;
  const t0 = performance.now();
  for (let i = 0; i < STATIONS; i++) {
    engine.handle(0, { kind: "station-authorised", mac: macs[i]!, identity: nai(i) });
    for (let a = engine.poll(); a; a = engine.poll()) if (a.kind === "send-signalling") sent++;
  }
  const ms = performance.now() - t0;
  expect(sent).toBe(STATIONS);
  return ms;
}

test(`attach with a key table of ${TABLE} entries`, () => {
  const lines: string[] = [];
  const hex = "00112233445566778899aabbccddeeff";
  for (let i = 0; i < TABLE; i++) lines.push(`${nai(i)} ${256 + i} hex:${hex}`);
  const text = lines.join("\n");
  let t0 = performance.now();
  const big = parseKeyTable(text, "bench");
  const parseMs = performance.now() - t0;
  if (!big.ok) throw new Error("table refused");
  const small = new Map([...big.keys].slice(0, 10));

  attachMs(undefined); // warm-up
  // Interleaved, best of 3 each: the machine is shared, and the order must not favour one.
  let base = Infinity;
  let withSmall = Infinity;
  let withBig = Infinity;
  for (let round = 0; round < 3; round++) {
    withBig = Math.min(withBig, attachMs(big.keys));
    base = Math.min(base, attachMs(undefined));
    withSmall = Math.min(withSmall, attachMs(small));
  }
  // The lookup alone: 100k-entry Map vs 10-entry Map.
  let found = 0;
  t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) if (small.get(nai(i % 10))) found++;
  const smallLookupMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) if (big.keys.get(nai(i % TABLE))) found++;
  const bigLookupMs = performance.now() - t0;
  expect(found).toBe(2_000_000);

  const lines2 = [
    `key table parse: ${TABLE} lines in ${parseMs.toFixed(0)} ms`,
    `attach of ${STATIONS} stations (best of 3): no table ${base.toFixed(0)} ms (baseline), 10-entry table ${withSmall.toFixed(0)} ms (x${(withSmall / base).toFixed(2)}), ${TABLE}-entry table ${withBig.toFixed(0)} ms (x${(withBig / base).toFixed(2)})`,
    `1M lookups: 10 entries ${smallLookupMs.toFixed(0)} ms, ${TABLE} entries ${bigLookupMs.toFixed(0)} ms (x${(bigLookupMs / smallLookupMs).toFixed(2)})`,
  ];
  for (const l of lines2) console.log(l);
});
