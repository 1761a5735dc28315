// `npm run demo`: bundles the lab demo (test/lab/demo.ts) with esbuild into
// dist/lab-demo.mjs and runs it in this process (arguments pass through). The
// AN firmware it runs is built first by `npm run build` (see package.json).
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist/lab-demo.mjs");
await build({
  entryPoints: [join(root, "test/lab/demo.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  // The lab bundles the home agent and its tools at run time with esbuild itself.
  external: ["esbuild"],
  banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
});
await import(pathToFileURL(outfile).href);
