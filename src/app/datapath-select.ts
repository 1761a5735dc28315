// Chooses the datapath backend at start (config datapath.backend, DESIGN.md 8):
// "kernel" must load, "userspace" never tries, "auto" tries the kernel fast path and
// falls back to userspace with the reason (logged once by the daemon).
import { embeddedFastpathObject } from "./image.ts";
import type { Datapath, UserspaceDatapathOptions } from "../io/datapath.ts";
import { UserspaceDatapath } from "../io/userspace-datapath.ts";
import { KernelDatapath, resolveBpfObject } from "../io/kernel-datapath.ts";
import { isNativeIoError } from "../io/native-addon.ts";
import type { AnConfig } from "./config-schema.ts";

export type DatapathChoice =
  | { readonly ok: true; readonly datapath: Datapath; readonly backend: "kernel" | "userspace"; readonly fallbackReason: string | null }
  | { readonly ok: false; readonly reason: string };

export interface DatapathOpeners {
  readonly userspace: (o: UserspaceDatapathOptions) => Datapath;
  readonly kernel: (o: UserspaceDatapathOptions, config: AnConfig) => Datapath;
}

/** How often the fast path's uplink counters are read for idleness: a quarter of the idle timeout, 0.25-5 s. */
export function activityIntervalMs(config: AnConfig): number {
  if (config.idleTimeoutS <= 0) return 0;
  return Math.min(5000, Math.max(250, (config.idleTimeoutS * 1000) / 4));
}

export const realOpeners: DatapathOpeners = {
  userspace: (o) => UserspaceDatapath.open(o),
  kernel: (o, config) =>
    KernelDatapath.open({
      ...o,
      // A firmware image carries its own object (build/images.mjs); a configured path wins.
      objectPath: (config.datapath.bpfObject === "" ? embeddedFastpathObject() : undefined) ?? resolveBpfObject(config.datapath.bpfObject),
      maxSessions: config.limits.maxSessions,
      activityIntervalMs: activityIntervalMs(config),
    }),
};

/** Why the fast path did not load, in one line (with the capability hint for EPERM). */
export function describeFastPathFailure(e: unknown): string {
  if (isNativeIoError(e)) {
    const hint = e.code === "EPERM" ? " (loading tc-BPF needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN)" : "";
    return `${e.syscall}: ${e.code}${hint}: ${e.message}`.slice(0, 400);
  }
  return (e instanceof Error ? e.message : String(e)).slice(0, 400);
}

/**
 * Opens the configured backend. Errors opening the userspace sockets propagate (the
 * daemon reports them as before); a kernel backend that does not load is a fallback
 * reason under "auto" and a refusal under "kernel".
 */
export function openDatapath(config: AnConfig, options: UserspaceDatapathOptions, openers: DatapathOpeners = realOpeners): DatapathChoice {
  const wanted = config.datapath.backend;
  if (wanted === "userspace") return { ok: true, datapath: openers.userspace(options), backend: "userspace", fallbackReason: null };
  try {
    return { ok: true, datapath: openers.kernel(options, config), backend: "kernel", fallbackReason: null };
  } catch (e) {
    const reason = describeFastPathFailure(e);
    if (wanted === "kernel") return { ok: false, reason };
    return { ok: true, datapath: openers.userspace(options), backend: "userspace", fallbackReason: reason };
  }
}

/** The daemon's start: the chosen datapath (the fallback logged once), or undefined when "kernel" was refused (logged). */
export function selectDatapath(
  config: AnConfig,
  options: UserspaceDatapathOptions,
  log: { warn(o: object, msg: string): void; fatal(o: object, msg: string): void; info(o: object, msg: string): void },
  openers: DatapathOpeners = realOpeners,
): Datapath | undefined {
  const choice = openDatapath(config, options, openers);
  if (!choice.ok) {
    log.fatal({ reason: choice.reason }, "datapath.backend is \"kernel\" but the fast path does not load: not starting");
    return undefined;
  }
  if (choice.fallbackReason !== null) log.warn({ reason: choice.fallbackReason }, "kernel fast path unavailable: using the userspace datapath");
  log.info({ backend: choice.backend, attach: choice.datapath.stats().fastPath?.attach ?? null }, "datapath opened");
  return choice.datapath;
}
