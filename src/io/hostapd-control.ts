// A client of hostapd's control interface for one access interface: ATTACH for
// unsolicited events, `STA <mac>` for the EAP identity of a station that was just
// authorised (events do not carry it), DEAUTHENTICATE for a detach, PING as a
// keepalive. hostapd going away (restart, crash, socket not there yet) is routine:
// the client retries with capped exponential backoff and jitter, and on every
// (re)attach walks STA-FIRST / STA-NEXT so that what changed meanwhile is learned.
//
// Replies carry no tag, so exactly one command is in flight; events ("<N>...")
// arrive between replies and are told apart by their prefix (as wpa_ctrl does).
import type { StationInfo } from "../wire/hostapd-control.ts";
import { UnixDatagramSocket } from "./unix-datagram-socket.ts";
import { isControlEvent, isOkReply, isPongReply, parseControlEvent, parseStationReply } from "../wire/hostapd-control.ts";

/** What the client tells its owner about stations. */
export type StationLinkEvent =
  /** The port is open for this station; identity: its EAP identity, if hostapd has one. */
  | { readonly type: "authorised"; readonly mac: string; readonly identity: string | null; readonly via: "event" | "resync" }
  /** Authorisation withdrawn (log-off, deauthentication, failed re-authentication), or not back after a restart. */
  | { readonly type: "left"; readonly mac: string; readonly via: "event" | "resync" }
  /** EAP progress, for logs and the timeline (no action). */
  | { readonly type: "eap"; readonly mac: string; readonly name: string };

export type ControlStatus =
  | { readonly type: "attached"; readonly path: string; readonly stations: number; readonly attempt: number }
  | { readonly type: "detached"; readonly path: string; readonly reason: string; readonly retryInMs: number; readonly attempt: number }
  /** Text hostapd sent that did not parse (counted; the first few logged by the owner). */
  | { readonly type: "malformed"; readonly path: string; readonly what: string; readonly error: string };

/** The socket, as the client needs it (the real one: UnixDatagramSocket; fakes in tests). */
export interface ControlChannel {
  /** Throws when the peer is gone (ECONNREFUSED); false when it would block. */
  sendText(text: string): boolean;
  close(): void;
}

export type OpenChannel = (path: string, onText: (text: string) => void, onError: (error: Error, stopped: boolean) => void) => ControlChannel;

export interface ControlTimers {
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HostapdControlOptions {
  /** hostapd's control socket for this interface: <ctrl_interface>/<ifname>. */
  readonly path: string;
  readonly open: OpenChannel;
  readonly onStation: (event: StationLinkEvent) => void;
  readonly onStatus: (status: ControlStatus) => void;
  readonly timers?: ControlTimers;
  /** [0, 1): jitter source. */
  readonly random?: () => number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** A retry waits between (1 - jitter) and 1 times its backoff. */
  readonly retryJitter?: number;
  readonly pingIntervalMs?: number;
  /** No reply this long: hostapd is taken as gone (reconnect). */
  readonly replyTimeoutMs?: number;
  /**
   * After a reattach, a station we knew that hostapd no longer lists as authorised
   * keeps its service this long before it is reported left: a restarted hostapd on
   * Wi-Fi sees its stations associate again within seconds; with driver=wired it
   * sees a station again at its next EAPOL frame.
   */
  readonly missingGraceMs?: number;
  /**
   * An AP-STA-DISCONNECTED is acted on this long after it arrived, unless hostapd
   * says it is terminating (CTRL-EVENT-TERMINATING, AP-DISABLED) meanwhile: hostapd
   * stopping "disconnects" every station just before it says so, and those stations
   * then get the restart grace (missingGraceMs) instead of losing their sessions.
   * 0: at once.
   */
  readonly leaveSettleMs?: number;
  /** Stations walked by one resync at most (a bound on a misbehaving peer). */
  readonly maxStations?: number;
}

export interface HostapdControlCounters {
  attaches: number;
  detaches: number;
  events: number;
  malformed: number;
  strayReplies: number;
  identityQueries: number;
  deauthentications: number;
  deauthenticationsFailed: number;
}

interface Pending {
  readonly command: string;
  readonly done: (reply: string | undefined) => void;
}

const realTimers: ControlTimers = {
  setTimeout: (fire, ms) => {
    const t = setTimeout(fire, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class HostapdControl {
  readonly counters: HostapdControlCounters = { attaches: 0, detaches: 0, events: 0, malformed: 0, strayReplies: 0, identityQueries: 0, deauthentications: 0, deauthenticationsFailed: 0 };
  private channel: ControlChannel | undefined;
  private attachedNow = false;
  private stopped = false;
  private attempt = 0;
  private readonly queue: Pending[] = [];
  private inFlight: Pending | undefined;
  private replyTimer: unknown;
  private retryTimer: unknown;
  private pingTimer: unknown;
  private graceTimer: unknown;
  /** Each channel gets a generation: callbacks of a closed one are ignored. */
  private generation = 0;
  /** Stations reported authorised (and not left since), with their identity. */
  private readonly authorised = new Map<string, string | null>();
  /** Per station, a count of its connect/disconnect events: a late STA reply for an older one is dropped. */
  private readonly eventSeq = new Map<string, number>();
  /** Known stations hostapd did not list after a reattach, waiting out the grace. */
  private readonly missing = new Set<string>();
  /** Disconnects waiting out leaveSettleMs. */
  private readonly leaving = new Map<string, unknown>();
  private readonly timers: ControlTimers;
  private readonly random: () => number;
  private readonly o: Required<Omit<HostapdControlOptions, "timers" | "random">>;

  constructor(options: HostapdControlOptions) {
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.o = {
      path: options.path,
      open: options.open,
      onStation: options.onStation,
      onStatus: options.onStatus,
      retryInitialMs: options.retryInitialMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 10_000,
      retryJitter: options.retryJitter ?? 0.5,
      pingIntervalMs: options.pingIntervalMs ?? 5000,
      replyTimeoutMs: options.replyTimeoutMs ?? 3000,
      missingGraceMs: options.missingGraceMs ?? 30_000,
      leaveSettleMs: options.leaveSettleMs ?? 100,
      maxStations: options.maxStations ?? 100_000,
    };
  }

  get path(): string {
    return this.o.path;
  }

  get attached(): boolean {
    return this.attachedNow;
  }

  /** Is this station authorised as far as the client knows (for telemetry and tests)? */
  isAuthorised(mac: string): boolean {
    return this.authorised.has(mac);
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Detaches (best effort) and closes; no more callbacks. */
  stop(): void {
    this.stopped = true;
    for (const t of [this.retryTimer, this.pingTimer, this.graceTimer, this.replyTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    this.cancelLeaving();
    this.retryTimer = this.pingTimer = this.graceTimer = this.replyTimer = undefined;
    if (this.channel && this.attachedNow) {
      try {
        this.channel.sendText("DETACH");
      } catch {
        // hostapd already gone: nothing to detach from
      }
    }
    this.drop();
  }

  /** DEAUTHENTICATE the station: true when hostapd said OK. */
  async deauthenticate(mac: string): Promise<boolean> {
    const reply = this.attachedNow ? await this.request(`DEAUTHENTICATE ${mac}`) : undefined;
    const ok = reply !== undefined && isOkReply(reply);
    if (ok) this.counters.deauthentications++;
    else this.counters.deauthenticationsFailed++;
    return ok;
  }

  // ---- connection ---------------------------------------------------------------

  private connect(): void {
    this.retryTimer = undefined;
    if (this.stopped) return;
    const generation = ++this.generation;
    try {
      this.channel = this.o.open(
        this.o.path,
        (text) => {
          if (generation === this.generation) this.onText(text);
        },
        (error, stopped) => {
          if (generation === this.generation && stopped) this.lost(`receive failed: ${errorCode(error)}`);
        },
      );
    } catch (e) {
      this.channel = undefined;
      this.scheduleRetry(`cannot connect: ${errorCode(e)}`);
      return;
    }
    void this.attach(generation);
  }

  private async attach(generation: number): Promise<void> {
    const reply = await this.request("ATTACH");
    if (generation !== this.generation) return;
    if (reply === undefined) return; // lost() already scheduled the retry
    if (!isOkReply(reply)) return this.lost(`ATTACH refused: ${reply.trim().slice(0, 40)}`);
    this.attachedNow = true;
    this.counters.attaches++;
    const attempt = this.attempt;
    this.attempt = 0;
    const listed = await this.resync(generation);
    if (generation !== this.generation || listed === undefined) return;
    this.o.onStatus({ type: "attached", path: this.o.path, stations: listed, attempt });
    this.armPing(generation);
  }

  /** The connection is gone or useless: close it, forget in-flight commands, retry. */
  private lost(reason: string): void {
    if (this.stopped) return;
    // Disconnects just before hostapd went away were its shutdown's: the stations stay
    // known, and the resync after the reattach gives them the grace.
    this.cancelLeaving();
    const wasAttached = this.attachedNow;
    this.drop();
    if (wasAttached) this.counters.detaches++;
    this.scheduleRetry(reason);
  }

  private drop(): void {
    this.generation++;
    this.attachedNow = false;
    if (this.pingTimer !== undefined) this.timers.clearTimeout(this.pingTimer);
    if (this.replyTimer !== undefined) this.timers.clearTimeout(this.replyTimer);
    this.pingTimer = this.replyTimer = undefined;
    const channel = this.channel;
    this.channel = undefined;
    try {
      channel?.close();
    } catch {
      // closing a dead socket: nothing to do
    }
    const pending = [...(this.inFlight ? [this.inFlight] : []), ...this.queue.splice(0)];
    this.inFlight = undefined;
    for (const p of pending) p.done(undefined);
  }

  private scheduleRetry(reason: string): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const backoff = Math.min(this.o.retryMaxMs, this.o.retryInitialMs * 2 ** Math.min(this.attempt, 30));
    const delay = Math.max(1, Math.round(backoff * (1 - this.o.retryJitter * this.random())));
    this.attempt++;
    this.o.onStatus({ type: "detached", path: this.o.path, reason, retryInMs: delay, attempt: this.attempt });
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  private armPing(generation: number): void {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = undefined;
      if (generation !== this.generation) return;
      void this.request("PING").then((reply) => {
        if (generation !== this.generation || reply === undefined) return;
        if (!isPongReply(reply)) return this.lost("PING not answered with PONG");
        this.armPing(generation);
      });
    }, this.o.pingIntervalMs);
  }

  // ---- commands -------------------------------------------------------------------

  /** Queues a command; resolves with its reply, or undefined when the connection went first. */
  private request(command: string): Promise<string | undefined> {
    if (!this.channel) return Promise.resolve(undefined);
    return new Promise((done) => {
      this.queue.push({ command, done });
      if (!this.inFlight) this.sendNext();
    });
  }

  private sendNext(): void {
    const next = this.queue.shift();
    if (!next || !this.channel) return;
    this.inFlight = next;
    try {
      // false (buffer full) is as good as lost: the reply timeout handles it.
      this.channel.sendText(next.command);
    } catch (e) {
      // ECONNREFUSED: hostapd's socket is gone (it restarted or stopped).
      return this.lost(`send failed: ${errorCode(e)}`);
    }
    this.replyTimer = this.timers.setTimeout(() => {
      this.replyTimer = undefined;
      this.lost(`no reply to ${next.command.split(" ")[0]} in ${this.o.replyTimeoutMs} ms`);
    }, this.o.replyTimeoutMs);
  }

  private onText(text: string): void {
    if (isControlEvent(text)) return this.onEvent(text);
    const p = this.inFlight;
    if (!p) {
      this.counters.strayReplies++;
      return;
    }
    this.inFlight = undefined;
    if (this.replyTimer !== undefined) this.timers.clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
    p.done(text);
    if (!this.inFlight) this.sendNext();
  }

  // ---- events and stations -----------------------------------------------------------

  private onEvent(text: string): void {
    this.counters.events++;
    const p = parseControlEvent(text);
    if (!p.ok) {
      this.counters.malformed++;
      this.o.onStatus({ type: "malformed", path: this.o.path, what: "event", error: `${p.error.kind}: ${p.error.detail}` });
      return;
    }
    const e = p.value;
    if (e.kind === "terminating") return this.lost(`hostapd sent ${e.name}`);
    if (e.kind !== "station") return;
    switch (e.name) {
      case "AP-STA-CONNECTED":
        // A disconnect still settling is real: the station came back, possibly as someone else.
        if (this.leaving.has(e.mac)) this.leave(e.mac);
        void this.onConnected(e.mac, this.bump(e.mac));
        return;
      case "AP-STA-DISCONNECTED": {
        this.bump(e.mac);
        if (this.o.leaveSettleMs <= 0) return this.leave(e.mac);
        if (this.leaving.has(e.mac)) return;
        this.leaving.set(e.mac, this.timers.setTimeout(() => this.leave(e.mac), this.o.leaveSettleMs));
        return;
      }
      default:
        this.o.onStation({ type: "eap", mac: e.mac, name: e.name });
    }
  }

  private leave(mac: string): void {
    const timer = this.leaving.get(mac);
    if (timer !== undefined) this.timers.clearTimeout(timer);
    this.leaving.delete(mac);
    this.missing.delete(mac);
    this.authorised.delete(mac);
    this.o.onStation({ type: "left", mac, via: "event" });
  }

  private cancelLeaving(): void {
    for (const timer of this.leaving.values()) this.timers.clearTimeout(timer);
    this.leaving.clear();
  }

  private bump(mac: string): number {
    const n = (this.eventSeq.get(mac) ?? 0) + 1;
    // Kept only while a query may be in flight: bounded by the stations being queried.
    this.eventSeq.set(mac, n);
    return n;
  }

  private async onConnected(mac: string, seq: number): Promise<void> {
    this.counters.identityQueries++;
    const reply = await this.request(`STA ${mac}`);
    const current = this.eventSeq.get(mac) === seq;
    if (current) this.eventSeq.delete(mac);
    // A disconnect overtook the query, or the connection went: the resync covers it.
    if (!current || reply === undefined) return;
    const p = parseStationReply(reply);
    if (!p.ok) {
      this.counters.malformed++;
      this.o.onStatus({ type: "malformed", path: this.o.path, what: "STA reply", error: `${p.error.kind}: ${p.error.detail}` });
      return;
    }
    // Gone again, or not (yet) authorised after all: the next event says what it is.
    if (p.value.kind !== "station" || p.value.station.mac !== mac || !p.value.station.authorized) return;
    this.report(p.value.station, "event");
  }

  private report(station: StationInfo, via: "event" | "resync"): void {
    this.missing.delete(station.mac);
    this.authorised.set(station.mac, station.identity);
    this.o.onStation({ type: "authorised", mac: station.mac, identity: station.identity, via });
  }

  /** Walks hostapd's station list; resolves with the number listed, undefined if the connection went. */
  private async resync(generation: number): Promise<number | undefined> {
    const listed = new Set<string>();
    /** Listed and authorised: a known station listed unauthorised (re-authenticating) waits out the grace too. */
    const seen = new Set<string>();
    let reply = await this.request("STA-FIRST");
    for (let n = 0; n < this.o.maxStations; n++) {
      if (generation !== this.generation || reply === undefined) return undefined;
      const p = parseStationReply(reply);
      if (!p.ok) {
        this.counters.malformed++;
        this.o.onStatus({ type: "malformed", path: this.o.path, what: "station list", error: `${p.error.kind}: ${p.error.detail}` });
        break;
      }
      if (p.value.kind !== "station") break;
      const s = p.value.station;
      if (listed.has(s.mac)) break; // a list that loops
      listed.add(s.mac);
      if (s.authorized) {
        seen.add(s.mac);
        this.report(s, "resync");
      }
      reply = await this.request(`STA-NEXT ${s.mac}`);
    }
    let waiting = false;
    for (const mac of this.authorised.keys()) {
      if (seen.has(mac)) continue;
      this.missing.add(mac);
      waiting = true;
    }
    if (waiting && this.graceTimer === undefined) {
      this.graceTimer = this.timers.setTimeout(() => this.graceOver(), this.o.missingGraceMs);
    }
    return listed.size;
  }

  private graceOver(): void {
    this.graceTimer = undefined;
    if (this.stopped) return;
    for (const mac of [...this.missing]) {
      this.missing.delete(mac);
      this.authorised.delete(mac);
      this.o.onStation({ type: "left", mac, via: "resync" });
    }
  }
}

function errorCode(e: unknown): string {
  if (typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string") return (e as { code: string }).code;
  return e instanceof Error ? e.message.slice(0, 80) : String(e).slice(0, 80);
}

/** The real channel: a unix datagram socket to hostapd's control path. */
export const openUnixChannel: OpenChannel = (path, onText, onError) => {
  const socket = UnixDatagramSocket.connect(path);
  try {
    socket.onText(onText, onError);
  } catch (e) {
    socket.close();
    throw e;
  }
  // The daemon's lifetime is the access socket's: this one must not hold the process.
  socket.unref();
  return socket;
};
