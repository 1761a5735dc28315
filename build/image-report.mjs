// The size and start-time report of the firmware images (build/images.mjs writes it
// after a build): per target the file size, its xz -6 size (what a download or a
// flash partition holds), and the wall time of `an --version` (Node start, bundle
// load) and of `an selftest` (plus the addon extracted and dlopened, a packet socket
// on lo: needs CAP_NET_RAW, else its time is still the start cost up to that check).
// x64 runs natively, ARM under qemu-user (no binfmt_misc here: qemu is called
// explicitly), so ARM times are emulation times, not board times.
// Writes dist/images-report.json and dist/images-report.md; prints the table.
import process from "node:process";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";

// ARM under qemu-user costs seconds per start: few runs there (CI time).
const RUNS = { native: 10, emulated: 2 };

function timeRuns(cmd, args, runs) {
  const ms = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    last = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000 });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { meanMs: Math.round(ms.reduce((a, b) => a + b, 0) / ms.length), minMs: Math.round(ms[0]), runs, status: last.status, stdout: last.stdout.trim() };
}

/** Compressed size through `tool` (gzip -6 by default: seconds; xz -6 takes minutes per image on 2 busy cores). */
function compressedBytes(file, tool) {
  try {
    return Number(execFileSync("sh", ["-c", `${tool} -c "$1" | wc -c`, "sh", file], { encoding: "utf8" }).trim());
  } catch {
    return null;
  }
}

const mb = (n) => (n === null ? "n/a" : `${(n / 1e6).toFixed(1)} MB`);

export function writeReport(root, outdir, images, info, o = {}) {
  // Wall times on a shared machine depend on its load: the report says what it was.
  const loadBefore = loadavg()[0];
  const compressor = o.xz ? "xz -6 -T2" : "gzip -6";
  const rows = [];
  for (const img of images) {
    const exe = join(root, img.file);
    const [cmd, ...pre] = img.emulator.length > 0 ? [...img.emulator, exe] : [exe];
    const runs = img.emulator.length > 0 ? RUNS.emulated : RUNS.native;
    const version = timeRuns(cmd, [...pre, "--version"], runs);
    const selftest = timeRuns(cmd, [...pre, "selftest", ...(img.emulator.length > 0 ? ["--emulated"] : [])], img.emulator.length > 0 ? 1 : 3);
    rows.push({
      ...img,
      compressed: { tool: compressor, bytes: compressedBytes(exe, compressor) },
      how: img.emulator.length > 0 ? img.emulator[0] : "native",
      versionLine: version.stdout,
      startVersion: { meanMs: version.meanMs, minMs: version.minMs, runs: version.runs },
      startSelftest: { meanMs: selftest.meanMs, minMs: selftest.minMs, runs: selftest.runs, exit: selftest.status },
    });
  }
  const load = { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0].toFixed(2)) };
  const report = { load, commit: info.commit, version: info.version, fastpath: info.fastpath, host: `${process.arch}, ${process.env.CI ? "CI" : "dev"} machine`, images: rows };
  writeFileSync(join(outdir, "images-report.json"), `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    `Firmware ${info.version}, commit ${info.commit.slice(0, 12)}; fast-path object: ${info.fastpath ?? "none"}; load average ${load.before} -> ${load.after} on ${cpus().length} CPUs`,
    "",
    `| image | Node | size | ${compressor.split(" -T")[0]} | \`--version\` mean (min) | \`selftest\` mean (exit) | run as |`,
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.file} | ${r.node} | ${mb(r.bytes)} | ${mb(r.compressed.bytes)} | ${r.startVersion.meanMs} ms (${r.startVersion.minMs}) x${r.startVersion.runs} | ${r.startSelftest.meanMs} ms (${r.startSelftest.exit}) x${r.startSelftest.runs} | ${r.how} |`),
    "",
  ].join("\n");
  writeFileSync(join(outdir, "images-report.md"), md);
  process.stdout.write(`\nimages: size and start-time report (${join(outdir, "images-report.md")})\n${md}\n`);
  return report;
}
