// One MQTT 5 connection to the fleet broker (mqtt.js), shaped for a device that must
// never wait on it: publish() returns at once (sent, queued or dropped), the queue
// for an unreachable broker is capped in bytes (mqtt.js's own offline queue is
// unbounded, so nothing is handed to mqtt.js while disconnected), and reconnects are
// driven here with exponential backoff and jitter (mqtt.js's reconnectPeriod is a
// fixed interval and is set to 0). Every connect re-sends the birth message and
// subscribes afresh (clean start: the broker kept nothing), so retained configs are
// delivered again after each reconnect.
import { connect } from "mqtt";
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient } from "mqtt";

export interface ReconnectPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Each delay is cut by up to this fraction at random (0: none). */
  readonly jitter: number;
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, jittered downwards. */
export function reconnectDelayMs(policy: ReconnectPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.min(attempt, 60));
  return Math.max(1, Math.round(base * (1 - policy.jitter * random())));
}

export interface OutMessage {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** MQTT 5 message expiry (seconds), e.g. a context record's binding lifetime. */
  readonly expiryS?: number | undefined;
  readonly properties?: IClientPublishOptions["properties"];
}

export interface MqttLinkOptions {
  readonly url: string;
  readonly clientId: string;
  readonly keepaliveS: number;
  readonly username?: string | undefined;
  readonly password?: Buffer | undefined;
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer | undefined; readonly key?: Buffer | undefined; readonly servername?: string | undefined } | undefined;
  /** The last will (retained `offline` status). */
  readonly will: OutMessage;
  /** Sent first on every connect (retained `online` status). */
  readonly birth: () => OutMessage;
  readonly subscriptions: readonly string[];
  readonly reconnect: ReconnectPolicy;
  readonly queueBytes: number;
  readonly random?: () => number;
  readonly onMessage: (topic: string, payload: Buffer, packet: IPublishPacket) => void;
  readonly onConnect?: () => void;
  readonly onDisconnect?: (reason: string) => void;
}

export interface MqttLinkStats {
  connected: boolean;
  connects: number;
  disconnects: number;
  connectFailures: number;
  published: number;
  /** Messages waiting for the broker, and their bytes (topic + payload). */
  queued: number;
  queuedBytes: number;
  /** Dropped from the queue (oldest first) to stay within the byte cap. */
  droppedQueueFull: number;
  /** Not queued at all because they are not worth keeping offline (telemetry). */
  droppedOffline: number;
  /** Publishes mqtt.js reported as failed (e.g. in flight when the connection broke). */
  failed: number;
  received: number;
  nextReconnectMs: number | null;
}

const messageBytes = (m: OutMessage): number => Buffer.byteLength(m.topic) + (typeof m.payload === "string" ? Buffer.byteLength(m.payload) : m.payload.length);

export class MqttLink {
  private readonly client: MqttClient;
  private readonly queue: OutMessage[] = [];
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closing = false;
  private readonly random: () => number;
  private readonly counters: MqttLinkStats = {
    connected: false,
    connects: 0,
    disconnects: 0,
    connectFailures: 0,
    published: 0,
    queued: 0,
    queuedBytes: 0,
    droppedQueueFull: 0,
    droppedOffline: 0,
    failed: 0,
    received: 0,
    nextReconnectMs: null,
  };
  private lastError = "";

  constructor(private readonly options: MqttLinkOptions) {
    this.random = options.random ?? Math.random;
    const w = options.will;
    const o: IClientOptions = {
      protocolVersion: 5,
      clientId: options.clientId,
      clean: true,
      keepalive: options.keepaliveS,
      reconnectPeriod: 0, // reconnects are ours (backoff with jitter)
      connectTimeout: 10_000,
      resubscribe: false, // we subscribe on every connect
      queueQoSZero: false,
      will: { topic: w.topic, payload: typeof w.payload === "string" ? Buffer.from(w.payload) : w.payload, qos: w.qos, retain: w.retain },
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.tls
        ? {
            ca: options.tls.ca,
            ...(options.tls.cert ? { cert: options.tls.cert } : {}),
            ...(options.tls.key ? { key: options.tls.key } : {}),
            ...(options.tls.servername ? { servername: options.tls.servername } : {}),
            rejectUnauthorized: true,
          }
        : {}),
    };
    this.client = connect(options.url, o);
    this.client.on("connect", () => this.onConnect());
    this.client.on("close", () => this.onClose());
    // Errors arrive here and are followed by close; keep the last for the disconnect reason (no payloads in it).
    this.client.on("error", (e) => (this.lastError = e.message));
    this.client.on("message", (topic, payload, packet) => {
      this.counters.received++;
      this.options.onMessage(topic, payload, packet);
    });
  }

  /** The connection is TLS (secrets may be carried). */
  get secure(): boolean {
    return this.options.url.startsWith("mqtts:");
  }

  get connected(): boolean {
    return this.client.connected;
  }

  stats(): MqttLinkStats {
    return { ...this.counters, connected: this.client.connected, queued: this.queue.length };
  }

  /**
   * Never waits. Connected: handed to mqtt.js. Otherwise queued when `keepOffline`
   * (oldest dropped beyond the byte cap; an older retained message on the same topic
   * is replaced, as the broker would), else dropped. Returns false when dropped now.
   */
  publish(m: OutMessage, keepOffline = true): boolean {
    if (this.closing) return false;
    if (this.client.connected) {
      this.send(m);
      return true;
    }
    if (!keepOffline) {
      this.counters.droppedOffline++;
      return false;
    }
    const bytes = messageBytes(m);
    if (bytes > this.options.queueBytes) {
      this.counters.droppedQueueFull++;
      return false;
    }
    if (m.retain) {
      const i = this.queue.findIndex((q) => q.retain && q.topic === m.topic);
      if (i >= 0) this.counters.queuedBytes -= messageBytes(this.queue.splice(i, 1)[0]!);
    }
    while (this.counters.queuedBytes + bytes > this.options.queueBytes && this.queue.length > 0) {
      this.counters.queuedBytes -= messageBytes(this.queue.shift()!);
      this.counters.droppedQueueFull++;
    }
    this.queue.push(m);
    this.counters.queuedBytes += bytes;
    return true;
  }

  /** Subscribes now (and on every later connect); `onAck` once the broker acknowledged this subscription. */
  subscribe(topic: string, onAck?: () => void): void {
    if (!(this.options.subscriptions as string[]).includes(topic)) (this.options.subscriptions as string[]).push(topic);
    if (this.client.connected) this.client.subscribe(topic, { qos: 1 }, () => onAck?.());
  }

  unsubscribe(topic: string): void {
    const subs = this.options.subscriptions as string[];
    const i = subs.indexOf(topic);
    if (i >= 0) subs.splice(i, 1);
    if (this.client.connected) this.client.unsubscribe(topic);
  }

  /**
   * Stops: publishes `last` (e.g. the retained offline status) when connected, then
   * disconnects cleanly (no will). Bounded by `timeoutMs`.
   */
  async close(last?: OutMessage, timeoutMs = 2000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const ended = new Promise<void>((resolve) => {
      const t = setTimeout(() => this.client.end(true, {}, () => resolve()), timeoutMs);
      const finish = (): void => {
        this.client.end(false, {}, () => {
          clearTimeout(t);
          resolve();
        });
      };
      if (last && this.client.connected) this.client.publish(last.topic, last.payload, this.publishOptions(last), () => finish());
      else finish();
    });
    await ended;
  }

  private publishOptions(m: OutMessage): IClientPublishOptions {
    const properties = { ...(m.properties ?? {}), ...(m.expiryS !== undefined ? { messageExpiryInterval: m.expiryS } : {}) };
    return { qos: m.qos, retain: m.retain, ...(Object.keys(properties).length > 0 ? { properties } : {}) };
  }

  private send(m: OutMessage): void {
    this.counters.published++;
    this.client.publish(m.topic, m.payload, this.publishOptions(m), (e) => {
      if (e) this.counters.failed++;
    });
  }

  private onConnect(): void {
    // mqtt.js leaves Nagle on: a small SUBSCRIBE after a PUBLISH then waits for the
    // peer's delayed ACK (about 40 ms on Linux), which a context fetch cannot afford.
    (this.client as unknown as { stream?: { setNoDelay?: (on: boolean) => void } }).stream?.setNoDelay?.(true);
    this.attempt = 0;
    this.counters.connects++;
    this.counters.nextReconnectMs = null;
    this.lastError = "";
    // Birth first, so a status reader sees online before anything else from us.
    this.send(this.options.birth());
    for (const t of this.options.subscriptions) this.client.subscribe(t, { qos: 1 });
    while (this.queue.length > 0 && this.client.connected) {
      const m = this.queue.shift()!;
      this.counters.queuedBytes -= messageBytes(m);
      this.send(m);
    }
    this.options.onConnect?.();
  }

  private onClose(): void {
    // `close` follows both a lost connection and a failed attempt.
    const wasUp = this.attempt === 0 && this.counters.connects > this.counters.disconnects;
    if (wasUp) {
      this.counters.disconnects++;
      this.options.onDisconnect?.(this.lastError || "connection closed");
    } else {
      this.counters.connectFailures++;
    }
    if (this.closing) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.timer) return;
    const delay = reconnectDelayMs(this.options.reconnect, this.attempt, this.random);
    this.attempt++;
    this.counters.nextReconnectMs = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closing) this.client.reconnect();
    }, delay);
    this.timer.unref();
  }
}
