import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  clockOffsetFromMismatch,
  nextIdentification,
  ntpFromUnixMs,
  replyMatchesRequest,
  unixMsFromNtp,
} from "../../../../src/wire/mip-identification.ts";
import { propertyRuns } from "../../../support/runs.ts";

const JAN_2024_MS = 1_704_067_200_000;

describe("NTP timestamp form (RFC 3344/5944 5.7.1)", () => {
  it("known values", () => {
    expect(ntpFromUnixMs(0)).toBe(2_208_988_800n << 32n); // 1970 is 2208988800 s after 1900
    expect(ntpFromUnixMs(JAN_2024_MS)).toBe(0xe93c7f00_00000000n);
    expect(ntpFromUnixMs(JAN_2024_MS + 500)).toBe(0xe93c7f00_80000000n);
    expect(ntpFromUnixMs(JAN_2024_MS + 250)).toBe(0xe93c7f00_40000000n);
    expect(ntpFromUnixMs(JAN_2024_MS + 1)).toBe(0xe93c7f00_00000000n + 4_294_968n); // ceil(2^32 / 1000)
    expect(unixMsFromNtp(0xe93c7f00_80000000n)).toBe(JAN_2024_MS + 500);
  });
  it("the 2036 era wrap: NTP second 0 is 2036-02-07T06:28:16Z (RFC 4330 3)", () => {
    const wrapMs = Date.UTC(2036, 1, 7, 6, 28, 16);
    expect(ntpFromUnixMs(wrapMs)).toBe(0n);
    expect(unixMsFromNtp(0n)).toBe(wrapMs);
    expect(unixMsFromNtp(ntpFromUnixMs(wrapMs - 1))).toBe(wrapMs - 1);
  });
  it("round-trips every millisecond between 1968 and 2104", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 * 1000 - 1 }), (ms) => {
        const unixMs = ms + Date.UTC(1968, 0, 20, 3, 14, 8);
        expect(unixMsFromNtp(ntpFromUnixMs(unixMs))).toBe(unixMs);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe("nextIdentification", () => {
  it("is the NTP time plus random bits below the millisecond", () => {
    expect(nextIdentification(JAN_2024_MS, 0, undefined, 0)).toBe(ntpFromUnixMs(JAN_2024_MS));
    const id = nextIdentification(JAN_2024_MS + 999, 0, undefined, 0xffffffff);
    expect(unixMsFromNtp(id)).toBe(JAN_2024_MS + 999);
    expect(id >> 32n).toBe(0xe93c7f00n);
  });
  it("applies the clock offset learned from a 133", () => {
    expect(unixMsFromNtp(nextIdentification(JAN_2024_MS, 10_500, undefined, 0))).toBe(JAN_2024_MS + 10_500);
  });
  it("uses a random source when none is given", () => {
    const a = nextIdentification(JAN_2024_MS, 0, undefined);
    expect(unixMsFromNtp(a)).toBe(JAN_2024_MS);
  });
  it("strictly increases and changes the low-order 32 bits, even when the clock stalls or steps back", () => {
    let prev: bigint | undefined;
    const times = [JAN_2024_MS, JAN_2024_MS, JAN_2024_MS - 5000, JAN_2024_MS + 1, JAN_2024_MS + 1000, JAN_2024_MS + 1000];
    for (const t of times) {
      const id = nextIdentification(t, 0, prev, 12345);
      if (prev !== undefined) {
        expect(id > prev).toBe(true);
        expect(replyMatchesRequest(prev, id)).toBe(false);
      }
      prev = id;
    }
  });
  it("low-order bits differ even one whole second later with the same random bits", () => {
    const a = nextIdentification(JAN_2024_MS, 0, undefined, 7);
    const b = nextIdentification(JAN_2024_MS + 1000, 0, a, 7);
    expect(b > a).toBe(true);
    expect(b & 0xffffffffn).not.toBe(a & 0xffffffffn);
  });
  it("property: monotonic with distinct low words over any clock walk", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: -3000, max: 3000 }), r: fc.nat({ max: 0xffffffff }) }), { minLength: 2, maxLength: 30 }),
        (steps) => {
          let now = JAN_2024_MS;
          let prev: bigint | undefined;
          for (const { dt, r } of steps) {
            now += dt;
            const id = nextIdentification(now, 0, prev, r);
            if (prev !== undefined) {
              expect(id > prev).toBe(true);
              expect((id & 0xffffffffn) !== (prev & 0xffffffffn)).toBe(true);
            }
            prev = id;
          }
        },
      ),
      { numRuns: Math.min(propertyRuns(), 20_000) },
    );
  });
});

describe("reply matching and 133 resynchronisation (5.7, 5.7.1)", () => {
  it("a reply matches on the low-order 32 bits only", () => {
    expect(replyMatchesRequest(0xe93c7f00_12345678n, 0xe93c7f0a_12345678n)).toBe(true);
    expect(replyMatchesRequest(0xe93c7f00_12345678n, 0xe93c7f00_12345679n)).toBe(false);
  });
  it("takes the HA's seconds from the high-order bits and aims at the middle of that second", () => {
    const request = nextIdentification(JAN_2024_MS, 0, undefined, 42);
    const haSeconds = 0xe93c7f00n + 20n; // the HA's clock is 20 s ahead
    const reply = (haSeconds << 32n) | (request & 0xffffffffn);
    expect(replyMatchesRequest(request, reply)).toBe(true);
    const localNow = JAN_2024_MS + 100; // the reply took 100 ms
    const offset = clockOffsetFromMismatch(reply, localNow);
    expect(offset).toBe(20_000 + 500 - 100);
    // The next request then carries the HA's time, within its 7 s tolerance.
    const next = nextIdentification(localNow, offset, request, 1);
    expect(Number((next >> 32n) - haSeconds)).toBe(0);
    expect(next > request).toBe(true);
  });
  it("a clock behind the HA gets a negative offset", () => {
    const reply = (0xe93c7f00n - 3600n) << 32n;
    expect(clockOffsetFromMismatch(reply, JAN_2024_MS)).toBe(-3_600_000 + 500);
  });
});
