// The hostapd control client against a scripted hostapd (replies as recorded from
// hostapd 2.10): attach and resync, identity query on AP-STA-CONNECTED, log-off,
// restarts with capped backoff and jitter, the grace for stations not listed after
// a restart, keepalive, and deauthentication.
import { describe, expect, it } from "vitest";
import type { ControlChannel, ControlStatus, ControlTimers, StationLinkEvent } from "../../../src/io/hostapd-control.ts";
import { HostapdControl } from "../../../src/io/hostapd-control.ts";

const A = "02:00:00:00:00:b1";
const B = "02:00:00:00:00:b2";
const staReply = (mac: string, authorised: boolean, identity?: string): string =>
  `${mac}\nflags=${authorised ? "[AUTHORIZED]" : ""}\naid=0\ndot1xAuthPaeState=5\n${identity !== undefined ? `dot1xAuthSessionUserName=${identity}\n` : ""}last_eap_type_sta=4 (MD5)\n`;

class ManualTimers implements ControlTimers {
  now = 0;
  private next = 1;
  readonly pending = new Map<number, { at: number; fire: () => void }>();
  setTimeout(fire: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, fire });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Advances the clock, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await settle(); // what is already under way (replies a microtask away) comes before any timer
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fire();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A hostapd: a station table, replies as hostapd 2.10 gives them, up or down. */
class ScriptedHostapd {
  up = true;
  stations = new Map<string, { authorised: boolean; identity?: string }>();
  readonly received: string[] = [];
  opens = 0;
  private deliver: ((text: string) => void) | undefined;
  /** Commands answered late (never, if not released). */
  silent = false;

  open = (_path: string, onText: (text: string) => void): ControlChannel => {
    if (!this.up) throw Object.assign(new Error("connect: ENOENT"), { code: "ENOENT" });
    this.opens++;
    this.deliver = onText;
    const generation = this.opens;
    return {
      sendText: (text) => {
        if (!this.up || generation !== this.opens) throw Object.assign(new Error("write: ECONNREFUSED"), { code: "ECONNREFUSED" });
        this.received.push(text);
        if (!this.silent) queueMicrotask(() => onText(this.reply(text)));
        return true;
      },
      close: () => {},
    };
  };

  event(text: string): void {
    this.deliver?.(`<3>${text}`);
  }

  private reply(cmd: string): string {
    const [verb, arg] = cmd.split(" ");
    const macs = [...this.stations.keys()];
    const sta = (mac: string | undefined): string => {
      const s = mac === undefined ? undefined : this.stations.get(mac);
      return s && mac ? staReply(mac, s.authorised, s.identity) : "";
    };
    switch (verb) {
      case "PING":
        return "PONG\n";
      case "ATTACH":
      case "DETACH":
        return "OK\n";
      case "STA":
        return this.stations.has(arg ?? "") ? sta(arg) : "FAIL\n";
      case "STA-FIRST":
        return sta(macs[0]);
      case "STA-NEXT":
        return sta(macs[macs.indexOf(arg ?? "") + 1]);
      case "DEAUTHENTICATE":
        return "OK\n";
      default:
        return "UNKNOWN COMMAND\n";
    }
  }
}

function client(h: ScriptedHostapd, timers: ManualTimers, random = () => 0.5) {
  const stations: StationLinkEvent[] = [];
  const status: ControlStatus[] = [];
  const c = new HostapdControl({
    path: "/run/hostapd/acc0",
    open: h.open,
    onStation: (e) => stations.push(e),
    onStatus: (s) => status.push(s),
    timers,
    random,
    retryInitialMs: 100,
    retryMaxMs: 1000,
    pingIntervalMs: 1000,
    replyTimeoutMs: 500,
    missingGraceMs: 5000,
  });
  return { c, stations, status };
}

describe("HostapdControl", () => {
  it("attaches, then walks the station list: authorised stations reported with their identity", async () => {
    const h = new ScriptedHostapd();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    h.stations.set(B, { authorised: false, identity: "bob@example.net" });
    const t = new ManualTimers();
    const { c, stations, status } = client(h, t);
    c.start();
    await settle();
    expect(h.received.slice(0, 4)).toEqual(["ATTACH", "STA-FIRST", `STA-NEXT ${A}`, `STA-NEXT ${B}`]);
    expect(stations).toEqual([{ type: "authorised", mac: A, identity: "alice@example.net", via: "resync" }]);
    expect(status).toEqual([{ type: "attached", path: "/run/hostapd/acc0", stations: 2, attempt: 0 }]);
    expect(c.attached).toBe(true);
  });

  it("AP-STA-CONNECTED: queries STA for the identity; AP-STA-DISCONNECTED: left", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    h.event(`CTRL-EVENT-EAP-SUCCESS ${A}`);
    h.event(`AP-STA-CONNECTED ${A}`);
    await settle();
    expect(h.received).toContain(`STA ${A}`);
    h.event(`AP-STA-DISCONNECTED ${A}`);
    await t.advance(99);
    expect(stations.filter((s) => s.type === "left")).toEqual([]);
    await t.advance(1);
    expect(stations).toEqual([
      { type: "eap", mac: A, name: "CTRL-EVENT-EAP-SUCCESS" },
      { type: "authorised", mac: A, identity: "alice@example.net", via: "event" },
      { type: "left", mac: A, via: "event" },
    ]);
    expect(c.isAuthorised(A)).toBe(false);
  });

  it("a disconnect that overtakes the identity query is not followed by a stale 'authorised'", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    h.event(`AP-STA-CONNECTED ${A}`);
    h.event(`AP-STA-DISCONNECTED ${A}`); // before the STA reply (a microtask later)
    await t.advance(100);
    expect(stations).toEqual([{ type: "left", mac: A, via: "event" }]);
  });

  it("hostapd shutting down 'disconnects' every station first: those keep service through the restart grace", async () => {
    const h = new ScriptedHostapd();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    stations.length = 0;
    // As hostapd 2.10 does on SIGTERM (recorded in the lab): AP-STA-DISCONNECTED per station, then AP-DISABLED.
    h.event(`AP-STA-DISCONNECTED ${A}`);
    h.event("AP-DISABLED ");
    h.up = false;
    await t.advance(500);
    expect(stations).toEqual([]);
    expect(c.isAuthorised(A)).toBe(true);
    h.up = true;
    h.stations.clear();
    await t.advance(2000);
    expect(c.attached).toBe(true);
    expect(stations).toEqual([]);
    // Not back within the grace: left then.
    await t.advance(5000);
    expect(stations).toEqual([{ type: "left", mac: A, via: "resync" }]);
  });

  it("a station that reconnects while its disconnect settles is reported left first (it may be someone else now)", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations, status } = client(h, t);
    c.start();
    await settle();
    expect(status.at(-1)?.type).toBe("attached");
    h.stations.set(A, { authorised: true, identity: "bob@example.net" });
    h.event(`AP-STA-DISCONNECTED ${A}`);
    h.event(`AP-STA-CONNECTED ${A}`);
    await t.advance(1000);
    expect(stations).toEqual([
      { type: "left", mac: A, via: "event" },
      { type: "authorised", mac: A, identity: "bob@example.net", via: "event" },
    ]);
  });

  it("a station hostapd lists unauthorised is not served", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    h.stations.set(A, { authorised: false, identity: "alice@example.net" });
    h.event(`AP-STA-CONNECTED ${A}`);
    await settle();
    expect(stations).toEqual([]);
  });

  it("no socket yet: retries with capped exponential backoff and jitter, then attaches", async () => {
    const h = new ScriptedHostapd();
    h.up = false;
    const t = new ManualTimers();
    const { c, status } = client(h, t, () => 0.5);
    c.start();
    await t.advance(5000);
    const delays = status.filter((s) => s.type === "detached").map((s) => (s.type === "detached" ? s.retryInMs : 0));
    // backoff 100, 200, 400, 800, 1000 (cap), 1000 ... times (1 - 0.5 * 0.5)
    expect(delays.slice(0, 6)).toEqual([75, 150, 300, 600, 750, 750]);
    expect(status[0]).toMatchObject({ type: "detached", reason: "cannot connect: ENOENT" });
    h.up = true;
    await t.advance(1000);
    expect(c.attached).toBe(true);
    expect(status.at(-1)).toMatchObject({ type: "attached", attempt: delays.length });
  });

  it("jitter spreads the retries of a fleet: different random draws, different delays, never above the cap", async () => {
    const seen = new Set<number>();
    for (const r of [0, 0.3, 0.9]) {
      const h = new ScriptedHostapd();
      h.up = false;
      const t = new ManualTimers();
      const { c, status } = client(h, t, () => r);
      c.start();
      await t.advance(20_000);
      c.stop();
      for (const s of status) if (s.type === "detached") expect(s.retryInMs).toBeLessThanOrEqual(1000);
      const last = status.at(-1);
      if (last?.type === "detached") seen.add(last.retryInMs);
    }
    expect(seen.size).toBe(3);
  });

  it("hostapd restarted: the send fails, the client reattaches and resyncs; stations back in the list stay served", async () => {
    const h = new ScriptedHostapd();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    h.stations.set(B, { authorised: true, identity: "bob@example.net" });
    const t = new ManualTimers();
    const { c, stations, status } = client(h, t);
    c.start();
    await settle();
    stations.length = 0;
    // Restart: the old socket is dead; the new hostapd knows only A so far.
    h.up = false;
    await t.advance(1000); // the keepalive PING fails with ECONNREFUSED
    expect(status.at(-1)).toMatchObject({ type: "detached", reason: "send failed: ECONNREFUSED" });
    h.up = true;
    h.stations.delete(B);
    await t.advance(200);
    expect(c.attached).toBe(true);
    expect(stations).toEqual([{ type: "authorised", mac: A, identity: "alice@example.net", via: "resync" }]);
    // B is not listed: it keeps service through the grace, and is left after it unless it comes back.
    await t.advance(4000);
    expect(c.isAuthorised(B)).toBe(true);
    await t.advance(1500);
    expect(stations.at(-1)).toEqual({ type: "left", mac: B, via: "resync" });
    expect(c.isAuthorised(B)).toBe(false);
  });

  it("a station that re-authenticates within the grace is not left", async () => {
    const h = new ScriptedHostapd();
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    h.event("CTRL-EVENT-TERMINATING ");
    h.stations.clear();
    await t.advance(200);
    expect(c.attached).toBe(true);
    h.stations.set(A, { authorised: true, identity: "alice@example.net" });
    h.event(`AP-STA-CONNECTED ${A}`);
    await t.advance(10_000);
    expect(stations.filter((s) => s.type === "left")).toEqual([]);
    expect(c.isAuthorised(A)).toBe(true);
  });

  it("a hostapd that stops answering is dropped after the reply timeout and reconnected", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, status } = client(h, t);
    c.start();
    await settle();
    h.silent = true;
    await t.advance(1510); // ping at 1000, timeout at 1500, retry at 1575
    expect(status.at(-1)).toMatchObject({ type: "detached", reason: "no reply to PING in 500 ms" });
    h.silent = false;
    await t.advance(200);
    expect(c.attached).toBe(true);
    expect(h.opens).toBe(2);
  });

  it("malformed events are reported and counted, never acted on", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations, status } = client(h, t);
    c.start();
    await settle();
    h.event("AP-STA-CONNECTED 02:00:00:00");
    h.event("AP-STA-DISCONNECTED");
    expect(stations).toEqual([]);
    expect(c.counters.malformed).toBe(2);
    expect(status.filter((s) => s.type === "malformed")).toHaveLength(2);
  });

  it("deauthenticate sends DEAUTHENTICATE and reports hostapd's OK; false when not attached", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c } = client(h, t);
    c.start();
    await settle();
    await expect(c.deauthenticate(A)).resolves.toBe(true);
    expect(h.received).toContain(`DEAUTHENTICATE ${A}`);
    h.up = false;
    await t.advance(1000);
    await expect(c.deauthenticate(A)).resolves.toBe(false);
    expect(c.counters).toMatchObject({ deauthentications: 1, deauthenticationsFailed: 1 });
    c.stop();
  });

  it("stop detaches and no callback comes after it", async () => {
    const h = new ScriptedHostapd();
    const t = new ManualTimers();
    const { c, stations } = client(h, t);
    c.start();
    await settle();
    c.stop();
    expect(h.received.at(-1)).toBe("DETACH");
    h.event(`AP-STA-DISCONNECTED ${A}`);
    await t.advance(10_000);
    expect(stations).toEqual([]);
    expect(t.pending.size).toBe(0);
  });
});
