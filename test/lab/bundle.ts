// esbuild bundles of the lab's TypeScript entry points (the home agent, the tools),
// so a child process in a namespace runs them with plain `node`: no TS loader.
// The native addon is not bundled: children get its path in $AN_NATIVE_ADDON.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest directory above this module (or above the
 * bundle it was bundled into, e.g. the demo's dist/lab-demo.mjs) whose package.json
 * names this project; $AN_REPO_ROOT overrides.
 */
function findRepoRoot(): string {
  if (process.env.AN_REPO_ROOT) return process.env.AN_REPO_ROOT;
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    try {
      if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "access-node") return `${dir}/`;
    } catch {
      // not ours: keep looking
    }
  }
  return fileURLToPath(new URL("../../", import.meta.url));
}

export const repoRoot = findRepoRoot();
export const addonPath = join(repoRoot, "src/native/build/Release/an_native.node");

/** Bundles `entry` (relative to the repository root) to `outfile`; returns outfile. */
export async function bundleEntry(entry: string, outfile: string, o: { readonly native?: boolean } = {}): Promise<string> {
  if (o.native !== false && !existsSync(addonPath)) throw new Error(`${addonPath} missing: run npm run build:native`);
  // Loaded on demand, and left out of bundles (a bundled tool may import this file without bundling).
  const { build } = await import("esbuild");
  await build({
    entryPoints: [join(repoRoot, entry)],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "error",
    external: ["esbuild"],
    // zod and friends are CommonJS-free, but keep `require` available for any that is not.
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  });
  return outfile;
}

/** Environment for a child that loads the addon through src/io. */
export function nativeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, AN_NATIVE_ADDON: addonPath };
}
