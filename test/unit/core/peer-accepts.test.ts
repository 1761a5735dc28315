// The new AN's accept table for forwarded handover traffic is bounded in sessions
// (limits.maxSessions windows), not addresses: a session with several addresses does
// not push another session's window out, and when every window is live a new one is
// refused and counted (acceptWindowsRefused), the live ones kept.
import { describe, expect, it } from "vitest";
import { echoRequestPacket, ip6 } from "../../support/frames.ts";
import { sampleContext } from "../../support/contexts.ts";
import { derivedNaiOf, HA, Harness, makeConfig, MN1, MN2, MN3, ofKind, v4 } from "./harness.ts";

const OLD_AN_COA = v4("198.18.0.10");
const CN = ip6("2001:db8:2::2");
const downlink = (seq: number, dst: string): Uint8Array => echoRequestPacket(CN, ip6(dst), seq);
const context = (mac: string, addresses: string[]) => sampleContext({ mac, nai: derivedNaiOf(mac), homeAgent: HA, careOf: { address: OLD_AN_COA, greKey: null }, addresses });

describe("accept windows from the old AN", () => {
  it("one window per session: a session's second address does not push out another session's window", () => {
    const h = new Harness(makeConfig({ peerForwardAcceptMs: 3000, maxSessions: 2 }));
    h.handle({ kind: "import-context", context: context(MN1, ["2001:db8:1::11", "2001:db8:1::12"]), resume: false }, 100);
    h.handle({ kind: "import-context", context: context(MN2, ["2001:db8:1::21"]), resume: false }, 100);
    const to = (mac: string, seq: number, dst: string) => ofKind(h.tunnel(downlink(seq, dst), { outerSrc: OLD_AN_COA, outerDst: h.engine.session(mac)!.careOf.address }, 200), "to-mn");
    expect(to(MN1, 1, "2001:db8:1::11")).toHaveLength(1);
    expect(to(MN1, 2, "2001:db8:1::12")).toHaveLength(1);
    expect(to(MN2, 3, "2001:db8:1::21")).toHaveLength(1);
    expect(h.engine.counters).toMatchObject({ acceptWindowsOpened: 2, acceptWindowsRefused: 0, framesForwardedFromPeer: 3 });
  });

  it("full of live windows: a new one is refused and counted, the live ones kept; after they expire one opens again", () => {
    // Enough care-of addresses that released ones (quarantined) do not run the pool dry.
    const pool = [1, 2, 3, 4, 5, 6].map((i) => v4(`203.0.113.${20 + i}`));
    const h = new Harness(makeConfig({ peerForwardAcceptMs: 3000, maxSessions: 2, careOf: { mode: "pool", addresses: pool } }));
    h.handle({ kind: "import-context", context: context(MN1, ["2001:db8:1::11"]), resume: false }, 100);
    h.handle({ kind: "import-context", context: context(MN2, ["2001:db8:1::21"]), resume: false }, 100);
    // MN1 moves on (its session ends; its window lives on until 3100).
    h.handle({ kind: "hand-over", mac: MN1 }, 150);
    expect(h.engine.session(MN1)).toBeUndefined();
    h.handle({ kind: "import-context", context: context(MN3, ["2001:db8:1::31"]), resume: false }, 200);
    expect(h.engine.session(MN3)).toBeDefined();
    expect(h.engine.counters).toMatchObject({ acceptWindowsOpened: 2, acceptWindowsRefused: 1 });
    const to = (mac: string, seq: number, dst: string, at = 300) => ofKind(h.tunnel(downlink(seq, dst), { outerSrc: OLD_AN_COA, outerDst: h.engine.session(mac)!.careOf.address }, at), "to-mn");
    expect(to(MN3, 1, "2001:db8:1::31")).toEqual([]);
    expect(to(MN2, 2, "2001:db8:1::21")).toHaveLength(1);
    // MN3 moves away and back after the windows ended: its window opens.
    h.handle({ kind: "hand-over", mac: MN3 }, 3200);
    const again = h.handle({ kind: "import-context", context: context(MN3, ["2001:db8:1::31"]), resume: false }, 3200);
    expect(h.engine.session(MN3), JSON.stringify(again.filter((a) => a.kind === "event"))).toBeDefined();
    expect(h.engine.counters).toMatchObject({ acceptWindowsOpened: 3, acceptWindowsRefused: 1 });
    expect(to(MN3, 3, "2001:db8:1::31", 3300)).toHaveLength(1);
  });
});
