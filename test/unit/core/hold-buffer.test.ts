// Frames held while the registration is pending (draft Figure 6 step 9) and the caps on them.
import { describe, expect, it } from "vitest";
import { DEFAULT_HOLD_CAPS } from "../../../src/core/config.ts";
import type { HoldCaps } from "../../../src/core/config.ts";
import { HoldPool } from "../../../src/core/hold-buffer.ts";
import type { HeldFrames } from "../../../src/core/hold-buffer.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac, packetOf, routerSolicitation } from "../../support/frames.ts";
import { COA_POOL, eventsOf, HA, Harness, kinds, makeConfig, MN1, MN2, MN3, ofKind } from "./harness.ts";

const ROUTER = mac("02:00:5e:00:53:99");
const DST = ip6("2001:db8:1::1");

function caps(over: Partial<HoldCaps>): HoldCaps {
  return { ...DEFAULT_HOLD_CAPS, ...over };
}

describe("held frames", () => {
  it("holds the DAD NS and later frames, and releases them in order right after the accepted reply", () => {
    const h = new Harness();
    const ns = dadNeighborSolicitation(mac(MN1), { trailer: Uint8Array.of(0xee, 0xee, 0xee, 0xee) });
    const rs = routerSolicitation(mac(MN1));
    const data = dataFrame(mac(MN1), ROUTER, DST, 7, new Uint8Array(9).fill(0xaa));
    expect(ofKind(h.frame(ns, 0), "to-tunnel")).toEqual([]);
    expect(ofKind(h.frame(rs, 400), "to-tunnel")).toEqual([]);
    expect(ofKind(h.frame(data, 500), "to-tunnel")).toEqual([]);
    expect(h.engine.heldFrames).toBe(3);
    expect(h.engine.heldBytes).toBe(ns.length + rs.length + data.length);
    expect(h.engine.counters.framesHeld).toBe(3);

    const actions = h.answerLast({}, undefined, HA);
    // bind first, then the held frames, then the event naming how many.
    expect(kinds(actions)).toEqual(["bind", "to-tunnel", "to-tunnel", "to-tunnel", "event:registered", "context-changed"]);
    const out = ofKind(actions, "to-tunnel");
    // Ethernet header and link padding stripped: exactly the IPv6 packets.
    expect(out.map((a) => Buffer.from(a.packet).toString("hex"))).toEqual([ns, rs, data].map((f) => Buffer.from(packetOf(f)).toString("hex")));
    for (const a of out) expect(a).toMatchObject({ mac: MN1, tunnel: { careOf: COA_POOL[0], homeAgent: HA, greKey: null } });
    expect(eventsOf(actions, "registered")[0]?.heldFramesReleased).toBe(3);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.heldBytes).toBe(0);
    expect(h.engine.counters.framesHeldReleased).toBe(3);
  });

  it("keeps a copy: the caller may reuse its receive buffer", () => {
    const h = new Harness();
    const buf = dadNeighborSolicitation(mac(MN1));
    const expected = packetOf(buf);
    h.frame(buf);
    buf.fill(0, 14);
    const [out] = ofKind(h.answerLast(), "to-tunnel");
    expect([...out!.packet]).toEqual([...expected]);
  });

  it("enforces frames per MN", () => {
    const h = new Harness(makeConfig({ hold: caps({ framesPerMn: 2 }) }));
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.frame(routerSolicitation(mac(MN1)));
    const third = h.frame(dataFrame(mac(MN1), ROUTER, DST));
    expect(eventsOf(third, "hold-dropped")).toEqual([{ type: "hold-dropped", mac: MN1, reason: "per-mn-frames" }]);
    expect(h.engine.heldFrames).toBe(2);
    expect(h.engine.counters).toMatchObject({ holdDropPerMnFrames: 1, holdDropPerMnBytes: 0, holdDropTotalFrames: 0, holdDropTotalBytes: 0 });
    // Another MN still has room.
    h.frame(dadNeighborSolicitation(mac(MN2)));
    expect(h.engine.heldFrames).toBe(3);
  });

  it("enforces bytes per MN", () => {
    const ns = dadNeighborSolicitation(mac(MN1));
    const h = new Harness(makeConfig({ hold: caps({ bytesPerMn: ns.length + 10 }) }));
    h.frame(ns);
    const second = h.frame(routerSolicitation(mac(MN1)));
    expect(eventsOf(second, "hold-dropped")[0]?.reason).toBe("per-mn-bytes");
    expect(h.engine.counters).toMatchObject({ holdDropPerMnFrames: 0, holdDropPerMnBytes: 1, holdDropTotalFrames: 0, holdDropTotalBytes: 0 });
    expect(h.engine.heldBytes).toBe(ns.length);
  });

  it("enforces frames in total", () => {
    const h = new Harness(makeConfig({ hold: caps({ framesTotal: 2 }) }));
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.frame(dadNeighborSolicitation(mac(MN2)));
    const third = h.frame(dadNeighborSolicitation(mac(MN3)));
    // The session still starts; only its frame is not held.
    expect(h.engine.sessionState(MN3)).toBe("registering");
    expect(eventsOf(third, "hold-dropped")).toEqual([{ type: "hold-dropped", mac: MN3, reason: "total-frames" }]);
    expect(h.engine.counters).toMatchObject({ holdDropPerMnFrames: 0, holdDropPerMnBytes: 0, holdDropTotalFrames: 1, holdDropTotalBytes: 0 });
    expect(h.engine.heldFrames).toBe(2);
  });

  it("enforces bytes in total", () => {
    const ns = dadNeighborSolicitation(mac(MN1));
    const h = new Harness(makeConfig({ hold: caps({ bytesTotal: ns.length * 2 + 5 }) }));
    h.frame(ns);
    h.frame(dadNeighborSolicitation(mac(MN2)));
    const third = h.frame(dadNeighborSolicitation(mac(MN3)));
    expect(eventsOf(third, "hold-dropped")[0]?.reason).toBe("total-bytes");
    expect(h.engine.counters).toMatchObject({ holdDropPerMnFrames: 0, holdDropPerMnBytes: 0, holdDropTotalFrames: 0, holdDropTotalBytes: 1 });
    expect(h.engine.heldBytes).toBe(ns.length * 2);
  });

  it("frees the total when a session's frames are released, so others may hold again", () => {
    const h = new Harness(makeConfig({ hold: caps({ framesTotal: 1 }) }));
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.answerLast();
    expect(h.engine.heldFrames).toBe(0);
    h.frame(dadNeighborSolicitation(mac(MN2)));
    expect(h.engine.heldFrames).toBe(1);
  });

  it("drops held frames without sending them when the registration fails", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)));
    h.frame(routerSolicitation(mac(MN1)));
    const actions = h.answerLast({ code: 129 });
    expect(ofKind(actions, "to-tunnel")).toEqual([]);
    expect(h.engine.heldFrames).toBe(0);
    expect(h.engine.heldBytes).toBe(0);
  });
});

describe("HoldPool", () => {
  const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

  it("drains in arrival order and gives the totals back", () => {
    const pool = new HoldPool(caps({}));
    const a: HeldFrames = { frames: [], bytes: 0 };
    const b: HeldFrames = { frames: [], bytes: 0 };
    expect(pool.hold(a, frame(10, 1))).toBeUndefined();
    expect(pool.hold(b, frame(20, 2))).toBeUndefined();
    expect(pool.hold(a, frame(30, 3))).toBeUndefined();
    expect([pool.totalFrames, pool.totalBytes]).toEqual([3, 60]);
    expect(pool.drain(a).map((f) => f[0])).toEqual([1, 3]);
    expect(a).toEqual({ frames: [], bytes: 0 });
    expect([pool.totalFrames, pool.totalBytes]).toEqual([1, 20]);
  });

  it("checks per-MN caps before total caps", () => {
    const pool = new HoldPool({ framesPerMn: 1, bytesPerMn: 100, framesTotal: 1, bytesTotal: 100 });
    const a: HeldFrames = { frames: [], bytes: 0 };
    pool.hold(a, frame(10, 0));
    expect(pool.hold(a, frame(10, 0))).toBe("per-mn-frames");
    expect(pool.hold({ frames: [], bytes: 0 }, frame(10, 0))).toBe("total-frames");
    expect(pool.hold({ frames: [], bytes: 0 }, frame(101, 0))).toBe("per-mn-bytes");
  });

  it("lets new caps apply to what comes next", () => {
    const pool = new HoldPool(caps({ framesTotal: 5 }));
    const a: HeldFrames = { frames: [], bytes: 0 };
    pool.hold(a, frame(1, 0));
    pool.hold(a, frame(1, 0));
    pool.setCaps(caps({ framesTotal: 2 }));
    expect(pool.hold({ frames: [], bytes: 0 }, frame(1, 0))).toBe("total-frames");
  });
});
