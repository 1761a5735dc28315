// `an run`, first part: from the config file to open ports. Loads and checks
// the config, opens the packet sockets (the datapath), finds the access MAC,
// binds UDP 434 on every care-of address; any failure is logged with its hint
// and answered with an exit code, with everything opened so far closed again.
import type { DatapathOpeners } from "./datapath-select.ts";
import { selectDatapath } from "./datapath-select.ts";
import type { EngineConfig } from "../core/config.ts";
import type { Datapath, UserspaceDatapathOptions } from "../io/datapath.ts";
import type { PortRecorder } from "../io/recording-ports.ts";
import { SignallingSockets } from "../io/signalling-sockets.ts";
import type { SignallingHandlers } from "../io/signalling-sockets.ts";
import { parseIpv4 } from "../wire/ipv4-address.ts";
import { parseMac } from "../wire/mac.ts";
import { MIP_UDP_PORT } from "../wire/mip-types.ts";
import type { BoardProfile } from "./board.ts";
import { careOfAddresses, engineConfigOf, formatProblems } from "./config-file.ts";
import { loadEffectiveConfig } from "./remote-config.ts";
import type { AnConfig } from "./config-schema.ts";
import { describeError } from "./errors.ts";
import type { DestinationStream, Logger } from "./logger.ts";
import { createLogger } from "./logger.ts";
import { EXIT } from "./process-signals.ts";

export interface DaemonArgs {
  readonly configPath: string;
  readonly board?: BoardProfile | undefined;
  readonly pcapPath?: string | undefined;
}

/** What start() opens and where it logs: the real ones by default, fakes in tests. */
export interface DaemonParts {
  readonly openDatapath?: (options: UserspaceDatapathOptions) => Datapath;
  /** Backends for datapath.backend (when openDatapath is not given); tests force a kernel failure. */
  readonly datapathOpeners?: DatapathOpeners;
  /** UDP port of the signalling sockets (434; tests: a free high port). */
  readonly signallingPort?: number;
  /** Log destination (default: synchronous stdout). */
  readonly logDestination?: DestinationStream;
  /** A stop requested by a signal while starting: the startup is abandoned (exit 0). */
  readonly stopRequested?: () => string | undefined;
}

export interface OpenedPorts {
  readonly config: AnConfig;
  readonly engineConfig: EngineConfig;
  readonly log: Logger;
  readonly accessMac: Uint8Array;
  /** Already wrapped by the recorder. */
  readonly datapath: Datapath;
  readonly signalling: SignallingSockets;
  /** Where the config came from: the file, or the fleet's config store. */
  readonly configSource: { readonly from: string; readonly note?: string } | undefined;
}

export const ipv4 = (s: string): number => parseIpv4(s)!;

/** The ports open, or the exit code when the daemon cannot start. */
export async function openPorts(
  args: DaemonArgs,
  parts: DaemonParts,
  recorder: PortRecorder,
  signallingHandlers: SignallingHandlers,
): Promise<OpenedPorts | number> {
  // The file, or the last remote config applied (fleet.configStore) when its revision is higher.
  const loaded = loadEffectiveConfig(args.configPath, args.board);
  if (!loaded.ok) {
    const log = createLogger("info", parts.logDestination);
    for (const line of formatProblems(loaded.problems)) log.error({ problem: line }, "config problem");
    log.fatal({ config: args.configPath, problems: loaded.problems.length }, "config refused: not starting");
    return EXIT.badConfig;
  }
  const config = loaded.config;
  const log = createLogger(config.log.level, parts.logDestination, { nodeId: config.nodeId });
  let datapath: Datapath;
  try {
    const options = {
      accessInterface: config.access.interface,
      uplinkInterface: config.uplink.interface,
      promiscuous: config.access.promiscuous,
      accessReceiveBufferBytes: config.datapath.accessReceiveBufferBytes,
      ttl: config.tunnel.ttl,
      dontFragment: config.tunnel.dontFragment,
      ...(config.tunnel.uplinkMtu !== undefined ? { uplinkMtu: config.tunnel.uplinkMtu } : {}),
    };
    const chosen = parts.openDatapath ? parts.openDatapath(options) : selectDatapath(config, options, log, parts.datapathOpeners);
    if (!chosen) return EXIT.startFailed;
    datapath = chosen;
  } catch (e) {
    log.fatal({ err: describeError(e) }, "cannot open the packet sockets (needs CAP_NET_RAW; interfaces must exist)");
    return EXIT.startFailed;
  }
  const accessMac = config.access.mac !== undefined ? parseMac(config.access.mac) : datapath.accessMac;
  if (!accessMac) {
    datapath.close();
    log.fatal({ interface: config.access.interface }, "the access interface has no Ethernet address: set access.mac");
    return EXIT.startFailed;
  }
  const ec = engineConfigOf(config, accessMac);
  if (!ec.ok) {
    datapath.close();
    for (const line of formatProblems(ec.problems)) log.error({ problem: line }, "config problem");
    log.fatal("config refused: not starting");
    return EXIT.badConfig;
  }
  const port = parts.signallingPort ?? MIP_UDP_PORT;
  const signalling = new SignallingSockets(recorder.signallingHandlers(signallingHandlers, port), port);
  const failures = await signalling.ensure(careOfAddresses(config).map(ipv4));
  const stopReason = parts.stopRequested?.();
  if (stopReason !== undefined) {
    signalling.close();
    datapath.close();
    log.info({ signal: stopReason }, "stop requested during startup: not starting");
    return EXIT.ok;
  }
  if (failures.length > 0) {
    for (const f of failures) log.error({ careOf: f.address, code: f.code }, bindHint(f.code));
    signalling.close();
    datapath.close();
    log.fatal({ failed: failures.length }, "cannot bind UDP 434 on every care-of address: not starting");
    return EXIT.startFailed;
  }
  return { config, engineConfig: ec.engine, log, accessMac, datapath: recorder.datapath(datapath), signalling, configSource: loaded.source };
}

export function bindHint(code: string): string {
  switch (code) {
    case "EACCES":
      return "cannot bind UDP port 434: grant CAP_NET_BIND_SERVICE or set net.ipv4.ip_unprivileged_port_start=434 in this network namespace";
    case "EADDRNOTAVAIL":
      return "care-of address is not an address of this host: add it to the uplink (ip addr add ADDR/32 dev UPLINK)";
    case "EADDRINUSE":
      return "UDP 434 on this care-of address is taken by another process";
    default:
      return `cannot bind UDP 434 (${code})`;
  }
}
