// A valid session context for record and transfer tests.
import type { SessionContext } from "../../src/core/context.ts";

export const MAC = "02:11:22:33:44:01";
export function sampleContext(over: Partial<SessionContext> = {}): SessionContext {
  return {
    version: 1,
    mac: MAC,
    nai: "021122334401@example.net",
    homeAgent: 0x0a000002,
    careOf: { address: 0x0a00000a, greKey: null },
    identification: "16045690984503098046",
    clockOffsetMs: 0,
    haLinkLayer: "02:00:5e:00:53:01",
    addresses: ["2001:db8::1"],
    remainingLifetimeMs: 600_000,
    homeAddress: 0,
    heldFrames: ["00112233"],
    ...over,
  };
}
