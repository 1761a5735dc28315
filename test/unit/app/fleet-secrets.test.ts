// The fleet section's credentials never reach the log (pino redaction as the
// backstop), and a remote document's problems name paths, never values.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../../src/app/config-schema.ts";
import { createLogger } from "../../../src/app/logger.ts";
import { remoteCandidate } from "../../../src/app/remote-config.ts";

const PASSWORD_HEX = "73757065722d7365637265742d70617373776f7264";
const SEED_HEX = "11".repeat(32);
const REALM_KEY = "00112233445566778899aabbccddeeff";

const doc = {
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${REALM_KEY}` }],
  identity: { derivedRealm: "example.net" },
  fleet: { url: "mqtts://broker:8883", password: `hex:${PASSWORD_HEX}`, contextKey: `hex:${SEED_HEX}`, tls: { ca: "file:/ca.pem", cert: "file:/c.pem", key: "file:/secret-key-path.pem" } },
};

describe("fleet secrets", () => {
  it("are redacted when a config reaches a log call", () => {
    const chunks: string[] = [];
    const log = createLogger("trace", new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }));
    const v = validateConfig(doc);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    log.info({ config: v.config }, "config");
    log.info(v.config, "flat");
    log.info({ fleet: v.config.fleet }, "fleet");
    const text = chunks.join("");
    expect(text).toContain("mqtts://broker:8883");
    for (const secret of [PASSWORD_HEX, SEED_HEX, REALM_KEY, "secret-key-path"]) expect(text).not.toContain(secret);
  });

  it("a refused remote document's problems quote no value", () => {
    const bad = { revision: 2, ...doc, nodeId: undefined, fleet: undefined, realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${REALM_KEY}zz` }] };
    const v = validateConfig(doc);
    if (!v.ok) throw new Error("base invalid");
    const c = remoteCandidate(JSON.stringify(bad), { local: v.config, secure: true });
    expect(c.ok).toBe(false);
    expect(JSON.stringify(c)).not.toContain(REALM_KEY);
    const plain = remoteCandidate(JSON.stringify({ ...bad, realms: doc.realms }), { local: v.config, secure: false });
    expect(plain.ok).toBe(false);
    if (!plain.ok) expect(plain.problems).toEqual([{ path: "realms.0.key", message: expect.stringMatching(/only over TLS/) }]);
  });
});
