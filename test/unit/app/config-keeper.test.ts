// SIGHUP reload rule: a candidate applies whole or not at all; the last good
// config stays in force with every problem listed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../../src/app/config-file.ts";
import { ConfigKeeper } from "../../../src/app/config-keeper.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";

const dir = mkdtempSync(join(tmpdir(), "an-keeper-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  revision: 1,
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: "hex:00112233445566778899aabbccddeeff" }],
  identity: { derivedRealm: "example.net" },
};

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

function keeper(): ConfigKeeper {
  const v = validateConfig(base);
  if (!v.ok) throw new Error("base invalid");
  return new ConfigKeeper(v.config, new Uint8Array(6));
}

describe("ConfigKeeper (reload)", () => {
  it("refuses an invalid file with every problem and keeps the last good config", () => {
    const k = keeper();
    const bad = { ...base, revision: 2, careOf: { mode: "pool", addresses: ["10.0.0.300", "10.0.0.10"] }, realms: [{ ...base.realms[0], spi: 7 }], log: { level: "loud" } };
    const offer = k.offer(loadConfigFile(file("bad.json", bad), undefined));
    expect(offer.ok).toBe(false);
    if (offer.ok) return;
    expect(offer.problems.map((p) => p.path).sort()).toEqual(["careOf.addresses.0", "log.level", "realms.0.spi"]);
    expect(k.current.revision).toBe(1);
  });

  it("refuses unreadable JSON and an unreadable key file, naming the file problem only", () => {
    const k = keeper();
    const notJson = k.offer(loadConfigFile(file("nj.json", "{ nope"), undefined));
    expect(notJson.ok).toBe(false);
    const missing = k.offer(loadConfigFile(file("kf.json", { ...base, realms: [{ ...base.realms[0], key: `file:${join(dir, "missing.key")}` }] }), undefined));
    expect(missing).toEqual({ ok: false, problems: [{ path: "realms.0.key", message: "cannot read key file: ENOENT" }] });
    expect(k.current.revision).toBe(1);
  });

  it("accepts a valid file, reports fields that need a restart, and commits on request", () => {
    const k = keeper();
    writeFileSync(join(dir, "k.hex"), "aabbccddeeff00112233445566778899\n");
    const good = { ...base, revision: 3, uplink: { interface: "up1" }, tunnel: { uplinkMtu: 1400 }, realms: [{ ...base.realms[0], key: `file:${join(dir, "k.hex")}` }], log: { level: "debug" } };
    const offer = k.offer(loadConfigFile(file("good.json", good), undefined));
    expect(offer.ok).toBe(true);
    if (!offer.ok) return;
    expect(offer.needsRestart).toEqual(["uplink.interface", "tunnel.uplinkMtu"]);
    expect([...offer.engine.realms[0]!.mnHaKey.secret]).toEqual([...Buffer.from("aabbccddeeff00112233445566778899", "hex")]);
    expect(k.current.revision).toBe(1);
    k.commit(offer.config);
    expect(k.current.revision).toBe(3);
    expect(k.current.log.level).toBe("debug");
  });
});
