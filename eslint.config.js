// Lint rules that keep the architecture of DESIGN.md section 2: imports flow
// wire <- core <- io <- app, core has no clock or I/O, and src has no `any`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeIo = ["node:*", "fs", "net", "dgram", "os", "child_process", "timers", "worker_threads"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "src/native/build/**", "build/out/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    files: ["src/wire/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["../core/*", "../io/*", "../app/*", "**/core/**", "**/io/**", "**/app/**"], message: "wire imports nothing outward" },
          { group: nodeIo.filter((m) => m !== "node:*"), message: "wire has no I/O" },
        ],
      }],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["../io/*", "../app/*", "**/io/**", "**/app/**"], message: "core may import wire only" },
          { group: nodeIo, message: "core is sans-I/O: no node modules (time comes in as an argument)" },
        ],
      }],
      "no-restricted-globals": ["error",
        { name: "setTimeout", message: "core has no timers: report a deadline" },
        { name: "setInterval", message: "core has no timers: report a deadline" },
        { name: "performance", message: "core has no clock: take `now` as an argument" },
      ],
      "no-restricted-properties": ["error",
        { object: "Date", property: "now", message: "core has no clock: take `now` as an argument" },
        { object: "Math", property: "random", message: "core takes randomness from an injected source so tests replay" },
      ],
    },
  },
  {
    files: ["src/io/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["../app/*", "**/app/**"], message: "io may not import app" }],
      }],
    },
  },
);
