// Compiles the kernel fast path (src/bpf/an_fastpath.bpf.c) to one BPF object,
// dist/an_fastpath.bpf.o: BPF bytecode, the same file for every little-endian board
// (x86-64, arm64, armv7; big-endian MIPS would need -target bpfeb). The firmware
// image ships it next to the addon; the daemon loads it from there (or
// datapath.bpfObject in the config).
//   node build/bpf.mjs [--out FILE] [--if-available]
// --if-available: without clang, say so and exit 0 (npm run build on a machine
// without clang still bundles; the daemon then runs the userspace datapath).
import process from "node:process";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { out: { type: "string" }, "if-available": { type: "boolean" } } });
const out = values.out ?? join(root, "dist", "an_fastpath.bpf.o");
const clang = process.env.CLANG ?? "clang";

if (spawnSync(clang, ["--version"], { stdio: "ignore" }).status !== 0) {
  const msg = `${clang} not found: the kernel fast path object is not built (apt-get install clang libbpf-dev)\n`;
  process.stderr.write(values["if-available"] ? `warning: ${msg}` : `error: ${msg}`);
  process.exit(values["if-available"] ? 0 : 1);
}
mkdirSync(dirname(out), { recursive: true });
// The multiarch include dir holds <asm/types.h> for the kernel UAPI headers; only typedefs come from it.
const multiarch = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim();
const args = ["-O2", "-g", "-target", "bpfel", "-Wall", "-Werror", ...(multiarch ? [`-I/usr/include/${multiarch}`] : []), "-c", join(root, "src/bpf/an_fastpath.bpf.c"), "-o", out];
const r = spawnSync(clang, args, { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
process.stdout.write(`${out}\n`);
