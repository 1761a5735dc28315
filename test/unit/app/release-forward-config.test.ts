// Issue 10: fleet.releaseForwardMs (the handover forwarding window) is validated by
// the schema and reaches the engine as both windows: the old AN's, and the new AN's
// (that plus the release rpc's timeout, which it spans after its import).
import { describe, expect, it } from "vitest";
import { engineConfigOf } from "../../../src/app/config-file.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import { RELEASE_RPC_TIMEOUT_MS } from "../../../src/app/release-rpc.ts";

const base = {
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "*", homeAgent: "10.0.0.2", spi: 4097, key: "hex:00112233445566778899aabbccddeeff" }],
  identity: { derivedRealm: "example.net" },
};
const withFleet = (fleet: Record<string, unknown>) => ({ ...base, fleet: { url: "mqtt://127.0.0.1:1883", ...fleet } });

function windows(raw: unknown): { releaseForwardMs?: number; peerForwardAcceptMs?: number } {
  const v = validateConfig(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const e = engineConfigOf(v.config, new Uint8Array(6));
  if (!e.ok) throw new Error(JSON.stringify(e.problems));
  return { releaseForwardMs: e.engine.releaseForwardMs, peerForwardAcceptMs: e.engine.peerForwardAcceptMs };
}

describe("fleet.releaseForwardMs", () => {
  it("defaults to 2000 ms; the new AN accepts for that plus the rpc timeout", () => {
    expect(windows(withFleet({}))).toEqual({ releaseForwardMs: 2000, peerForwardAcceptMs: 2000 + RELEASE_RPC_TIMEOUT_MS });
    expect(windows(withFleet({ releaseForwardMs: 500 }))).toEqual({ releaseForwardMs: 500, peerForwardAcceptMs: 1500 });
  });

  it("0 turns both off, and so does having no fleet", () => {
    expect(windows(withFleet({ releaseForwardMs: 0 }))).toEqual({ releaseForwardMs: 0, peerForwardAcceptMs: 0 });
    expect(windows(base)).toEqual({ releaseForwardMs: 0, peerForwardAcceptMs: 0 });
  });

  it("is an integer 0..30000: anything else is refused with its path", () => {
    for (const bad of [-1, 30_001, 1.5, "2000"]) {
      const v = validateConfig(withFleet({ releaseForwardMs: bad }));
      expect(v.ok ? [] : v.problems.map((p) => p.path)).toEqual(["fleet.releaseForwardMs"]);
    }
    expect(validateConfig(withFleet({ releaseForwardMs: 30_000 })).ok).toBe(true);
  });
});
