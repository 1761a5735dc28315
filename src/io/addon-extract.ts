// Loading the native addon embedded in a single executable: a process can only
// dlopen a file, so the bytes are written to a private file (a fresh 0700 directory
// from mkdtemp, the file 0500, created exclusively), loaded, and removed at once: the
// mapping stays, nothing is left on disk. The directory must allow execution (dlopen
// maps the file executable): a noexec mount is detected up front from
// /proc/self/mountinfo, and a refused mapping is reported the same way.
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNativeAddon } from "./native-addon.ts";
import type { NativeAddon } from "./native-addon.ts";

/** The directory the addon is extracted to: $AN_RUNTIME_DIR, else the system temp dir. */
export function addonRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.AN_RUNTIME_DIR;
  return dir !== undefined && dir !== "" ? dir : tmpdir();
}

export interface MountEntry {
  readonly mountPoint: string;
  /** per-mount options (field 6 of mountinfo): rw, nosuid, noexec, ... */
  readonly options: readonly string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount holding `path` (already resolved), by the longest mount point that prefixes it; the last such line wins (over-mounts come later). */
export function mountOf(path: string, mountinfo: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    if (f.length < 6) continue;
    const mountPoint = unescapeMount(f[4]!);
    const inside = mountPoint === "/" || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (!inside) continue;
    if (best === undefined || mountPoint.length >= best.mountPoint.length) best = { mountPoint, options: f[5]!.split(",") };
  }
  return best;
}

export class AddonDirectoryError extends Error {
  constructor(
    message: string,
    readonly directory: string,
  ) {
    super(message);
    this.name = "AddonDirectoryError";
  }
}

function noexecError(dir: string, mountPoint: string): AddonDirectoryError {
  return new AddonDirectoryError(
    `cannot load the embedded native addon from ${dir}: ${mountPoint} is mounted noexec; set AN_RUNTIME_DIR to a directory on a mount that allows execution (e.g. /run/an)`,
    dir,
  );
}

function readMountinfo(): string | undefined {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
}

/** Writes `bytes` to a private file under `dir`, loads it as the addon, removes the file. */
export function loadAddonFromBytes(bytes: Uint8Array, dir: string = addonRuntimeDir()): NativeAddon {
  let real: string;
  try {
    real = realpathSync(dir);
    if (!statSync(real).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new AddonDirectoryError(`cannot load the embedded native addon: directory ${dir} unusable (${(e as Error).message}); set AN_RUNTIME_DIR`, dir);
  }
  const info = readMountinfo();
  const mount = info === undefined ? undefined : mountOf(real, info);
  if (mount?.options.includes("noexec")) throw noexecError(dir, mount.mountPoint);
  let priv: string;
  try {
    priv = mkdtempSync(join(real, "an-addon-"));
  } catch (e) {
    throw new AddonDirectoryError(`cannot load the embedded native addon: cannot create a private directory in ${dir} (${(e as Error).message}); set AN_RUNTIME_DIR`, dir);
  }
  try {
    const file = join(priv, "an_native.node");
    writeFileSync(file, bytes, { mode: 0o500, flag: "wx" });
    try {
      return loadNativeAddon(file);
    } catch (e) {
      // A noexec mount the mountinfo check missed (or an LSM refusing the mapping).
      if (/failed to map segment|Operation not permitted/.test((e as Error).message)) throw noexecError(dir, mount?.mountPoint ?? dir);
      throw e;
    }
  } finally {
    rmSync(priv, { recursive: true, force: true });
  }
}
