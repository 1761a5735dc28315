// Issue 10: traffic each way in telemetry is the engine's forwarded packets (the slow
// path, counted by the action router) plus the kernel fast path's own counters.
import { describe, expect, it } from "vitest";
import { ActionRouter } from "../../../src/app/action-router.ts";
import { trafficEachWay } from "../../../src/app/telemetry-sampler.ts";
import type { FastPathStats } from "../../../src/io/datapath.ts";

function router(): { router: ActionRouter; sent: number[] } {
  const sent: number[] = [];
  const r = new ActionRouter({
    signalling: { send: () => true },
    datapath: { toTunnel: (_t, p) => void sent.push(p.length), toMn: (_d, _s, p) => void sent.push(p.length), bind: () => {}, unbind: () => {}, flush: () => {} },
    stations: { detach: () => {}, close: () => {} },
    onEvent: () => {},
    onContextChanged: () => {},
  });
  return { router: r, sent };
}

describe("traffic each way", () => {
  it("counts the IPv6 packets the engine forwarded, each way, and their bytes", () => {
    const { router: r, sent } = router();
    const tunnel = { careOf: 1, homeAgent: 2, greKey: null };
    r.perform(0, { kind: "to-tunnel", mac: "02:11:22:33:44:01", tunnel, packet: new Uint8Array(64) });
    r.perform(0, { kind: "to-tunnel", mac: "02:11:22:33:44:01", tunnel, packet: new Uint8Array(1280) });
    r.perform(0, { kind: "to-mn", dst: new Uint8Array(6), src: new Uint8Array(6), packet: new Uint8Array(104) });
    expect(sent).toEqual([64, 1280, 104]);
    expect(trafficEachWay(r.forwarded, undefined)).toEqual({ uplink: { packets: 2, bytes: 1344 }, downlink: { packets: 1, bytes: 104 } });
  });

  it("adds what the kernel fast path carried", () => {
    const fast: FastPathStats = { uplinkPackets: 10, uplinkBytes: 1000, downlinkPackets: 3, downlinkBytes: 300, slow: {} };
    const slow = { uplinkPackets: 1, uplinkBytes: 64, downlinkPackets: 2, downlinkBytes: 200 };
    expect(trafficEachWay(slow, fast)).toEqual({ uplink: { packets: 11, bytes: 1064 }, downlink: { packets: 5, bytes: 500 } });
  });
});
