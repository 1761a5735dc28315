// The `an` command line.
//   an run --config FILE [--board NAME] [--pcap FILE]
//   an check-config FILE [--board NAME]
//   an selftest [--interface IF] [--emulated]
//   an fleet ...  (the operator's tool, src/app/fleet-cli.ts)
//   an --version | an --help
import { parseArgs } from "node:util";
import { loadBoard } from "./board.ts";
import type { BoardProfile } from "./board.ts";
import { careOfAddresses, engineConfigOf, formatProblems, loadConfigFile } from "./config-file.ts";
import { Daemon, EXIT } from "./daemon.ts";
import { fleetMain } from "./fleet-cli.ts";
import type { DaemonParts } from "./daemon.ts";
import { createLogger } from "./logger.ts";
import { ProcessSignals } from "./process-signals.ts";
import type { SignalSource } from "./process-signals.ts";
import { runSelftest } from "./selftest.ts";
import { IS_IMAGE } from "./image.ts";
import { VERSION, versionLine } from "./version.ts";

export const USAGE = `an ${VERSION}: Access Node firmware (IPv6-only mobile nodes over NetMIP4)

Usage:
  an run --config FILE [--board NAME] [--pcap FILE]
      Run the daemon. --board merges board/NAME.json defaults under the config;
      --pcap writes every UDP 434 packet and every NS/RS/RA/NA the AN handles.
      Signals: SIGHUP reloads the config, SIGUSR2 logs telemetry, SIGTERM/SIGINT
      stop (SIGUSR1 is ignored). Exit 0 stopped, 1 bad config, 3 could not start,
      4 failed while running (a socket stopped, a crash): restart it.
  an check-config FILE [--board NAME]
      Validate a config file: every problem is listed (exit 1), or a summary (exit 0).
  an selftest [--interface IF] [--emulated]
      Known-answer checks (HMAC-MD5, RRQ encode, ND checksum, context signature) and
      a packet socket opened and closed on IF (default lo) through the native addon
      (needs CAP_NET_RAW). Exit 0 only when every check passes. --emulated: under
      qemu-user, whose missing SOL_PACKET socket options are then not a failure.
  an fleet list|push|events|context ...
      The operator's view of the fleet over MQTT (an fleet --help).
  an --version
      Firmware version, git commit, image target, CPU architecture, Node version.
  an --help

Environment: AN_NATIVE_ADDON (path of an_native.node, overrides an embedded one),
AN_RUNTIME_DIR (where a single executable extracts its addon; must allow exec),
AN_BOARD_DIR (board profiles).
`;

type Out = (line: string) => void;

/** What `an run` uses of the process (tests: an EventEmitter, fake sockets, a log sink). */
export interface RunDeps {
  readonly signals?: SignalSource;
  readonly exit?: (code: number) => void;
  readonly daemon?: DaemonParts;
}

function board(name: string | undefined, err: Out): BoardProfile | undefined | null {
  if (name === undefined) return undefined;
  const b = loadBoard(name);
  if (!b.ok) {
    for (const p of b.problems) err(p);
    return null;
  }
  return b.board;
}

/** `an check-config`: exit 1 with every problem, or exit 0 with a summary. */
export function checkConfig(path: string, boardName: string | undefined, out: Out, err: Out): number {
  const b = board(boardName, err);
  if (b === null) return EXIT.badConfig;
  const loaded = loadConfigFile(path, b);
  const problems = loaded.ok ? (() => {
    const ec = engineConfigOf(loaded.config, new Uint8Array(6));
    return ec.ok ? [] : ec.problems;
  })() : loaded.problems;
  if (!loaded.ok || problems.length > 0) {
    for (const line of formatProblems(problems)) out(line);
    err(`${path}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
    return EXIT.badConfig;
  }
  const c = loaded.config;
  out(`${path}: valid (revision ${c.revision}, node ${c.nodeId})`);
  out(`  access ${c.access.interface}, uplink ${c.uplink.interface}${b ? `, board ${b.name}` : ""}`);
  out(`  care-of: ${c.careOf.mode}, ${careOfAddresses(c).length} address(es)${c.careOf.mode === "shared" ? `, ${c.careOf.greKeys.count} GRE keys` : ""}`);
  for (const r of c.realms) out(`  realm ${r.realm}: home agent ${r.homeAgent}, SPI ${r.spi}`);
  out(`  lifetime ${c.registration.lifetimeS} s, max sessions ${c.limits.maxSessions}, log ${c.log.level}, state file ${c.stateFile || "(none)"}`);
  return EXIT.ok;
}

export async function main(
  argv: readonly string[],
  out: Out = (l) => process.stdout.write(`${l}\n`),
  err: Out = (l) => process.stderr.write(`${l}\n`),
  deps: RunDeps = {},
): Promise<number> {
  // Its own options: parsed there.
  if (argv[0] === "fleet") return fleetMain(argv.slice(1), out, err);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        board: { type: "string", short: "b" },
        pcap: { type: "string" },
        interface: { type: "string", short: "i" },
        emulated: { type: "boolean" },
        version: { type: "boolean", short: "V" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    err((e as Error).message);
    err("try: an --help");
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    out(versionLine());
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    out(USAGE);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case "check-config": {
      const file = rest[0] ?? values.config;
      if (file === undefined || rest.length > 1) {
        err("usage: an check-config FILE [--board NAME]");
        return EXIT.usage;
      }
      return checkConfig(file, values.board, out, err);
    }
    case "run": {
      if (values.config === undefined || rest.length > 0) {
        err("usage: an run --config FILE [--board NAME] [--pcap FILE]");
        return EXIT.usage;
      }
      // Before the first await: from here a signal never acts by default (see process-signals.ts).
      const signals = new ProcessSignals(deps.signals ?? process, createLogger("info", deps.daemon?.logDestination), deps.exit);
      const b = board(values.board, err);
      if (b === null) {
        signals.close();
        return EXIT.badConfig;
      }
      const started = await Daemon.start({ configPath: values.config, board: b, pcapPath: values.pcap }, undefined, {
        ...deps.daemon,
        stopRequested: () => signals.stopRequested,
      });
      if (typeof started === "number") {
        signals.close();
        return started;
      }
      signals.attach(started, started.log);
      return started.done;
    }
    case "selftest":
      if (rest.length > 0) {
        err("usage: an selftest [--interface IF] [--emulated]");
        return EXIT.usage;
      }
      return runSelftest({ interface: values.interface ?? "lo", emulated: values.emulated === true }, out);
    default:
      err(`unknown command ${command}; try: an --help`);
      return EXIT.usage;
  }
}

/** True when this module is the program (node dist/an.mjs, node src/app/main.ts). */
function isEntryPoint(): boolean {
  // A single executable starts through its own entry (src/app/image-main.ts).
  if (IS_IMAGE) return false;
  const entry = process.argv[1];
  if (entry === undefined) return false;
  return import.meta.url === new URL(`file://${entry}`).href || /\/an(\.mjs)?$/.test(entry) || /\/main\.ts$/.test(entry);
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`an: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(EXIT.startFailed);
    },
  );
}
