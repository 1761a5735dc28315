// esbuild bundles of the lab's TypeScript entry points (the home agent, the tools),
// so a child process in a namespace runs them with plain `node`: no TS loader.
// The native addon is not bundled: children get its path in $AN_NATIVE_ADDON.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
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
