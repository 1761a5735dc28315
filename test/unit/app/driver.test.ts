// The engine driver with the real engine, a fake clock and one fake timer slot,
// and fake io: inputs are fed, actions carried out, ONE timer armed at the
// engine's next deadline, and the deadline fed back when it fires.
import { describe, expect, it, vi } from "vitest";
import { ActionRouter } from "../../../src/app/action-router.ts";
import { EngineDriver } from "../../../src/app/driver.ts";
import type { TimerHost } from "../../../src/app/driver.ts";
import { Engine } from "../../../src/core/engine.ts";
import type { AnEvent, TunnelTarget } from "../../../src/core/events.ts";
import { seededRandom } from "../../../src/core/random.ts";
import { ReportingStationControl } from "../../../src/io/station-control.ts";
import { dadNeighborSolicitation, mac, packetOf } from "../../support/frames.ts";
import { answer } from "../../support/home-agent-messages.ts";
import { CODEC, HA, KEY, makeConfig, WALL } from "../core/harness.ts";

class FakeTimers implements TimerHost {
  t = 0;
  armed: { at: number; fire: () => void; id: number } | undefined;
  private nextId = 1;
  setCount = 0;
  now(): number {
    return this.t;
  }
  setTimer(delayMs: number, fire: () => void): unknown {
    // The driver must clear before it arms: one timer for all sessions.
    expect(this.armed).toBeUndefined();
    this.setCount++;
    this.armed = { at: this.t + delayMs, fire, id: this.nextId++ };
    return this.armed.id;
  }
  clearTimer(handle: unknown): void {
    if (this.armed?.id === handle) this.armed = undefined;
  }
  /** Moves time to the armed deadline and fires it. */
  fire(): void {
    const a = this.armed;
    if (!a) throw new Error("no timer armed");
    this.armed = undefined;
    this.t = a.at;
    a.fire();
  }
}

function setup(o: { failSend?: () => boolean; onInternalError?: (where: string, error: unknown) => void } = {}) {
  const timers = new FakeTimers();
  const sent: { from: number; to: number; bytes: Uint8Array }[] = [];
  const tunnel: { target: TunnelTarget; packet: Uint8Array }[] = [];
  const events: AnEvent[] = [];
  let flushes = 0;
  const router = new ActionRouter({
    signalling: {
      send: (from, to, _port, bytes) => {
        if (o.failSend?.()) throw new Error("send exploded");
        sent.push({ from, to, bytes: bytes.slice() });
        return true;
      },
    },
    datapath: {
      toTunnel: (target, packet) => void tunnel.push({ target, packet: packet.slice() }),
      toMn: () => {},
      bind: () => {},
      unbind: () => {},
      flush: () => void flushes++,
    },
    stations: new ReportingStationControl(() => {}),
    onEvent: (e) => void events.push(e),
    onContextChanged: () => {},
  });
  const engine = new Engine(makeConfig(), { random: seededRandom(1), wallOffsetMs: WALL });
  const driver = new EngineDriver(engine, timers, router, o.onInternalError);
  return { timers, sent, tunnel, events, driver, engine, flushes: () => flushes };
}

describe("EngineDriver", () => {
  it("registers on the first NS, retransmits from the one timer, and releases the held NS on the reply", () => {
    const { timers, sent, tunnel, events, driver, engine, flushes } = setup();
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    driver.feed({ kind: "frame-from-mn", frame: ns });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to).toBe(HA);
    expect(flushes()).toBe(1);
    expect(driver.armedDeadline).toBe(engine.nextDeadline());
    expect(timers.armed?.at).toBe(1000); // initial timeout, jitter 0

    timers.fire(); // no reply: the driver feeds the deadline, the engine retransmits
    expect(sent).toHaveLength(2);
    expect(timers.armed?.at).toBe(3000); // backoff 2 s after the retransmission at 1 s

    timers.t = 3500; // late; the reply to the newest request arrives
    driver.feed({ kind: "signalling", from: HA, fromPort: 434, local: sent[1]!.from, bytes: answer(sent[1]!.bytes, KEY, CODEC) });
    expect(events.some((e) => e.type === "registered")).toBe(true);
    expect(tunnel.map((t) => t.packet)).toEqual([packetOf(ns)]);
    // Bound: the timer now waits for the refresh (80% of 600 s, counted from the
    // request at 1000 as RFC 5944 3.6.2.2 has it), not the retransmission.
    expect(timers.armed?.at).toBe(1000 + 480_000);
    expect(timers.setCount).toBe(3);
  });

  it("does not re-arm an unchanged deadline, and stops cleanly", () => {
    const { timers, driver } = setup();
    driver.feed({ kind: "frame-from-mn", frame: dadNeighborSolicitation(mac("02:11:22:33:44:01")) });
    const count = timers.setCount;
    driver.feed({ kind: "wall-clock", wallMs: WALL + 10 });
    expect(timers.setCount).toBe(count);
    driver.stop();
    expect(timers.armed).toBeUndefined();
    driver.feed({ kind: "deadline" });
    expect(timers.armed).toBeUndefined();
  });

  it("shutdown with deregistration sends one lifetime-0 request per bound MN and leaves no timer", () => {
    const { timers, sent, driver } = setup();
    driver.feed({ kind: "frame-from-mn", frame: dadNeighborSolicitation(mac("02:11:22:33:44:01")) });
    driver.feed({ kind: "signalling", from: HA, fromPort: 434, local: sent[0]!.from, bytes: answer(sent[0]!.bytes, KEY, CODEC) });
    timers.t += 1000; // RFC 5944 3.6.3: 1 s after the registration (issue 9: also at shutdown)
    driver.feed({ kind: "shutdown", deregister: true });
    expect(sent).toHaveLength(2);
    expect(sent[1]!.bytes[3]).toBe(0); // lifetime low byte
    expect((sent[1]!.bytes[2]! << 8) | sent[1]!.bytes[3]!).toBe(0);
    expect(timers.armed).toBeUndefined();
  });

  it("an exception out of engine.handle or an action is caught, counted and reported; the driver keeps serving", () => {
    const reported: string[] = [];
    let explode = false;
    const { timers, sent, driver, engine } = setup({ failSend: () => explode, onInternalError: (where, e) => reported.push(`${where}: ${(e as Error).message}`) });
    const handle = vi.spyOn(engine, "handle").mockImplementationOnce(() => {
      throw new Error("engine bug");
    });
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    expect(() => driver.feed({ kind: "frame-from-mn", frame: ns })).not.toThrow();
    expect(driver.internalErrors).toBe(1);
    expect(reported).toEqual(["handle frame-from-mn: engine bug"]);
    handle.mockRestore();
    // The next input is served as usual.
    driver.feed({ kind: "frame-from-mn", frame: ns });
    expect(sent).toHaveLength(1);
    // A throwing action (the retransmission) is caught too; the timer stays armed for the next one.
    explode = true;
    expect(() => timers.fire()).not.toThrow();
    expect(driver.internalErrors).toBe(2);
    expect(reported[1]).toBe("perform send-signalling: send exploded");
    expect(timers.armed).toBeDefined();
    explode = false;
    timers.fire();
    expect(sent).toHaveLength(2);
  });
});
