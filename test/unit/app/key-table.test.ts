// The per-NAI key table file and the link-layer config: bad lines refused whole
// with their line number and never the key text, fallback defaults, reload.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { engineConfigOf } from "../../../src/app/config-file.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import type { AnConfig } from "../../../src/app/config-schema.ts";
import { parseKeyTable } from "../../../src/app/key-table.ts";

const dir = mkdtempSync(join(tmpdir(), "an-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY16 = "00112233445566778899aabbccddeeff";
const SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const base = {
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY16}` }],
  identity: { derivedRealm: "example.net" },
};

function valid(raw: unknown): AnConfig {
  const v = validateConfig(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.config;
}

describe("key table file", () => {
  it("reads NAI, SPI and key per line; comments and blank lines skipped", () => {
    const t = parseKeyTable(`# subscribers\nalice@example.net 8193 hex:${SECRET}\n\n  bob@example.net\t8194  hex:${KEY16}  \n`, "keys.txt");
    if (!t.ok) throw new Error("refused");
    expect(t.keys.size).toBe(2);
    expect(t.keys.get("alice@example.net")).toEqual({ spi: 8193, secret: Uint8Array.from(Buffer.from(SECRET, "hex")) });
    expect(t.keys.get("bob@example.net")?.spi).toBe(8194);
  });

  it("refuses the whole table on a bad line, naming the line and never the key text", () => {
    const t = parseKeyTable(
      [`alice@example.net 8193 hex:${SECRET}`, `bob@example.net 8194 hex:${SECRET.slice(0, 20)}`, `carol@example.net 12 hex:${SECRET}`, "dave@example.net 8195", `alice@example.net 8196 hex:${KEY16}`, `noatsign 8197 hex:${KEY16}`].join("\n"),
      "keys.txt",
    );
    expect(t.ok).toBe(false);
    if (t.ok) return;
    expect(t.problems.map((p) => p.path)).toEqual(["keys.txt line 2", "keys.txt line 3", "keys.txt line 4", "keys.txt line 5", "keys.txt line 6"]);
    const text = JSON.stringify(t.problems);
    expect(text).not.toContain(SECRET.slice(0, 20));
    expect(text).not.toContain(KEY16);
  });

  it("100,000 entries: all read", () => {
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(`user${i}@example.net ${256 + i} hex:${KEY16}`);
    const t = parseKeyTable(lines.join("\n"), "big");
    expect(t.ok && t.keys.size).toBe(100_000);
    expect(t.ok && t.keys.get("user99999@example.net")?.spi).toBe(256 + 99_999);
  });
});

describe("keys and link layer in the config", () => {
  it("a table makes the realm key a fallback only where keyFallback says so", () => {
    const path = join(dir, "keys.txt");
    writeFileSync(path, `alice@example.net 8193 hex:${SECRET}\n`);
    const withTable = engineConfigOf(valid({ ...base, keys: { table: path } }), new Uint8Array(6));
    if (!withTable.ok) throw new Error("refused");
    expect(withTable.engine.naiKeys?.get("alice@example.net")?.spi).toBe(8193);
    expect(withTable.engine.realms[0]?.realmKeyFallback).toBe(false);
    const allowed = engineConfigOf(valid({ ...base, keys: { table: path }, realms: [{ ...base.realms[0], keyFallback: true }] }), new Uint8Array(6));
    expect(allowed.ok && allowed.engine.realms[0]?.realmKeyFallback).toBe(true);
    const noTable = engineConfigOf(valid(base), new Uint8Array(6));
    expect(noTable.ok && noTable.engine.realms[0]?.realmKeyFallback).toBe(true);
    expect(noTable.ok && noTable.engine.naiKeys).toBeUndefined();
  });

  it("a missing or bad table refuses the config (the last good one stays on reload)", () => {
    const missing = engineConfigOf(valid({ ...base, keys: { table: join(dir, "nope.txt") } }), new Uint8Array(6));
    expect(missing.ok ? [] : missing.problems).toEqual([{ path: "keys.table", message: `cannot read ${join(dir, "nope.txt")}: ENOENT` }]);
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, "alice@example.net 8193 hex:00\n");
    const refused = engineConfigOf(valid({ ...base, keys: { table: bad } }), new Uint8Array(6));
    expect(refused.ok ? [] : refused.problems.map((p) => p.path)).toEqual([`${bad} line 1`]);
  });

  it("hostapd configured: only authorised stations served by default, registration at the NS by default", () => {
    const ec = engineConfigOf(valid({ ...base, linkLayer: { hostapdControl: "/run/hostapd/acc0" } }), new Uint8Array(6));
    expect(ec.ok && ec.engine.linkLayer).toEqual({ requireAuthorised: true, registerOnAuthorised: false });
    const none = engineConfigOf(valid(base), new Uint8Array(6));
    expect(none.ok && none.engine.linkLayer).toBeUndefined();
    expect(validateConfig({ ...base, linkLayer: { requireAuthorised: true } }).ok).toBe(false);
    expect(validateConfig({ ...base, linkLayer: { hostapdControl: "relative/acc0" } }).ok).toBe(false);
  });

  it("the resolver order is validated", () => {
    expect(valid({ ...base, identity: { ...base.identity, order: ["provisioned", "link-auth"] } }).identity.order).toEqual(["provisioned", "link-auth"]);
    expect(validateConfig({ ...base, identity: { ...base.identity, order: ["derived", "derived"] } }).ok).toBe(false);
    expect(validateConfig({ ...base, identity: { ...base.identity, order: ["radius"] } }).ok).toBe(false);
  });
});
