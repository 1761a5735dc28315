// The command line without a network: --version, --help, check-config, boards,
// and the shipped example config.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { boardDefaults, loadBoard, mergeUnder } from "../../../src/app/board.ts";
import { loadConfigFile } from "../../../src/app/config-file.ts";
import { main } from "../../../src/app/main.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const example = join(root, "board/examples/lab.json");
const dir = mkdtempSync(join(tmpdir(), "an-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe("an CLI", () => {
  it("--version and --help", async () => {
    const v = await cli("--version");
    expect(v.code).toBe(0);
    expect(v.out[0]).toMatch(/^\d+\.\d+\.\d+/);
    const h = await cli("--help");
    expect(h.code).toBe(0);
    expect(h.out.join("\n")).toContain("an run --config FILE");
    expect((await cli()).code).toBe(2);
    expect((await cli("frobnicate")).code).toBe(2);
    expect((await cli("run")).code).toBe(2);
    expect((await cli("--bogus")).code).toBe(2);
  });

  it("check-config: the shipped example is valid, alone and with its board", async () => {
    const r = await cli("check-config", example);
    expect(r.code).toBe(0);
    expect(r.out[0]).toContain("valid");
    expect((await cli("check-config", example, "--board", "lab-x64")).code).toBe(0);
  });

  it("check-config: lists every problem with its path, exit 1", async () => {
    const p = join(dir, "bad.json");
    writeFileSync(p, JSON.stringify({ nodeId: "bad id", access: { interface: "acc0" }, uplink: {}, careOf: { mode: "pool", addresses: [] }, realms: [] }));
    const r = await cli("check-config", p);
    expect(r.code).toBe(1);
    expect(r.out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^nodeId: /),
        expect.stringMatching(/^uplink\.interface: /),
        expect.stringMatching(/^careOf\.addresses: /),
        expect.stringMatching(/^realms: /),
        expect.stringMatching(/^identity: /),
      ]),
    );
    expect(r.err[0]).toMatch(/\d+ problems/);
  });

  it("an unknown board is an error", async () => {
    const r = await cli("check-config", example, "--board", "no-such-board");
    expect(r.code).toBe(1);
    expect(r.err[0]).toContain("no profile found");
  });
});

describe("board profiles", () => {
  it("lab-x64 validates and supplies interfaces and defaults under the config", () => {
    const b = loadBoard("lab-x64");
    if (!b.ok) throw new Error(b.problems.join("; "));
    expect(b.board.arch).toBe("x64");
    const p = join(dir, "minimal.json");
    writeFileSync(
      p,
      JSON.stringify({
        nodeId: "an-2",
        careOf: { mode: "pool", addresses: ["10.0.0.10"] },
        realms: [{ realm: "*", homeAgent: "10.0.0.2", spi: 300, key: "hex:000102030405060708090a0b0c0d0e0f" }],
        identity: { derivedRealm: "example.net" },
        log: { level: "warn" },
      }),
    );
    const loaded = loadConfigFile(p, b.board);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    expect(loaded.config.access.interface).toBe("acc0");
    expect(loaded.config.uplink.interface).toBe("up0");
    expect(loaded.config.log.level).toBe("warn"); // the config wins
    expect(loaded.config.telemetry.intervalS).toBe(60); // from the board
    expect(boardDefaults(b.board)).toMatchObject({ access: { interface: "acc0", promiscuous: true } });
  });

  it("merges objects key by key and replaces arrays and scalars", () => {
    expect(mergeUnder({ a: { x: 1, y: 2 }, l: [1, 2], s: "u" }, { a: { y: 3 }, l: [9], s: "o" })).toEqual({ a: { x: 1, y: 3 }, l: [9], s: "o" });
    expect(mergeUnder({ a: 1 }, undefined)).toEqual({ a: 1 });
  });
});
