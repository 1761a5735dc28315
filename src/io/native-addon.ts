// Loads the C addon (src/native/an_native.c) and types its surface. Every socket
// class of src/io goes through `nativeAddon()`; nothing else touches the .node file.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Counters kept by one native endpoint (kernel ones only for AF_PACKET). */
export interface EndpointStats {
  readonly rxPackets: number;
  readonly rxBatches: number;
  /** dropped: did not fit a slot */
  readonly rxTruncated: number;
  /** dropped: PACKET_OUTGOING seen although filtered (kernels without PACKET_IGNORE_OUTGOING) */
  readonly rxOutgoingDropped: number;
  readonly txPackets: number;
  /** packets the kernel refused one by one (skipped by sendBatch) */
  readonly txErrors: number;
  /** sends stopped because the kernel would block or dropped (EAGAIN/ENOBUFS) */
  readonly txWouldBlock: number;
  /** AF_PACKET PACKET_STATISTICS, accumulated */
  readonly kernelPackets: number;
  readonly kernelDrops: number;
  /** errno name of the last refused send, if any */
  readonly lastTxError: string | null;
}

/** Error thrown or reported by the addon: `code` is the errno name ("EPERM"). */
export interface NativeIoError extends Error {
  readonly code: string;
  /** negative errno, as Node's own system errors */
  readonly errno: number;
  /** the failed operation, e.g. "setsockopt(SO_ATTACH_FILTER)" */
  readonly syscall: string;
}

export function isNativeIoError(value: unknown): value is NativeIoError {
  return (
    value instanceof Error &&
    typeof (value as Partial<NativeIoError>).code === "string" &&
    typeof (value as Partial<NativeIoError>).syscall === "string"
  );
}

export interface NativeEndpoint {
  readonly fd: number;
  readonly ifindex: number;
  readonly name: string;
  startReceive(
    slots: ArrayBuffer,
    slotSize: number,
    lengths: Int32Array,
    meta: Int32Array | null,
    onBatch: (count: number) => void,
    /** stopped: a non-transient error ended receiving */
    onError: (error: NativeIoError, stopped: boolean) => void,
  ): void;
  stopReceive(): void;
  /** true when sent, false when the kernel would block or dropped it (EAGAIN/ENOBUFS) */
  send(data: Uint8Array, offset?: number, length?: number): boolean;
  /** packets consumed from `first` (sent, or refused one by one and counted) */
  sendBatch(slots: ArrayBuffer | Uint8Array, slotSize: number, lengths: Int32Array, count: number, first?: number): number;
  stats(): EndpointStats;
  ref(): void;
  unref(): void;
  close(): void;
}

export interface NativePacketEndpoint extends NativeEndpoint {
  /** false on Linux < 4.20: outgoing frames are then dropped by the BPF filter only */
  readonly kernelIgnoresOutgoing: boolean;
}

export interface PacketOpenOptions {
  /** "ipv6" (default): ethertype 0x86dd only; "all": every incoming frame */
  readonly filter?: "ipv6" | "all";
  /** accept 802.1Q-tagged IPv6 (the kernel strips the tag; its TCI is in the metadata) */
  readonly vlan?: boolean;
  readonly promiscuous?: boolean;
  /** bind to ETH_P_IPV6 instead of ETH_P_ALL: frames arrive after tc ingress (only what the kernel fast path passed on) */
  readonly afterTc?: boolean;
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
}

/** The kernel fast path's maps, by index (src/native/an_fastpath.c map_names). */
export const FastpathMap = { up: 0, down: 1, config: 2, stats: 3 } as const;
export type FastpathMapIndex = (typeof FastpathMap)[keyof typeof FastpathMap];

export interface FastpathLoadOptions {
  readonly accessIfindex: number;
  readonly uplinkIfindex: number;
  /** max_entries of the session maps */
  readonly maxEntries: number;
}

/** The kernel fast path loader (libbpf, opened at run time). One fast path per process. */
export interface NativeFastpath {
  /** false: the addon was built without libbpf headers (every call throws ENOTSUP) */
  readonly fastpathSupported: boolean;
  /**
   * Loads the BPF object (a path, or its bytes as a firmware image embeds them) and attaches it to both ingress hooks (removing a stale tc
   * filter of ours first): "tcx" links (Linux 6.6+, detached by the kernel when the
   * process dies) or "tc" filters (removed by close or the next load).
   */
  fastpathLoad(object: string | Uint8Array, options: FastpathLoadOptions): "tcx" | "tc";
  /** Detaches our filters and frees programs and maps. Idempotent. */
  fastpathClose(): void;
  /** Removes a filter of ours from this interface's ingress without loading; true if one was there. */
  fastpathDetach(ifindex: number): boolean;
  fastpathUpdate(map: FastpathMapIndex, key: Uint8Array, value: Uint8Array): void;
  /** true if the key was there */
  fastpathDelete(map: FastpathMapIndex, key: Uint8Array): boolean;
  /** true if found (the value copied into out) */
  fastpathLookup(map: FastpathMapIndex, key: Uint8Array, out: Uint8Array): boolean;
  /** Entries as key||value into out; returns how many. */
  fastpathDump(map: FastpathMapIndex, keySize: number, valueSize: number, out: Uint8Array): number;
  /** The global counters, summed over CPUs (src/bpf/an_fastpath.bpf.c enum fp_stat). */
  fastpathStats(): number[];
}

export interface RawOpenOptions {
  /** SO_BINDTODEVICE */
  readonly interface?: string;
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
  /** protocol 1 only: the kernel queues only ICMP error types 3, 11, 12 (ICMP_FILTER) */
  readonly icmpErrorsOnly?: boolean;
}

export interface InterfaceInfo {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly up: boolean;
  /** null when the link layer is not Ethernet (TUN, loopback) */
  readonly mac: Uint8Array | null;
}

export interface NativeAddon extends NativeFastpath {
  /** bumped when this surface changes */
  readonly ABI: number;
  /** Int32 metadata per slot: ifindex, pkttype, vlan TCI or -1, ethertype */
  readonly META_STRIDE: number;
  openPacket(ifname: string, options?: PacketOpenOptions): NativePacketEndpoint;
  openRawIPv4(protocol: number, options?: RawOpenOptions): NativeEndpoint;
  openTun(name: string | null, options?: { readonly tap?: boolean }): NativeEndpoint;
  interfaceInfo(name: string): InterfaceInfo;
  /** A datagram socket connected to a local (AF_UNIX) path, e.g. hostapd's control interface; optional: absent in older builds. */
  openUnixDgram?(path: string): NativeEndpoint;
}

export const NATIVE_ABI = 2;
const ADDON_FILE = "an_native.node";

/** Where the .node file is looked for: $AN_NATIVE_ADDON, else next to the source
 * tree's build (running from src/ under vitest), else next to a bundle. */
export function addonCandidates(moduleUrl: string | undefined = import.meta.url): string[] {
  const fromEnv = process.env.AN_NATIVE_ADDON;
  if (fromEnv !== undefined && fromEnv !== "") return [fromEnv];
  if (typeof moduleUrl !== "string" || !moduleUrl.startsWith("file:")) return [];
  return [
    `../native/build/Release/${ADDON_FILE}`, // src/io/*.ts
    `./${ADDON_FILE}`, // dist/bundle.mjs with the addon beside it
    `../src/native/build/Release/${ADDON_FILE}`, // dist/bundle.mjs inside the repo
  ].map((relative) => fileURLToPath(new URL(relative, moduleUrl)));
}

function isAddon(value: unknown): value is NativeAddon {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.ABI === NATIVE_ABI &&
    typeof v.META_STRIDE === "number" &&
    typeof v.openPacket === "function" &&
    typeof v.openRawIPv4 === "function" &&
    typeof v.openTun === "function" &&
    typeof v.interfaceInfo === "function" &&
    typeof v.fastpathLoad === "function"
  );
}

/** Loads the addon at `path` (process.dlopen: works in ESM, CJS bundles and SEA). */
export function loadNativeAddon(path: string): NativeAddon {
  const module: { exports: unknown } = { exports: {} };
  process.dlopen(module, path);
  if (!isAddon(module.exports)) {
    throw new Error(`${path} is not the an_native addon with ABI ${NATIVE_ABI}`);
  }
  return module.exports;
}

let cached: NativeAddon | undefined;
let embeddedLoader: (() => NativeAddon) | undefined;
let loadedFrom: string | undefined;

/** Where the process-wide addon was loaded from (undefined: not loaded, or installed by useNativeAddon). */
export function nativeAddonPath(): string | undefined {
  return loadedFrom;
}

/**
 * The process-wide addon, loaded on first use: $AN_NATIVE_ADDON when set, else the
 * one embedded in a single executable (see useEmbeddedAddon), else a file found by
 * addonCandidates.
 */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const fromEnv = process.env.AN_NATIVE_ADDON;
  if (embeddedLoader !== undefined && (fromEnv === undefined || fromEnv === "")) {
    cached = embeddedLoader();
    return cached;
  }
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new Error(
      `native addon ${ADDON_FILE} not found (run \`npm run build:native\` or set AN_NATIVE_ADDON); looked in: ${candidates.join(", ") || "(nowhere: no file URL)"}`,
    );
  }
  cached = loadNativeAddon(path);
  loadedFrom = path;
  return cached;
}

/** Installs an addon loaded elsewhere (e.g. extracted from a single-executable asset). */
export function useNativeAddon(addon: NativeAddon): void {
  cached = addon;
}

/** A single executable's loader of its embedded addon (src/io/addon-extract.ts), run on first use. */
export function useEmbeddedAddon(loader: () => NativeAddon): void {
  embeddedLoader = loader;
}
