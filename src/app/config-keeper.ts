// The config in force, and the rule for replacing it (SIGHUP, later MQTT): a
// candidate is applied only when it validates whole; otherwise every problem is
// reported and the last good config stays. Some fields are bound at start (the
// sockets opened on them) and take effect only after a restart.
import type { EngineConfig } from "../core/config.ts";
import type { LoadedConfig } from "./config-file.ts";
import { engineConfigOf } from "./config-file.ts";
import type { AnConfig, ConfigProblem } from "./config-schema.ts";

export type Offer =
  | { readonly ok: true; readonly config: AnConfig; readonly engine: EngineConfig; readonly needsRestart: readonly string[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

const RESTART_ONLY: readonly { readonly path: string; readonly get: (c: AnConfig) => unknown }[] = [
  { path: "nodeId", get: (c) => c.nodeId },
  { path: "access.interface", get: (c) => c.access.interface },
  { path: "access.mac", get: (c) => c.access.mac },
  { path: "access.promiscuous", get: (c) => c.access.promiscuous },
  { path: "uplink.interface", get: (c) => c.uplink.interface },
  { path: "tunnel.uplinkMtu", get: (c) => c.tunnel.uplinkMtu },
  { path: "stateFile", get: (c) => c.stateFile },
  { path: "linkLayer.hostapdControl", get: (c) => c.linkLayer.hostapdControl },
  // The broker connection is opened at start (a remote config cannot change it: see remote-config.ts).
  { path: "fleet", get: (c) => JSON.stringify(c.fleet ?? null) },
  { path: "datapath.backend", get: (c) => c.datapath.backend },
  { path: "datapath.bpfObject", get: (c) => c.datapath.bpfObject },
  { path: "datapath.accessReceiveBufferBytes", get: (c) => c.datapath.accessReceiveBufferBytes },
];

export class ConfigKeeper {
  constructor(
    private good: AnConfig,
    private readonly accessMac: Uint8Array,
    private readonly readFile?: (path: string) => string,
  ) {}

  get current(): AnConfig {
    return this.good;
  }

  /** Checks a candidate; does not apply it (commit does). */
  offer(loaded: LoadedConfig): Offer {
    if (!loaded.ok) return { ok: false, problems: loaded.problems };
    const engine = engineConfigOf(loaded.config, this.accessMac, this.readFile);
    if (!engine.ok) return { ok: false, problems: engine.problems };
    const needsRestart = RESTART_ONLY.filter((f) => f.get(this.good) !== f.get(loaded.config)).map((f) => f.path);
    return { ok: true, config: loaded.config, engine: engine.engine, needsRestart };
  }

  commit(config: AnConfig): void {
    this.good = config;
  }
}
