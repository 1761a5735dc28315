// Bundles the daemon (src/app/main.ts) into one ESM file, dist/an.mjs, for Node 20+.
// The native addon is not bundled: it is copied next to the bundle (dist/an_native.node),
// where src/io/native-addon.ts looks for it (or set AN_NATIVE_ADDON). Board profiles
// are copied to dist/board/ for `an run --board NAME`.
//   node build/bundle.mjs [--outdir DIR]
import process from "node:process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { gitCommit, packageVersion } from "./build-info.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = values.outdir ?? join(root, "dist");

mkdirSync(outdir, { recursive: true });
const result = await build({
  entryPoints: [join(root, "src/app/main.ts")],
  outfile: join(outdir, "an.mjs"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  // pino and its helpers are CommonJS: give them a real `require` for Node built-ins.
  banner: { js: 'import { createRequire as __anCreateRequire } from "node:module";\nconst require = __anCreateRequire(import.meta.url);' },
  define: { AN_BUILD_VERSION: JSON.stringify(packageVersion(root)), AN_BUILD_COMMIT: JSON.stringify(gitCommit(root)), AN_BUILD_TARGET: JSON.stringify("bundle") },
  metafile: true,
  logLevel: "warning",
});

const addon = join(root, "src/native/build/Release/an_native.node");
if (existsSync(addon)) copyFileSync(addon, join(outdir, "an_native.node"));
else process.stderr.write(`warning: ${addon} missing (npm run build:native); set AN_NATIVE_ADDON when running\n`);

// The kernel fast path (npm run build:bpf): the daemon looks for it next to the addon.
const bpf = join(root, "dist/an_fastpath.bpf.o");
if (existsSync(bpf)) {
  if (join(outdir, "an_fastpath.bpf.o") !== bpf) copyFileSync(bpf, join(outdir, "an_fastpath.bpf.o"));
} else process.stderr.write(`warning: ${bpf} missing (npm run build:bpf): the daemon will use the userspace datapath\n`);

const boards = join(root, "board");
mkdirSync(join(outdir, "board"), { recursive: true });
for (const f of readdirSync(boards)) if (f.endsWith(".json")) copyFileSync(join(boards, f), join(outdir, "board", f));

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`${join(outdir, "an.mjs")}: ${(bytes / 1024).toFixed(0)} KiB\n`);
