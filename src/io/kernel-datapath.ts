// The kernel datapath backend (DESIGN.md 8): tc-BPF programs (src/bpf/an_fastpath.bpf.c)
// forward the frames of bound MNs in the kernel; everything else reaches the userspace
// datapath it wraps (the slow path), whose access socket reads after tc ingress so no
// frame is handled twice. bind/unbind write and delete map entries; the maps' counters
// come back as stats and as activity reports (the engine's idle timer never sees
// fast-pathed frames).
import { existsSync } from "node:fs";
import { endianness } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TunnelTarget } from "../core/events.ts";
import type { Datapath, DatapathHandlers, DatapathStats, FastPathStats, OuterHeaderOptions, UserspaceDatapathOptions } from "./datapath.ts";
import { UserspaceDatapath } from "./userspace-datapath.ts";
import type { InterfaceInfo, NativeFastpath } from "./native-addon.ts";
import { FastpathMap, nativeAddon, nativeAddonPath } from "./native-addon.ts";
import { interfaceInfo } from "./network-interface.ts";

export interface KernelDatapathOptions extends UserspaceDatapathOptions {
  /** the compiled BPF object (dist/an_fastpath.bpf.o), or its bytes (embedded in a firmware image) */
  readonly objectPath: string | Uint8Array;
  /** a tunnel MTU below the uplink interface's (capped at it): larger packets take the slow path */
  readonly uplinkMtu?: number;
  /** max entries of the session maps */
  readonly maxSessions: number;
  /** how often the uplink map is read for MN activity (0: never; needed with an idle timeout) */
  readonly activityIntervalMs: number;
}

/** Why the kernel backend could not start: shown once, then the userspace backend runs. */
export class FastPathUnavailable extends Error {
  override readonly name = "FastPathUnavailable";
}

export const BPF_OBJECT_FILE = "an_fastpath.bpf.o";

/**
 * Where the BPF object is looked for when the config names none: $AN_FASTPATH_BPF,
 * next to the loaded addon, next to the executable (firmware image), next to the
 * bundle, and the source tree's dist/ (tests run from src/).
 */
export function bpfObjectCandidates(moduleUrl: string | undefined = import.meta.url): string[] {
  const fromEnv = process.env.AN_FASTPATH_BPF;
  if (fromEnv !== undefined && fromEnv !== "") return [fromEnv];
  const list: string[] = [];
  const addon = nativeAddonPath();
  if (addon !== undefined) list.push(join(dirname(addon), BPF_OBJECT_FILE));
  list.push(join(dirname(process.execPath), BPF_OBJECT_FILE));
  if (typeof moduleUrl === "string" && moduleUrl.startsWith("file:")) {
    list.push(fileURLToPath(new URL(`./${BPF_OBJECT_FILE}`, moduleUrl)), fileURLToPath(new URL(`../../dist/${BPF_OBJECT_FILE}`, moduleUrl)));
  }
  return list;
}

/** The configured object, or the first candidate that exists (the first one when none does, for the message). */
export function resolveBpfObject(configured: string): string {
  if (configured !== "") return configured;
  const c = bpfObjectCandidates();
  return c.find((p) => existsSync(p)) ?? c[0] ?? BPF_OBJECT_FILE;
}

const LE = endianness() === "LE";
// Layouts of src/bpf/an_fastpath.bpf.c (struct up_key/up_value/down_key/down_value/fp_config).
const UP_KEY = 8;
const UP_VALUE = 32;
const DOWN_KEY = 12;
const DOWN_VALUE = 32;
const CONFIG_VALUE = 32;
/** enum fp_stat, in order */
const STAT_NAMES = [
  "upFast",
  "upUnbound",
  "upNd",
  "upOtherSlow",
  "upOversize",
  "upError",
  "downFast",
  "downUnbound",
  "downNd",
  "downOtherSlow",
  "downOversize",
  "downError",
  "upBytes",
  "downBytes",
] as const;
/** Per-session counters are listed in telemetry up to this many sessions (one map read each). */
const SESSION_TELEMETRY_LIMIT = 256;

interface Binding {
  readonly mac: string;
  readonly upKey: Uint8Array;
  readonly downKey: Uint8Array;
  /** what the downlink entry holds as Ethernet source (the learned RA source, else ours) */
  src: Uint8Array;
  readonly homeAgent: number;
  lastUpPackets: number;
}

function macNumber(b: Uint8Array, at = 0): number {
  return ((b[at]! << 8) | b[at + 1]!) * 2 ** 32 + (((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0);
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(":").map((h) => parseInt(h, 16)));
}

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class KernelDatapath implements Datapath {
  private readonly bindings = new Map<number, Binding>();
  private outer: OuterHeaderOptions;
  private access: InterfaceInfo;
  private uplink: InterfaceInfo;
  private timer: ReturnType<typeof setInterval> | undefined;
  private mtuTimer: ReturnType<typeof setInterval> | undefined;
  /** The outer-packet limit the programs hold now (written with the config). */
  private pathMtu = 0;
  private closed = false;
  private off = false;
  private mapErrors = 0;
  private lastMapError: string | null = null;
  private readonly scratch = new Uint8Array(Math.max(UP_VALUE, DOWN_VALUE));

  private constructor(
    private readonly addon: NativeFastpath,
    private readonly slow: UserspaceDatapath,
    private readonly options: KernelDatapathOptions,
    access: InterfaceInfo,
    uplink: InterfaceInfo,
    /** "tcx": links that die with the process; "tc": clsact filters removed at stop or next start */
    readonly attach: "tcx" | "tc" = "tc",
  ) {
    this.outer = { ttl: options.ttl, dontFragment: options.dontFragment };
    this.access = access;
    this.uplink = uplink;
  }

  /** Loads and attaches the fast path and opens the slow path; throws FastPathUnavailable or a NativeIoError. */
  static open(options: KernelDatapathOptions, addon: NativeFastpath = nativeAddon()): KernelDatapath {
    if (!addon.fastpathSupported) throw new FastPathUnavailable("the native addon was built without libbpf (libbpf-dev missing at build time)");
    if (typeof options.objectPath === "string" && !existsSync(options.objectPath))
      throw new FastPathUnavailable(`BPF object ${options.objectPath} not found (npm run build:bpf)`);
    const access = interfaceInfo(options.accessInterface);
    const uplink = interfaceInfo(options.uplinkInterface);
    if (!access.mac || !uplink.mac) throw new FastPathUnavailable("the access link and the uplink must both be Ethernet");
    // The slow path first, reading after tc ingress: once the programs are attached, a
    // frame is either redirected by them or read here, never both.
    const slow = UserspaceDatapath.open({ ...options, afterTc: true });
    let attach: "tcx" | "tc";
    try {
      attach = addon.fastpathLoad(options.objectPath, { accessIfindex: access.index, uplinkIfindex: uplink.index, maxEntries: options.maxSessions });
    } catch (e) {
      slow.close();
      throw e;
    }
    const k = new KernelDatapath(addon, slow, options, access, uplink, attach);
    try {
      k.writeConfig();
    } catch (e) {
      k.close();
      throw e;
    }
    return k;
  }

  get accessMac(): Uint8Array | null {
    return this.slow.accessMac;
  }

  start(h: DatapathHandlers): void {
    this.slow.start({
      ...h,
      tunnelIcmpError: (r) => {
        h.tunnelIcmpError?.(r);
        if (r.pathMtu !== null) this.followPathMtu();
      },
    });
    // A lowered path MTU ages back (tunnel-mtu.ts): looked at again every 30 s.
    this.mtuTimer = setInterval(() => this.followPathMtu(), 30_000);
    this.mtuTimer.unref();
    const every = this.options.activityIntervalMs;
    if (every > 0) {
      this.timer = setInterval(() => this.sampleActivity(h), every);
      this.timer.unref();
    }
  }

  toTunnel(tunnel: TunnelTarget, packet: Uint8Array, mn?: string): void {
    // The MN's MAC lets the slow path answer an oversize packet with Packet Too Big.
    this.slow.toTunnel(tunnel, packet, mn);
  }

  toMn(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void {
    this.slow.toMn(dst, src, packet);
    // The engine's source towards the MN is the HA's RA source once learned (RAs always
    // take the slow path): the fast path uses whatever the slow path used last. (The
    // held RA of a new session is released after its bind, so it lands here too.)
    if (this.bindings.size === 0) return;
    const b = this.bindings.get(macNumber(dst));
    if (!b || sameBytes(b.src, src, 6)) return;
    b.src = src.slice(0, 6);
    this.rewriteDownSource(b);
  }

  bind(mac: string, tunnel: TunnelTarget, downlinkKey: number | null): void {
    const m = macBytes(mac);
    const key = macNumber(m);
    const old = this.bindings.get(key);
    const upKey = new Uint8Array(UP_KEY);
    upKey.set(m, 0);
    const up = new Uint8Array(UP_VALUE);
    const uv = new DataView(up.buffer);
    uv.setUint32(0, tunnel.careOf >>> 0, false);
    uv.setUint32(4, tunnel.homeAgent >>> 0, false);
    uv.setUint32(8, (tunnel.greKey ?? 0) >>> 0, LE);
    uv.setUint32(12, tunnel.greKey === null ? 0 : 1, LE);
    const downKey = new Uint8Array(DOWN_KEY);
    const dk = new DataView(downKey.buffer);
    dk.setUint32(0, tunnel.careOf >>> 0, false);
    dk.setUint32(4, (downlinkKey ?? 0) >>> 0, LE);
    dk.setUint32(8, downlinkKey === null ? 0 : 1, LE);
    // A rebind keeps the learned source; a new binding starts from ours until the slow path uses another.
    const src = old?.src ?? this.access.mac!;
    const b: Binding = { mac, upKey, downKey, src, homeAgent: tunnel.homeAgent, lastUpPackets: 0 };
    if (old && !sameBytes(old.downKey, downKey, DOWN_KEY)) this.mapDelete(FastpathMap.down, old.downKey);
    this.bindings.set(key, b);
    // Downlink first: by the time uplink frames go fast, replies have their way back.
    this.mapUpdate(FastpathMap.down, downKey, this.downValue(b));
    this.mapUpdate(FastpathMap.up, upKey, up);
    // The slow path knows the binding too: its HA's ICMPv4 errors are then recognised (tunnel MTU).
    this.slow.bind(mac, tunnel, downlinkKey);
  }

  unbind(mac: string): void {
    const key = macNumber(macBytes(mac));
    const b = this.bindings.get(key);
    if (!b) return;
    this.bindings.delete(key);
    this.slow.unbind(mac);
    // Uplink first: from here on the MN's frames reach the engine, which no longer forwards them.
    const ok = this.mapDelete(FastpathMap.up, b.upKey) && this.mapDelete(FastpathMap.down, b.downKey);
    // An entry that cannot be removed would keep forwarding a revoked MN: turn the
    // whole fast path off instead (everything takes the slow path, which knows).
    if (!ok) this.disable();
  }

  /** Whether the fast path was turned off after a failed map delete. */
  get disabled(): boolean {
    return this.off;
  }

  private disable(): void {
    this.off = true;
    try {
      this.writeConfig();
    } catch (e) {
      this.mapFailed(e);
      this.addon.fastpathClose();
      this.closed = true;
    }
  }

  flush(): void {
    this.slow.flush();
  }

  setOuterHeader(options: OuterHeaderOptions): void {
    this.outer = { ttl: options.ttl, dontFragment: options.dontFragment };
    this.slow.setOuterHeader(options);
    this.writeConfig();
  }

  stats(): DatapathStats {
    return { ...this.slow.stats(), bound: this.bindings.size, backend: "kernel", fastPath: this.fastPathStats() };
  }

  /** Global counters from the kernel; per-session ones while there are few sessions. */
  fastPathStats(withSessions = this.bindings.size <= SESSION_TELEMETRY_LIMIT): FastPathStats {
    const raw = this.closed ? [] : this.addon.fastpathStats();
    const slow: Record<string, number> = { mapErrors: this.mapErrors };
    STAT_NAMES.forEach((n, i) => {
      if (n !== "upFast" && n !== "downFast" && n !== "upBytes" && n !== "downBytes") slow[n] = raw[i] ?? 0;
    });
    const at = (n: (typeof STAT_NAMES)[number]): number => raw[STAT_NAMES.indexOf(n)] ?? 0;
    const out = { attach: this.attach, uplinkPackets: at("upFast"), uplinkBytes: at("upBytes"), downlinkPackets: at("downFast"), downlinkBytes: at("downBytes"), slow };
    if (!withSessions || this.closed) return out;
    const sessions: Record<string, { up: [number, number]; down: [number, number] }> = {};
    for (const b of this.bindings.values()) sessions[b.mac] = { up: this.counters(FastpathMap.up, b.upKey), down: this.counters(FastpathMap.down, b.downKey) };
    return { ...out, sessions };
  }

  /** Packets and bytes of one bound session, each way (zeros when not bound). */
  sessionCounters(mac: string): { up: [number, number]; down: [number, number] } {
    const b = this.bindings.get(macNumber(macBytes(mac)));
    if (!b || this.closed) return { up: [0, 0], down: [0, 0] };
    return { up: this.counters(FastpathMap.up, b.upKey), down: this.counters(FastpathMap.down, b.downKey) };
  }

  get lastError(): string | null {
    return this.lastMapError;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mtuTimer) clearInterval(this.mtuTimer);
    this.mtuTimer = undefined;
    if (!this.closed) {
      this.closed = true;
      // Detach first: nothing is forwarded on stale maps once the daemon is going.
      this.addon.fastpathClose();
    }
    this.slow.close();
  }

  // ---- internals -------------------------------------------------------------------

  private counters(map: typeof FastpathMap.up | typeof FastpathMap.down, key: Uint8Array): [number, number] {
    const v = this.scratch;
    if (!this.addon.fastpathLookup(map, key, v.subarray(0, 32))) return [0, 0];
    const dv = new DataView(v.buffer, v.byteOffset, 32);
    return [Number(dv.getBigUint64(16, LE)), Number(dv.getBigUint64(24, LE))];
  }

  private downValue(b: Binding): Uint8Array {
    const v = new Uint8Array(DOWN_VALUE);
    v.set(macBytes(b.mac), 0);
    v.set(b.src.subarray(0, 6), 6);
    new DataView(v.buffer).setUint32(12, b.homeAgent >>> 0, false);
    return v;
  }

  /** The new Ethernet source, keeping the entry's counters. */
  private rewriteDownSource(b: Binding): void {
    const v = new Uint8Array(DOWN_VALUE);
    try {
      if (!this.addon.fastpathLookup(FastpathMap.down, b.downKey, v)) return;
    } catch (e) {
      return this.mapFailed(e);
    }
    v.set(b.src.subarray(0, 6), 6);
    this.mapUpdate(FastpathMap.down, b.downKey, v);
  }

  /** Writes the config again when the slow path's lowest path MTU moved. */
  private followPathMtu(): void {
    if (this.closed) return;
    if (Math.min(this.uplink.mtu, this.options.uplinkMtu ?? Infinity, this.slow.lowestPathMtu()) === this.pathMtu) return;
    try {
      this.writeConfig();
    } catch (e) {
      this.mapFailed(e);
    }
  }

  private writeConfig(): void {
    const v = new Uint8Array(CONFIG_VALUE);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, this.access.index, LE);
    dv.setUint32(4, this.uplink.index, LE);
    dv.setUint32(8, this.access.mtu, LE);
    // The lowest path MTU towards a bound HA (ICMPv4 "fragmentation needed", aging back):
    // bigger packets take the slow path, which fragments or answers Packet Too Big per HA.
    this.pathMtu = Math.min(this.uplink.mtu, this.options.uplinkMtu ?? Infinity, this.slow.lowestPathMtu());
    dv.setUint32(12, this.pathMtu, LE);
    dv.setUint32(16, this.outer.ttl, LE);
    dv.setUint32(20, this.outer.dontFragment ? 1 : 0, LE);
    dv.setUint32(24, this.off ? 0 : 1, LE); // enabled: the programs pass everything until this is written
    this.addon.fastpathUpdate(FastpathMap.config, new Uint8Array(4), v);
  }

  /** Reports MNs whose uplink counter moved; also follows MTU changes of the two links. */
  private sampleActivity(h: DatapathHandlers): void {
    if (this.closed) return;
    try {
      const a = interfaceInfo(this.access.name);
      const u = interfaceInfo(this.uplink.name);
      if (a.mtu !== this.access.mtu || u.mtu !== this.uplink.mtu) {
        this.access = { ...this.access, mtu: a.mtu };
        this.uplink = { ...this.uplink, mtu: u.mtu };
        this.writeConfig();
      }
    } catch (e) {
      this.mapFailed(e);
    }
    if (this.bindings.size === 0 || !h.sessionsActive) return;
    const stride = UP_KEY + UP_VALUE;
    const buf = new Uint8Array(stride * (this.bindings.size + 16));
    let n: number;
    try {
      n = this.addon.fastpathDump(FastpathMap.up, UP_KEY, UP_VALUE, buf);
    } catch (e) {
      return this.mapFailed(e);
    }
    const dv = new DataView(buf.buffer);
    const active: string[] = [];
    for (let i = 0; i < n; i++) {
      const at = i * stride;
      const b = this.bindings.get(macNumber(buf, at));
      if (!b) continue;
      const packets = Number(dv.getBigUint64(at + UP_KEY + 16, LE));
      if (packets !== b.lastUpPackets) {
        b.lastUpPackets = packets;
        active.push(b.mac);
      }
    }
    if (active.length > 0) h.sessionsActive(active);
  }

  private mapUpdate(map: number, key: Uint8Array, value: Uint8Array): void {
    if (this.closed) return;
    try {
      this.addon.fastpathUpdate(map as typeof FastpathMap.up, key, value);
    } catch (e) {
      // E.g. the map is full: the session stays on the slow path, which still forwards it.
      this.mapFailed(e);
    }
  }

  private mapDelete(map: number, key: Uint8Array): boolean {
    if (this.closed) return true;
    try {
      this.addon.fastpathDelete(map as typeof FastpathMap.up, key);
      return true;
    } catch (e) {
      this.mapFailed(e);
      return false;
    }
  }

  private mapFailed(e: unknown): void {
    this.mapErrors++;
    this.lastMapError = e instanceof Error ? e.message : String(e);
  }
}
