// Key material never reaches the log: the redaction paths catch keys in config
// and key objects even when a caller logs one by mistake.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/app/logger.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import { toEngineConfig } from "../../../src/app/config-schema.ts";

const KEY_HEX = "00112233445566778899aabbccddeeff";

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

const raw = {
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY_HEX}` }],
  identity: { derivedRealm: "example.net" },
};

describe("logger redaction", () => {
  it("never writes key material, whatever object reaches it", () => {
    const out = capture();
    const log = createLogger("trace", out.stream);
    const v = validateConfig(raw);
    if (!v.ok) throw new Error("example config invalid");
    const ec = toEngineConfig(v.config, new Uint8Array(6), () => "");
    log.info({ config: v.config }, "config");
    log.info(v.config, "config flat");
    log.info({ realm: v.config.realms[0] }, "realm");
    log.info({ key: `hex:${KEY_HEX}`, secret: KEY_HEX }, "bare");
    log.info({ engine: { realms: ec.realms.map((r) => ({ realm: r.realm, mnHaKey: r.mnHaKey })) } }, "engine");
    log.info({ realms: ec.realms }, "engine realms");
    const text = out.text();
    expect(text.split("\n").filter(Boolean)).toHaveLength(6);
    expect(text.toLowerCase()).not.toContain(KEY_HEX);
    // The bytes as a Uint8Array serialise as numbers: none of those either.
    expect(text).not.toContain('"0":0,"1":17');
    expect(text).not.toMatch(/\[0,17,34/);
    expect(text).toContain("[redacted]");
  });

  it("changes level at runtime", () => {
    const out = capture();
    const log = createLogger("info", out.stream);
    log.debug("hidden");
    log.level = "debug";
    log.debug("shown");
    expect(out.text()).not.toContain("hidden");
    expect(out.text()).toContain("shown");
  });
});
