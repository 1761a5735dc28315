// A new configuration applies without dropping sessions.
import { describe, expect, it } from "vitest";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { COA_POOL, eventsOf, expectIndependentlyAuthenticated, HA, Harness, makeConfig, MN1, MN2, MN3, parsedRequest, REALM, REALM2, requestsIn, v4 } from "./harness.ts";

const ROTATED: MnHaKey = { spi: 0x1002, secret: new TextEncoder().encode("rotated example.net secret") };

describe("reconfigure", () => {
  it("keeps bound sessions and signs their next request with the realm's new key", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.engine.reconfigure(makeConfig({ realms: [{ ...REALM, mnHaKey: ROTATED }, REALM2] }));
    expect(h.engine.sessionState(MN1)).toBe("bound");
    const [renewal] = requestsIn(h.fireNext());
    expectIndependentlyAuthenticated(renewal!.bytes, ROTATED);
    // Replies are checked under the new key too.
    h.answerLast({}, ROTATED, HA);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("a new CoA pool applies to new MNs; addresses in use stay with their MNs", () => {
    const h = new Harness();
    h.register(MN1, 0);
    h.engine.reconfigure(makeConfig({ careOf: { mode: "pool", addresses: [v4("203.0.113.77")] } }));
    expect(h.engine.session(MN1)?.careOf.address).toBe(COA_POOL[0]);
    const [req] = requestsIn(h.frame(dadNeighborSolicitation(mac(MN2)), 10));
    expect(parsedRequest(req!.bytes).message.careOfAddress).toBe(v4("203.0.113.77"));
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN3)), 20), "refused")[0]?.reason).toBe("coa-exhausted");
  });

  it("new hold caps apply to what is held next", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.engine.reconfigure(makeConfig({ hold: { framesPerMn: 1, bytesPerMn: 10_000, framesTotal: 100, bytesTotal: 100_000 } }));
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN1)), 10), "hold-dropped")[0]?.reason).toBe("per-mn-frames");
  });
});
