// The fleet agent wired to the real config path without the datapath: the same
// ConfigKeeper the daemon uses (validate whole, commit or keep), a pino logger into
// a buffer (to check what reaches the log), and counters standing in for the
// engine's. The broker is a real mosquitto; only the packet sockets are absent.
import { Writable } from "node:stream";
import { afterEach } from "vitest";
import { ConfigKeeper } from "../../../src/app/config-keeper.ts";
import type { LoadedConfig } from "../../../src/app/config-file.ts";
import type { AnConfig } from "../../../src/app/config-schema.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import type { ApplyOutcome, FleetHost } from "../../../src/app/fleet-agent.ts";
import { FleetAgent } from "../../../src/app/fleet-agent.ts";
import { privateKeyFromSeed, rawPublicKey } from "../../../src/app/context-record.ts";
import { until } from "../../support/mqtt-watch.ts";
import { createLogger } from "../../../src/app/logger.ts";
import type { Logger } from "../../../src/app/logger.ts";
import type { CareOf } from "../../../src/core/care-of.ts";
import type { SessionContext } from "../../../src/core/context.ts";

export const KEY_HEX = "00112233445566778899aabbccddeeff";
export const KEY2_HEX = "ffeeddccbbaa99887766554433221100";

export function baseDocument(nodeId: string, fleet: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    revision: 1,
    nodeId,
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: ["10.0.0.10"] },
    realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY_HEX}` }],
    identity: { derivedRealm: "example.net" },
    fleet,
    ...over,
  };
}

/** A remote document (no nodeId, no fleet): what an operator pushes. */
export function remoteDocument(revision: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    revision,
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: ["10.0.0.10"] },
    realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY2_HEX}` }],
    identity: { derivedRealm: "example.net" },
    ...over,
  };
}

export class ComponentHost implements FleetHost {
  readonly keeper: ConfigKeeper;
  readonly log: Logger;
  readonly board = undefined;
  logText = "";
  applied: AnConfig[] = [];
  contexts = new Map<string, SessionContext>();

  constructor(doc: Record<string, unknown>) {
    const v = validateConfig(doc);
    if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.problems)}`);
    this.keeper = new ConfigKeeper(v.config, new Uint8Array(6));
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.logText += chunk.toString();
        cb();
      },
    });
    this.log = createLogger(v.config.log.level, sink);
  }

  config(): AnConfig {
    return this.keeper.current;
  }

  async apply(candidate: LoadedConfig): Promise<ApplyOutcome> {
    const offer = this.keeper.offer(candidate);
    if (!offer.ok) return { ok: false, problems: offer.problems };
    this.keeper.commit(offer.config);
    this.log.level = offer.config.log.level;
    this.applied.push(offer.config);
    return { ok: true, needsRestart: offer.needsRestart };
  }

  telemetry(): Record<string, unknown> {
    return { sessions: 0, engine: { framesFromMn: 7 } };
  }

  sessions(): number {
    return 0;
  }

  /** MACs another AN asked this one to let go. */
  released: string[] = [];
  /** The forwarding targets named by those requests (issue 10). */
  forwardTargets: number[] = [];
  /** The session each request named (its record's CoA), undefined when none. */
  froms: (CareOf | undefined)[] = [];
  release(mac: string, forwardTo?: number, from?: CareOf): boolean {
    this.released.push(mac);
    if (forwardTo !== undefined) this.forwardTargets.push(forwardTo);
    this.froms.push(from);
    return true;
  }

  exportContext(mac: string): SessionContext | undefined {
    return this.contexts.get(mac);
  }

  wallMs(): number {
    return Date.now();
  }
}

/** The Ed25519 seed of test AN n (32 bytes of n), and its raw public key in hex (for fleetKeys). */
export const seed = (n: number): Buffer => Buffer.alloc(32, n);
export const publicKeyHex = (n: number): string => rawPublicKey(privateKeyFromSeed(seed(n))).toString("hex");

/** The topic prefix the fleet tests use, and the public keys of test ANs an-1 and an-2. */
export const TEST_PREFIX = "netmip/v1";
export const TWO_AN_KEYS: Readonly<Record<string, string>> = { "an-1": publicKeyHex(1), "an-2": publicKeyHex(2) };

/** A list of cleanups run after each test of the calling file, last added first; a failing one does not stop the rest. */
export function cleanupsAfterEach(): (() => Promise<void> | void)[] {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  });
  return cleanups;
}

/** A connected agent for node `id` signing with seed(n) (lab-only secrets without TLS); `cleanup` gets its stop. */
export async function startAgent(
  url: string,
  prefix: string,
  id: string,
  n: number,
  fleetKeys: Record<string, string>,
  cleanup: (stop: () => Promise<void>) => void,
  over: { fleet?: Record<string, unknown>; doc?: Record<string, unknown> } = {},
): Promise<{ a: FleetAgent; host: ComponentHost }> {
  const host = new ComponentHost(baseDocument(id, { url, prefix, allowSecretsWithoutTls: true, contextKey: `hex:${seed(n).toString("hex")}`, fleetKeys, reconnect: { initialMs: 100, maxMs: 200 }, ...over.fleet }, over.doc));
  const a = FleetAgent.start(host);
  if ("error" in a) throw new Error(a.error);
  cleanup(() => a.stop());
  await until(() => a.connected, `${id} connected`);
  return { a, host };
}
