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
const el = results.benchmarks["event-log"];
if (el) say(`\nper-attach logging (${el.attaches.toLocaleString("en")} attaches, file, sync): before ${el.beforeUsPerAttach.toFixed(2)} us / ${el.beforeBytesPerAttach} B, EventLog ${el.afterUsPerAttach.toFixed(2)} us / ${el.afterBytesPerAttach} B, ratio ${el.ratio.toFixed(2)}`);
const ms = (x) => (x === null || x === undefined ? "-" : x.toFixed(x < 10 ? 2 : 0));
const sp = (x) => (x ? `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.max)}` : "-");
const st = results.benchmarks["attach-storm"];
if (st) {
  say(`\n| attach storm (${st.backend}) | offered MNs/s | registered/s | lost | NS/RS -> RRQ p50/p99/max ms | reply -> held frame out p50/p99/max ms | HA reply (baseline) p50/p99/max ms | ratio p50 attach / HA | p99 goal ${st.goalP99Ms} ms | daemon CPU ms/MN | limiter refused / socket drops / retransmissions |`);
  say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of st.rows) {
    const goal = r.attachP99OverGoalMs > 0 || r.releaseP99OverGoalMs > 0 ? `missed by ${ms(r.attachP99OverGoalMs)} / ${ms(r.releaseP99OverGoalMs)} ms` : "met";
    const offer = r.offeredOverMs > 0 ? `over ${r.offeredOverMs} ms` : "burst";
    say(`| ${r.mns.toLocaleString("en")} MNs, ${offer}, starts ${r.startsPerSecond || "unlimited"}/s | ${r.offeredMnsPerSecond.toLocaleString("en")} | ${r.registrationsPerSecond} | ${r.lost} | ${sp(r.attachMs)} | ${sp(r.releaseMs)} | ${sp(r.haReplyMs)} | ${r.ratioAttachP50ToHa.toFixed(1)} | ${goal} | ${r.daemonCpuMsPerMn} | ${r.refusedStartRate} / ${r.accessKernelDrops} / ${r.retransmissions} |`);
  }
}
const sl = results.benchmarks["signalling-load"];
if (sl) {
  say(`\n| signalling (lifetime ${sl.lifetimeS} s, refresh at ${sl.refreshFraction}) | load delivered pps | new MNs lost (tries) | first NS/RS -> RRQ p50/max ms | -> first frame forwarded p50/max ms | ratio to idle p50 / max | request -> renewal p50/max ms (due ${sl.rows[0]?.refreshDueMs}) | ratio to idle p50 / max | access socket drops |`);
  say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const pm = (x) => (x ? `${ms(x.p50)} / ${ms(x.max)}` : "-");
  const rt = (x) => (x ? `${x.p50.toFixed(2)} / ${x.max.toFixed(2)}` : "-");
  for (const r of sl.rows) {
    say(`| ${r.backend}, ${r.loaded ? "loaded" : "idle"} | ${r.loaded ? r.loadDeliveredPps.toLocaleString("en") : "-"} | ${r.newLost} of ${r.newMns} (${r.newTries.join(",")}) | ${pm(r.firstInToRrqMs)} | ${pm(r.firstInToForwardedMs)} | ${rt(r.ratioToIdle?.firstInToForwarded)} | ${pm(r.requestToRenewalMs)} | ${rt(r.ratioToIdle?.requestToRenewal)} | ${r.accessKernelDrops} |`);
  }
}
const ho = results.benchmarks.handover;
if (ho) {
  say(`\n| handover (probes every ${ho.probeIntervalMs} ms) | moves | interruption p50 / max ms | probes lost / sent |`);
  say("| --- | --- | --- | --- |");
  for (const [what, s] of [["context imported over the broker", ho.context], ["fresh registration (baseline; broker stopped, or a fallback)", ho.fresh]]) say(`| ${what} | ${s.moves} | ${s.interruptionP50Ms} / ${s.interruptionMaxMs} | ${s.lostTotal} / ${s.sentTotal} |`);
  if (ho.ratioContextToFresh !== null) say(`\ncontext / fresh interruption (p50): ${ho.ratioContextToFresh.toFixed(2)}; moves with the broker up that fell back to a fresh registration: ${ho.fellBackWithBrokerUp}`);
}
say(`\nresults: ${out} (${results.seconds} s)`);
process.exit(r.status ?? 1);
