import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readStateFile, writeStateFile } from "../../../src/io/state-file.ts";

const dir = mkdtempSync(join(tmpdir(), "an-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("state file", () => {
  it("round-trips, replaces atomically (no temporary left behind), and refuses foreign files", () => {
    const p = join(dir, "state.json");
    expect(readStateFile(p)).toBeUndefined();
    writeStateFile(p, { version: 1, savedAtWallMs: 5, contexts: [{ a: 1 }] });
    writeStateFile(p, { version: 1, savedAtWallMs: 6, contexts: [{ b: 2 }] });
    expect(readStateFile(p)).toEqual({ version: 1, savedAtWallMs: 6, contexts: [{ b: 2 }] });
    expect(readdirSync(dir)).toEqual(["state.json"]);
    writeFileSync(p, JSON.stringify({ version: 9 }));
    expect(() => readStateFile(p)).toThrow(/version 9/);
  });
});
