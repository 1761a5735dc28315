// `an fleet ...`: the operator's tool, on the same topics the ANs use (fleet-topics.ts).
//   an fleet list                         every AN's retained status
//   an fleet push --node ID|--group G --file FILE   publish a desired config (retained), wait for the ack(s)
//   an fleet events [--node ID] [--count N]         follow events (JSON lines)
//   an fleet context MAC                  show an MN's context record (verified when fleet keys are known)
// Broker settings from --config FILE (its fleet section) and/or --broker URL etc.
// Exit codes: 0 done, 1 refused / not found, 2 usage, 3 broker unreachable, 5 no ack in time.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectAsync } from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import type { KeyObject } from "node:crypto";
import { publicKeyFromRaw, verifyContextRecord } from "./context-record.ts";
import { readCredential } from "./fleet-agent.ts";
import type { ConfigAck } from "./fleet-agent.ts";
import { fleetTopics, macLevel } from "./fleet-topics.ts";
import { loadConfigFile } from "./config-file.ts";
import { parseMac } from "../wire/mac.ts";

export const FLEET_EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, timeout: 5 } as const;

export const FLEET_USAGE = `an fleet: the operator's view of the fleet over MQTT

  an fleet list [--wait-ms N]
  an fleet push (--node ID | --group G) --file FILE [--timeout-s N] [--expect N]
  an fleet events [--node ID] [--count N] [--timeout-s N]
  an fleet context MAC [--timeout-s N]

Broker: --config FILE (uses its fleet section: url, prefix, tls, credentials, fleetKeys)
        and/or --broker mqtt[s]://host:port --prefix P --username U --password-file F
        --ca FILE --cert FILE --key FILE
Exit: 0 done, 1 refused or not found, 2 usage, 3 broker unreachable, 5 no answer in time.
`;

type Out = (line: string) => void;

interface Conn {
  readonly url: string;
  readonly prefix: string;
  readonly options: IClientOptions;
  readonly fleetKeys: Map<string, KeyObject>;
}

function connection(v: Record<string, string | boolean | undefined>): Conn | string {
  let url = typeof v.broker === "string" ? v.broker : undefined;
  let prefix = typeof v.prefix === "string" ? v.prefix : undefined;
  const options: IClientOptions = { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, clientId: `an-fleet-${process.pid}-${Date.now() % 100000}` };
  const fleetKeys = new Map<string, KeyObject>();
  if (typeof v.config === "string") {
    const loaded = loadConfigFile(v.config, undefined);
    if (!loaded.ok) return `${v.config}: ${loaded.problems.length} problem(s); first: ${loaded.problems[0]!.path}: ${loaded.problems[0]!.message}`;
    const f = loaded.config.fleet;
    if (!f) return `${v.config} has no fleet section`;
    url ??= f.url;
    prefix ??= f.prefix;
    if (f.username) options.username = f.username;
    try {
      if (f.password) options.password = readCredential(f.password);
      if (f.tls) {
        options.ca = readFileSync(f.tls.ca.slice(5));
        if (f.tls.cert) options.cert = readFileSync(f.tls.cert.slice(5));
        if (f.tls.key) options.key = readFileSync(f.tls.key.slice(5));
        if (f.tls.servername) options.servername = f.tls.servername;
      }
    } catch (e) {
      return `cannot read a credential: ${(e as NodeJS.ErrnoException).code ?? "error"}`;
    }
    for (const [id, hex] of Object.entries(f.fleetKeys)) fleetKeys.set(id, publicKeyFromRaw(Buffer.from(hex.replace(/^hex:/, ""), "hex")));
  }
  if (typeof v.username === "string") options.username = v.username;
  try {
    if (typeof v["password-file"] === "string") options.password = readFileSync(v["password-file"], "utf8").trim();
    if (typeof v.ca === "string") options.ca = readFileSync(v.ca);
    if (typeof v.cert === "string") options.cert = readFileSync(v.cert);
    if (typeof v.key === "string") options.key = readFileSync(v.key);
  } catch (e) {
    return `cannot read a credential: ${(e as NodeJS.ErrnoException).code ?? "error"}`;
  }
  if (!url) return "no broker: give --broker URL or --config FILE";
  return { url, prefix: prefix ?? "netmip/v1", options, fleetKeys };
}

/** Collects messages on `topics` until `done` says so or timeoutMs passes; returns whether done. */
function collect(client: MqttClient, topics: string[], onMessage: (topic: string, text: string) => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const handler = (topic: string, payload: Buffer): void => {
      if (onMessage(topic, payload.toString("utf8"))) finish(true);
    };
    const finish = (v: boolean): void => {
      clearTimeout(timer);
      client.removeListener("message", handler);
      resolve(v);
    };
    client.on("message", handler);
    client.subscribe(topics, { qos: 1 }, (e) => {
      if (e) finish(false);
    });
  });
}

const parseJson = (text: string): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export async function fleetMain(argv: readonly string[], out: Out, err: Out): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string" },
        broker: { type: "string" },
        prefix: { type: "string" },
        username: { type: "string" },
        "password-file": { type: "string" },
        ca: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        node: { type: "string" },
        group: { type: "string" },
        file: { type: "string" },
        count: { type: "string" },
        expect: { type: "string" },
        "timeout-s": { type: "string" },
        "wait-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    err((e as Error).message);
    return FLEET_EXIT.usage;
  }
  const { values: v, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (v.help || command === undefined) {
    out(FLEET_USAGE);
    return v.help ? FLEET_EXIT.ok : FLEET_EXIT.usage;
  }
  const num = (s: string | undefined, d: number): number => (s === undefined ? d : Number(s));
  const timeoutMs = num(v["timeout-s"], 10) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    err("--timeout-s must be a positive number");
    return FLEET_EXIT.usage;
  }
  if (!["list", "push", "events", "context"].includes(command)) {
    err(`unknown fleet command ${command}`);
    out(FLEET_USAGE);
    return FLEET_EXIT.usage;
  }
  const c = connection(v);
  if (typeof c === "string") {
    err(c);
    return FLEET_EXIT.usage;
  }
  let client: MqttClient;
  try {
    client = await connectAsync(c.url, c.options);
  } catch (e) {
    err(`cannot reach the broker ${c.url}: ${(e as Error).message}`);
    return FLEET_EXIT.unreachable;
  }
  try {
    switch (command) {
      case "list":
        return await list(client, c, num(v["wait-ms"], 1000), out);
      case "push":
        return await push(client, c, v, timeoutMs, out, err);
      case "events":
        return await events(client, c, v.node ?? "+", num(v.count, Infinity), v["timeout-s"] === undefined ? Infinity : timeoutMs, out);
      default:
        return await context(client, c, rest[0], timeoutMs, out, err);
    }
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

async function list(client: MqttClient, c: Conn, waitMs: number, out: Out): Promise<number> {
  const rows = new Map<string, Record<string, unknown>>();
  const topic = `${c.prefix}/an/+/status`;
  await collect(
    client,
    [topic],
    (t, text) => {
      const s = parseJson(text);
      if (s) rows.set(t.split("/").at(-2)!, s);
      return false;
    },
    waitMs,
  );
  out(["node", "state", "version", "revision", "sessions", "since"].join("\t"));
  for (const [id, s] of [...rows].sort(([a], [b]) => a.localeCompare(b)))
    out([id, s.state, s.version ?? "-", s.revision ?? "-", s.sessions ?? "-", s.since ?? s.at ?? "-"].map(String).join("\t"));
  return FLEET_EXIT.ok;
}

async function push(client: MqttClient, c: Conn, v: Record<string, string | boolean | undefined>, timeoutMs: number, out: Out, err: Out): Promise<number> {
  const node = typeof v.node === "string" ? v.node : undefined;
  const group = typeof v.group === "string" ? v.group : undefined;
  if ((node === undefined) === (group === undefined) || typeof v.file !== "string") {
    err("usage: an fleet push (--node ID | --group G) --file FILE");
    return FLEET_EXIT.usage;
  }
  let text: string;
  try {
    text = readFileSync(v.file, "utf8");
  } catch (e) {
    err(`cannot read ${v.file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    return FLEET_EXIT.usage;
  }
  const doc = parseJson(text);
  if (!doc || typeof doc.revision !== "number") {
    err(`${v.file}: not a JSON object with a numeric revision`);
    return FLEET_EXIT.usage;
  }
  const revision = doc.revision;
  const target = node !== undefined ? fleetTopics(c.prefix, node).config : fleetTopics(c.prefix, "_").group(group!);
  const expect = Number(typeof v.expect === "string" ? v.expect : 1);
  const acks: ConfigAck[] = [];
  // Subscribe to the acks first, then publish: no ack can slip past.
  const ackTopic = node !== undefined ? fleetTopics(c.prefix, node).ack : `${c.prefix}/an/+/config/ack`;
  const waiting = collect(
    client,
    [ackTopic],
    (_t, t) => {
      const a = parseJson(t) as ConfigAck | undefined;
      if (!a || a.revision !== revision || a.source !== target) return false;
      if (acks.some((x) => x.nodeId === a.nodeId)) return false;
      acks.push(a);
      return acks.length >= expect;
    },
    timeoutMs,
  );
  await new Promise((r) => setTimeout(r, 100));
  await client.publishAsync(target, text, { qos: 1, retain: true });
  const done = await waiting;
  let refused = false;
  for (const a of acks) {
    if (a.ok) out(`${a.nodeId}: revision ${a.revision} applied${a.needsRestart.length > 0 ? ` (after a restart: ${a.needsRestart.join(", ")})` : ""}${a.persisted ? "" : " (not persisted)"}`);
    else {
      refused = true;
      out(`${a.nodeId}: revision ${String(a.revision)} refused, ${a.applied} stays in force:`);
      for (const e of a.errors) out(`  ${e.path}: ${e.message}`);
    }
  }
  if (refused) return FLEET_EXIT.refused;
  if (!done) {
    err(`no ack${acks.length > 0 ? ` from ${expect - acks.length} of ${expect}` : ""} within ${timeoutMs / 1000} s`);
    return FLEET_EXIT.timeout;
  }
  return FLEET_EXIT.ok;
}

async function events(client: MqttClient, c: Conn, node: string, count: number, timeoutMs: number, out: Out): Promise<number> {
  let n = 0;
  await collect(
    client,
    [`${c.prefix}/an/${node}/events`],
    (_t, text) => {
      out(text);
      return ++n >= count;
    },
    Number.isFinite(timeoutMs) ? timeoutMs : 2 ** 31 - 1,
  );
  return n >= count || !Number.isFinite(count) ? FLEET_EXIT.ok : FLEET_EXIT.timeout;
}

async function context(client: MqttClient, c: Conn, mac: string | undefined, timeoutMs: number, out: Out, err: Out): Promise<number> {
  const bytes = mac === undefined ? null : parseMac(mac);
  if (!bytes) {
    err("usage: an fleet context MAC (aa:bb:cc:dd:ee:ff)");
    return FLEET_EXIT.usage;
  }
  const canonical = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
  let record: string | undefined;
  // A retained record arrives at once; none: the wait ends at the timeout (capped at 2 s).
  await collect(
    client,
    [`${c.prefix}/ctx/${macLevel(canonical)}`],
    (_t, text) => {
      record = text;
      return true;
    },
    Math.min(timeoutMs, 2000),
  );
  if (!record) {
    err(`no context record for ${canonical}`);
    return FLEET_EXIT.refused;
  }
  const outer = parseJson(record);
  const body = typeof outer?.body === "string" ? parseJson(outer.body) : undefined;
  if (!body) {
    err(`the record for ${canonical} is malformed`);
    return FLEET_EXIT.refused;
  }
  let verdict = "not verified (no fleetKeys: give --config)";
  if (c.fleetKeys.size > 0) {
    const r = verifyContextRecord(record, { keys: c.fleetKeys, nowWallMs: Date.now(), mac: canonical, lastSeq: () => undefined });
    verdict = r.ok ? "verified" : `REJECTED: ${r.reason} (${r.detail})`;
  }
  out(JSON.stringify({ mac: canonical, signer: body.signer, seq: body.seq, issuedAt: new Date(Number(body.issuedAtMs)).toISOString(), expiresAt: new Date(Number(body.expiresAtMs)).toISOString(), signature: verdict, context: body.context }, null, 2));
  return verdict.startsWith("REJECTED") ? FLEET_EXIT.refused : FLEET_EXIT.ok;
}
