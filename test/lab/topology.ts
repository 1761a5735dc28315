// The network-namespace lab of the demo and the end-to-end tests (issue 5):
//
//   MN1..n ──veth── [ sw: br1 ── acc0 AN1 up0 ──┐                 ┌── eth0 HA ha0(TUN) ... cn0 ──veth── CN
//   (eth0)          [     br2 ── acc0 AN2 up0 ──┴── core: br0 ────┘      (IPv6 router, forwarding on)
//   Linux IPv6       access network (L2)          IPv4 only 10.64.0.0/24
//
// - MN namespaces run unmodified Linux IPv6 (SLAAC, DAD, RS as the kernel does
//   them); the lab only sets a fixed MAC, turns TX checksum offload off on eth0
//   (see TopologyOptions.mnTxChecksum) and brings eth0 up.
// - The access network is one "sw" namespace holding a bridge per AN. An MN's
//   eth0 is a veth whose other end ("m<i>") sits in sw; attaching it to an AN is
//   enslaving that end to the AN's bridge. Moving an MN (moveMn) takes the sw end
//   down (the MN's kernel sees carrier loss: a veth has carrier only while its peer
//   is up), moves it to the other bridge, and brings it up again (carrier back, as
//   after a real L2 handover; a configured Linux interface then sends only its MLD
//   reports, no new DAD or RS: see README.md). The MN keeps
//   its interface, MAC and addresses, and nothing in the MN namespace is touched:
//   the move happens in the network, the way a station roams to another AP or a
//   cable is replugged into another switch port. One `ip -batch` call does it.
// - Each AN has acc0 (its access port into its bridge; IPv6 off so the AN's own
//   kernel never speaks on the access link) and up0 (IPv4 uplink into the core
//   bridge, with the AN's address and its care-of addresses).
// - The HA has eth0 on the core (IPv4), a persistent TUN "ha0" that carries the home
//   prefix (2001:db8:1::/64 route, its own 2001:db8:1::1), and cn0 towards the CN.
//   The lab's HA peer process attaches to ha0; the HA kernel routes between ha0 and
//   cn0. The CN (2001:db8:99::7) is reachable over IPv6 only through the HA.
// - Detach (draft 3.2.4, a DAD-failure revocation): every AN config runs the lab's
//   detach script (stationControl.detachCommand), which finds the station's sw port
//   by its MAC and, if it is on that AN's bridge, takes it down and out of the bridge
//
// The lab's other parts have their own files: the plan (lab-plan.ts: addresses,
// names, node shapes), its processes (processes.ts), traffic tools (traffic.ts)
// and the firmware it runs (daemon-build.ts). This file builds the namespaces
// and moves the MNs; it re-exports the rest so a test imports one module.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateConfig } from "../../src/app/config-schema.ts";
import { privateKeyFromSeed, rawPublicKey } from "../../src/app/context-record.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6-address.ts";
import { Lab, waitFor } from "../support/netns.ts";
import { LabBroker } from "./broker.ts";
import { bundleEntry, nativeEnv } from "./bundle.ts";
import { buildDaemonInto, DAEMON_PATH, daemonCommand } from "./daemon-build.ts";
import type { HaConfigFile } from "./home-agent/config.ts";
import { LAB } from "./lab-plan.ts";
import type { AddressInfo, AnConfigFile, AnIndex, AnSite, AnyLine, MnNode, MnSpec, PingSummary } from "./lab-plan.ts";
import { AnProcess, HaProcess, MnMonitor } from "./processes.ts";
import { TrafficTools } from "./traffic.ts";
import type { Capture, PingStream } from "./traffic.ts";

export { DAEMON_BINARY_PATH, DAEMON_PATH, daemonAvailable, daemonCommand, daemonOverride, defaultDaemon } from "./daemon-build.ts";
export { LAB } from "./lab-plan.ts";
export { LabBroker } from "./broker.ts";
export type { AddressInfo, AnConfigFile, AnIndex, AnSite, HaLine, MnNode, MnSpec, PingSummary } from "./lab-plan.ts";
export { AnProcess, HaProcess, LineReader, MnMonitor } from "./processes.ts";
export type { MnKernelEvent } from "./processes.ts";
export type { Capture, PingStream } from "./traffic.ts";

export interface TopologyOptions {
  /** Number of MNs (all unplugged), or one spec each. Default 1. */
  readonly mns?: number | readonly MnSpec[];
  /** Namespace name label (a-z0-9, at most 12). Default "lab". */
  readonly label?: string;
  /** Put each AN's care-of addresses on its uplink (default true). */
  readonly careOfAddresses?: boolean;
  /**
   * "off" (default): turn TX checksum offload off on each MN's eth0 (`ethtool -K eth0 tx off`).
   * A veth sender leaves TCP/UDP/ICMPv6 checksums unfinished (CHECKSUM_PARTIAL) for
   * "hardware" that never comes: an AF_PACKET reader (the AN) gets frames with wrong
   * checksums, which a real NIC's wire never carries. "on" keeps the kernel default.
   */
  readonly mnTxChecksum?: "off" | "on";
}

/**
 * ETHTOOL_STXCSUM through SIOCETHTOOL: iproute2 cannot change offloads, ethtool is
 * not installed everywhere, and perl (perl-base) is on every Debian/Ubuntu host.
 */
const TX_CSUM_OFF_PL =
  'use Socket; socket(my $s, AF_INET, SOCK_DGRAM, 0) or die "socket: $!"; my $v = pack("LL", 0x17, 0); ioctl($s, 0x8946, pack("a16 P x16", $ARGV[0], $v)) or die "SIOCETHTOOL $ARGV[0]: $!";';

function macOfMn(i: number): string {
  return `02:00:00:00:10:${i.toString(16).padStart(2, "0")}`;
}

/** Modified EUI-64 interface identifier (RFC 4291 appendix A) appended to the home prefix. */
function slaacAddress(prefix: string, mac: string): string {
  const b = mac.split(":").map((h) => parseInt(h, 16));
  const w = (x: number, y: number): string => ((x << 8) | y).toString(16);
  const text = `${prefix}${w(b[0]! ^ 2, b[1]!)}:${w(b[2]!, 0xff)}:${w(0xfe, b[3]!)}:${w(b[4]!, b[5]!)}`;
  return formatIpv6(parseIpv6(text) ?? fail(`bad address ${text}`)); // RFC 5952 form, as ip(8) prints it
}


export class Topology {
  readonly lab: Lab;
  readonly sw: string;
  readonly core: string;
  readonly haNs: string;
  readonly cnNs: string;
  readonly ans: readonly [AnSite, AnSite];
  readonly mns: readonly MnNode[];
  private readonly dir: string;
  /** The lab's detach script (see detachScript()): `DETACH AN_INDEX MAC`. */
  readonly detachCommand: string;
  private readonly bundles = new Map<string, Promise<string>>();
  private readonly processes: { stop(): Promise<void> }[] = [];
  private readonly traffic: TrafficTools;
  /** The fleet's broker once startBroker() ran: anConfig then gives each AN a fleet section. */
  broker: LabBroker | undefined;

  private constructor(o: TopologyOptions) {
    this.lab = new Lab(o.label ?? "lab");
    try {
      this.dir = this.lab.tempDir("an-lab-");
      this.traffic = new TrafficTools({ lab: this.lab, dir: this.dir, bundle: (entry, native) => this.bundle(entry, native), track: (p) => void this.processes.push(p) });
      const lab = this.lab;
      // The access network and the core are silent L2/IPv4 boxes; the ANs too (their kernels must not speak IPv6 on the access link).
      this.sw = lab.netns("sw", { ipv6: false });
      this.core = lab.netns("core", { ipv6: false });
      this.haNs = lab.netns("ha");
      this.cnNs = lab.netns("cn");
      const an = (index: AnIndex): AnSite => {
        const spec = LAB.ans[index - 1]!;
        const ns = lab.netns(`an${index}`, { ipv6: false });
        return { index, ns, access: "acc0", uplink: "up0", address: spec.address, coas: spec.coas, mac: spec.mac };
      };
      this.ans = [an(1), an(2)];

      lab.bridge(this.core, "br0");
      // The fleet broker's address (broker.ts): the core bridge itself, on the ANs' uplink subnet.
      lab.ip(this.core, "addr", "add", `${LAB.broker}/${LAB.core.prefixLength}`, "dev", "br0");
      const corePort = (ns: string, ifname: string, port: string): void => {
        lab.veth(ns, ifname, this.core, port);
        lab.ip(this.core, "link", "set", port, "master", "br0", "up");
      };
      // HA: IPv4 on the core, IPv6 only towards the TUN and the CN.
      corePort(this.haNs, "eth0", "p-ha");
      lab.sysctl(this.haNs, "net.ipv6.conf.eth0.disable_ipv6", "1");
      lab.ip(this.haNs, "addr", "add", `${LAB.ha}/${LAB.core.prefixLength}`, "dev", "eth0");
      lab.ip(this.haNs, "link", "set", "eth0", "up");
      lab.sysctl(this.haNs, "net.ipv6.conf.all.forwarding", "1");
      lab.ip(this.haNs, "tuntap", "add", "dev", LAB.tun, "mode", "tun");
      lab.ip(this.haNs, "link", "set", LAB.tun, "up");
      lab.ip(this.haNs, "addr", "add", `${LAB.haHomeAddress}/64`, "dev", LAB.tun, "nodad");
      lab.veth(this.haNs, "cn0", this.cnNs, "eth0");
      lab.ip(this.haNs, "addr", "add", `${LAB.haCnSide}/64`, "dev", "cn0", "nodad");
      lab.ip(this.haNs, "link", "set", "cn0", "up");
      lab.ip(this.cnNs, "addr", "add", `${LAB.cn}/64`, "dev", "eth0", "nodad");
      lab.ip(this.cnNs, "link", "set", "eth0", "up");
      lab.ip(this.cnNs, "-6", "route", "add", "default", "via", LAB.haCnSide, "dev", "eth0");

      // The access network: one bridge per AN.
      for (const site of this.ans) {
        const br = `br${site.index}`;
        lab.bridge(this.sw, br);
        lab.veth(site.ns, site.access, this.sw, `a${site.index}`, { macA: site.mac });
        lab.ip(this.sw, "link", "set", `a${site.index}`, "master", br, "up");
        lab.ip(site.ns, "link", "set", site.access, "up");
        corePort(site.ns, site.uplink, `p-an${site.index}`);
        lab.ip(site.ns, "addr", "add", `${site.address}/${LAB.core.prefixLength}`, "dev", site.uplink);
        if (o.careOfAddresses !== false) {
          for (const c of site.coas) lab.ip(site.ns, "addr", "add", `${c}/32`, "dev", site.uplink);
        }
        lab.ip(site.ns, "link", "set", site.uplink, "up");
      }

      const specs: readonly MnSpec[] = typeof o.mns === "number" || o.mns === undefined ? Array.from({ length: o.mns ?? 1 }, () => ({})) : o.mns;
      this.mns = specs.map((spec, i) => {
        const index = i + 1;
        const ns = lab.netns(`mn${index}`);
        const mac = macOfMn(index);
        const port = `m${index}`;
        lab.veth(ns, "eth0", this.sw, port, { macA: mac });
        if (o.mnTxChecksum !== "on") lab.exec(ns, "perl", "-e", TX_CSUM_OFF_PL, "eth0");
        // The only configuration of an MN: its link up (RFC 4862 does the rest).
        lab.ip(ns, "link", "set", "eth0", "up");
        const mn: MnNode = { index, ns, ifname: "eth0", mac, nai: `${mac.replace(/:/g, "")}@${LAB.realm}`, homeAddress: slaacAddress("2001:db8:1::", mac), linkLocal: slaacAddress("fe80::", mac), port, at: null };
        if (spec.at) this.moveMn(mn, spec.at);
        return mn;
      });
      writeFileSync(join(this.dir, "stations"), this.mns.map((m) => `${m.mac} ${m.port}\n`).join(""));
      this.detachCommand = join(this.dir, "detach.sh");
      writeFileSync(this.detachCommand, detachScript(this.sw, join(this.dir, "stations")));
      chmodSync(this.detachCommand, 0o755);
    } catch (e) {
      this.lab.cleanup();
      throw e;
    }
  }

  /** Builds the lab. Call cleanup() when done (withTopology does it for you). */
  static create(o: TopologyOptions = {}): Topology {
    return new Topology(o);
  }

  /** Every namespace of this lab. */
  get namespaces(): readonly string[] {
    return this.lab.namespaceNames;
  }

  an(index: AnIndex): AnSite {
    return this.ans[index - 1]!;
  }

  /**
   * Moves the MN's link to AN `to` (null: unplugs it) in one call. The MN's kernel
   * sees its carrier go and (when plugged in) come back; its interface, MAC and
   * addresses stay. Returns when the link is up on the new side.
   */
  moveMn(mn: MnNode, to: AnIndex | null): void {
    const lines = [`link set ${mn.port} down`, `link set ${mn.port} nomaster`];
    if (to !== null) lines.push(`link set ${mn.port} master br${to}`, `link set ${mn.port} up`);
    this.lab.ipBatch(this.sw, lines);
    mn.at = to;
  }

  /** Whether the MN's eth0 has carrier (LOWER_UP), as its kernel sees it. */
  carrier(mn: MnNode): boolean {
    const j = JSON.parse(this.lab.ip(mn.ns, "-j", "link", "show", "dev", mn.ifname)) as { flags?: string[] }[];
    return (j[0]?.flags ?? []).includes("LOWER_UP");
  }

  /** The kernel's count of carrier changes on the MN's eth0. */
  carrierChanges(mn: MnNode): number {
    return Number(this.lab.exec(mn.ns, "cat", `/sys/class/net/${mn.ifname}/carrier_changes`).trim());
  }

  /** IPv6 addresses on the MN's eth0. */
  mnAddresses(mn: MnNode): AddressInfo[] {
    const j = JSON.parse(this.lab.ip(mn.ns, "-j", "-6", "addr", "show", "dev", mn.ifname)) as {
      addr_info?: { local: string; prefixlen: number; scope: string; tentative?: boolean; dadfailed?: boolean }[];
    }[];
    return (j[0]?.addr_info ?? []).map((a) => ({ local: a.local, prefixlen: a.prefixlen, scope: a.scope, tentative: a.tentative === true, dadfailed: a.dadfailed === true }));
  }

  /** Waits until the MN has a usable (non-tentative) global address; returns it. */
  waitForGlobalAddress(mn: MnNode, timeoutMs = 15_000): Promise<string> {
    return waitFor(() => this.mnAddresses(mn).find((a) => a.scope === "global" && !a.tentative && !a.dadfailed)?.local, timeoutMs, `a global address on ${mn.ns}`, 100);
  }

  /** `ip -6 route` of the MN, parsed. */
  mnRoutes(mn: MnNode): { dst: string; gateway?: string; dev?: string; mtu?: number }[] {
    const j = JSON.parse(this.lab.ip(mn.ns, "-j", "-6", "route", "show")) as { dst: string; gateway?: string; dev?: string; metrics?: { mtu?: number }[] }[];
    return j.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, mtu: r.metrics?.find((m) => m.mtu !== undefined)?.mtu }));
  }

  /** A path in the lab's temp dir (removed at cleanup), e.g. for an AN's stateFile. */
  file(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Follows the MN's kernel (`ip -ts monitor link address route` in its namespace):
   * every link (carrier), address and route change, stamped by ip as the kernel's
   * notification arrives. Stopped at cleanup.
   */
  async monitorMn(mn: MnNode): Promise<MnMonitor> {
    const child = this.lab.spawn(mn.ns, "ip", ["-ts", "monitor", "link", "address", "route"]);
    const m = new MnMonitor(child);
    this.processes.push(m);
    // ip monitor prints nothing until something changes: give it a moment to subscribe.
    await new Promise((r) => setTimeout(r, 150));
    if (m.exited) throw new Error(`ip monitor in ${mn.ns} exited: ${m.stderr}`);
    return m;
  }

  /** Runs a command in a namespace (sync; throws with stderr). */
  exec(ns: string, ...cmd: string[]): string {
    return this.lab.exec(ns, ...cmd);
  }

  /** The bundle of a lab entry (cached per topology). */
  bundle(entry: string, native = true): Promise<string> {
    let p = this.bundles.get(entry);
    if (!p) {
      p = bundleEntry(entry, join(this.dir, `${entry.replace(/[/.]/g, "_")}.mjs`), { native });
      this.bundles.set(entry, p);
    }
    return p;
  }

  /** Runs a bundled lab tool in `ns` to completion; returns its stdout JSON lines. */
  runTool(ns: string, entry: string, args: readonly string[], timeoutMs = 20_000, native = true): Promise<{ code: number | null; lines: AnyLine[]; stderr: string }> {
    return this.traffic.runTool(ns, entry, args, timeoutMs, native);
  }

  // ---- the home agent ---------------------------------------------------------------

  /** The HA peer's config for this lab, with overrides. */
  haConfig(over: Partial<HaConfigFile> = {}): HaConfigFile {
    return {
      address: LAB.ha,
      realms: [{ realm: LAB.realm, spi: LAB.spi, key: `hex:${LAB.keyHex}` }],
      homePrefix: LAB.homePrefix,
      linkLocal: LAB.haLinkLocal,
      homeAddresses: [LAB.haHomeAddress],
      homeLinkMac: LAB.haMac,
      tun: LAB.tun,
      ...over,
    };
  }

  /** Starts the HA peer in the HA namespace and waits until it listens. */
  async startHomeAgent(over: Partial<HaConfigFile> = {}): Promise<HaProcess> {
    const bundle = await this.bundle("test/lab/home-agent/main.ts");
    const configFile = join(this.dir, `ha-${Date.now()}.json`);
    writeFileSync(configFile, JSON.stringify(this.haConfig(over), null, 2));
    const child = this.lab.spawn(this.haNs, process.execPath, [bundle, configFile], { env: nativeEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const ha = new HaProcess(child, configFile);
    this.processes.push(ha);
    await ha.ready();
    return ha;
  }

  // ---- the fleet broker ------------------------------------------------------------

  /**
   * Starts mosquitto in the core namespace (broker.ts). From then on anConfig gives
   * each AN a fleet section (its own context key, both ANs' public keys) and the
   * default trigger: the context record, not any-ipv6, is how AN2 learns of a moved MN.
   */
  async startBroker(): Promise<LabBroker> {
    if (!this.broker) {
      const b = new LabBroker(this.lab, this.core, join(this.dir, "mosquitto.conf"));
      this.broker = b;
      this.processes.push({ stop: () => b.stop() });
    }
    await this.broker.start();
    return this.broker;
  }

  /** AN `index`'s fleet section for this lab's broker. */
  fleetConfig(index: AnIndex): NonNullable<AnConfigFile["fleet"]> {
    const broker = this.broker ?? fail("fleetConfig: no broker (startBroker first)");
    const fleetKeys: Record<string, string> = {};
    LAB.contextSeeds.forEach((seed, i) => (fleetKeys[`an${i + 1}`] = rawPublicKey(privateKeyFromSeed(Buffer.from(seed, "hex"))).toString("hex")));
    return {
      url: broker.url,
      keepaliveS: 5,
      reconnect: { initialMs: 200, maxMs: 2000 },
      allowSecretsWithoutTls: true, // a lab: no TLS between the namespaces
      contextKey: `hex:${LAB.contextSeeds[index - 1]!}`,
      fleetKeys,
    };
  }

  // ---- the ANs ------------------------------------------------------------------

  /** A valid AN daemon config (src/app/config-schema.ts) for AN `index` in this lab, with overrides. */
  anConfig(index: AnIndex, over: Partial<AnConfigFile> = {}, mode: "pool" | "shared" = "pool"): AnConfigFile {
    const site = this.an(index);
    return {
      nodeId: `an${index}`,
      access: { interface: site.access, promiscuous: true },
      uplink: { interface: site.uplink },
      careOf: mode === "pool" ? { mode: "pool", addresses: [...site.coas] } : { mode: "shared", address: site.coas[0]!, greKeys: { first: 0x1000 * index, count: 256 } },
      realms: [{ realm: LAB.realm, homeAgent: LAB.ha, spi: LAB.spi, key: `hex:${LAB.keyHex}` }],
      identity: { derivedRealm: LAB.realm },
      // The lab has no link-layer events (no hostapd): a Linux MN that moved its link
      // sends only MLD reports. With the fleet broker the new AN fetches the MN's context
      // on that report (default trigger); without it, it must start on any IPv6 frame.
      ...(this.broker ? { fleet: this.fleetConfig(index) } : { triggerOn: "any-ipv6" as const }),
      log: { level: "debug" },
      // The AN runs as root in the lab: the script reaches into the sw namespace.
      stationControl: { detachCommand: [this.detachCommand, String(index), "{mac}"] },
      ...over,
    };
  }

  /**
   * Bundles the AN daemon from the current source (build/bundle.mjs) into the lab's
   * temp dir, once per topology; returns the an.mjs path for startAn's `daemon`.
   */
  buildDaemon(): string {
    return buildDaemonInto(join(this.dir, "daemon"));
  }

  /**
   * Starts the AN daemon (node DAEMON run --config FILE [--pcap FILE]) in AN
   * `index`'s namespace; DAEMON is dist/an.mjs unless `daemon` names another bundle
   * (or an executable: the single binary runs as itself).
   */
  startAn(index: AnIndex, config: AnConfigFile = this.anConfig(index), o: { readonly pcap?: string; readonly daemon?: string } = {}): AnProcess {
    const daemon = o.daemon ?? DAEMON_PATH;
    if (!existsSync(daemon)) throw new Error(`${daemon} missing: the AN daemon is not built (issue 4: node build/bundle.mjs)`);
    const checked = validateConfig(config);
    if (!checked.ok) throw new Error(`AN config invalid: ${checked.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    const site = this.an(index);
    const configFile = join(this.dir, `an${index}-${Date.now()}.json`);
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const [cmd, ...first] = daemonCommand(daemon);
    const args = [...first, "run", "--config", configFile, ...(o.pcap !== undefined ? ["--pcap", o.pcap] : [])];
    // A bundle loads the addon from the source tree's build; a single executable its embedded one.
    const { AN_NATIVE_ADDON: _fromTree, ...ownAddon } = process.env;
    const child = this.lab.spawn(site.ns, cmd, args, { env: cmd === process.execPath ? nativeEnv() : ownAddon });
    const an = new AnProcess(site, child, configFile, o.pcap);
    this.processes.push(an);
    return an;
  }

  // ---- traffic and captures ---------------------------------------------------------

  /** Starts a UDP echo server (the lab's ping responder) in `ns`; stopped at cleanup. */
  startEcho(ns: string, port: number = LAB.echoPort): Promise<{ stop(): Promise<void> }> {
    return this.traffic.startEcho(ns, port);
  }

  /** A ping over UDP (see tools/udp-ping.ts) from `ns` to an echo at `address`. */
  ping(ns: string, address: string, o: { readonly count?: number; readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number; readonly size?: number } = {}): Promise<PingSummary> {
    return this.traffic.ping(ns, address, o);
  }

  /** A ping stream every intervalMs until stopped (handover measurements). */
  pingStream(ns: string, address: string, o: { readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number } = {}): Promise<PingStream> {
    return this.traffic.pingStream(ns, address, o);
  }

  /** Starts dumpcap on `ifname` in `ns` (optional capture filter) and waits until it writes. */
  capture(ns: string, ifname: string, filter?: string, file?: string): Promise<Capture> {
    return this.traffic.capture(ns, ifname, filter, file);
  }

  /** Stops every process this topology started (HA, ANs, echo, pings), gracefully. */
  async stopProcesses(): Promise<void> {
    await Promise.all(this.processes.splice(0).map((p) => p.stop()));
  }

  /** Removes everything: processes, namespaces, temp files. Idempotent; safe after errors. */
  cleanup(): void {
    this.lab.cleanup();
  }
}

/**
 * The lab's link layer for a detach: `detach.sh AN_INDEX MAC` looks the MAC up in
 * the stations map ("mac port" lines) and takes that sw port down and out of the
 * bridge, but only while the port is on AN_INDEX's bridge (an MN that moved on is
 * not that AN's to detach). Exit 2: unknown station, 3: not on that AN.
 */
function detachScript(sw: string, stations: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(sw) || !/^[A-Za-z0-9_./-]+$/.test(stations)) throw new Error(`unsafe name in the detach script: ${sw} ${stations}`);
  return `#!/bin/sh
set -eu
an="$1"
mac="$2"
port=""
while read -r m p; do
  if [ "$m" = "$mac" ]; then port="$p"; fi
done < ${stations}
if [ -z "$port" ]; then echo "unknown station $mac" >&2; exit 2; fi
if ! ip -n ${sw} -o link show dev "$port" | grep -q " master br$an "; then echo "station $mac ($port) is not on br$an" >&2; exit 3; fi
printf 'link set %s down\nlink set %s nomaster\n' "$port" "$port" | ip -n ${sw} -batch -
`;
}

function fail(message: string): never {
  throw new Error(message);
}

/** Builds a topology, runs `fn`, and always tears it down (also when `fn` throws). */
export async function withTopology<T>(o: TopologyOptions, fn: (t: Topology) => Promise<T>): Promise<T> {
  const t = Topology.create(o);
  try {
    return await fn(t);
  } finally {
    await t.stopProcesses().catch(() => undefined);
    t.cleanup();
  }
}