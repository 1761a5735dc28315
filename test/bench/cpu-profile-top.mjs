// node test/bench/cpu-profile-top.mjs FILE.cpuprofile [N]: the N functions with the most
// self time in a V8 CPU profile (BENCH_CPU_PROF=DIR npm run bench writes the daemon's).
import { readFileSync } from "node:fs";
import process from "node:process";

const [file, n = "15"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map();
let total = 0;
for (const node of p.nodes) {
  const us = dt.get(node.id) ?? 0;
  total += us;
  const f = node.callFrame;
  const k = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  self.set(k, (self.get(k) ?? 0) + us);
}
const busy = total - [...self].filter(([k]) => k.startsWith("(idle)")).reduce((t, [, v]) => t + v, 0);
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle\n`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) process.stdout.write(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}\n`);
