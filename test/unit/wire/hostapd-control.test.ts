// The control-interface parser on what hostapd 2.10 really sent (recorded on this
// machine: driver=wired, EAP-MD5 against its internal server, wpa_supplicant -D
// wired), then on malformed and truncated text.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isControlEvent, isOkReply, isPongReply, parseControlEvent, parseStationReply, usableIdentity } from "../../../src/wire/hostapd-control.ts";

interface Recorded {
  readonly cmd?: string;
  readonly reply?: string;
  readonly event?: string;
}
const recording = JSON.parse(readFileSync(new URL("./fixtures/hostapd-wired-session.json", import.meta.url), "utf8")) as { messages: Recorded[] };
const replyTo = (cmd: string, nth = 0): string => recording.messages.filter((m) => m.cmd === cmd)[nth]!.reply!;
const events = recording.messages.filter((m) => m.event !== undefined).map((m) => m.event!);
const MAC = "02:00:00:00:00:b1";

describe("recorded hostapd 2.10 output", () => {
  it("every event is told apart from a reply, and every reply from an event", () => {
    for (const m of recording.messages) {
      if (m.event !== undefined) expect(isControlEvent(m.event)).toBe(true);
      if (m.reply !== undefined) expect(isControlEvent(m.reply)).toBe(false);
    }
  });

  it("the authentication, log-off and failure events, in the order hostapd sent them", () => {
    const station = events.map((e) => parseControlEvent(e)).flatMap((p) => (p.ok && p.value.kind === "station" ? [`${p.value.name} ${p.value.mac}`] : []));
    expect(station).toEqual([
      `AP-STA-DISCONNECTED ${MAC}`, // wpa_cli logoff
      `CTRL-EVENT-EAP-STARTED ${MAC}`,
      `CTRL-EVENT-EAP-STARTED ${MAC}`, // supplicant restarted
      `CTRL-EVENT-EAP-SUCCESS ${MAC}`,
      `AP-STA-CONNECTED ${MAC}`,
      `AP-STA-DISCONNECTED ${MAC}`, // DEAUTHENTICATE
      `CTRL-EVENT-EAP-STARTED ${MAC}`, // wrong password
      `CTRL-EVENT-EAP-FAILURE ${MAC}`,
    ]);
  });

  it("events without a station are other events with their level", () => {
    const p = parseControlEvent("<3>CTRL-EVENT-EAP-PROPOSED-METHOD vendor=0 method=4");
    expect(p).toMatchObject({ ok: true, value: { kind: "other", level: 3, name: "CTRL-EVENT-EAP-PROPOSED-METHOD" } });
  });

  it("STA-FIRST of an authorised station: its MAC, authorised, the EAP identity", () => {
    const p = parseStationReply(replyTo("STA-FIRST"));
    expect(p).toMatchObject({ ok: true, value: { kind: "station", station: { mac: MAC, authorized: true, identity: "alice@example.net", truncated: false } } });
  });

  it("a station that failed EAP is listed but not authorised", () => {
    const p = parseStationReply(replyTo(`STA ${MAC}`, 1));
    expect(p).toMatchObject({ ok: true, value: { kind: "station", station: { mac: MAC, authorized: false } } });
  });

  it("STA-NEXT after the last station is the end, STA of an unknown station FAIL", () => {
    expect(parseStationReply(replyTo(`STA-NEXT ${MAC}`))).toMatchObject({ ok: true, value: { kind: "end" } });
    expect(parseStationReply(replyTo("STA 02:00:00:00:00:99"))).toMatchObject({ ok: true, value: { kind: "fail" } });
    expect(parseStationReply(replyTo("STA nonsense"))).toMatchObject({ ok: true, value: { kind: "fail" } });
  });

  it("an unknown command is an error, not an empty station list", () => {
    expect(parseStationReply(replyTo("NOSUCHCMD"))).toMatchObject({ ok: false, error: { kind: "unexpected-type" } });
  });

  it("PING, ATTACH, DETACH and DEAUTHENTICATE replies", () => {
    expect(isPongReply(replyTo("PING"))).toBe(true);
    expect(isOkReply(replyTo("ATTACH"))).toBe(true);
    expect(isOkReply(replyTo("DETACH"))).toBe(true);
    expect(isOkReply(replyTo(`DEAUTHENTICATE ${MAC}`))).toBe(true);
    expect(isOkReply("FAIL\n")).toBe(false);
  });
});

describe("malformed and truncated events", () => {
  it.each([
    ["<3AP-STA-CONNECTED 02:00:00:00:00:b1", "truncated"],
    ["<", "truncated"],
    ["<3>", "truncated"],
    ["<x>AP-STA-CONNECTED 02:00:00:00:00:b1", "bad-value"],
    ["<123>AP-STA-CONNECTED 02:00:00:00:00:b1", "bad-value"],
    ["<3>AP-STA-CONNECTED", "truncated"],
    ["<3>AP-STA-CONNECTED ", "truncated"],
    ["<3>AP-STA-CONNECTED 02:00:00:00:00", "bad-value"],
    ["<3>AP-STA-CONNECTED 02:00:00:00:00:b1x", "bad-value"],
    ["<3>AP-STA-DISCONNECTED zz:00:00:00:00:b1", "bad-value"],
    ["<3>ap-sta-connected 02:00:00:00:00:b1", "bad-value"],
    ["AP-STA-CONNECTED 02:00:00:00:00:b1", "unexpected-type"],
  ])("%j: %s", (text, kind) => {
    const p = parseControlEvent(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.kind).toBe(kind);
  });

  it("extra arguments after the MAC (keyid=, p2p_dev_addr=) are ignored; the MAC is lowercased", () => {
    const p = parseControlEvent("<3>AP-STA-CONNECTED 02:00:00:00:00:B1 keyid=x p2p_dev_addr=02:00:00:00:00:01");
    expect(p).toMatchObject({ ok: true, value: { kind: "station", name: "AP-STA-CONNECTED", mac: MAC } });
  });

  it("a global control interface's IFNAME= prefix is accepted", () => {
    expect(isControlEvent(`IFNAME=wlan0 <3>AP-STA-CONNECTED ${MAC}`)).toBe(true);
    expect(parseControlEvent(`IFNAME=wlan0 <3>AP-STA-CONNECTED ${MAC}`)).toMatchObject({ ok: true, value: { mac: MAC } });
  });

  it("only the first line of an event is read", () => {
    expect(parseControlEvent(`<3>AP-STA-DISCONNECTED ${MAC}\n<3>AP-STA-CONNECTED 02:00:00:00:00:02`)).toMatchObject({ ok: true, value: { name: "AP-STA-DISCONNECTED", mac: MAC } });
  });

  it("terminating events", () => {
    expect(parseControlEvent("<3>CTRL-EVENT-TERMINATING ")).toMatchObject({ ok: true, value: { kind: "terminating" } });
    expect(parseControlEvent("<3>AP-DISABLED ")).toMatchObject({ ok: true, value: { kind: "terminating" } });
  });

  it("never throws, on any text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        parseControlEvent(s);
        parseControlEvent(`<3>${s}`);
        parseStationReply(s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("malformed and truncated station replies", () => {
  const full = replyTo("STA-FIRST");

  it("cut inside the first line: an error", () => {
    expect(parseStationReply("02:00:00:00")).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });

  it("cut before the identity line: truncated, no identity (never a partial one)", () => {
    const cutAt = full.indexOf("dot1xAuthSessionUserName=") + "dot1xAuthSessionUserName=ali".length;
    const p = parseStationReply(full.slice(0, cutAt));
    expect(p).toMatchObject({ ok: true, value: { kind: "station", station: { mac: MAC, authorized: true, identity: null, truncated: true } } });
  });

  it("cut after the identity line: the identity stands", () => {
    const cutAt = full.indexOf("authMultiSessionId=") + 5;
    expect(parseStationReply(full.slice(0, cutAt))).toMatchObject({ ok: true, value: { station: { identity: "alice@example.net", truncated: true } } });
  });

  it("a first line that is not a MAC", () => {
    expect(parseStationReply("OK\nflags=[AUTHORIZED]\n")).toMatchObject({ ok: false, error: { kind: "bad-value" } });
  });

  it("identities a station could abuse are not used", () => {
    for (const bad of ["", "a b@example.net", "alice\u0001@example.net", "x".repeat(256), "bob@example.net\r"]) {
      const p = parseStationReply(`${MAC}\nflags=[AUTHORIZED]\ndot1xAuthSessionUserName=${bad}\n`);
      expect(p).toMatchObject({ ok: true, value: { station: { identity: null } } });
    }
    expect(usableIdentity("ünïcode@example.net")).toBe("ünïcode@example.net");
    expect(usableIdentity("a=b@example.net")).toBe("a=b@example.net");
  });

  it("without [AUTHORIZED] in flags the station is not authorised", () => {
    expect(parseStationReply(`${MAC}\nflags=[AUTH][ASSOC]\n`)).toMatchObject({ ok: true, value: { station: { authorized: false } } });
    expect(parseStationReply(`${MAC}\nflags=[AUTH][ASSOC][AUTHORIZED]\n`)).toMatchObject({ ok: true, value: { station: { authorized: true } } });
  });
});
