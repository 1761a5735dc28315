// What the daemon logs of forged and malformed signalling: a flood of forged replies
// or revocations costs one line per cause per window (and a summary of the suppressed
// ones), not a line per packet; and the suppressed ones are not passed on to the fleet
// (EventLog.event says so), whose events bucket they would otherwise fill.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { EventLog } from "../../../src/app/event-log.ts";
import { createLogger } from "../../../src/app/logger.ts";
import type { AnEvent } from "../../../src/core/events.ts";

function logInto(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  let text = "";
  const sink = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      text += chunk.toString();
      cb();
    },
  });
  const log = createLogger("info", sink);
  return {
    log,
    lines: () =>
      text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("EventLog: forged signalling, rate-limited", () => {
  it("logs a flood of forged replies and revocations once per cause per window, passes only those on, and summarises the rest", () => {
    let now = 0;
    const { log, lines } = logInto();
    const events = new EventLog(log, 1000, () => now);
    const reply: AnEvent = { type: "forged", what: "reply", from: "10.0.0.66", reason: "MN-HA authentication failed" };
    const revocation: AnEvent = { type: "forged", what: "revocation", from: "10.0.0.66", reason: "A bit clear: not sent by a home agent" };
    const malformed: AnEvent = { type: "malformed", what: "registration-reply", from: "10.0.0.66", error: "truncated at 3: short" };
    let passed = 0;
    for (let i = 0; i < 1000; i++) for (const e of [reply, revocation, malformed]) if (events.event(e)) passed++;
    expect(passed).toBe(3);
    expect(lines()).toHaveLength(3);
    expect(lines().every((l) => l.level === "warn")).toBe(true);
    // A window later, the suppressed ones are summarised: one line per cause.
    now = 1000;
    events.summarize();
    const summaries = lines().filter((l) => l.summary === true);
    expect(summaries.map((l) => [l.cause, l.suppressedSinceLast, l.total])).toEqual([
      ["forged reply: MN-HA authentication failed", 999, 1000],
      ["forged revocation: A bit clear: not sent by a home agent", 999, 1000],
      ["malformed registration-reply: truncated", 999, 1000],
    ]);
    events.summarize();
    expect(lines()).toHaveLength(6);
    // An ordinary event is always logged and passed on.
    expect(events.event({ type: "released", mac: "02:00:00:00:00:01", reason: "expired" })).toBe(true);
    expect(lines()).toHaveLength(7);
  });
});

describe("EventLog: per-attach lines", () => {
  const started: AnEvent = { type: "session-started", mac: "02:00:00:00:00:01", nai: "mn@example.net", identitySource: "derived", trigger: "neighbor-solicitation", careOf: "10.0.0.10", greKey: null };
  const registered: AnEvent = { type: "registered", mac: "02:00:00:00:00:01", nai: "mn@example.net", homeAgent: "10.0.0.2", careOf: "10.0.0.10", lifetime: 300, greKey: null, heldFramesReleased: 1 };

  it("one info line per attach (registered); session-started at debug, following the daemon's level changed live; both still passed on", () => {
    const { log, lines } = logInto();
    const events = new EventLog(log, 1000, () => 0);
    expect(events.event(started)).toBe(true);
    expect(events.event(registered)).toBe(true);
    expect(lines().map((l) => [l.level, l.msg])).toEqual([["info", "registered"]]);
    expect(lines()[0]!.event).toEqual(registered);
    log.level = "debug";
    events.event(started);
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      ["info", "registered"],
      ["debug", "session-started"],
    ]);
    log.level = "warn";
    events.event(registered);
    expect(lines()).toHaveLength(2);
  });

  it("the event lines' narrow redaction still censors a key-named field", () => {
    const { log, lines } = logInto();
    const events = new EventLog(log, 1000, () => 0);
    events.event({ ...registered, key: "00112233445566778899aabbccddeeff" } as unknown as AnEvent);
    expect(JSON.stringify(lines())).not.toContain("00112233445566778899aabbccddeeff");
    expect((lines()[0]!.event as Record<string, unknown>).key).toBe("[redacted]");
  });
});
