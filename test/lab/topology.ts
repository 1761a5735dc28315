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
//   (as moveMn(mn, null) does): the MN's kernel sees its carrier go.
import { execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { z } from "zod";
import type { configSchema } from "../../src/app/config-schema.ts";
import { validateConfig } from "../../src/app/config-schema.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6-address.ts";
import { Lab, waitFor } from "../support/netns.ts";
import { bundleEntry, nativeEnv, repoRoot } from "./bundle.ts";
import type { HaConfigFile } from "./home-agent/config.ts";
import type { HaEvent } from "./home-agent/events.ts";

/** Addresses, names and keys of the lab, shared by the HA and AN configs. */
export const LAB = {
  realm: "lab.example",
  spi: 0x1001,
  /** "lab-mn-ha-secret" */
  keyHex: "6c61622d6d6e2d68612d736563726574",
  core: { prefixLength: 24 },
  ha: "10.64.0.1",
  ans: [
    { address: "10.64.0.11", coas: ["10.64.0.101", "10.64.0.102", "10.64.0.103", "10.64.0.104"], mac: "02:00:00:00:a1:01" },
    { address: "10.64.0.12", coas: ["10.64.0.121", "10.64.0.122", "10.64.0.123", "10.64.0.124"], mac: "02:00:00:00:a2:01" },
  ],
  homePrefix: "2001:db8:1::/64",
  haHomeAddress: "2001:db8:1::1",
  haLinkLocal: "fe80::1",
  haMac: "02:00:5e:00:53:01",
  cnPrefix: "2001:db8:99::/64",
  haCnSide: "2001:db8:99::1",
  cn: "2001:db8:99::7",
  tun: "ha0",
  echoPort: 7007,
} as const;

export type AnIndex = 1 | 2;

export interface MnSpec {
  /** Where the MN is plugged in at the start; null (default): unplugged (eth0 up, no carrier). */
  readonly at?: AnIndex | null;
}

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

export interface MnNode {
  readonly index: number;
  readonly ns: string;
  /** The MN's interface (inside its namespace). */
  readonly ifname: "eth0";
  readonly mac: string;
  /** The NAI an AN derives from the MAC (`<mac hex>@lab.example`). */
  readonly nai: string;
  /** The MN's SLAAC address in the home prefix (modified EUI-64). */
  readonly homeAddress: string;
  /** Its link-local address (fe80:: + the same interface identifier). */
  readonly linkLocal: string;
  /** The sw end of its veth. */
  readonly port: string;
  at: AnIndex | null;
}

export interface AnSite {
  readonly index: AnIndex;
  readonly ns: string;
  readonly access: "acc0";
  readonly uplink: "up0";
  readonly address: string;
  readonly coas: readonly string[];
  readonly mac: string;
}

export type AnConfigFile = z.input<typeof configSchema>;

export interface AddressInfo {
  readonly local: string;
  readonly prefixlen: number;
  readonly scope: string;
  readonly tentative: boolean;
  readonly dadfailed: boolean;
}

export interface PingSummary {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly lostSeqs: readonly number[];
  readonly duplicates: number;
  readonly maxGapMs: number;
  readonly firstReplyMs: number | null;
}

/** One JSON line of the HA peer: the HaEvent of that type without its packet, plus hex when configured. */
export type HaLine<T extends HaEvent["type"] = HaEvent["type"]> = Omit<Extract<HaEvent, { type: T }>, "type" | "packet"> & {
  readonly event: T;
  readonly t: number;
  readonly hex?: string;
};
type AnyLine = { readonly event: string; readonly t: number } & Readonly<Record<string, unknown>>;

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

/** Reads JSON lines from a child's stdout into `lines`, waking waiters. */
class LineReader<L> {
  readonly lines: L[] = [];
  private readonly waiters = new Set<() => void>();
  stderr = "";

  constructor(readonly child: ChildProcess) {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on("line", (text) => {
        try {
          this.lines.push(JSON.parse(text) as L);
        } catch {
          this.stderr += `${text}\n`; // not JSON: keep it for the error message
        }
        for (const w of [...this.waiters]) w();
      });
    }
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    child.on("exit", () => {
      for (const w of [...this.waiters]) w();
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves with the first line (already seen or coming) that matches; rejects on timeout or exit. */
  waitFor(pred: (l: L) => boolean, what: string, timeoutMs: number): Promise<L> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(pred);
        if (found === undefined && !this.exited) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (found !== undefined) resolve(found);
        else reject(new Error(`process exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${this.stderr.slice(-2000)}`));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs = 3000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.kill("SIGTERM");
    });
  }
}

/** A lab child process that speaks JSON lines on stdout (the HA peer, an AN daemon). */
abstract class JsonLineProcess<L> {
  protected readonly reader: LineReader<L>;

  constructor(readonly child: ChildProcess) {
    this.reader = new LineReader<L>(child);
  }

  get exited(): boolean {
    return this.reader.exited;
  }

  get stderr(): string {
    return this.reader.stderr;
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}

/** The HA peer process (test/lab/home-agent/main.ts) running in the HA namespace. */
export class HaProcess extends JsonLineProcess<AnyLine> {
  constructor(
    child: ChildProcess,
    readonly configFile: string,
  ) {
    super(child);
  }

  /** Every line so far, in order. */
  get lines(): readonly AnyLine[] {
    return this.reader.lines;
  }

  events<T extends HaEvent["type"]>(type: T): HaLine<T>[] {
    return this.reader.lines.filter((l) => l.event === type) as unknown as HaLine<T>[];
  }

  waitFor<T extends HaEvent["type"]>(type: T, pred: (e: HaLine<T>) => boolean = () => true, timeoutMs = 10_000): Promise<HaLine<T>> {
    return this.reader.waitFor((l) => l.event === type && pred(l as unknown as HaLine<T>), `HA event ${type}`, timeoutMs) as unknown as Promise<HaLine<T>>;
  }

  /** Waits for the "ready" line (sockets open, UDP 434 bound). */
  ready(timeoutMs = 10_000): Promise<AnyLine> {
    return this.reader.waitFor((l) => l.event === "ready" || l.event === "error", "HA ready", timeoutMs).then((l) => {
      if (l.event === "error") throw new Error(`HA failed: ${String(l.message)}`);
      return l;
    });
  }

  /** Sends a JSON-line command ({"op": "revoke", "nai"} or {"op": "bindings"}). */
  command(cmd: { readonly op: "revoke"; readonly nai: string } | { readonly op: "bindings" }): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }
}

/** An AN daemon process (dist/an.mjs run --config FILE), its JSON log lines collected. */
export class AnProcess extends JsonLineProcess<Readonly<Record<string, unknown>>> {
  constructor(
    readonly site: AnSite,
    child: ChildProcess,
    readonly configFile: string,
    readonly pcapFile: string | undefined,
  ) {
    super(child);
  }

  get logs(): readonly Readonly<Record<string, unknown>>[] {
    return this.reader.lines;
  }

  waitForLog(pred: (l: Readonly<Record<string, unknown>>) => boolean, what: string, timeoutMs = 10_000): Promise<Readonly<Record<string, unknown>>> {
    return this.reader.waitFor(pred, what, timeoutMs);
  }
}

/** One change the MN's kernel reported (ip monitor): `t` is its timestamp in ms since 1970. */
export interface MnKernelEvent {
  readonly t: number;
  readonly kind: "link" | "address" | "route";
  readonly deleted: boolean;
  /** The monitor's text, continuation lines joined with one space. */
  readonly text: string;
}

/** `ip -ts monitor link address route` in an MN's namespace, its lines parsed as they come. */
export class MnMonitor {
  readonly events: MnKernelEvent[] = [];
  private readonly waiters = new Set<() => void>();
  stderr = "";

  constructor(private readonly child: ChildProcess) {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on("line", (text) => this.onLine(text));
    }
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }

  private onLine(text: string): void {
    // "[2026-11-26T19:11:52.611619] 3: eth0    inet6 2001:db8::5/64 scope global tentative"
    const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\] (.*)$/.exec(text);
    if (!m) {
      const last = this.events.pop();
      if (last && text.trim() !== "") this.events.push({ ...last, text: `${last.text} ${text.trim()}` });
      else if (last) this.events.push(last);
      return;
    }
    // ip prints local time; Date parses a zone-less ISO date-time as local time too.
    const t = Date.parse(m[1]!) + Number(`0.${m[2]!}`) * 1000;
    const body = m[3]!.trim();
    const deleted = body.startsWith("Deleted ");
    const rest = deleted ? body.slice(8) : body;
    const kind = /^\d+: \S+\s+inet6? /.test(rest) ? "address" : /^\d+: \S+: </.test(rest) ? "link" : "route";
    this.events.push({ t, kind, deleted, text: rest });
    for (const w of [...this.waiters]) w();
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The first event (seen or coming) that matches; rejects after timeoutMs. */
  waitFor(pred: (e: MnKernelEvent) => boolean, what: string, timeoutMs: number): Promise<MnKernelEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(pred);
        if (!found) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the MN's kernel: ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill("SIGTERM");
    });
  }
}

/** A running capture (dumpcap) whose pcap file is read when stopped. */
export interface Capture {
  readonly file: string;
  stop(): Promise<Uint8Array>;
}

/** A ping stream running until stopped. */
export interface PingStream {
  /** Replies so far: sequence number, round trip, arrival time (ms since 1970). */
  readonly replies: readonly { readonly seq: number; readonly rttMs: number; readonly t: number }[];
  stop(): Promise<PingSummary>;
}

export const DAEMON_PATH = join(repoRoot, "dist/an.mjs");
/** The single executable (node SEA) of the firmware, when one has been built: build/images.mjs links it to dist/an-linux-x64. */
export const DAEMON_BINARY_PATH = join(repoRoot, "dist/an");

/**
 * $AN_DAEMON: the firmware every lab test and the demo run instead of a bundle of
 * the current source (CI sets it to the x64 single executable, dist/an-linux-x64,
 * after build/ci-images.sh built it). Unset: undefined.
 */
export function daemonOverride(): string | undefined {
  const d = process.env.AN_DAEMON;
  if (d === undefined || d === "") return undefined;
  const path = resolve(d);
  if (!existsSync(path)) throw new Error(`AN_DAEMON=${d}: no such file (build it: node build/images.mjs --target x64)`);
  return path;
}

/** What runs the AN firmware: $AN_DAEMON, else the single executable when built, else the bundled daemon. */
export function defaultDaemon(): { readonly path: string; readonly kind: "single executable" | "bundled daemon" | "$AN_DAEMON" } | undefined {
  const override = daemonOverride();
  if (override !== undefined) return { path: override, kind: "$AN_DAEMON" };
  if (isExecutableFile(DAEMON_BINARY_PATH)) return { path: DAEMON_BINARY_PATH, kind: "single executable" };
  if (existsSync(DAEMON_PATH)) return { path: DAEMON_PATH, kind: "bundled daemon" };
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The command line that runs `daemon`: a JavaScript bundle under this node, anything else as itself. */
export function daemonCommand(daemon: string): [string, ...string[]] {
  return /\.[cm]?js$/.test(daemon) ? [process.execPath, daemon] : [daemon];
}

/** Whether the AN daemon bundle exists (issue 4 builds it with build/bundle.mjs). */
export function daemonAvailable(): boolean {
  return existsSync(DAEMON_PATH);
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

  private constructor(o: TopologyOptions) {
    this.lab = new Lab(o.label ?? "lab");
    try {
      this.dir = this.lab.tempDir("an-lab-");
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
  async runTool(ns: string, entry: string, args: readonly string[], timeoutMs = 20_000, native = true): Promise<{ code: number | null; lines: AnyLine[]; stderr: string }> {
    const file = await this.bundle(entry, native);
    const child = this.lab.spawn(ns, process.execPath, [file, ...args], { env: nativeEnv() });
    const reader = new LineReader<AnyLine>(child);
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return { code, lines: reader.lines, stderr: reader.stderr };
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
      // sends only MLD reports, so the new AN must start on any IPv6 frame.
      triggerOn: "any-ipv6",
      log: { level: "debug" },
      // The AN runs as root in the lab: the script reaches into the sw namespace.
      stationControl: { detachCommand: [this.detachCommand, String(index), "{mac}"] },
      ...over,
    };
  }

  /**
   * Bundles the AN daemon from the current source (build/bundle.mjs) into the lab's
   * temp dir, once per topology; returns the an.mjs path for startAn's `daemon`
   * ($AN_DAEMON instead when set: see daemonOverride).
   */
  buildDaemon(): string {
    const override = daemonOverride();
    if (override !== undefined) return override;
    const dir = join(this.dir, "daemon");
    const file = join(dir, "an.mjs");
    if (!existsSync(file)) execFileSync(process.execPath, [join(repoRoot, "build/bundle.mjs"), "--outdir", dir], { stdio: "pipe", timeout: 120_000 });
    return file;
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
  async startEcho(ns: string, port: number = LAB.echoPort): Promise<{ stop(): Promise<void> }> {
    const file = await this.bundle("test/lab/tools/udp-ping.ts", false);
    const child = this.lab.spawn(ns, process.execPath, [file, "echo", String(port)]);
    const reader = new LineReader<AnyLine>(child);
    await reader.waitFor((l) => l.ready === true, `UDP echo in ${ns}`, 10_000);
    this.processes.push(reader);
    return reader;
  }

  /** A ping over UDP (see tools/udp-ping.ts) from `ns` to an echo at `address`. */
  async ping(ns: string, address: string, o: { readonly count?: number; readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number } = {}): Promise<PingSummary> {
    const count = o.count ?? 1;
    const args = ["ping", address, "--count", String(count), "--interval", String(o.intervalMs ?? 200), "--wait", String(o.waitMs ?? 1000), "--port", String(o.port ?? LAB.echoPort)];
    const r = await this.runTool(ns, "test/lab/tools/udp-ping.ts", args, count * (o.intervalMs ?? 200) + (o.waitMs ?? 1000) + 10_000, false);
    const s = r.lines.find((l) => typeof l.summary === "object");
    if (!s) throw new Error(`ping from ${ns} gave no summary: ${r.stderr}`);
    return s.summary as PingSummary;
  }

  /** A ping stream every intervalMs until stopped (handover measurements). */
  async pingStream(ns: string, address: string, o: { readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number } = {}): Promise<PingStream> {
    const file = await this.bundle("test/lab/tools/udp-ping.ts", false);
    const args = [file, "ping", address, "--count", "0", "--interval", String(o.intervalMs ?? 20), "--wait", String(o.waitMs ?? 1000), "--port", String(o.port ?? LAB.echoPort)];
    const child = this.lab.spawn(ns, process.execPath, args);
    const reader = new LineReader<AnyLine>(child);
    this.processes.push(reader);
    return {
      get replies() {
        return reader.lines.filter((l) => typeof l.seq === "number") as unknown as { seq: number; rttMs: number; t: number }[];
      },
      stop: async () => {
        child.kill("SIGTERM");
        const s = await reader.waitFor((l) => typeof l.summary === "object", "ping summary", (o.waitMs ?? 1000) + 5000);
        return s.summary as PingSummary;
      },
    };
  }

  /** Starts dumpcap on `ifname` in `ns` (optional capture filter) and waits until it writes. */
  async capture(ns: string, ifname: string, filter?: string, file: string = join(this.dir, `${ns}-${ifname}-${Date.now()}.pcap`)): Promise<Capture> {
    const child = this.lab.spawn(ns, "dumpcap", ["-q", "-P", "-i", ifname, ...(filter ? ["-f", filter] : []), "-w", file]);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => (existsSync(file) && statSync(file).size >= 24 ? true : child.exitCode !== null ? fail(`dumpcap exited: ${stderr}`) : undefined), 10_000, `dumpcap on ${ns}/${ifname} (${stderr})`);
    return {
      file,
      stop: () =>
        new Promise<Uint8Array>((resolve) => {
          const done = (): void => resolve(new Uint8Array(readFileSync(file)));
          if (child.exitCode !== null) return done();
          const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
          child.once("exit", () => {
            clearTimeout(kill);
            done();
          });
          child.kill("SIGINT");
        }),
    };
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
