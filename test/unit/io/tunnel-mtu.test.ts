import { describe, expect, it } from "vitest";
import { Ipv4Identifications } from "../../../src/io/ipv4-identification.ts";
import { TokenBuckets } from "../../../src/io/token-bucket.ts";
import { PMTU_AGING_MS, PMTU_FLOOR, TunnelMtuTable, tunnelSendDecision } from "../../../src/io/tunnel-mtu.ts";

const HA = 0x0a400001;
const OTHER = 0x0a400002;

describe("tunnel path MTU table (RFC 1191, RFC 4213 3.4)", () => {
  it("every path starts at the uplink MTU; fragmentation needed lowers only that HA's", () => {
    const t = new TunnelMtuTable(1500);
    expect(t.pathMtu(HA, 0)).toBe(1500);
    expect(t.lower(HA, 1400, 1520, 1000)).toBe(1400);
    expect(t.pathMtu(HA, 1001)).toBe(1400);
    expect(t.pathMtu(OTHER, 1001)).toBe(1500);
    expect(t.size).toBe(1);
  });

  it("a report never raises the path MTU; a lower one lowers it again and restarts the aging", () => {
    const t = new TunnelMtuTable(1500);
    t.lower(HA, 1400, 1520, 0);
    expect(t.lower(HA, 1450, 1520, 10)).toBeNull();
    expect(t.pathMtu(HA, 10)).toBe(1400);
    expect(t.lower(HA, 1300, 1420, 60_000)).toBe(1300);
    expect(t.pathMtu(HA, PMTU_AGING_MS + 59_999)).toBe(1300);
    expect(t.pathMtu(HA, PMTU_AGING_MS + 60_000)).toBe(1500);
  });

  it("ages back to the uplink MTU 10 minutes after the decrease (RFC 1191 6.3, RFC 8201 5.3)", () => {
    const t = new TunnelMtuTable(1500);
    t.lower(HA, 1400, 1520, 5000);
    expect(PMTU_AGING_MS).toBe(600_000);
    expect(t.pathMtu(HA, 5000 + PMTU_AGING_MS - 1)).toBe(1400);
    expect(t.pathMtu(HA, 5000 + PMTU_AGING_MS)).toBe(1500);
    expect(t.size).toBe(0);
  });

  it("floors at 552 (a forged tiny MTU does not shred packets) and never goes above the uplink", () => {
    const t = new TunnelMtuTable(1500);
    expect(PMTU_FLOOR).toBe(552);
    expect(t.lower(HA, 100, 1520, 0)).toBe(552);
    const narrow = new TunnelMtuTable(1400);
    expect(narrow.lower(HA, 1450, 1500, 0)).toBeNull();
  });

  it("next-hop MTU 0 (pre-RFC 1191 router): the plateau below the packet's length; one not below the packet: ignored", () => {
    const t = new TunnelMtuTable(1500);
    expect(t.lower(HA, 0, 1520, 0)).toBe(1492);
    expect(t.lower(OTHER, 1480, 1480, 0)).toBeNull();
    expect(t.lower(OTHER, 1600, 1480, 0)).toBeNull();
    expect(t.pathMtu(OTHER, 0)).toBe(1500);
  });

  it("refuses an impossible uplink MTU", () => {
    expect(() => new TunnelMtuTable(40)).toThrow(RangeError);
  });
});

describe("IPv4 identifications (RFC 6864)", () => {
  it("one counter per HA from a random start, never 0, wrapping 65535 -> 1", () => {
    const starts = [0xfffe, 7];
    const ids = new Ipv4Identifications(() => starts.shift()!);
    expect([ids.take(HA), ids.take(HA), ids.take(HA)]).toEqual([0xfffe, 0xffff, 1]);
    expect([ids.take(OTHER), ids.take(OTHER)]).toEqual([7, 8]);
    const zero = new Ipv4Identifications(() => 0);
    expect(zero.take(HA)).toBe(1);
  });

  it("the default start is random: two tables rarely agree", () => {
    const a = Array.from({ length: 8 }, () => new Ipv4Identifications().take(HA));
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

describe("token buckets (RFC 4443 2.4 (f))", () => {
  it("a burst, then the rate; per key; forget gives a full bucket", () => {
    const b = new TokenBuckets<string>(3, 2);
    expect([b.take("a", 0), b.take("a", 0), b.take("a", 0), b.take("a", 0)]).toEqual([true, true, true, false]);
    expect(b.take("b", 0)).toBe(true);
    expect(b.take("a", 499)).toBe(false);
    expect(b.take("a", 500)).toBe(true);
    expect(b.take("a", 500)).toBe(false);
    expect(b.take("a", 100_000)).toBe(true);
    b.forget("a");
    expect([b.take("a", 100_000), b.take("a", 100_000), b.take("a", 100_000)]).toEqual([true, true, true]);
  });

  it("stays bounded", () => {
    const b = new TokenBuckets<number>(1, 1, 10);
    for (let i = 0; i < 25; i++) b.take(i, 0);
    expect(b.size).toBeLessThanOrEqual(10);
  });
});

describe("the send decision (RFC 4213 3.2.2)", () => {
  it("DF clear: whole when it fits, fragmented above the path MTU (6in4, GRE, GRE with key)", () => {
    expect(tunnelSendDecision(1480, 20, 1500, false)).toEqual({ kind: "send", dontFragment: false, fragment: false });
    expect(tunnelSendDecision(1500, 20, 1500, false)).toEqual({ kind: "send", dontFragment: false, fragment: true });
    expect(tunnelSendDecision(1476, 24, 1500, false)).toMatchObject({ fragment: false });
    expect(tunnelSendDecision(1473, 28, 1500, false)).toMatchObject({ fragment: true });
  });

  it("DF set: DF kept when it fits; above the tunnel MTU Packet Too Big with path MTU - header", () => {
    expect(tunnelSendDecision(1480, 20, 1500, true)).toEqual({ kind: "send", dontFragment: true, fragment: false });
    expect(tunnelSendDecision(1500, 20, 1500, true)).toEqual({ kind: "too-big", mtu: 1480 });
    expect(tunnelSendDecision(1500, 28, 1500, true)).toEqual({ kind: "too-big", mtu: 1472 });
    expect(tunnelSendDecision(1481, 24, 1500, true)).toEqual({ kind: "too-big", mtu: 1476 });
    expect(tunnelSendDecision(1400, 20, 1400, true)).toEqual({ kind: "too-big", mtu: 1380 });
  });

  it("DF set on a path narrower than 1280 + header: PTB 1280 above it, DF clear and fragmented up to it", () => {
    expect(tunnelSendDecision(1400, 20, 1000, true)).toEqual({ kind: "too-big", mtu: 1280 });
    expect(tunnelSendDecision(1280, 20, 1000, true)).toEqual({ kind: "send", dontFragment: false, fragment: true });
    expect(tunnelSendDecision(900, 20, 1000, true)).toEqual({ kind: "send", dontFragment: true, fragment: false });
  });
});
