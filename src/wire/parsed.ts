// The result type of every parse in `wire`: parses never throw on hostile input,
// they return a typed error naming what was wrong and where.

export type WireErrorKind =
  | "truncated" // fewer bytes than the header or a length field says
  | "bad-version" // IP version nibble, GRE version, ...
  | "bad-length" // a length field that is impossible (too small, not a multiple, ...)
  | "bad-checksum"
  | "bad-value" // a field holding a value the format forbids
  | "zero-length-option" // RFC 4861 4.6: an ND option with length 0
  | "unknown-nonskippable-extension" // RFC 3344 1.9: MIPv4 extension type 0-127 not understood
  | "unexpected-type"; // a message parsed with the wrong parser (RRQ bytes given to parseRegistrationReply)

export interface WireError {
  readonly kind: WireErrorKind;
  /** Byte offset (from the start of the buffer given to the parse) where the problem was found. */
  readonly at: number;
  /** Human-readable detail for logs and counters; never includes key material. */
  readonly detail: string;
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T; readonly length: number }
  | { readonly ok: false; readonly error: WireError };

export function ok<T>(value: T, length: number): Parsed<T> {
  return { ok: true, value, length };
}

export function fail<T = never>(kind: WireErrorKind, at: number, detail: string): Parsed<T> {
  return { ok: false, error: { kind, at, detail } };
}
