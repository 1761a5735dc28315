// Restart state: the session contexts (core/context.ts) in one JSON file, replaced
// atomically (write a temporary file beside it, fsync, rename), so a crash or power
// cut leaves either the old or the new file, never half of one.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";

export const STATE_FILE_VERSION = 1;

export interface StateFileContents {
  readonly version: typeof STATE_FILE_VERSION;
  /** Wall clock (ms since 1970) when written: lifetimes shrink by the time since. */
  readonly savedAtWallMs: number;
  /** Session contexts, validated by the reader (validateContext) before use. */
  readonly contexts: readonly unknown[];
}

export function writeStateFile(path: string, contents: StateFileContents): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(contents)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** undefined when there is no file; throws when it is unreadable or not a state file. */
export function readStateFile(path: string): StateFileContents | undefined {
  if (!existsSync(path)) return undefined;
  const raw: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof raw !== "object" || raw === null) throw new Error("state file is not a JSON object");
  const r = raw as Record<string, unknown>;
  if (r.version !== STATE_FILE_VERSION) throw new Error(`state file version ${String(r.version)}, want ${STATE_FILE_VERSION}`);
  if (typeof r.savedAtWallMs !== "number" || !Array.isArray(r.contexts)) throw new Error("state file lacks savedAtWallMs or contexts");
  return { version: STATE_FILE_VERSION, savedAtWallMs: r.savedAtWallMs, contexts: r.contexts as unknown[] };
}
