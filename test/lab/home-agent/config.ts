// The lab home agent's configuration: a JSON file (the path is main.ts's argument)
// validated here, and converted into wire units (IPv4 as u32, IPv6/MAC as bytes)
// for the sans-I/O HomeAgent.
import { z } from "zod";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { parseIpv6 } from "../../../src/wire/ipv6-address.ts";
import { parseMac } from "../../../src/wire/mac.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { extensionTypesSchema } from "../../../src/app/config-schema.ts";
import { checkMipCodecOptions } from "../../../src/wire/mip-extension.ts";
import type { MipCodecOptions } from "../../../src/wire/mip-types.ts";

const ipv4 = z.string().refine((s) => parseIpv4(s) !== null, { message: "not a dotted-quad IPv4 address" });
const ipv6 = z.string().refine((s) => parseIpv6(s) !== null, { message: "not an IPv6 address" });
const mac = z.string().refine((s) => parseMac(s) !== null, { message: "not a MAC address" });
const hexKey = z.string().regex(/^hex:([0-9a-fA-F]{2}){1,64}$/, "must be hex:<1-64 bytes of hex>");

export const haConfigSchema = z
  .object({
    /** The HA's IPv4 address: UDP 434, tunnel endpoint, Home Agent field, revocation home domain. */
    address: ipv4,
    /** MN-HA security associations per NAI realm ("*" = any other realm). */
    realms: z
      .array(z.object({ realm: z.string().min(1), spi: z.number().int().min(256).max(0xffffffff), key: hexKey }).strict())
      .min(1),
    /** Reply lifetime = min(requested, maxLifetimeS). */
    maxLifetimeS: z.number().int().min(1).max(65535).default(600),
    /** RFC 5944 5.7: a request timestamp further than this from the HA's clock gets 133. */
    identificationWindowS: z.number().int().min(1).max(3600).default(7),
    /** Added to the HA's wall clock (to make the AN resynchronise on 133). */
    clockOffsetMs: z.number().int().default(0),
    /** A plain MIPv4 HA: replies without the IPv6 HoA extension and sends no RA. */
    legacy: z.boolean().default(false),
    /** The home link prefix (a /64), advertised in the RA. */
    homePrefix: z.string().regex(/^[0-9a-fA-F:]+\/64$/, "an IPv6 /64 prefix like 2001:db8:1::/64").refine((s) => parseIpv6(s.slice(0, -3)) !== null, { message: "not an IPv6 prefix" }),
    /** The HA's link-local address on the home link: RA source, answered in NS. */
    linkLocal: ipv6.default("fe80::1"),
    /** More addresses of the HA on the home link, answered in NS (e.g. its global one). */
    homeAddresses: z.array(ipv6).default([]),
    /** The HA's home-link MAC: RA SLLA, NA TLLA (draft 5.2.2). */
    homeLinkMac: mac.default("02:00:5e:00:53:01"),
    /** Addresses "already used on the home link": proxy DAD fails for them (draft 3.2.4). */
    usedAddresses: z.array(ipv6).default([]),
    ra: z
      .object({
        routerLifetimeS: z.number().int().min(0).max(9000).default(1800),
        validLifetimeS: z.number().int().min(0).default(86400),
        preferredLifetimeS: z.number().int().min(0).default(14400),
        curHopLimit: z.number().int().min(0).max(255).default(64),
        /** Path MTU of the IPv4 core; the RA's MTU option is this minus the tunnel header. */
        outerMtu: z.number().int().min(1320).max(65535).default(1500),
        /** false: the RA carries no MTU option (the MN then sends up to its link's MTU; the AN must fragment or answer PTB). */
        mtuOption: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    revocation: z
      .object({
        enabled: z.boolean().default(true),
        /** First retransmission after this, doubling (RFC 3543 4.2.2.1: at most one a second). */
        retransmitMs: z.number().int().min(1000).default(1000),
        maxTries: z.number().int().min(1).max(10).default(4),
        /** The gap between the defending NA and the DAD-failure revocation (0: back to back). */
        dadDelayMs: z.number().int().min(0).max(5000).default(100),
        /**
         * Issue 9: which of the two goes first. "na-first" is the draft's order (3.2.4);
         * "revocation-first" is what an AN reading two sockets may see anyway. The shell
         * keeps the wire order: a tunnel packet after a datagram waits for its send.
         */
        dadOrder: z.enum(["na-first", "revocation-first"]).default("na-first"),
        /** Issue 9: send the defending NA this many times (a duplicate tests an AN's idempotence). */
        dadNaCopies: z.number().int().min(1).max(3).default(1),
      })
      .strict()
      .prefault({}),
    /**
     * Issue 10: after a registration that moved a binding to another CoA, packets from
     * the home link keep going to the OLD CoA (and key) this long, as a slow or
     * in-flight HA path would (the new AN's RA and the revocation are not delayed).
     * 0: the new CoA at once.
     */
    oldCareOfDownlinkMs: z.number().int().min(0).max(10_000).default(0),
    /** First GRE key the HA hands out for uplink packets (RFC 6245 reply extension). */
    firstUplinkKey: z.number().int().min(0).max(0xffffffff).default(0x7000_0000),
    /** IPv4 home addresses assigned to NAIs that ask with 0.0.0.0 (RFC 2794); none: 0.0.0.0 stays. */
    ipv4HomeAddresses: z.array(ipv4).default([]),
    extensionTypes: extensionTypesSchema,
    /** I/O shell: the (persistent) TUN device facing the CN; its kernel routes the home prefix to it. */
    tun: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/).default("ha0"),
    /** I/O shell: tunnel-rx / tunnel-tx events carry the inner packet in hex. */
    hexDumps: z.boolean().default(false),
    /** I/O shell: TTL of the outer IPv4 header. */
    tunnelTtl: z.number().int().min(1).max(255).default(64),
    /** I/O shell: outer packets above this are fragmented (DF clear), as an HA with a 1500-byte uplink does. */
    tunnelMtu: z.number().int().min(576).max(65535).default(1500),
  })
  .strict()
  .superRefine((c, ctx) => {
    const bad = checkMipCodecOptions(codecOf(c.extensionTypes));
    if (bad) ctx.addIssue({ code: "custom", path: ["extensionTypes"], message: bad });
  });

export type HaConfigFile = z.input<typeof haConfigSchema>;
type Validated = z.infer<typeof haConfigSchema>;

export interface HaRealm {
  readonly realm: string;
  readonly key: MnHaKey;
}

/** What HomeAgent takes: validated, in wire units. */
export interface HaConfig {
  readonly address: number;
  readonly realms: readonly HaRealm[];
  readonly maxLifetimeS: number;
  readonly identificationWindowS: number;
  readonly legacy: boolean;
  readonly homePrefix: Uint8Array;
  readonly linkLocal: Uint8Array;
  readonly homeAddresses: readonly Uint8Array[];
  readonly homeLinkMac: Uint8Array;
  readonly usedAddresses: readonly Uint8Array[];
  readonly ra: Validated["ra"];
  readonly revocation: Validated["revocation"];
  readonly oldCareOfDownlinkMs: number;
  readonly firstUplinkKey: number;
  readonly ipv4HomeAddresses: readonly number[];
  readonly codec: MipCodecOptions;
}

function codecOf(t: Validated["extensionTypes"]): MipCodecOptions {
  return { ipv6HoaRequestType: t.ipv6HoaRequest, ipv6HoaType: t.ipv6Hoa, greKeyType: t.greKey, longTypes: [] };
}

export interface LoadedHaConfig {
  readonly config: HaConfig;
  /** Settings of the I/O shell only. */
  readonly io: { readonly tun: string; readonly hexDumps: boolean; readonly tunnelTtl: number; readonly tunnelMtu: number; readonly clockOffsetMs: number };
}

/** Validates a parsed JSON value; throws one error listing every problem. */
export function loadHaConfig(raw: unknown): LoadedHaConfig {
  const r = haConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
    throw new Error(`home agent config invalid:\n  ${lines.join("\n  ")}`);
  }
  const c = r.data;
  const v6 = (s: string): Uint8Array => parseIpv6(s)!;
  return {
    config: {
      address: parseIpv4(c.address)!,
      realms: c.realms.map((x) => ({ realm: x.realm, key: { spi: x.spi, secret: Uint8Array.from(Buffer.from(x.key.slice(4), "hex")) } })),
      maxLifetimeS: c.maxLifetimeS,
      identificationWindowS: c.identificationWindowS,
      legacy: c.legacy,
      homePrefix: v6(c.homePrefix.slice(0, -3)),
      linkLocal: v6(c.linkLocal),
      homeAddresses: c.homeAddresses.map(v6),
      homeLinkMac: parseMac(c.homeLinkMac)!,
      usedAddresses: c.usedAddresses.map(v6),
      ra: c.ra,
      revocation: c.revocation,
      oldCareOfDownlinkMs: c.oldCareOfDownlinkMs,
      firstUplinkKey: c.firstUplinkKey,
      ipv4HomeAddresses: c.ipv4HomeAddresses.map((a) => parseIpv4(a)!),
      codec: codecOf(c.extensionTypes),
    },
    io: { tun: c.tun, hexDumps: c.hexDumps, tunnelTtl: c.tunnelTtl, tunnelMtu: c.tunnelMtu, clockOffsetMs: c.clockOffsetMs },
  };
}
