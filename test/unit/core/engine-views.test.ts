// What the engine tells its daemon instead of the daemon mirroring it: which
// care-of addresses live sessions use, and which sessions have a context record.
import { describe, expect, it } from "vitest";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { COA_POOL, Harness, MN1, MN2 } from "./harness.ts";

describe("engine views for the daemon", () => {
  it("careOfInUse follows the sessions on each care-of address", () => {
    const h = new Harness();
    expect(h.engine.careOfInUse(COA_POOL[0]!)).toBe(false);
    h.register(MN1, 0);
    expect(h.engine.careOfInUse(COA_POOL[0]!)).toBe(true);
    expect(h.engine.careOfInUse(COA_POOL[1]!)).toBe(false);
    h.handle({ kind: "hand-over", mac: MN1 }, 1000);
    expect(h.engine.careOfInUse(COA_POOL[0]!)).toBe(false);
  });

  it("recordedSessions lists bound (and imported) sessions, not ones still registering; a release removes them", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.frame(dadNeighborSolicitation(mac(MN2)), 100);
    expect(h.engine.sessionState(MN2)).toBe("registering");
    expect(h.engine.recordedSessions()).toEqual([MN1]);
    const context = h.engine.exportContext(200, MN1)!;
    h.handle({ kind: "hand-over", mac: MN1 }, 300);
    expect(h.engine.recordedSessions()).toEqual([]);
    const restarted = new Harness();
    restarted.handle({ kind: "import-context", context, resume: true }, 400);
    expect(restarted.engine.recordedSessions()).toEqual([MN1]);
    expect([...restarted.engine.sessions()].map((s) => s.mac)).toEqual([MN1]);
  });
});
