// Benchmark results as JSON: each bench file writes its figures to
// $BENCH_OUT_DIR/<name>.json (test/bench/run.mjs merges them and prints the table).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const QUICK = process.env.BENCH_QUICK === "1";

export function record(name: string, result: unknown): void {
  const dir = process.env.BENCH_OUT_DIR;
  const text = JSON.stringify(result, null, 2);
  if (dir === undefined || dir === "") {
    console.log(`${name}: ${text}`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), text);
}
