// Which AN firmware the lab runs, and how: the single executable when one is
// built, else the bundled daemon; or a bundle built from the current source.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./bundle.ts";

export const DAEMON_PATH = join(repoRoot, "dist/an.mjs");
/** The single executable (node SEA) of the firmware, when one has been built. */
export const DAEMON_BINARY_PATH = join(repoRoot, "dist/an");

/** What runs the AN firmware: the single executable when built, else the bundled daemon. */
export function defaultDaemon(): { readonly path: string; readonly kind: "single executable" | "bundled daemon" } | undefined {
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

/** Bundles the AN daemon from the current source (build/bundle.mjs) into `dir`, once; returns its an.mjs. */
export function buildDaemonInto(dir: string): string {
  const file = join(dir, "an.mjs");
  if (!existsSync(file)) execFileSync(process.execPath, [join(repoRoot, "build/bundle.mjs"), "--outdir", dir], { stdio: "pipe", timeout: 120_000 });
  return file;
}
