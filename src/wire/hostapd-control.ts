// hostapd's control interface, as text (hostapd/ctrl_iface.c, src/common/wpa_ctrl.h):
// one datagram per command reply or unsolicited event. Events start with "<N>"
// (N the message level), optionally after "IFNAME=<if> " on a global interface;
// anything else is the reply to the one command in flight. `STA <mac>`,
// `STA-FIRST` and `STA-NEXT <mac>` answer with the MAC on the first line and
// `key=value` lines after it; "FAIL" (no such station) or an empty reply (end of
// the list). Parses never throw: malformed or truncated text is a typed error.
import type { Parsed } from "./parsed.ts";
import { fail, ok } from "./parsed.ts";

/** The events the AN acts on or reports; anything else is "other". */
export type StationEventName =
  /** The port is authorised (hostapd's ap_sta_set_authorized(1)): with 802.1X, after EAP success. */
  | "AP-STA-CONNECTED"
  /** Authorisation withdrawn: EAPOL-Logoff, deauthentication, disassociation, EAP re-auth failure. */
  | "AP-STA-DISCONNECTED"
  | "CTRL-EVENT-EAP-STARTED"
  | "CTRL-EVENT-EAP-SUCCESS"
  | "CTRL-EVENT-EAP-SUCCESS2"
  | "CTRL-EVENT-EAP-FAILURE"
  | "CTRL-EVENT-EAP-FAILURE2"
  | "CTRL-EVENT-EAP-TIMEOUT-FAILURE"
  | "CTRL-EVENT-EAP-TIMEOUT-FAILURE2";

const STATION_EVENTS: ReadonlySet<string> = new Set<StationEventName>([
  "AP-STA-CONNECTED",
  "AP-STA-DISCONNECTED",
  "CTRL-EVENT-EAP-STARTED",
  "CTRL-EVENT-EAP-SUCCESS",
  "CTRL-EVENT-EAP-SUCCESS2",
  "CTRL-EVENT-EAP-FAILURE",
  "CTRL-EVENT-EAP-FAILURE2",
  "CTRL-EVENT-EAP-TIMEOUT-FAILURE",
  "CTRL-EVENT-EAP-TIMEOUT-FAILURE2",
]);

export type ControlEvent =
  | { readonly kind: "station"; readonly level: number; readonly name: StationEventName; readonly mac: string }
  /** hostapd is going away (CTRL-EVENT-TERMINATING) or its interface was disabled (AP-DISABLED). */
  | { readonly kind: "terminating"; readonly level: number; readonly name: string }
  | { readonly kind: "other"; readonly level: number; readonly name: string };

export interface StationInfo {
  /** lowercase aa:bb:cc:dd:ee:ff */
  readonly mac: string;
  /** `flags=` holds [AUTHORIZED]: the 802.1X port is open (or no 802.1X at all). */
  readonly authorized: boolean;
  /** `dot1xAuthSessionUserName`: the EAP identity; null when absent or not usable text. */
  readonly identity: string | null;
  /** The reply ended inside a line (cut by a buffer): fields after the cut are missing. */
  readonly truncated: boolean;
}

export type StationReply =
  | { readonly kind: "station"; readonly station: StationInfo }
  /** "FAIL": no such station (STA) or a malformed MAC in the command. */
  | { readonly kind: "fail" }
  /** Empty reply: STA-FIRST on an empty list, STA-NEXT after the last station. */
  | { readonly kind: "end" };

/** The longest identity taken (RFC 4282: 253 octets; the MN-NAI extension carries 255). */
export const MAX_IDENTITY_BYTES = 255;

const MAC_TEXT = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const EVENT_NAME = /^[A-Z0-9][A-Z0-9_-]*$/;

/** An unsolicited message starts with "<level>" (after an optional "IFNAME=x " prefix). */
export function isControlEvent(text: string): boolean {
  return stripIfname(text).startsWith("<");
}

function stripIfname(text: string): string {
  if (!text.startsWith("IFNAME=")) return text;
  const space = text.indexOf(" ");
  return space < 0 ? "" : text.slice(space + 1);
}

export function parseControlEvent(text: string): Parsed<ControlEvent> {
  const body = stripIfname(text);
  if (!body.startsWith("<")) return fail("unexpected-type", 0, "not an event: no <level> prefix");
  const close = body.indexOf(">");
  if (close < 0) return fail("truncated", body.length, "event level not closed by '>'");
  const levelText = body.slice(1, close);
  if (!/^[0-9]{1,2}$/.test(levelText)) return fail("bad-value", 1, "event level is not a small number");
  const level = Number(levelText);
  // One line: hostapd's events are single lines; anything after a newline is not ours to read.
  const line = body.slice(close + 1).split("\n", 1)[0]!.replace(/\r$/, "");
  const [name = "", ...args] = line.split(" ");
  if (name === "") return fail("truncated", close + 1, "event without a name");
  if (!EVENT_NAME.test(name)) return fail("bad-value", close + 1, "event name is not [A-Z0-9-] text");
  if (name === "CTRL-EVENT-TERMINATING" || name === "AP-DISABLED") return ok({ kind: "terminating", level, name }, text.length);
  if (!STATION_EVENTS.has(name)) return ok({ kind: "other", level, name }, text.length);
  const mac = args[0] ?? "";
  if (mac === "") return fail("truncated", close + 1 + name.length, `${name} without a station address`);
  if (!MAC_TEXT.test(mac)) return fail("bad-value", close + 2 + name.length, `${name}: not a MAC address`);
  return ok({ kind: "station", level, name: name as StationEventName, mac: mac.toLowerCase() }, text.length);
}

/** The reply to STA / STA-FIRST / STA-NEXT. */
export function parseStationReply(text: string): Parsed<StationReply> {
  if (text === "" || text === "\n") return ok({ kind: "end" }, text.length);
  if (text === "FAIL\n" || text === "FAIL") return ok({ kind: "fail" }, text.length);
  if (text.startsWith("UNKNOWN COMMAND")) return fail("unexpected-type", 0, "hostapd does not know the command");
  const truncated = !text.endsWith("\n");
  const lines = text.split("\n");
  // The last element is "" after a final newline, else the cut line: dropped either way.
  lines.pop();
  const macLine = lines[0];
  if (macLine === undefined) return fail("truncated", 0, "station reply cut inside its first line");
  if (!MAC_TEXT.test(macLine)) return fail("bad-value", 0, "station reply does not start with a MAC address");
  let authorized = false;
  let identity: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const eq = line.indexOf("=");
    if (eq <= 0) continue; // hostapd also prints bare lines (e.g. HT capabilities): not ours
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "flags") authorized = value.includes("[AUTHORIZED]");
    else if (key === "dot1xAuthSessionUserName") identity = usableIdentity(value);
  }
  return ok({ kind: "station", station: { mac: macLine.toLowerCase(), authorized, identity, truncated } }, text.length);
}

/**
 * The identity as the station sent it, if it can be an NAI: non-empty, at most
 * MAX_IDENTITY_BYTES in UTF-8, no control characters or spaces (hostapd prints
 * the EAP identity raw; a station controls these bytes).
 */
export function usableIdentity(value: string): string | null {
  if (value.length === 0) return null;
  if (new TextEncoder().encode(value).length > MAX_IDENTITY_BYTES) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\ufffd]/.test(value)) return null;
  return value;
}

/** Replies that are one word: OK, PONG, FAIL. */
export function isOkReply(text: string): boolean {
  return text === "OK\n" || text === "OK";
}

export function isPongReply(text: string): boolean {
  return text === "PONG\n" || text === "PONG";
}
