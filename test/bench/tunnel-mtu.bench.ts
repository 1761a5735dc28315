// Cost of the AN fragmenting its outer packets (issue 9 item 5): a 1500-byte IPv6
// packet encapsulated into a send slot (the baseline: what every uplink packet costs)
// against the same packet encapsulated and cut into two fragments in place, and a
// Packet Too Big built instead. Ratios to the same-run baseline; no thresholds.
// Run: npm run bench
import { expect, test } from "vitest";
import { encodePacketTooBig } from "../../src/wire/icmpv6-packet-too-big.ts";
import { writeIpv4Fragment } from "../../src/wire/ipv4-fragment.ts";
import { writeTunnelHeaders } from "../../src/wire/tunnel.ts";

const N = Number(process.env.BENCH_PACKETS ?? 1_000_000);
const SLOT = 1600;
const inner = new Uint8Array(1500);
inner[0] = 0x60;
inner[4] = 1460 >>> 8;
inner[5] = 1460 & 0xff;
const router = new Uint8Array(16);
router[0] = 0xfe;
router[1] = 0x80;
router[15] = 1;

function time(f: () => void): number {
  f(); // warm up
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

test("fragmenting in place against plain encapsulation", () => {
  const slots = new Uint8Array(SLOT * 4);
  const p = { src: 0x0a400065, dst: 0x0a400001, ttl: 64, dontFragment: false, identification: 1, gre: null };
  const base = time(() => {
    for (let i = 0; i < N; i++) {
      slots.set(inner, 20);
      writeTunnelHeaders(slots, 0, p, inner.length);
    }
  });
  const frag = time(() => {
    for (let i = 0; i < N; i++) {
      slots.set(inner, 20);
      writeTunnelHeaders(slots, 0, p, inner.length);
      writeIpv4Fragment(slots, 0, 1500, 1, slots, SLOT);
      writeIpv4Fragment(slots, 0, 1500, 0, slots, 0);
    }
  });
  const ptb = time(() => {
    for (let i = 0; i < N; i++) encodePacketTooBig(slots, 14, router, 1480, inner);
  });
  const rate = (ms: number): string => `${Math.round((N / ms) * 1000).toLocaleString("en-US")}/s`;
  console.log(
    [
      `encapsulate 1500-byte IPv6 (baseline): ${rate(base)}`,
      `encapsulate + 2 fragments in place: ${rate(frag)} (x${(frag / base).toFixed(2)} the baseline's time)`,
      `Packet Too Big instead: ${rate(ptb)} (x${(ptb / base).toFixed(2)})`,
    ].join("\n"),
  );
  expect(slots[SLOT + 6]).toBe(0x00); // fragment 1: offset 185, MF clear
  expect(slots[SLOT + 7]).toBe(185);
});
