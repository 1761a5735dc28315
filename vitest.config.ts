import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    benchmark: { include: ["test/bench/**/*.bench.ts"] },
    // Namespace tests share host-wide resources (netns names, veths); keep files serial
    // where they opt in via their own locks, but allow parallel unit files.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
