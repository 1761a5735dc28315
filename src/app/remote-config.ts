// A config pushed over MQTT (retained on <p>/an/<id>/config or <p>/group/<g>/config):
// turned into a candidate checked by the same zod schema as the file. The AN's
// identity and its way to the broker stay local: nodeId and the fleet section come
// from the local file (a remote config that could change them could cut the AN off
// its fleet). Keys given inline (hex:) are accepted only over TLS unless the lab
// option says otherwise. The last applied document is kept in fleet.configStore
// (write, fsync, rename) so a reboot without a broker starts from it.
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../io/atomic-file.ts";
import type { BoardProfile } from "./board.ts";
import { boardDefaults, mergeUnder } from "./board.ts";
import type { LoadedConfig } from "./config-file.ts";
import { loadConfigFile } from "./config-file.ts";
import type { AnConfig, ConfigProblem } from "./config-schema.ts";
import { validateConfig } from "./config-schema.ts";
import { jsonErrorPosition } from "./json-syntax.ts";

/** Bigger documents are refused before parsing. */
export const MAX_REMOTE_CONFIG_BYTES = 1 << 20;
export const CONFIG_STORE_VERSION = 1;

export type RemoteCandidate =
  | { readonly ok: true; readonly revision: number; readonly document: Record<string, unknown>; readonly loaded: LoadedConfig }
  | { readonly ok: false; readonly revision: number | null; readonly problems: readonly ConfigProblem[] };

/** Paths of every string starting with "hex:" (inline key material) in a document. */
function inlineSecrets(v: unknown, path: string[] = []): string[] {
  if (typeof v === "string") return v.startsWith("hex:") ? [path.join(".")] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => inlineSecrets(x, [...path, String(i)]));
  if (typeof v === "object" && v !== null) return Object.entries(v).flatMap(([k, x]) => inlineSecrets(x, [...path, k]));
  return [];
}

export interface RemoteContext {
  /** The config in force (its nodeId and fleet section are kept). */
  readonly local: AnConfig;
  readonly board?: BoardProfile | undefined;
  /** The document arrived over TLS. */
  readonly secure: boolean;
}

/** Parses and validates a remote config document; never throws. Problems never quote values. */
export function remoteCandidate(payload: Buffer | string, ctx: RemoteContext): RemoteCandidate {
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  if (Buffer.byteLength(text) > MAX_REMOTE_CONFIG_BYTES) return { ok: false, revision: null, problems: [{ path: "(document)", message: `larger than ${MAX_REMOTE_CONFIG_BYTES} bytes` }] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Not V8's message: it quotes the document, which may hold keys.
    const at = jsonErrorPosition(text);
    return { ok: false, revision: null, problems: [{ path: "(document)", message: `invalid JSON${at ? ` at line ${at.line} column ${at.column}` : ""}` }] };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, revision: null, problems: [{ path: "(document)", message: "not a JSON object" }] };
  const doc = raw as Record<string, unknown>;
  const rev = doc.revision;
  if (typeof rev !== "number" || !Number.isInteger(rev) || rev < 0) return { ok: false, revision: null, problems: [{ path: "revision", message: "a remote config needs an integer revision >= 0" }] };
  const problems: ConfigProblem[] = [];
  if ("fleet" in doc) problems.push({ path: "fleet", message: "the fleet section is set in the AN's local file only" });
  if ("nodeId" in doc && doc.nodeId !== ctx.local.nodeId) problems.push({ path: "nodeId", message: "names another AN (the nodeId is set locally)" });
  const allowInline = ctx.secure || ctx.local.fleet?.allowSecretsWithoutTls === true;
  if (!allowInline)
    for (const p of inlineSecrets(doc)) problems.push({ path: p, message: "inline keys (hex:) are accepted only over TLS (fleet.allowSecretsWithoutTls is for labs)" });
  const own: Record<string, unknown> = { ...doc, nodeId: ctx.local.nodeId };
  delete own.fleet;
  if (ctx.local.fleet) own.fleet = ctx.local.fleet;
  const merged = ctx.board ? mergeUnder(boardDefaults(ctx.board), own) : own;
  const v = validateConfig(merged);
  if (!v.ok) problems.push(...v.problems);
  if (problems.length > 0) return { ok: false, revision: rev, problems };
  return { ok: true, revision: rev, document: doc, loaded: v.ok ? v : { ok: false, problems } };
}

export interface ConfigStore {
  readonly version: typeof CONFIG_STORE_VERSION;
  readonly savedAtWallMs: number;
  readonly topic: string;
  readonly document: Record<string, unknown>;
}

/** Keeps the applied remote document (mode 0600: it may hold keys). */
export function saveConfigStore(path: string, topic: string, document: Record<string, unknown>, wallMs: number): void {
  const s: ConfigStore = { version: CONFIG_STORE_VERSION, savedAtWallMs: wallMs, topic, document };
  writeFileAtomic(path, `${JSON.stringify(s)}\n`);
}

export type EffectiveConfig = LoadedConfig & { readonly source?: { readonly from: "file" | "store"; readonly note?: string } };

/**
 * The config to run: the local file, or the stored remote config when its revision
 * is higher (the fleet's word, kept across a reboot without a broker). A stored
 * config that no longer validates is skipped with a note; the file is used.
 */
export function loadEffectiveConfig(path: string, board: BoardProfile | undefined): EffectiveConfig {
  const file = loadConfigFile(path, board);
  if (!file.ok) return file;
  const store = file.config.fleet?.configStore;
  if (!store || !existsSync(store)) return { ...file, source: { from: "file" } };
  let doc: unknown;
  try {
    const s = JSON.parse(readFileSync(store, "utf8")) as Partial<ConfigStore>;
    if (s.version !== CONFIG_STORE_VERSION || typeof s.document !== "object" || s.document === null) throw new Error("not a config store");
    doc = s.document;
  } catch (e) {
    return { ...file, source: { from: "file", note: `config store unreadable (${(e as NodeJS.ErrnoException).code ?? "not a config store"}): using the file` } };
  }
  // It was accepted once (over TLS, or by the lab option): inline keys are fine here.
  const c = remoteCandidate(JSON.stringify(doc), { local: file.config, board, secure: true });
  if (!c.ok) return { ...file, source: { from: "file", note: `stored config revision ${c.revision ?? "?"} no longer validates (${c.problems.length} problems): using the file` } };
  if (c.revision <= file.config.revision) return { ...file, source: { from: "file", note: `stored revision ${c.revision} is not above the file's ${file.config.revision}` } };
  return { ...c.loaded, source: { from: "store" } };
}
