// npm run bench [-- --quick] [-- --out FILE]: runs the benchmarks (vitest, one
// worker), merges their JSON into FILE (default bench-results.json) and prints the
// tables. --quick: short runs (under two minutes), same shape of output.
import process from "node:process";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ options: { quick: { type: "boolean" }, out: { type: "string" } }, allowPositionals: true });
const dir = mkdtempSync(join(tmpdir(), "an-bench-"));
const started = Date.now();
const r = spawnSync("npx", ["vitest", "run", "--config", "vitest.bench.config.ts", ...positionals], {
  stdio: "inherit",
  env: { ...process.env, BENCH_QUICK: values.quick ? "1" : "0", BENCH_OUT_DIR: dir },
});
const results = { quick: Boolean(values.quick), at: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000), benchmarks: {} };
for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) results.benchmarks[f.slice(0, -5)] = JSON.parse(readFileSync(join(dir, f), "utf8"));
rmSync(dir, { recursive: true, force: true });
const out = values.out ?? "bench-results.json";
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

const say = (line) => process.stdout.write(`${line}\n`);
const dp = results.benchmarks.datapath;
if (dp) {
  say("\n| MNs | direction | frame | backend | packets/s | ratio to bridge | loss | daemon CPU |");
  say("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const row of dp.rows) {
    const pct = (x) => (x === null ? "-" : `${(x * 100).toFixed(1)} %`);
    say(`| ${row.mns ?? 1} | ${row.direction} | ${row.frameBytes} B | ${row.backend} | ${Math.round(row.pps).toLocaleString("en")} | ${row.ratioToBridge === null ? "-" : row.ratioToBridge.toFixed(2)} | ${pct(row.loss)} | ${pct(row.daemonCpu)} |`);
  }
}
const su = results.benchmarks.startup;
if (su) {
  say("\n| start-up | median ms | ratio to `node -e 0` |");
  say("| --- | --- | --- |");
  for (const row of su.rows) say(`| ${row.what} | ${row.medianMs.toFixed(0)} | ${row.ratio.toFixed(2)} |`);
}
const en = results.benchmarks.engine;
if (en) {
  say(`\n| engine (${en.sessions.toLocaleString("en")} sessions) | figure | baseline (same run) | ratio |`);
  say("| --- | --- | --- | --- |");
  for (const row of en.rows) say(`| ${row.what} | ${row.value} | ${row.baseline ?? "-"} | ${row.ratio === null ? "-" : row.ratio.toFixed(2)} |`);
}
if (en?.refreshSpread) say(`\nrefresh spread (all bound at once, lifetime ${en.refreshSpread.lifetimeS} s): ${en.refreshSpread.firstS}-${en.refreshSpread.lastS} s after binding, busiest second ${en.refreshSpread.busiestSecond} RRQs`);
const es = results.benchmarks["engine-state"];
if (es) {
  say(`\n| idle session state (${es.sessions.toLocaleString("en")} sessions) | bytes per session |`);
  say("| --- | --- |");
  say(`| engine heap (snapshot diff) | ${es.heapPerSession} |`);
  if (es.fastPathMaps) say(`| fast path maps, up + down (kernel memlock; key+value ${es.fastPathMaps.keyValueBytes} B) | ${Math.round(es.fastPathMaps.bytesPerSession)} |`);
  say(`| total (goal ${es.goalBytes}) | ${es.totalPerSession} (${es.overGoalBytes > 0 ? `missed by ${es.overGoalBytes}` : "met"}) |`);
  for (const k of es.breakdown.slice(0, 8)) say(`| - ${k.kind} | ${k.bytesPerSession} |`);
}
say(`\nresults: ${out} (${results.seconds} s)`);
process.exit(r.status ?? 1);
