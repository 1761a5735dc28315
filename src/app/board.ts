// Board profiles (board/<name>.json): what differs between the hardware the
// firmware runs on: architecture, default interface names, paths, and config
// defaults. `an run --board NAME` merges the profile under the config file: a
// value in the config wins, objects merge key by key, arrays are replaced whole.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const ifname = z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, "not an interface name (1-15 characters)");

export const boardSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "lowercase name, 1-64 characters"),
    arch: z.enum(["x64", "arm64", "armv7l"]),
    description: z.string().max(500).default(""),
    interfaces: z.object({ access: ifname, uplink: ifname }).strict(),
    /** hostapd on the access interface: its ctrl_interface directory (hostapd_cli -p), "" when the board has none. */
    hostapd: z
      .object({ controlPath: z.string().max(200).default("") })
      .strict()
      .prefault({}),
    /**
     * Issue 9 item 4: the access interface is a wired port with one station behind it
     * (e.g. a switch port per desk): carrier loss there means the station left.
     */
    accessPortPerStation: z.boolean().default(false),
    paths: z
      .object({
        /** Restart state (session contexts); "" disables. */
        stateFile: z.string().default(""),
        /** hostapd's control socket for the access interface (<ctrl_interface>/<ifname>); "" none (no 802.1X). */
        hostapdControl: z.string().default(""),
      })
      .strict()
      .prefault({}),
    /** Any part of the config file, as defaults. */
    defaults: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type BoardProfile = z.infer<typeof boardSchema>;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` on top of `under`: objects merge recursively, everything else is replaced. */
export function mergeUnder(under: Json, over: Json): Json {
  if (!isObject(under) || !isObject(over)) return over === undefined ? under : over;
  const out: Record<string, Json> = { ...under };
  for (const [k, v] of Object.entries(over)) out[k] = k in under ? mergeUnder(under[k], v) : v;
  return out;
}

/** The config defaults a board contributes. */
export function boardDefaults(b: BoardProfile): Record<string, Json> {
  const base = {
    access: { interface: b.interfaces.access, perStationPort: b.accessPortPerStation },
    uplink: { interface: b.interfaces.uplink },
    stateFile: b.paths.stateFile,
    ...(b.paths.hostapdControl !== "" ? { linkLayer: { hostapdControl: b.paths.hostapdControl } } : {}),
  };
  return mergeUnder(base, b.defaults) as Record<string, Json>;
}

/** Where `--board NAME` is looked for: $AN_BOARD_DIR, then board/ beside or above the program. */
export function boardCandidates(name: string, moduleUrl: string = import.meta.url): string[] {
  if (name.includes("/") || name.endsWith(".json")) return [name];
  const dirs: string[] = [];
  const env = process.env.AN_BOARD_DIR;
  if (env) dirs.push(env.endsWith("/") ? env : `${env}/`);
  if (moduleUrl.startsWith("file:")) {
    // dist/an.mjs: dist/board/ (copied by the build) or ../board/; src/app/*.ts: ../../board/
    for (const rel of ["./board/", "../board/", "../../board/"]) dirs.push(fileURLToPath(new URL(rel, moduleUrl)));
  }
  return dirs.map((d) => `${d}${name}.json`);
}

export type BoardResult = { ok: true; board: BoardProfile; path: string } | { ok: false; problems: string[] };

// A single executable carries board/*.json (build/images.mjs): used when no file is found.
declare const AN_EMBEDDED_BOARDS: Readonly<Record<string, unknown>> | undefined;

export function loadBoard(name: string): BoardResult {
  const candidates = boardCandidates(name);
  const path = candidates.find((p) => existsSync(p));
  const embedded = typeof AN_EMBEDDED_BOARDS === "object" ? AN_EMBEDDED_BOARDS[name] : undefined;
  if (!path && embedded === undefined) return { ok: false, problems: [`board ${name}: no profile found (looked in ${candidates.join(", ")})`] };
  let raw: unknown;
  if (!path) return parseBoard(embedded, `(built in)/${name}.json`);
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    return { ok: false, problems: [`board ${path}: ${(e as Error).message}`] };
  }
  return parseBoard(raw, path);
}

function parseBoard(raw: unknown, path: string): BoardResult {
  const r = boardSchema.safeParse(raw);
  if (!r.success) return { ok: false, problems: r.error.issues.map((i) => `board ${path}: ${i.path.map(String).join(".") || "(root)"}: ${i.message}`) };
  return { ok: true, board: r.data, path };
}
