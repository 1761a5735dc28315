// The daemon's link layer: hostapd's word turned into engine inputs, restored
// sessions hostapd does not vouch for dropped at the first attach, and a detach
// carried out as DEAUTHENTICATE with its outcome reported and counted.
import { describe, expect, it } from "vitest";
import type { EngineInput } from "../../../src/core/engine.ts";
import type { ControlChannel } from "../../../src/io/hostapd-control.ts";
import type { DetachOutcome } from "../../../src/io/station-control.ts";
import { newStationControlCounters } from "../../../src/io/station-control.ts";
import { LinkLayer } from "../../../src/app/link-layer.ts";
import { createLogger } from "../../../src/app/logger.ts";

const A = "02:00:00:00:00:b1";
const B = "02:00:00:00:00:b2";
/** Lets every scripted reply (a microtask each) and its continuations run. */
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

function setup(restored: string[] = []) {
  const inputs: EngineInput[] = [];
  const logs: Record<string, unknown>[] = [];
  const sent: string[] = [];
  let deliver: (text: string) => void = () => {};
  const stations = new Map<string, string>([[A, `${A}\nflags=[AUTHORIZED]\ndot1xAuthSessionUserName=alice@example.net\n`]]);
  const reply = (cmd: string): string => {
    if (cmd === "ATTACH" || cmd.startsWith("DEAUTHENTICATE")) return "OK\n";
    if (cmd === "STA-FIRST") return stations.get(A) ?? "";
    if (cmd.startsWith("STA-NEXT")) return "";
    if (cmd.startsWith("STA ")) return stations.get(cmd.slice(4)) ?? "FAIL\n";
    return "PONG\n";
  };
  const log = createLogger("info", { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const link = new LinkLayer({
    hostapdControl: "/run/hostapd/acc0",
    missingGraceMs: 30_000,
    feed: (i) => inputs.push(i),
    log,
    sessions: () => restored,
    open: (_path, onText): ControlChannel => {
      deliver = onText;
      return {
        sendText: (t) => {
          sent.push(t);
          queueMicrotask(() => onText(reply(t)));
          return true;
        },
        close: () => {},
      };
    },
  });
  return { link, inputs, logs, sent, event: (t: string) => deliver(`<3>${t}`), stations };
}

describe("LinkLayer", () => {
  it("authorised stations become station-authorised with the EAP identity; a restored session hostapd does not list is dropped", async () => {
    const s = setup([A, B]);
    s.link.start();
    await tick();
    expect(s.inputs).toEqual([
      { kind: "station-authorised", mac: A, identity: "alice@example.net" },
      { kind: "station-left", mac: B },
    ]);
    expect(s.logs.find((l) => l.msg === "station authorised")).toMatchObject({ mac: A, identity: "alice@example.net", via: "resync" });
    s.link.stop();
  });

  it("a disconnect becomes station-left after its settle time", async () => {
    const s = setup();
    s.link.start();
    await tick();
    s.inputs.length = 0;
    s.event(`AP-STA-DISCONNECTED ${A}`);
    await new Promise((r) => setTimeout(r, 150));
    expect(s.inputs).toEqual([{ kind: "station-left", mac: A }]);
    s.link.stop();
  });

  it("a detach is a DEAUTHENTICATE; the outcome is reported and counted", async () => {
    const s = setup();
    s.link.start();
    await tick();
    const counters = newStationControlCounters();
    const outcomes: DetachOutcome[] = [];
    const control = s.link.stationControl(counters, (o) => outcomes.push(o));
    control.detach(A, "dad-failure");
    control.detach("not-a-mac", "dad-failure");
    await tick();
    expect(s.sent).toContain(`DEAUTHENTICATE ${A}`);
    expect(outcomes).toEqual([
      { mac: "not-a-mac", reason: "dad-failure", performed: false, refused: "malformed-mac" },
      expect.objectContaining({ mac: A, reason: "dad-failure", performed: true }),
    ]);
    expect(counters).toMatchObject({ requested: 2, performed: 1, refused: 1, failed: 0 });
    expect(s.link.telemetry()).toMatchObject({ attached: true, deauthentications: 1 });
    s.link.stop();
  });
});
