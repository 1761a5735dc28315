// What every Mobile IPv4 message parse starts with: the Type byte, the fixed part
// of the message's length, then the extensions running to the end of the datagram.
import { parseExtensions } from "./mip-extension.ts";
import type { ExtensionList } from "./mip-extension.ts";
import { viewOf } from "./mip-fields.ts";
import type { MipCodecOptions } from "./mip-types.ts";
import { fail, ok } from "./parsed.ts";
import type { Parsed } from "./parsed.ts";

export interface MessageFrame extends ExtensionList {
  /** A view over the whole message for reading the fixed fields. */
  readonly view: DataView;
}

export function parseMessageFrame(
  buf: Uint8Array,
  type: number,
  fixedLength: number,
  name: string,
  opts: MipCodecOptions,
): Parsed<MessageFrame> {
  if (buf.length < 1) return fail("truncated", 0, "empty payload");
  if (buf[0] !== type) return fail("unexpected-type", 0, `message type ${buf[0] ?? 0} is not a ${name}`);
  if (buf.length < fixedLength) return fail("truncated", buf.length, `${name} needs ${fixedLength} bytes, got ${buf.length}`);
  const exts = parseExtensions(buf, fixedLength, buf.length, opts);
  if (!exts.ok) return exts;
  return ok({ view: viewOf(buf), extensions: exts.value.extensions, spans: exts.value.spans }, buf.length);
}
