// Representations of the Mobile IPv4 messages and extensions the AN speaks
// (RFC 3344/5944, RFC 2794, RFC 3543, RFC 6245, draft-navali-ip6-over-netmip4 4.1/4.2).
// Parsers in mip-extension.ts, mip-registration.ts and mip-revocation.ts produce
// these; encoders take them. Addresses are IPv4 as unsigned 32-bit numbers.

/** Type numbers that are configuration rather than protocol constants. */
export interface MipCodecOptions {
  /** Draft 4.1 "IPv6 Home Address Request" (TBD-1). Non-skippable per the draft. */
  readonly ipv6HoaRequestType: number;
  /** Draft 4.2 "IPv6 Home Address" (TBD-2). */
  readonly ipv6HoaType: number;
  /** RFC 6245 GRE Key extension (IANA 48). */
  readonly greKeyType: number;
  /**
   * Non-skippable types (< 128) that arrive in the RFC 3344 1.10 long format and
   * that a consumer of the parse handles (kept as `kind: "long"`). A type not
   * listed and not known is "unknown-nonskippable-extension". Absent = none.
   */
  readonly longTypes?: readonly number[];
}

export const MIP_UDP_PORT = 434;

export const MipMessageType = {
  RegistrationRequest: 1,
  RegistrationReply: 3,
  RegistrationRevocation: 7,
  RevocationAcknowledgment: 15,
} as const;

export const MipExtensionType = {
  MnHaAuth: 32,
  MnFaAuth: 33,
  FaHaAuth: 34,
  GreKey: 48,
  MnNai: 131,
  RevocationSupport: 137,
} as const;

export type MipExtension =
  /** RFC 3344 1.8 type 0: a single byte with neither Length nor Data. */
  | { readonly kind: "padding" }
  | { readonly kind: "mn-nai"; readonly nai: string }
  /** MN-HA (32), MN-FA (33), FA-HA (34): SPI + authenticator (16 bytes for HMAC-MD5). */
  | { readonly kind: "auth"; readonly type: number; readonly spi: number; readonly authenticator: Uint8Array }
  | { readonly kind: "revocation-support"; readonly iBit: boolean; readonly timestamp: number }
  /** Draft 4.1: iid null = the empty form (length 1); otherwise 8 bytes (length 9). */
  | { readonly kind: "ipv6-hoa-request"; readonly iid: Uint8Array | null }
  /** Draft 4.2: hoa null = the empty form (length 1); otherwise 16 bytes (length 17). */
  | { readonly kind: "ipv6-hoa"; readonly unique: boolean; readonly hoa: Uint8Array | null }
  /** RFC 6245: short format, sub-type 0, 2 reserved bytes, 32-bit key (length 7). */
  | { readonly kind: "gre-key"; readonly key: number }
  /** RFC 3344 1.10 long format (a type listed in MipCodecOptions.longTypes): data after the 16-bit Length. */
  | { readonly kind: "long"; readonly type: number; readonly subType: number; readonly data: Uint8Array }
  /** Any other extension: kept as its raw body (after type and length), so re-encoding is exact. */
  | { readonly kind: "unknown"; readonly type: number; readonly body: Uint8Array };

/** RFC 3344 3.1 flag bits of the Registration Request. */
export interface RegistrationFlags {
  readonly S: boolean; // simultaneous bindings
  readonly B: boolean; // broadcast datagrams
  readonly D: boolean; // decapsulation by mobile node (co-located CoA)
  readonly M: boolean; // minimal encapsulation
  readonly G: boolean; // GRE encapsulation
  readonly r: boolean; // reserved, sent as 0
  readonly T: boolean; // reverse tunnelling (RFC 3024)
  readonly x: boolean; // reserved, sent as 0
}

export interface RegistrationRequest {
  readonly flags: RegistrationFlags;
  readonly lifetime: number;
  readonly homeAddress: number;
  readonly homeAgent: number;
  readonly careOfAddress: number;
  /** 64-bit identification (RFC 3344 5.7: NTP timestamp form when timestamps are used). */
  readonly identification: bigint;
  readonly extensions: readonly MipExtension[];
}

export interface RegistrationReply {
  readonly code: number;
  readonly lifetime: number;
  readonly homeAddress: number;
  readonly homeAgent: number;
  readonly identification: bigint;
  readonly extensions: readonly MipExtension[];
}

/** RFC 3543 3.3 */
export interface RegistrationRevocation {
  /** RFC 3543 3.3 'A' (direction) bit; see isFromHomeAgent in mip-revocation.ts. */
  readonly aBit: boolean;
  readonly iBit: boolean;
  readonly homeAddress: number;
  readonly homeDomainAddress: number;
  readonly foreignDomainAddress: number;
  readonly revocationId: number;
  readonly extensions: readonly MipExtension[];
}

/** RFC 3543 3.4 */
export interface RevocationAcknowledgment {
  readonly iBit: boolean;
  readonly homeAddress: number;
  readonly revocationId: number;
  readonly extensions: readonly MipExtension[];
}

/**
 * Where a parsed message's extensions sat in the buffer: needed to verify an
 * authenticator, which covers every byte before the authenticator field.
 */
export interface ExtensionSpan {
  /** Offset of the extension's Type byte, relative to the start of the message. */
  readonly offset: number;
  /** Total bytes of the extension including its Type and Length fields. */
  readonly length: number;
}

export interface ParsedMipMessage<T> {
  readonly message: T;
  readonly spans: readonly ExtensionSpan[]; // same order as message.extensions
}
