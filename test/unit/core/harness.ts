// Drives one Engine with plain calls and made-up times, and reads what it did.
// Shared by the core tests; nothing here knows the engine's internals beyond its
// public API (handle / poll / nextDeadline and the read-only views).
import { createHmac } from "node:crypto";
import { expect } from "vitest";
import type { EngineConfig, RealmConfig } from "../../../src/core/config.ts";
import { DEFAULT_HOLD_CAPS, DEFAULT_REGISTRATION_TIMING } from "../../../src/core/config.ts";
import { Engine } from "../../../src/core/engine.ts";
import type { EngineInput } from "../../../src/core/engine.ts";
import type { Action, AnEvent } from "../../../src/core/events.ts";
import { seededRandom } from "../../../src/core/random.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { verifyMnHaAuth } from "../../../src/wire/mip-auth.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { parseRegistrationRequest } from "../../../src/wire/mip-registration.ts";
import { parseRegistrationRevocation, parseRevocationAcknowledgment } from "../../../src/wire/mip-revocation.ts";
import { MipMessageType } from "../../../src/wire/mip-types.ts";
import type { ParsedMipMessage, RegistrationRequest, RevocationAcknowledgment } from "../../../src/wire/mip-types.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { answer } from "../../support/home-agent-messages.ts";
import type { AnswerOptions } from "../../support/home-agent-messages.ts";

export function v4(text: string): number {
  const n = parseIpv4(text);
  if (n === null) throw new Error(`bad IPv4 ${text}`);
  return n;
}

export const CODEC = DEFAULT_MIP_CODEC_OPTIONS;
export const HA = v4("192.0.2.1");
export const HA2 = v4("198.51.100.1");
export const STRANGER = v4("192.0.2.66");
export const COA_POOL = [v4("203.0.113.10"), v4("203.0.113.11"), v4("203.0.113.12")];
export const SHARED_COA = v4("203.0.113.1");
export const FIRST_KEY = 0x1000;
export const KEY: MnHaKey = { spi: 0x1001, secret: new TextEncoder().encode("realm example.net MN-HA secret") };
export const KEY2: MnHaKey = { spi: 0x2002, secret: new TextEncoder().encode("realm other.org MN-HA secret") };
export const ACCESS_MAC = mac("02:00:00:00:0a:01");
/** The HA's link-layer address as its RA's SLLA option gives it. */
export const HA_MAC = mac("02:00:5e:00:53:01");
/** Wall clock at monotonic 0 (2025-06-15). */
export const WALL = 1_750_000_000_000;

export const MN1 = "02:11:22:33:44:01";
export const MN2 = "02:11:22:33:44:02";
export const MN3 = "02:11:22:33:44:03";
export const MN4 = "02:11:22:33:44:04";

export const REALM: RealmConfig = { realm: "example.net", homeAgent: HA, mnHaKey: KEY };
export const REALM2: RealmConfig = { realm: "other.org", homeAgent: HA2, mnHaKey: KEY2 };

export function derivedNaiOf(macText: string): string {
  return `${macText.replace(/:/g, "")}@example.net`;
}

export function makeConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    codec: CODEC,
    accessMac: ACCESS_MAC,
    realms: [REALM, REALM2],
    derivedRealm: "example.net",
    provisioned: new Map(),
    careOf: { mode: "pool", addresses: COA_POOL },
    triggerOn: "neighbor-discovery",
    sessionStartsPerSecond: 0,
    registration: { ...DEFAULT_REGISTRATION_TIMING, jitter: 0, refreshJitter: 0 },
    revocationSupport: true,
    maxSessions: 100,
    hold: DEFAULT_HOLD_CAPS,
    idleTimeoutMs: 0,
    dadFailureWindowMs: 10_000,
    maxLearnedAddresses: 4,
    revocationLingerMs: 2000,
    dadFailureHoldOffMs: 60_000,
    ...over,
  };
}

export function sharedConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return makeConfig({ careOf: { mode: "shared", address: SHARED_COA, firstKey: FIRST_KEY, keyCount: 4 }, ...over });
}

export type SendAction = Extract<Action, { kind: "send-signalling" }>;

export class Harness {
  readonly engine: Engine;
  now = 0;
  /** Every action ever drained, in order. */
  readonly log: Action[] = [];

  constructor(
    readonly config: EngineConfig = makeConfig(),
    seed = 1,
  ) {
    this.engine = new Engine(config, { random: seededRandom(seed), wallOffsetMs: WALL });
  }

  /** One input at time `t` (default: the current time); returns the actions it produced. */
  handle(input: EngineInput, t: number = this.now): Action[] {
    if (t < this.now) throw new Error(`time went back: ${t} < ${this.now}`);
    this.now = t;
    this.engine.handle(t, input);
    return this.drain();
  }

  drain(): Action[] {
    const out: Action[] = [];
    for (let a = this.engine.poll(); a; a = this.engine.poll()) out.push(a);
    this.log.push(...out);
    return out;
  }

  frame(bytes: Uint8Array, t?: number): Action[] {
    return this.handle({ kind: "frame-from-mn", frame: bytes }, t);
  }

  /**
   * The address a datagram from the HA arrives at (the signalling input's `local`):
   * a revocation's foreign domain address, else the source of the newest request.
   */
  localFor(bytes: Uint8Array): number {
    if (bytes[0] === MipMessageType.RegistrationRevocation) {
      const p = parseRegistrationRevocation(bytes, CODEC);
      if (p.ok) return p.value.message.foreignDomainAddress;
    }
    for (let i = this.log.length - 1; i >= 0; i--) {
      const a = this.log[i]!;
      if (a.kind === "send-signalling" && a.bytes[0] === 1) return a.from;
    }
    return COA_POOL[0]!;
  }

  fromHa(bytes: Uint8Array, t?: number, from = HA, fromPort = 434, local?: number): Action[] {
    if (local !== undefined) return this.handle({ kind: "signalling", from, fromPort, local, bytes }, t);
    return this.handle({ kind: "signalling", from, fromPort, local: this.localFor(bytes), bytes }, t);
  }

  tunnel(packet: Uint8Array, o: { outerSrc?: number; outerDst: number; greKey?: number | null }, t?: number): Action[] {
    return this.handle({ kind: "tunnel-packet", outerSrc: o.outerSrc ?? HA, outerDst: o.outerDst, greKey: o.greKey ?? null, packet }, t);
  }

  /** Fires the earliest deadline exactly when it is due. */
  fireNext(): Action[] {
    const at = this.engine.nextDeadline();
    if (at === undefined) throw new Error("no deadline armed");
    return this.handle({ kind: "deadline" }, Math.max(this.now, at));
  }

  /** Fires every deadline up to `t` at its own time, then sets the clock to `t`. */
  advanceTo(t: number): Action[] {
    const out: Action[] = [];
    for (let at = this.engine.nextDeadline(); at !== undefined && at <= t; at = this.engine.nextDeadline()) {
      out.push(...this.handle({ kind: "deadline" }, Math.max(this.now, at)));
    }
    this.now = Math.max(this.now, t);
    return out;
  }

  /** The newest RRQ the engine sent (bytes). */
  lastRequest(): Uint8Array {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const a = this.log[i]!;
      if (a.kind === "send-signalling" && a.bytes[0] === 1) return a.bytes;
    }
    throw new Error("no Registration Request sent");
  }

  /** Answers the newest RRQ as the HA would. */
  answerLast(o: AnswerOptions = {}, key: MnHaKey = KEY, from = HA): Action[] {
    return this.fromHa(answer(this.lastRequest(), key, CODEC, o), undefined, from);
  }

  /** DAD NS from `macText`, then an accepted reply with the IPv6 HoA extension. */
  register(macText: string, t = this.now, o: AnswerOptions = {}): Action[] {
    const first = this.frame(dadNeighborSolicitation(mac(macText)), t);
    const key = this.engine.session(macText)?.realm.mnHaKey ?? KEY;
    const ha = this.engine.session(macText)?.realm.homeAgent ?? HA;
    const reply = this.answerLast(o, key, ha);
    expect(this.engine.sessionState(macText)).toBe("bound");
    return [...first, ...reply];
  }
}

export function sends(actions: readonly Action[]): SendAction[] {
  return actions.filter((a): a is SendAction => a.kind === "send-signalling");
}

export function requestsIn(actions: readonly Action[]): SendAction[] {
  return sends(actions).filter((a) => a.bytes[0] === 1);
}

export function eventsOf<T extends AnEvent["type"]>(actions: readonly Action[], type: T): Extract<AnEvent, { type: T }>[] {
  const out: Extract<AnEvent, { type: T }>[] = [];
  for (const a of actions) if (a.kind === "event" && a.event.type === type) out.push(a.event as Extract<AnEvent, { type: T }>);
  return out;
}

export function kinds(actions: readonly Action[]): string[] {
  return actions.map((a) => (a.kind === "event" ? `event:${a.event.type}` : a.kind));
}

export function ofKind<K extends Action["kind"]>(actions: readonly Action[], kind: K): Extract<Action, { kind: K }>[] {
  return actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}

export function parsedRequest(bytes: Uint8Array): ParsedMipMessage<RegistrationRequest> {
  const p = parseRegistrationRequest(bytes, CODEC);
  if (!p.ok) throw new Error(`RRQ does not parse: ${p.error.detail}`);
  return p.value;
}

export function parsedAck(bytes: Uint8Array): ParsedMipMessage<RevocationAcknowledgment> {
  const p = parseRevocationAcknowledgment(bytes, CODEC);
  if (!p.ok) throw new Error(`ack does not parse: ${p.error.detail}`);
  return p.value;
}

/**
 * Checks the MN-HA authenticator of a message the engine sent, independently of
 * src/wire/mip-auth.ts: HMAC-MD5 (node:crypto) over bytes [0, authOffset + 6).
 */
export function expectIndependentlyAuthenticated(bytes: Uint8Array, key: MnHaKey): void {
  const authOffset = bytes.length - 22;
  expect(bytes[authOffset]).toBe(32);
  expect(bytes[authOffset + 1]).toBe(20);
  const spi = new DataView(bytes.buffer, bytes.byteOffset + authOffset + 2, 4).getUint32(0);
  expect(spi).toBe(key.spi);
  const mac = createHmac("md5", key.secret).update(bytes.subarray(0, authOffset + 6)).digest();
  expect(Buffer.from(bytes.subarray(authOffset + 6)).toString("hex")).toBe(mac.toString("hex"));
}

/** verifyMnHaAuth of a parsed message the engine sent. */
export function authVerdict(bytes: Uint8Array, parsed: ParsedMipMessage<{ readonly extensions: RegistrationRequest["extensions"] }>, key: MnHaKey): boolean {
  return verifyMnHaAuth(bytes, parsed, key).ok;
}
