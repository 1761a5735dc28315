// An independent MQTT 5 client for the fleet tests (the operator's side): records
// every message on its subscriptions and waits, bounded, for one that matches.
import { connectAsync } from "mqtt";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";

export interface Seen {
  readonly topic: string;
  readonly text: string;
  readonly retain: boolean;
  readonly packet: IPublishPacket;
}

export class Watcher {
  readonly seen: Seen[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.seen.push({ topic, text: payload.toString("utf8"), retain: packet.retain, packet });
      for (const w of [...this.waiters]) w();
    });
  }

  static async connect(url: string, topics: readonly string[], options: IClientOptions = {}): Promise<Watcher> {
    const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 5000, ...options });
    // As the AN's link does: no Nagle (see src/io/mqtt-link.ts).
    (client as unknown as { stream?: { setNoDelay?: (on: boolean) => void } }).stream?.setNoDelay?.(true);
    const w = new Watcher(client);
    if (topics.length > 0) await client.subscribeAsync([...topics], { qos: 1 });
    return w;
  }

  /** The first message (already seen or arriving within timeoutMs) on `topic` whose JSON matches. */
  async next<T = Record<string, unknown>>(topic: string, match: (v: T) => boolean = () => true, timeoutMs = 10_000, from = 0): Promise<T> {
    const find = (): T | undefined => {
      for (const s of this.seen.slice(from)) {
        if (s.topic !== topic || s.text === "") continue;
        try {
          const v = JSON.parse(s.text) as T;
          if (match(v)) return v;
        } catch {
          // not JSON: not a match
        }
      }
      return undefined;
    };
    const hit = find();
    if (hit !== undefined) return hit;
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = find();
        if (v === undefined) return;
        clearTimeout(t);
        this.waiters.delete(check);
        resolve(v);
      };
      const t = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching message on ${topic} within ${timeoutMs} ms; saw ${this.seen.filter((s) => s.topic === topic).map((s) => s.text.slice(0, 200)).join(" | ") || "nothing"}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async publish(topic: string, payload: string, retain = true, properties?: IPublishPacket["properties"]): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain, ...(properties ? { properties } : {}) });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Polls `cond` every 20 ms until true or timeoutMs (then throws with `what`). */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
