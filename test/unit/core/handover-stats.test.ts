// Issue 10: handovers in (a session imported from another AN's context) and out
// (released because another AN took the MN), and the interruption measured at the
// new AN: from the MN's first frame seen here to the first frame forwarded for it
// after its registration completed.
import { describe, expect, it } from "vitest";
import type { SessionContext } from "../../../src/core/context.ts";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import { dadNeighborSolicitation, dataFrame, echoRequestPacket, ip6, linkLocalOf, mac, mldReport } from "../../support/frames.ts";
import { COA_POOL, Harness, HA_MAC, makeConfig, MN1, ofKind } from "./harness.ts";

/** MN1's context at an old AN, bound there; `held`: with its DAD probe still held (exported before the reply). */
function contextFromOldAn(held: boolean): SessionContext {
  const old = new Harness();
  if (held) {
    old.frame(dadNeighborSolicitation(mac(MN1)), 0);
    return old.engine.exportContext(10, MN1)!;
  }
  old.register(MN1, 0);
  return { ...old.engine.exportContext(10, MN1)!, heldFrames: [] };
}

function handovers(h: Harness) {
  return { in: h.engine.counters.handoversIn, out: h.engine.counters.handoversOut, interruption: h.engine.handoverInterruption() };
}

describe("handover telemetry", () => {
  it("counts an import as one handover in and measures from the first frame seen to the held frame released at the binding", () => {
    const next = new Harness(makeConfig({ contextFirst: true }));
    // The moved MN's first frame: no session, reported for the context fetch.
    expect(ofKind(next.frame(mldReport(mac(MN1)), 1000), "unknown-station")).toHaveLength(1);
    next.handle({ kind: "import-context", context: contextFromOldAn(true), resume: false, firstSeenAt: 1000 }, 1040);
    expect(handovers(next)).toMatchObject({ in: 1, out: 0, interruption: { count: 0 } });
    const out = next.answerLast();
    expect(ofKind(out, "to-tunnel")).toHaveLength(1);
    const t = handovers(next).interruption;
    expect(t).toMatchObject({ count: 1, sum: 40 });
    expect(t.le).toMatchObject({ "20": 0, "50": 1, "+Inf": 1 });
    // Only the first forwarded frame ends it.
    next.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8::9")), 2000);
    expect(handovers(next).interruption.count).toBe(1);
  });

  it("without a held frame ends at the first uplink frame after the binding, measured from the import when no frame is named", () => {
    const next = new Harness();
    next.handle({ kind: "import-context", context: contextFromOldAn(false), resume: false }, 500);
    next.answerLast();
    expect(handovers(next).interruption.count).toBe(0);
    expect(ofKind(next.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8::9")), 620), "to-tunnel")).toHaveLength(1);
    expect(handovers(next).interruption).toMatchObject({ count: 1, sum: 120 });
  });

  it("ends at a downlink packet when it comes before any uplink", () => {
    const next = new Harness();
    next.handle({ kind: "import-context", context: contextFromOldAn(false), resume: false, firstSeenAt: 100 }, 300);
    next.answerLast();
    const down = next.tunnel(echoRequestPacket(ip6("2001:db8::7"), linkLocalOf(mac(MN1)), 1), { outerDst: COA_POOL[0]! }, 2600);
    expect(ofKind(down, "to-mn")).toHaveLength(1);
    expect(handovers(next).interruption).toMatchObject({ count: 1, sum: 2500 });
    expect(handovers(next).interruption.le).toMatchObject({ "2000": 0, "5000": 1 });
  });

  it("ends at the fast path's activity report when the kernel carried the first frames", () => {
    const next = new Harness();
    next.handle({ kind: "import-context", context: contextFromOldAn(false), resume: false, firstSeenAt: 0 }, 10);
    next.handle({ kind: "mn-active", mac: MN1 }, 15); // still registering: not forwarding yet
    next.answerLast();
    next.handle({ kind: "mn-active", mac: MN1 }, 900);
    expect(handovers(next).interruption).toMatchObject({ count: 1, sum: 900 });
  });

  it("a registration that fails after the import observes no interruption", () => {
    const next = new Harness();
    next.handle({ kind: "import-context", context: contextFromOldAn(true), resume: false, firstSeenAt: 0 }, 10);
    next.answerLast({ code: ReplyCode.AdministrativelyProhibited });
    next.advanceTo(120_000);
    expect(handovers(next)).toMatchObject({ in: 1, interruption: { count: 0 } });
  });

  it("a restart's own record (resume) and a fresh registration are no handovers", () => {
    const old = new Harness();
    old.register(MN1, 0);
    const restarted = new Harness();
    restarted.handle({ kind: "import-context", context: old.engine.exportContext(10, MN1)!, resume: true }, 10);
    restarted.frame(dataFrame(mac(MN1), HA_MAC, ip6("2001:db8::9")), 20);
    expect(handovers(restarted)).toMatchObject({ in: 0, out: 0, interruption: { count: 0 } });
    expect(handovers(old)).toMatchObject({ in: 0, out: 0 });
    const fresh = new Harness(makeConfig({ contextFirst: true }));
    fresh.frame(mldReport(mac(MN1)), 0);
    fresh.handle({ kind: "register-station", mac: MN1 }, 5);
    fresh.answerLast();
    expect(handovers(fresh)).toMatchObject({ in: 0, interruption: { count: 0 } });
  });

  it("counts a handover out when another AN asks for the MN (hand-over), not for an unknown MAC", () => {
    const old = new Harness();
    old.register(MN1, 0);
    old.handle({ kind: "hand-over", mac: "02:11:22:33:44:99" }, 100);
    expect(handovers(old).out).toBe(0);
    old.handle({ kind: "hand-over", mac: MN1 }, 200);
    expect(old.engine.sessionCount).toBe(0);
    expect(handovers(old)).toMatchObject({ in: 0, out: 1 });
  });
});
