// Which AN firmware the lab runs, and how: the single executable when one is
// built, else the bundled daemon; or a bundle built from the current source.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "./bundle.ts";

export const DAEMON_PATH = join(repoRoot, "dist/an.mjs");
/** The single executable (node SEA) of the firmware, when one has been built: build/images.mjs links it to dist/an-linux-x64. */
export const DAEMON_BINARY_PATH = join(repoRoot, "dist/an");

/**
 * $AN_DAEMON: the firmware every lab test and the demo run instead of a bundle of
 * the current source (CI sets it to the x64 single executable, dist/an-linux-x64,
 * after build/ci-images.sh built it). Unset: undefined.
 */
export function daemonOverride(): string | undefined {
  const d = process.env.AN_DAEMON;
  if (d === undefined || d === "") return undefined;
  const path = resolve(d);
  if (!existsSync(path)) throw new Error(`AN_DAEMON=${d}: no such file (build it: node build/images.mjs --target x64)`);
  return path;
}

/** What runs the AN firmware: $AN_DAEMON, else the single executable when built, else the bundled daemon. */
export function defaultDaemon(): { readonly path: string; readonly kind: "single executable" | "bundled daemon" | "$AN_DAEMON" } | undefined {
  const override = daemonOverride();
  if (override !== undefined) return { path: override, kind: "$AN_DAEMON" };
  if (isExecutableFile(DAEMON_BINARY_PATH)) return { path: DAEMON_BINARY_PATH, kind: "single executable" };
  if (existsSync(DAEMON_PATH)) return { path: DAEMON_PATH, kind: "bundled daemon" };
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The command line that runs `daemon`: a JavaScript bundle under this node, anything else as itself. */
export function daemonCommand(daemon: string): [string, ...string[]] {
  return /\.[cm]?js$/.test(daemon) ? [process.execPath, daemon] : [daemon];
}

/** Whether the AN daemon bundle exists (issue 4 builds it with build/bundle.mjs). */
export function daemonAvailable(): boolean {
  return existsSync(DAEMON_PATH);
}

/** Bundles the AN daemon from the current source (build/bundle.mjs) into `dir`, once; returns its an.mjs ($AN_DAEMON instead when set). */
export function buildDaemonInto(dir: string): string {
  const override = daemonOverride();
  if (override !== undefined) return override;
  const file = join(dir, "an.mjs");
  if (!existsSync(file)) execFileSync(process.execPath, [join(repoRoot, "build/bundle.mjs"), "--outdir", dir], { stdio: "pipe", timeout: 120_000 });
  return file;
}
