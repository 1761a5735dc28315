// The operator-facing configuration file (JSON), its schema, and its conversion
// into what the engine and the io adapters take. Every problem is reported with
// its path; nothing is half-applied: a config either validates whole or is refused.
import { z } from "zod";
import { DEFAULT_HOLD_CAPS, DEFAULT_REGISTRATION_TIMING } from "../core/config.ts";
import type { EngineConfig } from "../core/config.ts";
import { MAC_PLACEHOLDER } from "../io/station-control.ts";
import { RELEASE_RETRY_WINDOW_MS, RELEASE_RPC_TIMEOUT_MS } from "./release-rpc.ts";
import { parseIpv4 } from "../wire/ipv4-address.ts";
import { parseMac } from "../wire/mac.ts";
import { checkMipCodecOptions, DEFAULT_MIP_CODEC_OPTIONS } from "../wire/mip-extension.ts";
import { isReservedSpi } from "../wire/mip-auth.ts";
import type { MnHaKey } from "../wire/mip-auth.ts";

const ipv4 = z.string().refine((s) => parseIpv4(s) !== null, { message: "not a dotted-quad IPv4 address" });
const mac = z.string().refine((s) => parseMac(s) !== null, { message: "not a MAC address (aa:bb:cc:dd:ee:ff)" });
const ifname = z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, "not an interface name (1-15 characters)");
/** Key bytes: at least 128 bits (RFC 5944 3.5.1: the default algorithm takes 128-bit keys), at most 64 bytes. */
export const MIN_KEY_BYTES = 16;
export const MAX_KEY_BYTES = 64;
const KEY_HEX = new RegExp(`^([0-9a-fA-F]{2}){${MIN_KEY_BYTES},${MAX_KEY_BYTES}}$`);
const KEY_SPEC = new RegExp(`^(hex:([0-9a-fA-F]{2}){${MIN_KEY_BYTES},${MAX_KEY_BYTES}}|file:/.+)$`);
/** Key material: "hex:..." or "file:/path" (the file holds hex). Never logged. */
const secret = z
  .string()
  .regex(KEY_SPEC, `must be hex:<even-length hex, ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes (RFC 5944 3.5.1: 128-bit keys at least)> or file:/absolute/path`);

/** RFC 4282 / RFC 5944 3.5.2: an NAI is at most 255 octets, counted in UTF-8 bytes, not characters. */
export const MAX_NAI_BYTES = 255;
/** A derived NAI is `<12 hex digits of the MAC>@<derivedRealm>`. */
export const MAX_DERIVED_REALM_BYTES = MAX_NAI_BYTES - 13;
const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");
const naiString = z
  .string()
  .min(1)
  .refine((s) => utf8Bytes(s) <= MAX_NAI_BYTES, { message: `an NAI is at most ${MAX_NAI_BYTES} bytes in UTF-8` });
const derivedRealm = z
  .string()
  .min(1)
  .refine((s) => utf8Bytes(s) <= MAX_DERIVED_REALM_BYTES, {
    message: `at most ${MAX_DERIVED_REALM_BYTES} bytes in UTF-8, so that the derived NAI <12 hex>@realm fits ${MAX_NAI_BYTES} bytes`,
  });

const realm = z
  .object({
    realm: z.string().min(1).max(253),
    homeAgent: ipv4,
    spi: z.number().int().min(0).max(0xffffffff).refine((s) => !isReservedSpi(s), { message: "SPI 0-255 is reserved (RFC 5944 1.6): use 256 or more" }),
    key: secret,
    /**
     * NAIs of this realm without an entry in the key table (keys.table) use this
     * realm's key. Default: true without a key table, false with one.
     */
    keyFallback: z.boolean().optional(),
  })
  .strict();

const careOf = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("pool"), addresses: z.array(ipv4).min(1).max(65536) }).strict(),
  z
    .object({
      mode: z.literal("shared"),
      address: ipv4,
      greKeys: z.object({ first: z.number().int().min(0).max(0xffffffff), count: z.number().int().min(1).max(1 << 24) }).strict().default({ first: 0x10000, count: 1 << 20 }),
    })
    .strict(),
]);

const registration = z
  .object({
    lifetimeS: z.number().int().min(10).max(65534).default(DEFAULT_REGISTRATION_TIMING.lifetimeS),
    initialTimeoutMs: z.number().int().min(1000, "RFC 5944 3.6.3: at least 1 s between requests").max(60_000).default(DEFAULT_REGISTRATION_TIMING.initialTimeoutMs),
    backoffFactor: z.number().min(1).max(4).default(DEFAULT_REGISTRATION_TIMING.backoffFactor),
    maxTimeoutMs: z.number().int().min(1000).max(600_000).default(DEFAULT_REGISTRATION_TIMING.maxTimeoutMs),
    maxTries: z.number().int().min(1).max(20).default(DEFAULT_REGISTRATION_TIMING.maxTries),
    jitter: z.number().min(0).max(1).default(DEFAULT_REGISTRATION_TIMING.jitter),
    refreshFraction: z.number().min(0.1).max(0.95).default(DEFAULT_REGISTRATION_TIMING.refreshFraction),
    refreshJitter: z.number().min(0).max(0.5).default(DEFAULT_REGISTRATION_TIMING.refreshJitter),
    holdOffMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_REGISTRATION_TIMING.holdOffMs),
    deregistrationTries: z.number().int().min(1).max(10).default(DEFAULT_REGISTRATION_TIMING.deregistrationTries),
    /** Issue 9 item 3: ceiling of a bound MN's renewal retries once its HA stopped answering (src/core/outage-retry.ts). */
    outageRetryMaxMs: z.number().int().min(1000, "RFC 5944 3.6.3: at least 1 s between requests").max(600_000).default(DEFAULT_REGISTRATION_TIMING.outageRetryMaxMs),
  })
  .strict()
  .refine((r) => r.refreshFraction - r.refreshJitter > 0.05, { message: "refreshFraction - refreshJitter must stay above 0.05" })
  .prefault({});

const hold = z
  .object({
    framesPerMn: z.number().int().min(0).max(4096).default(DEFAULT_HOLD_CAPS.framesPerMn),
    bytesPerMn: z.number().int().min(0).max(16 << 20).default(DEFAULT_HOLD_CAPS.bytesPerMn),
    framesTotal: z.number().int().min(0).max(1 << 20).default(DEFAULT_HOLD_CAPS.framesTotal),
    bytesTotal: z.number().int().min(0).max(1 << 30).default(DEFAULT_HOLD_CAPS.bytesTotal),
  })
  .strict()
  .prefault({});

/** The draft's two extension types and RFC 6245's, as configuration (DESIGN 5). Shared with the lab's HA peer. */
export const extensionTypesSchema = z
  .object({
    ipv6HoaRequest: z.number().int().min(1).max(255).default(DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaRequestType),
    ipv6Hoa: z.number().int().min(1).max(255).default(DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaType),
    greKey: z.number().int().min(1).max(255).default(DEFAULT_MIP_CODEC_OPTIONS.greKeyType),
  })
  .strict()
  .prefault({});

/** Limits of the detach command: 1-16 arguments (program first), each at most 256 characters. */
export const MAX_DETACH_ARGS = 16;
export const MAX_DETACH_ARG_CHARS = 256;
const commandArg = z
  .string()
  .max(MAX_DETACH_ARG_CHARS)
  .refine((a) => !a.includes("\0"), { message: "an argument cannot hold a NUL character" });
/**
 * The command run (no shell) to disconnect a station on a DAD-failure revocation
 * (draft 3.2.4): program, then arguments, where MAC_PLACEHOLDER becomes the
 * station's MAC (aa:bb:cc:dd:ee:ff). null: the detach is only logged.
 */
const detachCommand = z
  .array(commandArg)
  .min(1)
  .max(MAX_DETACH_ARGS)
  .refine((argv) => argv[0] !== "", { message: "the program (first element) is empty" })
  .refine((argv) => argv.length === 0 || argv.slice(1).some((a) => a.includes(MAC_PLACEHOLDER)), { message: `no argument holds ${MAC_PLACEHOLDER}` });

/** A credential that is not an MIP key: "hex:<bytes as hex>" or "file:/path" (the file's content, trimmed). Never logged. */
const credential = z.string().regex(/^(hex:([0-9a-fA-F]{2}){1,1024}|file:\/.+)$/, "must be hex:<bytes as hex> or file:/absolute/path");
/** A PEM file (CA, certificate, private key) by path: "file:/path". */
const pemFile = z.string().regex(/^file:\/.+$/, "must be file:/absolute/path of a PEM file");
/** A raw 32-byte Ed25519 public key as hex (not secret). */
const ed25519Public = z.string().regex(/^(hex:)?[0-9a-fA-F]{64}$/, "must be the 32-byte Ed25519 public key as 64 hex digits");
/** An Ed25519 private key: its 32-byte seed as hex:<64 hex> or file:/path holding the hex. Never logged. */
const ed25519Private = z.string().regex(/^(hex:[0-9a-fA-F]{64}|file:\/.+)$/, "must be hex:<64 hex digits of the Ed25519 seed> or file:/absolute/path");
const topicLevel = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 _ . - (no MQTT wildcards or separators)");

/** The fleet over MQTT 5 (src/app/fleet-agent.ts; topic scheme in the README). Absent: no broker is used. */
const fleet = z
  .object({
    /** mqtt://host:port or mqtts://host:port (TLS). */
    url: z.string().regex(/^mqtts?:\/\/[^\s/]+(:\d{1,5})?\/?$/, "must be mqtt://host[:port] or mqtts://host[:port]"),
    /** Topic prefix <p> (one or more levels). */
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}(\/[A-Za-z0-9_.-]{1,64}){0,7}$/, "levels of A-Z a-z 0-9 _ . - separated by /").default("netmip/v1"),
    /** MQTT client id; default the nodeId. */
    clientId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
    username: z.string().min(1).max(256).optional(),
    password: credential.optional(),
    tls: z
      .object({
        ca: pemFile,
        cert: pemFile.optional(),
        key: pemFile.optional(),
        /** The broker certificate's name, when the URL's host is an address. */
        servername: z.string().min(1).max(253).optional(),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: "cert and key go together" })
      .optional(),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
    reconnect: z
      .object({
        initialMs: z.number().int().min(100).max(60_000).default(1000),
        maxMs: z.number().int().min(100).max(3_600_000).default(60_000),
        factor: z.number().min(1).max(4).default(2),
        /** Each delay is cut by up to this fraction at random, so a fleet does not reconnect in step. */
        jitter: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .refine((r) => r.maxMs >= r.initialMs, { message: "maxMs must not be below initialMs" })
      .prefault({}),
    /** Bytes held for the broker while it is unreachable; beyond it the oldest are dropped (counted). */
    queueBytes: z.number().int().min(1024).max(64 << 20).default(256 << 10),
    /** Where the last remote config applied is kept (written atomically): a reboot without a broker starts from it. Empty: not kept. */
    configStore: z.string().default(""),
    /** Group topics <p>/group/<g>/config this AN also takes configs from (the per-AN topic's revisions compete with them). */
    groups: z.array(topicLevel).max(8).default([]),
    /** Lab only: accept remote configs carrying hex: keys over a connection without TLS. */
    allowSecretsWithoutTls: z.boolean().default(false),
    /** Events published per second (token bucket, burst the same x4); beyond it dropped and counted. */
    eventsPerSecond: z.number().int().min(1).max(10_000).default(20),
    /**
     * Release rpc signature checks (Ed25519, about 0.1 ms each) per second (token bucket,
     * burst x4; requests, and answers to our own requests in a bucket of their own): a flood of junk on this AN's rpc topic
     * that passes every cheap check costs at most this much CPU; beyond it refused,
     * counted as `rate-limited`. A refused genuine request only loses the forwarding.
     */
    rpcVerifyPerSecond: z.number().int().min(1).max(10_000).default(100),
    /** Context records (handover): this AN's Ed25519 key, and the fleet's public keys by nodeId. */
    contextKey: ed25519Private.optional(),
    fleetKeys: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), ed25519Public).default({}),
    /**
     * Issue 10: after a signed release naming the new AN's CoA, what the MN's HA still
     * sends here goes on to the new AN as 6in4 for this long (and the new AN takes it
     * that long plus the rpc timeout of every release attempt after its import). 0: off.
     */
    releaseForwardMs: z.number().int().min(0).max(30_000).default(2000),
  })
  .strict();

export const configSchema = z
  .object({
    /** Revision of this config, echoed in acknowledgements and logs. */
    revision: z.number().int().min(0).default(0),
    nodeId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 _ . -"),
    access: z
      .object({
        interface: ifname,
        /** The access interface's MAC, if it should not be read from the interface. */
        mac: mac.optional(),
        /** Receive frames addressed to other MACs (the HA's, learned by MNs from its RA). */
        promiscuous: z.boolean().default(true),
        /**
         * Issue 9 item 4: the access interface is a wired port with one station behind it
         * (set by the board profile, `accessPortPerStation`): its carrier loss means every
         * station on it left (src/io/carrier-watch.ts).
         */
        perStationPort: z.boolean().default(false),
      })
      .strict(),
    uplink: z.object({ interface: ifname }).strict(),
    careOf,
    /** "neighbor-discovery": the first NS/RS of a station starts its session; "any-ipv6": any IPv6 frame (see src/core/config.ts). */
    triggerOn: z.enum(["neighbor-discovery", "any-ipv6"]).default("neighbor-discovery"),
    realms: z.array(realm).min(1).max(1024),
    identity: z
      .object({
        derivedRealm,
        provisioned: z.record(mac, naiString).default({}),
        /** The NAI resolver chain (DESIGN 9), in order: the first that has an NAI for the station wins. */
        order: z
          .array(z.enum(["link-auth", "provisioned", "derived"]))
          .min(1)
          .max(3)
          .refine((o) => new Set(o).size === o.length, { message: "a source is listed twice" })
          .default(["link-auth", "provisioned", "derived"]),
      })
      .strict(),
    /** Per-subscriber MN-HA keys: a file of `NAI SPI hex:KEY` lines (src/app/key-table.ts), re-read on SIGHUP; "" none. */
    keys: z.object({ table: z.string().default("") }).strict().prefault({}),
    /**
     * Link-layer authentication (802.1X) through hostapd's control interface
     * (src/io/hostapd-control.ts). hostapdControl: the socket of the access
     * interface, <ctrl_interface>/<ifname> (e.g. /var/run/hostapd/wlan0); "" none.
     */
    linkLayer: z
      .object({
        hostapdControl: z.string().max(107, "a unix socket path is at most 107 bytes").default(""),
        /** Serve only stations hostapd authorised. Default: true when hostapdControl is set. */
        requireAuthorised: z.boolean().optional(),
        /** Register a station when hostapd authorises it (draft 3.2.2, last paragraphs) instead of at its first NS/RS. */
        registerOnAuthorised: z.boolean().default(false),
        /** After hostapd restarts, a station it no longer lists keeps service this long before it is taken as gone. */
        missingGraceS: z.number().int().min(0).max(86_400).default(30),
        /**
         * A disconnect is acted on this long after hostapd reported it, unless hostapd says
         * it is terminating meanwhile (its shutdown "disconnects" every station first). 0: at once.
         */
        leaveSettleMs: z.number().int().min(0).max(5000).default(100),
        /**
         * A bound MN the link layer says left (hostapd, a per-station port's carrier) keeps
         * its binding this long, its downlink held, before it deregisters
         * (src/core/leave-hold.ts): a fleet's new AN asks for the release (the held frames
         * go there), the MN may come back (they go to it), or the MN's registration at
         * another AN moves the binding and the HA revokes ours (draft 3.2.3 step 5), its
         * learned addresses kept at the HA; deregistering at once would delete them first.
         * Default: 1500 with a fleet (releaseForwardMs on), 0 (deregister at once) without.
         */
        leaveHoldMs: z.number().int().min(0).max(10_000).optional(),
      })
      .strict()
      .prefault({}),
    registration,
    revocationSupport: z.boolean().default(true),
    extensionTypes: extensionTypesSchema,
    limits: z
      .object({
        maxSessions: z.number().int().min(1).max(1_000_000).default(100_000),
        /** Session starts allowed per second (burst the same): a flood of spoofed MACs cannot outpace it. 0: no limit. */
        sessionStartsPerSecond: z.number().int().min(0).max(100_000).default(100),
        hold,
        maxLearnedAddresses: z.number().int().min(0).max(64).default(8),
      })
      .strict()
      .prefault({}),
    /**
     * Issue 9 item 4: deregister a station nothing was heard from for this long (0: never).
     * 1800 s: a backstop behind the link events (hostapd, carrier), not the way
     * leaving is normally seen. It is three default binding lifetimes, so a station
     * gone without a link event costs at most three refreshes and its CoA for 30
     * minutes; a quiet station still present is not cut off by its first idle
     * minutes, and when it speaks again its neighbour unreachability probe to the
     * router (an NS, RFC 4861 7.3.3, within DELAY_FIRST_PROBE_TIME = 5 s) registers
     * it anew. Much shorter would deregister idle but present phones every few minutes.
     */
    idleTimeoutS: z.number().int().min(0).max(86_400).default(1800),
    dadFailureWindowS: z.number().int().min(1).max(600).default(10),
    /**
     * Issue 9 item 2: after a DAD-failure revocation the station's entry is stopped
     * (draft 3.2.4) for this long, detach command or not. 300 s: a station whose
     * address is taken would otherwise cost the HA a registration and a revocation
     * per attempt; five minutes bounds that to one per five minutes, and a station
     * that changes its address (or MAC) is served again the same day without help.
     */
    dadFailureHoldOffS: z.number().int().min(0).max(86_400).default(300),
    /**
     * Issue 9 item 1: a revoked session lingers this long to deliver what its HA already
     * sent (the defending NA read after the revocation). 2000 ms covers the HA sending
     * the two back to back on different sockets with room for a slow HA; 0 disables.
     */
    revocationLingerMs: z.number().int().min(0).max(30_000).default(2000),
    tunnel: z
      .object({
        ttl: z.number().int().min(1).max(255).default(64),
        /**
         * RFC 4213 3.2: DF clear (default): the AN fragments outer packets above the path MTU.
         * DF set: packets above the tunnel MTU are answered with ICMPv6 Packet Too Big.
         */
        dontFragment: z.boolean().default(false),
        /** The uplink's MTU for tunnel packets, when narrower than the interface's (which caps it); default: the interface's. */
        uplinkMtu: z.number().int().min(576).max(65535).optional(),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
        /** A cause of malformed or forged input is logged once per this window (counters always count). */
        oncePerCauseS: z.number().int().min(1).max(86_400).default(300),
      })
      .strict()
      .prefault({}),
    /** Counters snapshot on a log line every intervalS (0: only on SIGUSR2). */
    telemetry: z.object({ intervalS: z.number().int().min(0).max(86_400).default(60) }).strict().prefault({}),
    shutdown: z.object({ deregister: z.boolean().default(true) }).strict().prefault({}),
    /** Link-layer control of stations: how a detach is carried out (see src/io/station-control.ts). */
    stationControl: z.object({ detachCommand: detachCommand.nullable().default(null) }).strict().prefault({}),
    /** Where restart state (session contexts) is kept; empty disables. */
    stateFile: z.string().default(""),
    fleet: fleet.optional(),
    /**
     * Which datapath forwards bound sessions (DESIGN.md 8): "kernel" (tc-BPF fast path,
     * refuses to start without it), "userspace" (every packet through the daemon), or
     * "auto" (kernel where it loads, else userspace, saying why once).
     */
    datapath: z
      .object({
        backend: z.enum(["auto", "kernel", "userspace"]).default("auto"),
        /** The compiled fast path (an_fastpath.bpf.o); empty: next to the addon or the executable. */
        bpfObject: z.string().default(""),
        /**
         * SO_RCVBUFFORCE on the access packet socket (0: the kernel default, ~208 KiB).
         * 4 MiB absorbs bursts the userspace datapath cannot drain at once (test/bench/datapath.bench.ts measures both).
         */
        accessReceiveBufferBytes: z.number().int().min(0).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const opts = { ipv6HoaRequestType: c.extensionTypes.ipv6HoaRequest, ipv6HoaType: c.extensionTypes.ipv6Hoa, greKeyType: c.extensionTypes.greKey };
    const bad = checkMipCodecOptions(opts);
    if (bad) ctx.addIssue({ code: "custom", path: ["extensionTypes"], message: bad });
    if (c.extensionTypes.ipv6HoaRequest >= 128)
      ctx.addIssue({ code: "custom", path: ["extensionTypes", "ipv6HoaRequest"], message: "draft 4.1: the IPv6 HoA Request is not skippable, so its type must be below 128" });
    const realms = new Set<string>();
    c.realms.forEach((r, i) => {
      const k = r.realm.toLowerCase();
      if (realms.has(k)) ctx.addIssue({ code: "custom", path: ["realms", i, "realm"], message: `realm ${r.realm} listed twice` });
      realms.add(k);
    });
    if (!realms.has(c.identity.derivedRealm.toLowerCase()) && !realms.has("*"))
      ctx.addIssue({ code: "custom", path: ["identity", "derivedRealm"], message: "no realm entry (nor \"*\") serves the derived realm" });
    if (c.linkLayer.requireAuthorised === true && c.linkLayer.hostapdControl === "")
      ctx.addIssue({ code: "custom", path: ["linkLayer", "requireAuthorised"], message: "needs linkLayer.hostapdControl: nothing would ever authorise a station" });
    if (c.linkLayer.hostapdControl !== "" && !c.linkLayer.hostapdControl.startsWith("/"))
      ctx.addIssue({ code: "custom", path: ["linkLayer", "hostapdControl"], message: "an absolute path" });
    if (c.careOf.mode === "pool" && new Set(c.careOf.addresses).size !== c.careOf.addresses.length)
      ctx.addIssue({ code: "custom", path: ["careOf", "addresses"], message: "an address is listed twice" });
  });

export type AnConfig = z.infer<typeof configSchema>;

export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export function validateConfig(raw: unknown): { ok: true; config: AnConfig } | { ok: false; problems: ConfigProblem[] } {
  const r = configSchema.safeParse(raw);
  if (r.success) return { ok: true, config: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message })),
  };
}

/** Key bytes for a realm, given a reader for file: references (the app reads files, not the schema). */
export type SecretReader = (path: string) => string;

export function resolveSecret(spec: string, readFile: SecretReader): Uint8Array {
  const hex = spec.startsWith("hex:") ? spec.slice(4) : readFile(spec.slice(5)).trim();
  if (!KEY_HEX.test(hex)) throw new Error(`key file does not hold ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes of hex`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** The engine's link-layer policy: none without hostapd (every station served). */
function linkLayerPolicy(c: AnConfig): EngineConfig["linkLayer"] {
  if (c.linkLayer.hostapdControl === "") return undefined;
  return { requireAuthorised: c.linkLayer.requireAuthorised ?? true, registerOnAuthorised: c.linkLayer.registerOnAuthorised };
}

export function toEngineConfig(c: AnConfig, accessMac: Uint8Array, readFile: SecretReader, naiKeys?: ReadonlyMap<string, MnHaKey>): EngineConfig {
  const provisioned = new Map<string, string>();
  for (const [m, nai] of Object.entries(c.identity.provisioned)) {
    const bytes = parseMac(m)!;
    provisioned.set([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":"), nai);
  }
  return {
    codec: { ipv6HoaRequestType: c.extensionTypes.ipv6HoaRequest, ipv6HoaType: c.extensionTypes.ipv6Hoa, greKeyType: c.extensionTypes.greKey },
    accessMac,
    realms: c.realms.map((r) => ({
      realm: r.realm,
      homeAgent: parseIpv4(r.homeAgent)!,
      mnHaKey: { spi: r.spi, secret: resolveSecret(r.key, readFile) },
      realmKeyFallback: r.keyFallback ?? c.keys.table === "",
    })),
    derivedRealm: c.identity.derivedRealm,
    provisioned,
    identityOrder: c.identity.order,
    ...(naiKeys ? { naiKeys } : {}),
    ...(linkLayerPolicy(c) ? { linkLayer: linkLayerPolicy(c) } : {}),
    careOf:
      c.careOf.mode === "pool"
        ? { mode: "pool", addresses: c.careOf.addresses.map((a) => parseIpv4(a)!) }
        : { mode: "shared", address: parseIpv4(c.careOf.address)!, firstKey: c.careOf.greKeys.first, keyCount: c.careOf.greKeys.count },
    triggerOn: c.triggerOn,
    contextFirst: c.fleet !== undefined && Object.keys(c.fleet.fleetKeys).length > 0,
    registration: c.registration,
    revocationSupport: c.revocationSupport,
    maxSessions: c.limits.maxSessions,
    sessionStartsPerSecond: c.limits.sessionStartsPerSecond,
    hold: c.limits.hold,
    idleTimeoutMs: c.idleTimeoutS * 1000,
    dadFailureWindowMs: c.dadFailureWindowS * 1000,
    revocationLingerMs: c.revocationLingerMs,
    dadFailureHoldOffMs: c.dadFailureHoldOffS * 1000,
    ...releaseForwarding(c),
    maxLearnedAddresses: c.limits.maxLearnedAddresses,
  };
}

/**
 * Issue 10: the forwarding windows of a handover. The new AN's also spans the wait for
 * the release answer, every attempt of it (fleet-agent.ts asks again while unanswered,
 * and waits out a broker outage): the last request may go at the end of the retry
 * window and be served within its timeout, opening the old AN's window that much
 * later. (3 x the timeout alone left a release sent after an outage of a few seconds
 * forwarding into an accept window already closed.)
 */
/** The leave hold of a fleet AN when linkLayer.leaveHoldMs is not set: the lab's releases came 137-178 ms after the leave. */
const DEFAULT_FLEET_LEAVE_HOLD_MS = 1500;

function releaseForwarding(c: AnConfig): { releaseForwardMs: number; peerForwardAcceptMs: number; leaveHoldMs: number } {
  const ms = c.fleet?.releaseForwardMs ?? 0;
  return { releaseForwardMs: ms, peerForwardAcceptMs: ms === 0 ? 0 : ms + RELEASE_RETRY_WINDOW_MS + RELEASE_RPC_TIMEOUT_MS, leaveHoldMs: c.linkLayer.leaveHoldMs ?? (ms === 0 ? 0 : DEFAULT_FLEET_LEAVE_HOLD_MS) };
}
