// Reading the config file: JSON, with the board's defaults merged under it,
// validated whole (every problem listed), key files resolved. Used at start,
// on SIGHUP and by `an check-config`.
import { readFileSync } from "node:fs";
import type { EngineConfig } from "../core/config.ts";
import type { BoardProfile } from "./board.ts";
import { boardDefaults, mergeUnder } from "./board.ts";
import type { AnConfig, ConfigProblem } from "./config-schema.ts";
import { jsonErrorPosition } from "./json-syntax.ts";
import { toEngineConfig, validateConfig } from "./config-schema.ts";
import type { KeyTable } from "./key-table.ts";
import { parseKeyTable } from "./key-table.ts";

export type LoadedConfig = { ok: true; config: AnConfig } | { ok: false; problems: ConfigProblem[] };

export function loadConfigFile(path: string, board: BoardProfile | undefined): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { ok: false, problems: [{ path: "(file)", message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Never V8's message: it quotes a snippet of the file, which may be key material.
    const at = jsonErrorPosition(text);
    const where = at ? ` at line ${at.line} column ${at.column} (offset ${at.offset})` : "";
    return { ok: false, problems: [{ path: "(file)", message: `${path}: invalid JSON${where}` }] };
  }
  const merged = board ? mergeUnder(boardDefaults(board), raw) : raw;
  return validateConfig(merged);
}

/** The engine's view; key files are read here. Problems (unreadable key files) are listed, not thrown. */
export function engineConfigOf(
  config: AnConfig,
  accessMac: Uint8Array,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): { ok: true; engine: EngineConfig } | { ok: false; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  config.realms.forEach((r, i) => {
    try {
      toEngineConfig({ ...config, realms: [r] }, accessMac, readFile);
    } catch (e) {
      // The message names the file problem, never the key.
      problems.push({ path: `realms.${i}.key`, message: (e as NodeJS.ErrnoException).code ? `cannot read key file: ${(e as NodeJS.ErrnoException).code}` : (e as Error).message });
    }
  });
  let naiKeys: KeyTable | undefined;
  if (config.keys.table !== "") {
    let text: string | undefined;
    try {
      text = readFile(config.keys.table);
    } catch (e) {
      problems.push({ path: "keys.table", message: `cannot read ${config.keys.table}: ${(e as NodeJS.ErrnoException).code ?? "error"}` });
    }
    if (text !== undefined) {
      const table = parseKeyTable(text, config.keys.table);
      if (table.ok) naiKeys = table.keys;
      else problems.push(...table.problems);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, engine: toEngineConfig(config, accessMac, readFile, naiKeys) };
}

/** Every IPv4 care-of address the config may use (the signalling sockets to open). */
export function careOfAddresses(config: AnConfig): string[] {
  return config.careOf.mode === "pool" ? [...config.careOf.addresses] : [config.careOf.address];
}

/** One line per problem, as check-config and the reload log print them. */
export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}`);
}
