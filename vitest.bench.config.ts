// Benchmarks run on demand (`npm run bench`), never in `npm test`: they report
// figures and ratios against baselines measured in the same run, and assert no
// timing thresholds (shared machines are noisy).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/bench/**/*.bench.ts"],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
    execArgv: ["--expose-gc"],
    maxWorkers: 1,
  },
});
