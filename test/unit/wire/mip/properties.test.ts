// Property tests over every MIPv4 message format: encode-then-parse identity, and
// parses that never throw on random or mutated input (and whose successes
// re-encode to something that parses the same).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyMnHaAuth } from "../../../../src/wire/mip-auth.ts";
import {
  encodeRegistrationReply,
  encodeRegistrationRequest,
  parseRegistrationReply,
  parseRegistrationRequest,
  registrationReplyLength,
  registrationRequestLength,
} from "../../../../src/wire/mip-registration.ts";
import {
  encodeRegistrationRevocation,
  encodeRevocationAcknowledgment,
  parseRegistrationRevocation,
  parseRevocationAcknowledgment,
  registrationRevocationLength,
  revocationAcknowledgmentLength,
} from "../../../../src/wire/mip-revocation.ts";
import type { MipCodecOptions, MipExtension, ParsedMipMessage } from "../../../../src/wire/mip-types.ts";
import type { Parsed } from "../../../../src/wire/parsed.ts";
import { propertyRuns } from "../../../support/runs.ts";
import { ackArb, KEY, OPTS_LONG, replyArb, requestArb, revocationArb } from "./fixtures.ts";

interface Format<T extends { readonly extensions: readonly MipExtension[] }> {
  readonly name: string;
  readonly type: number;
  readonly arb: fc.Arbitrary<T>;
  readonly length: (m: T, o: MipCodecOptions) => number;
  readonly encode: (m: T, o: MipCodecOptions, out: Uint8Array, offset: number) => number;
  readonly parse: (b: Uint8Array, o: MipCodecOptions) => Parsed<ParsedMipMessage<T>>;
}


type Mutation =
  | { op: "flip"; at: number; mask: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 6, 9, 17, 0x7f, 0x80, 0xff) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
);

/** Structural equality, an order of magnitude faster than expect().toEqual at 100k runs. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && Buffer.compare(a, b) === 0;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Fast check, with vitest's diff only when it fails. */
function expectSame(actual: unknown, expected: unknown): void {
  if (!same(actual, expected)) expect(actual).toEqual(expected);
}

function mutate(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = bytes;
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.op === "flip") {
      b = b.slice();
      b[at] = (b[at] ?? 0) ^ m.mask;
    } else if (m.op === "set") {
      b = b.slice();
      b[at] = m.value;
    } else if (m.op === "truncate") {
      b = b.slice(0, at);
    } else {
      const n = new Uint8Array(b.length + 1);
      n.set(b.subarray(0, at), 0);
      n[at] = m.value;
      n.set(b.subarray(at), at + 1);
      b = n;
    }
  }
  return b;
}

const ALL_PARSERS = [parseRegistrationRequest, parseRegistrationReply, parseRegistrationRevocation, parseRevocationAcknowledgment];

/** A parse that succeeded must re-encode to bytes that parse to the same value. */
function checkStable<T extends { readonly extensions: readonly MipExtension[] }>(f: Format<T>, bytes: Uint8Array): void {
  const p = f.parse(bytes, OPTS_LONG);
  if (!p.ok) {
    if (p.error.at < 0 || p.error.at > bytes.length) expect(p.error).toBe("an offset inside the buffer");
    return;
  }
  if (p.length !== bytes.length) expect(p.length).toBe(bytes.length);
  if (p.value.spans.length !== p.value.message.extensions.length) expect(p.value.spans).toBe("one span per extension");
  verifyMnHaAuth(bytes, p.value, KEY);
  const out = new Uint8Array(f.length(p.value.message, OPTS_LONG));
  f.encode(p.value.message, OPTS_LONG, out, 0);
  const again = f.parse(out, OPTS_LONG);
  expectSame(again.ok && again.value.message, p.value.message);
}

function defineProperties<T extends { readonly extensions: readonly MipExtension[] }>(f: Format<T>): void {
  describe(`${f.name} properties`, () => {
    const runs = propertyRuns();

    it("encode-then-parse is the identity, with exact lengths", () => {
      fc.assert(
        fc.property(f.arb, fc.nat({ max: 7 }), (msg, offset) => {
          const len = f.length(msg, OPTS_LONG);
          const out = new Uint8Array(offset + len);
          const written = f.encode(msg, OPTS_LONG, out, offset);
          if (written !== len) expect(written).toBe(len);
          const bytes = out.subarray(offset);
          const p = f.parse(bytes, OPTS_LONG);
          if (!p.ok) throw new Error(`${p.error.kind} at ${p.error.at}: ${p.error.detail}`);
          if (p.length !== len) expect(p.length).toBe(len);
          expectSame(p.value.message, msg);
          // Spans tile the extension area exactly, ending at the end of the datagram.
          let at = len - p.value.spans.reduce((n, s) => n + s.length, 0);
          for (const s of p.value.spans) {
            if (s.offset !== at) expect(p.value.spans).toBe("contiguous");
            at += s.length;
          }
        }),
        { numRuns: runs },
      );
    });

    it("random bytes never throw from any parse", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 96 }), fc.boolean(), (raw, typed) => {
          const bytes = typed && raw.length > 0 ? Uint8Array.of(f.type, ...raw.subarray(1)) : raw;
          for (const parse of ALL_PARSERS) parse(bytes, OPTS_LONG);
          checkStable(f, bytes);
        }),
        { numRuns: runs },
      );
    });

    it("mutated valid messages never throw, and what parses re-encodes stably", () => {
      fc.assert(
        fc.property(f.arb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (msg, ms) => {
          const out = new Uint8Array(f.length(msg, OPTS_LONG));
          f.encode(msg, OPTS_LONG, out, 0);
          const bytes = mutate(out, ms);
          for (const parse of ALL_PARSERS) parse(bytes, OPTS_LONG);
          checkStable(f, bytes);
        }),
        { numRuns: runs },
      );
    });
  });
}

defineProperties({ name: "Registration Request", type: 1, arb: requestArb, length: registrationRequestLength, encode: encodeRegistrationRequest, parse: parseRegistrationRequest });
defineProperties({ name: "Registration Reply", type: 3, arb: replyArb, length: registrationReplyLength, encode: encodeRegistrationReply, parse: parseRegistrationReply });
defineProperties({ name: "Registration Revocation", type: 7, arb: revocationArb, length: registrationRevocationLength, encode: encodeRegistrationRevocation, parse: parseRegistrationRevocation });
defineProperties({ name: "Revocation Acknowledgment", type: 15, arb: ackArb, length: revocationAcknowledgmentLength, encode: encodeRevocationAcknowledgment, parse: parseRevocationAcknowledgment });
