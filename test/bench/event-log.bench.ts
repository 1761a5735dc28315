// Per-attach logging cost (issue: attach CPU; the attach-storm profile had logging at
// about a third of the daemon's CPU per MN). Same run, same file destination as the
// daemon's (pino, synchronous): the lines one attach costs through EventLog (one
// info line, `registered`; `session-started` and `registration-sent` at debug, off),
// against the baseline of what it cost before (both info lines through the daemon's
// logger with its full redaction). Ratio new / before is the figure.
// Run: node test/bench/run.mjs test/bench/event-log.bench.ts
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { expect, test } from "vitest";
import { EventLog } from "../../src/app/event-log.ts";
import { createLogger } from "../../src/app/logger.ts";
import type { AnEvent } from "../../src/core/events.ts";
import { QUICK, record } from "./support/record.ts";

const ATTACHES = QUICK ? 20_000 : 50_000;
const ROUNDS = 5;

const started = (i: number): AnEvent => ({ type: "session-started", mac: `02:10:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`, nai: `user${i}@example.net`, identitySource: "derived", trigger: "neighbor-solicitation", careOf: "203.0.113.1", greKey: 0x10000 + i });
const sent = (i: number): AnEvent => ({ type: "registration-sent", mac: "02:10:00:00:00:01", attempt: 1, lifetime: 300, initial: true, identification: String(16045690984503098046n + BigInt(i)) });
const registered = (i: number): AnEvent => ({ type: "registered", mac: "02:10:00:00:00:01", nai: `user${i}@example.net`, homeAgent: "192.0.2.1", careOf: "203.0.113.1", lifetime: 300, greKey: 0x10000 + i, heldFramesReleased: 1 });

test("per-attach logging: EventLog against the two info lines it replaced", () => {
  const dir = mkdtempSync(join(tmpdir(), "an-bench-log-"));
  try {
    const run = (name: string, attach: (log: ReturnType<typeof createLogger>, events: EventLog, i: number) => void): { usPerAttach: number; bytesPerAttach: number } => {
      const file = join(dir, `${name}.log`);
      const dest = pino.destination({ dest: file, sync: true });
      const log = createLogger("info", dest);
      const events = new EventLog(log, 300_000, () => 0);
      for (let i = 0; i < 2000; i++) attach(log, events, i); // warm up
      const best: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        for (let i = 0; i < ATTACHES; i++) attach(log, events, i);
        best.push(((performance.now() - t0) * 1000) / ATTACHES);
      }
      dest.flushSync();
      const bytes = readFileSync(file).length / (2000 + ROUNDS * ATTACHES);
      return { usPerAttach: Math.min(...best), bytesPerAttach: Math.round(bytes) };
    };
    // Interleaved, so drift in machine load falls on both alike.
    const before: { usPerAttach: number; bytesPerAttach: number }[] = [];
    const after: { usPerAttach: number; bytesPerAttach: number }[] = [];
    for (let k = 0; k < 3; k++) {
      before.push(
        run(`before-${k}`, (log, _e, i) => {
          const s = started(i);
          log.info({ event: s }, s.type);
          log.debug({ event: sent(i) }, "registration-sent");
          const r = registered(i);
          log.info({ event: r }, r.type);
        }),
      );
      after.push(
        run(`after-${k}`, (_l, events, i) => {
          events.event(started(i));
          events.event(sent(i));
          events.event(registered(i));
        }),
      );
    }
    const b = Math.min(...before.map((x) => x.usPerAttach));
    const a = Math.min(...after.map((x) => x.usPerAttach));
    expect(after[0]!.bytesPerAttach).toBeLessThan(before[0]!.bytesPerAttach);
    record("event-log", { attaches: ATTACHES, beforeUsPerAttach: b, afterUsPerAttach: a, ratio: a / b, beforeBytesPerAttach: before[0]!.bytesPerAttach, afterBytesPerAttach: after[0]!.bytesPerAttach });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
