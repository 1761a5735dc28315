// The provisioned MN-HA key table (DESIGN 9): one line per subscriber,
//   <NAI> <SPI> hex:<key>
// with '#' comments and blank lines ignored. Read at start and on every reload
// (SIGHUP); a table with any bad line is refused whole (the last good config and
// its table stay). Problems name the line and what is wrong, never the key bytes
// nor the NAI's line content. Held as a Map: a lookup per session start, the same
// cost at 100,000 entries as at 10 (test/bench/key-table.bench.ts).
import type { MnHaKey } from "../wire/mip-auth.ts";
import { isReservedSpi } from "../wire/mip-auth.ts";
import type { ConfigProblem } from "./config-schema.ts";
import { MAX_KEY_BYTES, MAX_NAI_BYTES, MIN_KEY_BYTES } from "./config-schema.ts";

/** Problems listed per table at most (a wholly wrong file is not 100,000 log lines). */
const MAX_PROBLEMS = 20;
const HEX = /^[0-9a-fA-F]+$/;

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The hex digits of `hex:<key>`, or undefined (checked without a repetition regex: 100,000 lines). */
function keyHex(field: string): string | undefined {
  if (!field.startsWith("hex:")) return undefined;
  const hex = field.slice(4);
  if (hex.length % 2 !== 0 || hex.length < MIN_KEY_BYTES * 2 || hex.length > MAX_KEY_BYTES * 2 || !HEX.test(hex)) return undefined;
  return hex;
}

export type KeyTable = ReadonlyMap<string, MnHaKey>;

export function parseKeyTable(text: string, where: string): { ok: true; keys: KeyTable } | { ok: false; problems: ConfigProblem[] } {
  const keys = new Map<string, MnHaKey>();
  const problems: ConfigProblem[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && problems.length < MAX_PROBLEMS; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const at = `${where} line ${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) {
      problems.push({ path: at, message: `expected 3 fields (NAI SPI hex:KEY), found ${fields.length}` });
      continue;
    }
    const [nai, spiText, keyText] = fields as [string, string, string];
    if (Buffer.byteLength(nai, "utf8") > MAX_NAI_BYTES || !nai.includes("@")) {
      problems.push({ path: at, message: `the NAI must be user@realm, at most ${MAX_NAI_BYTES} bytes` });
      continue;
    }
    const spi = /^[0-9]{1,10}$/.test(spiText) ? Number(spiText) : NaN;
    if (!Number.isInteger(spi) || spi > 0xffffffff || isReservedSpi(spi)) {
      problems.push({ path: at, message: "the SPI must be a decimal number from 256 to 4294967295 (0-255 reserved, RFC 5944 1.6)" });
      continue;
    }
    const hex = keyHex(keyText);
    if (hex === undefined) {
      // Never the text itself: it is (a mistyped) key.
      problems.push({ path: at, message: `the key must be hex:<${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes of hex>` });
      continue;
    }
    if (keys.has(nai)) {
      problems.push({ path: at, message: "this NAI is listed twice" });
      continue;
    }
    keys.set(nai, { spi, secret: hexBytes(hex) });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, keys };
}
