// The AN's side of the fleet: one MQTT link (src/io/mqtt-link.ts) carrying the
// retained status (birth; `offline` as the will), remote configuration with its
// retained ack, periodic telemetry, rate-limited events, and the signed context
// records of the sessions this AN serves. Nothing here is awaited by the data plane:
// publishes return at once, config application goes through the daemon's reload
// path (the same one SIGHUP uses).
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import type { IPublishPacket } from "mqtt";
import type { CareOf } from "../core/care-of.ts";
import type { SessionContext } from "../core/context.ts";
import type { AnEvent } from "../core/events.ts";
import type { MqttLinkStats, OutMessage } from "../io/mqtt-link.ts";
import { MqttLink } from "../io/mqtt-link.ts";
import type { BoardProfile } from "./board.ts";
import type { LoadedConfig } from "./config-file.ts";
import type { AnConfig, ConfigProblem } from "./config-schema.ts";
import type { RecordRejection } from "./context-record.ts";
import { encodeContextRecord, privateKeyFromSeed, publicKeyFromRaw, SequenceWindow, verifyContextRecord } from "./context-record.ts";
import type { FleetTopics } from "./fleet-topics.ts";
import { fleetTopics } from "./fleet-topics.ts";
import { OncePerCause } from "./log-once.ts";
import type { Logger } from "./logger.ts";
import type { AnswerRejection, ReleaseRefusal } from "./release-rpc.ts";
import { encodeReleaseAnswer, encodeReleaseRequest, RELEASE_RETRY_WINDOW_MS, RELEASE_RPC_ATTEMPTS, RELEASE_RPC_TIMEOUT_MS, verifyReleaseAnswer, verifyReleaseRequest } from "./release-rpc.ts";
import { remoteCandidate, saveConfigStore } from "./remote-config.ts";
import { TokenBucket } from "./token-bucket.ts";
import { VERSION } from "./version.ts";
import { formatIpv4 } from "../wire/ipv4-address.ts";

export type FleetConfig = NonNullable<AnConfig["fleet"]>;

export type ApplyOutcome = { readonly ok: true; readonly needsRestart: readonly string[] } | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** What the agent needs of the daemon (tests: a small host over a real broker). */
export interface FleetHost {
  readonly log: Logger;
  readonly board?: BoardProfile | undefined;
  /** The config in force. */
  config(): AnConfig;
  /** Validates and applies a candidate live (the SIGHUP path); the last good config stays on error. */
  apply(candidate: LoadedConfig): Promise<ApplyOutcome>;
  /** The daemon's counters (as SIGUSR2 logs them). */
  telemetry(): Record<string, unknown>;
  sessions(): number;
  /** A session's context, for its record. */
  exportContext?(mac: string): SessionContext | undefined;
  /**
   * Another AN took this MN over (a verified, signed request): let it go without
   * deregistering and forward its downlink to `forwardTo` (the new AN's CoA) for a
   * while (true if there was a session, or a revoked one lingering).
   */
  release?(mac: string, forwardTo: number, from?: CareOf): boolean;
  wallMs(): number;
}

export interface FleetStats {
  link: MqttLinkStats;
  configsApplied: number;
  configsRejected: number;
  configsIgnored: number;
  eventsPublished: number;
  eventsDropped: number;
  telemetryPublished: number;
  recordsPublished: number;
  recordsAccepted: number;
  recordsRejected: Record<RecordRejection, number>;
  releasesRequested: number;
  /** Issue 10: requests sent again (no answer in time, or the broker was down when the release was due). */
  releasesRetried: number;
  /** ...and releases given up without an answer (attempts or the retry window spent, or superseded). */
  releasesUnanswered: number;
  /** Answers that came after their request had given up (or for one we never sent): dropped, not a refusal. */
  releaseAnswersLate: number;
  releasesServed: number;
  /** Issue 10: signed release requests refused, by reason (not answered). */
  releasesRefused: Record<ReleaseRefusal, number>;
  /** Issue 10: answers to our requests that did not verify (ignored: the request waits on). */
  releaseAnswersRejected: Record<AnswerRejection, number>;
  lastAppliedRevision: number;
}

/** A verified record: the context and the AN that wrote it (whom to ask for the release). */
export interface FetchedContext {
  readonly context: SessionContext;
  readonly signer: string;
  /** The signer's wall clock when it wrote the record (its bind or refresh of the MN). */
  readonly issuedAtMs: number;
}

/** The ack retained on <p>/an/<id>/config/ack. Never holds config values, only paths and messages. */
export interface ConfigAck {
  readonly nodeId: string;
  readonly ok: boolean;
  /** The revision this ack answers (null: the document had none). */
  readonly revision: number | null;
  /** The revision in force after it. */
  readonly applied: number;
  readonly source: string;
  readonly errors: readonly ConfigProblem[];
  readonly needsRestart: readonly string[];
  readonly persisted: boolean;
  readonly at: string;
}

/** Reads a credential: "hex:<bytes>" or "file:/path" (contents trimmed). */
export function readCredential(spec: string): Buffer {
  if (spec.startsWith("hex:")) return Buffer.from(spec.slice(4), "hex");
  return Buffer.from(readFileSync(spec.slice(5), "utf8").trim(), "utf8");
}

const pem = (spec: string): Buffer => readFileSync(spec.slice(5));

/** After the SUBACK of a record fetch: how long a retained record may still take to arrive. */
const NO_RECORD_GRACE_MS = 100;

/** The requests of one release (fleet-agent.ts requestRelease): any one's answer is the release's. */
interface ReleaseAttempts {
  /** Correlation ids sent, each still answerable until the release ends. */
  readonly ids: string[];
  /** The first verified answer to any of them. */
  answer: boolean | undefined;
  /** Ends the wait of the attempt in progress, if one is. */
  settle: ((released: boolean | undefined) => void) | undefined;
}

export class FleetAgent {
  readonly topics: FleetTopics;
  private readonly link: MqttLink;
  private readonly since = new Date().toISOString();
  private telemetryTimer: ReturnType<typeof setInterval> | undefined;
  private telemetryIntervalS = -1;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private configChain: Promise<void> = Promise.resolve();
  private readonly bucket: TokenBucket;
  /** Signature checks of release requests from other ANs (attacker-reachable): fleet.rpcVerifyPerSecond. */
  private readonly verifyBucket: TokenBucket;
  /**
   * ...and of answers to our own requests, a bucket of their own (same rate): anyone who
   * may write our rpc topic can spend the request bucket with forged requests that pass
   * the cheap checks, and a shared one then refused the genuine answer (rate-limited)
   * and our release went unanswered. Answers reach the check only with a pending
   * correlation id, the old AN's signer, the MAC and the seq we sent.
   */
  private readonly answerVerifyBucket: TokenBucket;
  /** Refused rpc messages and rejected records are attacker-controlled: logged once per reason per log.oncePerCauseS (counters count all). */
  private readonly refusalLog: OncePerCause;
  private summaryTimer: ReturnType<typeof setInterval> | undefined;
  private readonly signingKey: KeyObject | undefined;
  private readonly fleetKeys = new Map<string, KeyObject>();
  private readonly window = new SequenceWindow();
  /** Release requests accepted per signer and MAC (replay); requests expire after RELEASE_TTL_MS anyway. */
  private readonly releaseWindow = new SequenceWindow(4096);
  private seq = 0;
  private readonly fetches = new Map<string, (payload: Buffer | undefined) => void>();
  private stopped = false;
  private readonly counters = {
    configsApplied: 0,
    configsRejected: 0,
    configsIgnored: 0,
    eventsPublished: 0,
    eventsDropped: 0,
    telemetryPublished: 0,
    recordsPublished: 0,
    recordsAccepted: 0,
    recordsRejected: { malformed: 0, "unknown-signer": 0, forged: 0, "wrong-mac": 0, expired: 0, replayed: 0 } as Record<RecordRejection, number>,
    releasesRequested: 0,
    releasesRetried: 0,
    releasesUnanswered: 0,
    releaseAnswersLate: 0,
    releasesServed: 0,
  };
  private readonly releasesRefused: Record<ReleaseRefusal, number> = { malformed: 0, "unknown-signer": 0, forged: 0, "wrong-signer": 0, expired: 0, replayed: 0, "wrong-response-topic": 0, misdirected: 0, "bad-target": 0, "rate-limited": 0 };
  private readonly releaseAnswersRejected: Record<AnswerRejection, number> = { malformed: 0, "unknown-signer": 0, forged: 0, "wrong-signer": 0, expired: 0, mismatch: 0, "rate-limited": 0 };
  /** Our release requests waiting for their answer, by correlation id: the raw answer goes to the check. */
  private readonly pendingRpc = new Map<string, (answer: Buffer | undefined) => void>();
  /**
   * Correlation ids of our requests that gave up (bounded, oldest out): an answer with
   * one of them is late, not a request to us (it would be refused as malformed and
   * logged at warn as a refused request).
   */
  private readonly gaveUpRpc = new Set<string>();
  private rpcId = 0;
  /** The newest release asked per MAC: an older one still retrying stops (the MN moved again). */
  private readonly releaseFor = new Map<string, number>();
  private releaseToken = 0;
  /**
   * Who we released a MAC to, and when (wallMs), bounded: an MN back here before that
   * AN bound it (A -> B -> A in well under a second) finds OUR record still on the
   * broker (B writes its record at its bind), and the release must go to B, not to us.
   */
  private readonly releasedTo = new Map<string, { readonly to: string; readonly at: number; readonly target: number }>();
  /** Called at the next broker connect (or at stop): releases waiting for the broker. */
  private connectWaiters: (() => void)[] = [];

  /** Starts the agent, or returns why it cannot (unreadable credentials): the daemon serves on without it. */
  static start(host: FleetHost, random: () => number = Math.random): FleetAgent | { error: string } {
    const c = host.config();
    if (!c.fleet) return { error: "no fleet section" };
    try {
      return new FleetAgent(host, c.fleet, random);
    } catch (e) {
      // The message names the file problem, never its content.
      return { error: (e as NodeJS.ErrnoException).code ? `cannot read a fleet credential: ${(e as NodeJS.ErrnoException).code}` : (e as Error).message };
    }
  }

  private constructor(
    private readonly host: FleetHost,
    private readonly fleet: FleetConfig,
    random: () => number,
  ) {
    const c = host.config();
    this.topics = fleetTopics(fleet.prefix, c.nodeId);
    this.bucket = new TokenBucket(fleet.eventsPerSecond, fleet.eventsPerSecond * 4);
    this.verifyBucket = new TokenBucket(fleet.rpcVerifyPerSecond, fleet.rpcVerifyPerSecond * 4);
    this.answerVerifyBucket = new TokenBucket(fleet.rpcVerifyPerSecond, fleet.rpcVerifyPerSecond * 4);
    this.refusalLog = new OncePerCause(c.log.oncePerCauseS * 1000, () => performance.now());
    if (fleet.contextKey) {
      const seed = fleet.contextKey.startsWith("hex:") ? Buffer.from(fleet.contextKey.slice(4), "hex") : Buffer.from(readFileSync(fleet.contextKey.slice(5), "utf8").trim(), "hex");
      this.signingKey = privateKeyFromSeed(seed);
    }
    for (const [id, hex] of Object.entries(fleet.fleetKeys)) this.fleetKeys.set(id, publicKeyFromRaw(Buffer.from(hex.replace(/^hex:/, ""), "hex")));
    // Wall-clock based, so a restarted AN's records still outrank the ones it wrote before.
    this.seq = host.wallMs();
    const tls = fleet.tls;
    this.link = new MqttLink({
      url: fleet.url,
      clientId: fleet.clientId ?? c.nodeId,
      keepaliveS: fleet.keepaliveS,
      username: fleet.username,
      password: fleet.password !== undefined ? readCredential(fleet.password) : undefined,
      tls: tls ? { ca: pem(tls.ca), cert: tls.cert ? pem(tls.cert) : undefined, key: tls.key ? pem(tls.key) : undefined, servername: tls.servername } : undefined,
      will: { topic: this.topics.status, payload: JSON.stringify({ nodeId: c.nodeId, state: "offline", cause: "connection lost" }), qos: 1, retain: true },
      birth: () => this.birth(),
      subscriptions: [this.topics.config, ...fleet.groups.map((g) => this.topics.group(g)), this.topics.rpc],
      reconnect: fleet.reconnect,
      queueBytes: fleet.queueBytes,
      random,
      onMessage: (topic, payload, packet) => this.onMessage(topic, payload, packet),
      onConnect: () => {
        host.log.info({ broker: fleet.url, prefix: fleet.prefix }, "fleet broker connected");
        this.wakeConnectWaiters();
      },
      onDisconnect: (reason) => host.log.warn({ broker: fleet.url, reason }, "fleet broker connection lost: reconnecting with backoff"),
    });
    this.armTelemetry();
    // A flood that stops still gets its summary line (suppressed counts) within about a window.
    this.summaryTimer = setInterval(() => this.logSummaries(), 1000);
    this.summaryTimer.unref();
  }

  /** A refusal: counted by the caller; logged at warn once per `message` and reason per window. */
  private logRefusal(message: string, reason: string, fields: Record<string, unknown>): void {
    const a = this.refusalLog.admit(`${message}: ${reason}`);
    if (a) this.host.log.warn({ reason, ...fields, total: a.total, suppressedSinceLast: a.suppressed }, message);
  }

  private logSummaries(): void {
    for (const s of this.refusalLog.summaries()) {
      const colon = s.cause.lastIndexOf(": ");
      this.host.log.warn({ reason: s.cause.slice(colon + 2), total: s.total, suppressedSinceLast: s.suppressed, summary: true }, s.cause.slice(0, colon));
    }
  }

  private readonly admitVerification = (): boolean => this.verifyBucket.take(performance.now());
  private readonly admitAnswerVerification = (): boolean => this.answerVerifyBucket.take(performance.now());

  get secure(): boolean {
    return this.link.secure;
  }

  get connected(): boolean {
    return this.link.connected;
  }

  stats(): FleetStats {
    return {
      link: this.link.stats(),
      ...this.counters,
      recordsRejected: { ...this.counters.recordsRejected },
      releasesRefused: { ...this.releasesRefused },
      releaseAnswersRejected: { ...this.releaseAnswersRejected },
      lastAppliedRevision: this.host.config().revision,
    };
  }

  private birth(): OutMessage {
    const c = this.host.config();
    const payload = { nodeId: c.nodeId, state: "online", version: VERSION, revision: c.revision, since: this.since, sessions: this.host.sessions(), tls: this.secure };
    return { topic: this.topics.status, payload: JSON.stringify(payload), qos: 1, retain: true };
  }

  // ---- remote configuration ---------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.stopped) return;
    const fetch = this.fetches.get(topic);
    if (fetch) return fetch(payload);
    if (topic === this.topics.rpc) return this.onRpc(payload, packet);
    if (topic === this.topics.config || this.fleet.groups.some((g) => this.topics.group(g) === topic)) {
      // One at a time: an apply binds sockets (async); a second config waits for it.
      this.configChain = this.configChain.then(() => this.onConfig(topic, payload, packet.retain)).catch((e: unknown) => this.host.log.error({ err: (e as Error).message }, "remote config failed"));
    }
  }

  /** Resolves when every config received so far has been handled (tests, stop). */
  settled(): Promise<void> {
    return this.configChain;
  }

  private async onConfig(topic: string, payload: Buffer, replayed: boolean): Promise<void> {
    // An empty retained message clears the topic: nothing to apply.
    if (payload.length === 0) return;
    const log = this.host.log;
    const current = this.host.config();
    const c = remoteCandidate(payload, { local: current, board: this.host.board, secure: this.secure });
    if (c.revision !== null && c.revision <= current.revision) {
      // A replay of a retained config (every reconnect delivers it again) that is already in force or superseded: nothing to say.
      if (replayed) {
        this.counters.configsIgnored++;
        return;
      }
      if (c.revision === current.revision) return this.ack({ ok: true, revision: c.revision, source: topic, errors: [], needsRestart: [], persisted: true });
      this.counters.configsRejected++;
      log.warn({ source: topic, revision: c.revision, applied: current.revision }, "remote config refused: stale revision");
      this.event({ type: "config-rejected", revision: c.revision, reason: "stale" });
      return this.ack({ ok: false, revision: c.revision, source: topic, errors: [{ path: "revision", message: `stale: ${c.revision} is not above the applied ${current.revision}` }], needsRestart: [], persisted: false });
    }
    const refuse = (errors: readonly ConfigProblem[]): void => {
      this.counters.configsRejected++;
      for (const p of errors) log.error({ source: topic, problem: `${p.path}: ${p.message}` }, "remote config problem");
      log.error({ source: topic, revision: c.revision, problems: errors.length, keptRevision: this.host.config().revision }, "remote config refused: keeping the last good config");
      this.event({ type: "config-rejected", revision: c.revision, problems: errors.length });
      this.ack({ ok: false, revision: c.revision, source: topic, errors, needsRestart: [], persisted: false });
    };
    if (!c.ok) return refuse(c.problems);
    const outcome = await this.host.apply(c.loaded);
    if (!outcome.ok) return refuse(outcome.problems);
    let persisted = false;
    if (this.fleet.configStore) {
      try {
        saveConfigStore(this.fleet.configStore, topic, c.document, this.host.wallMs());
        persisted = true;
      } catch (e) {
        log.error({ path: this.fleet.configStore, code: (e as NodeJS.ErrnoException).code ?? null }, "config store write failed: the applied config will not survive a reboot");
      }
    }
    this.counters.configsApplied++;
    log.info({ source: topic, revision: c.revision, persisted }, "remote config applied");
    this.event({ type: "config-applied", revision: c.revision });
    this.ack({ ok: true, revision: c.revision, source: topic, errors: [], needsRestart: outcome.needsRestart, persisted });
    // The status carries the revision in force.
    this.link.publish(this.birth());
    this.armTelemetry();
    this.refusalLog.setWindow(this.host.config().log.oncePerCauseS * 1000);
  }

  private ack(a: Omit<ConfigAck, "nodeId" | "applied" | "at">): void {
    const c = this.host.config();
    const ack: ConfigAck = { nodeId: c.nodeId, ...a, applied: c.revision, at: new Date(this.host.wallMs()).toISOString() };
    this.link.publish({ topic: this.topics.ack, payload: JSON.stringify(ack), qos: 1, retain: true });
  }

  // ---- telemetry and events -----------------------------------------------------------------

  /** (Re)arms the periodic telemetry from config.telemetry.intervalS (0: none). */
  private armTelemetry(): void {
    const s = this.host.config().telemetry.intervalS;
    if (s === this.telemetryIntervalS) return;
    this.telemetryIntervalS = s;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
    if (s > 0 && !this.stopped) {
      this.telemetryTimer = setInterval(() => this.publishTelemetry(), s * 1000);
      this.telemetryTimer.unref();
    }
  }

  /** One telemetry message now (QoS 0, not queued offline: the next one is fresher). */
  publishTelemetry(): void {
    const c = this.host.config();
    // The daemon's telemetry carries `memory` (telemetry-sampler.ts) and `fleet` (these
    // stats, with the handover fetch's): each is made once, by the daemon when it has it.
    const local = this.host.telemetry();
    const payload = {
      nodeId: c.nodeId,
      at: new Date(this.host.wallMs()).toISOString(),
      revision: c.revision,
      intervalS: c.telemetry.intervalS,
      ...("fleet" in local ? {} : { fleet: this.stats() }),
      ...local,
    };
    if (this.link.publish({ topic: this.topics.telemetry, payload: JSON.stringify(payload), qos: 0, retain: false }, false)) this.counters.telemetryPublished++;
  }

  /** An engine or agent event, rate-limited (token bucket); beyond the rate dropped and counted. */
  event(e: AnEvent | { readonly type: string; readonly [k: string]: unknown }): void {
    if (this.stopped) return;
    if (e.type === "session-started" || e.type === "released") this.statusSoon();
    if (e.type === "registration-sent") return; // per retransmission: telemetry counts them
    if (!this.bucket.take(this.host.wallMs())) {
      this.counters.eventsDropped++;
      return;
    }
    const payload = JSON.stringify({ nodeId: this.host.config().nodeId, at: new Date(this.host.wallMs()).toISOString(), ...e });
    if (this.link.publish({ topic: this.topics.events, payload, qos: 1, retain: false })) this.counters.eventsPublished++;
    else this.counters.eventsDropped++;
  }

  /**
   * The retained status carries the session count: republished after sessions come
   * or go, at most once a second (a burst of attaches is one status message).
   */
  private statusSoon(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      if (!this.stopped) this.link.publish(this.birth(), false); // offline: the birth at reconnect is fresher
    }, 1000);
    this.statusTimer.unref();
  }

  // ---- context records ----------------------------------------------------------------------

  /** Publishes the signed record of a session (retained, expiring with the binding). */
  publishContext(context: SessionContext): boolean {
    if (!this.signingKey || context.remainingLifetimeMs <= 0) return false;
    this.seq = Math.max(this.seq + 1, this.host.wallMs());
    const payload = encodeContextRecord(context, { signer: this.host.config().nodeId, seq: this.seq, nowWallMs: this.host.wallMs(), key: this.signingKey });
    const expiryS = Math.max(1, Math.ceil(context.remainingLifetimeMs / 1000));
    this.counters.recordsPublished++;
    return this.link.publish({ topic: this.topics.context(context.mac), payload, qos: 1, retain: true, expiryS });
  }

  /** Clears the retained record of a MAC this AN no longer serves (not after a handover: the new AN's record is there). */
  clearContext(mac: string): void {
    this.link.publish({ topic: this.topics.context(mac), payload: "", qos: 1, retain: true });
  }

  /**
   * Fetches and verifies the record of `mac` (one broker round trip: subscribe, the
   * retained message or nothing within timeoutMs). Forged, replayed and expired
   * records are counted and refused (undefined): the caller registers from scratch.
   */
  async fetchContext(mac: string, timeoutMs = 500): Promise<SessionContext | undefined> {
    return (await this.fetchRecord(mac, timeoutMs))?.context;
  }

  /**
   * fetchContext, with the record's signer. `o.remember: false`: a look that imports
   * nothing (the restart's resume check, resume-check.ts) leaves the replay window
   * alone, so a later handover fetch of the same record is not refused as replayed.
   */
  async fetchRecord(mac: string, timeoutMs = 500, o: { readonly remember?: boolean } = {}): Promise<FetchedContext | undefined> {
    if (!this.link.connected) return undefined;
    const topic = this.topics.context(mac);
    if (this.fetches.has(topic)) return undefined;
    const payload = await new Promise<Buffer | undefined>((resolve) => {
      const t = setTimeout(() => done(undefined), timeoutMs);
      const done = (p: Buffer | undefined): void => {
        clearTimeout(t);
        this.fetches.delete(topic);
        this.link.unsubscribe(topic);
        resolve(p);
      };
      this.fetches.set(topic, done);
      // The broker sends a retained message right behind the SUBACK on this connection:
      // a short grace after the ack, and no message means no record (not the whole timeout).
      const noRecord = (): void => {
        if (this.fetches.get(topic) === done) done(undefined);
      };
      this.link.subscribe(topic, () => setTimeout(noRecord, NO_RECORD_GRACE_MS).unref());
    });
    if (!payload || payload.length === 0) return undefined;
    const v = verifyContextRecord(payload, { keys: this.fleetKeys, nowWallMs: this.host.wallMs(), mac, lastSeq: (s, m) => this.window.last(s, m) });
    if (!v.ok) {
      this.counters.recordsRejected[v.reason]++;
      this.logRefusal("context record rejected: registering from scratch", v.reason, { mac, detail: v.detail });
      return undefined;
    }
    if (o.remember ?? true) this.window.accept(v.body.signer, mac, v.body.seq);
    this.counters.recordsAccepted++;
    return { context: v.body.context, signer: v.body.signer, issuedAtMs: v.body.issuedAtMs };
  }

  /** Resolves true once the broker is connected (at once if it is), false after `ms` without (or at stop). */
  async whenConnected(ms: number): Promise<boolean> {
    if (this.link.connected) return true;
    if (this.stopped) return false;
    await this.nextConnect(ms);
    return this.link.connected && !this.stopped;
  }

  // ---- rpc: release on the new AN's request (MQTT 5 request/response, signed: release-rpc.ts) --

  /**
   * Asks `owner` (the AN that wrote the record) to let `mac` go and to forward what
   * it still gets for it to `careOf` (our CoA for the MN). Resolves with its verified
   * answer (true: it had the session and released it), or undefined without one (or
   * without a signing key: an unsigned request would be refused).
   *
   * Without an answer in `timeoutMs` the request is sent again (a new seq, so the old
   * AN's replay window takes it), at most `attempts` times; with the broker down when
   * one is due, it waits for the reconnect. All within RELEASE_RETRY_WINDOW_MS of the
   * first ask (the requests' TTL). A lost request otherwise left the old AN holding
   * the MN: with an HA that does not revoke (RFC 3543 is optional) its next refresh
   * takes the binding back from us. A lost answer costs a second request, which the
   * old AN answers `released: false` (nothing left to release). `wanted` (checked
   * before each attempt): whether the release is still ours to ask (our session for
   * the MN stands); a newer release for the same MAC supersedes this one.
   */
  async requestRelease(asked: string, mac: string, careOf: number, timeoutMs = RELEASE_RPC_TIMEOUT_MS, o: { attempts?: number; wanted?: () => boolean; from?: CareOf } = {}): Promise<boolean | undefined> {
    const me = this.host.config().nodeId;
    // Our own record (the MN came back before the AN we released it to wrote its own): that AN has it now.
    const owner = asked === me ? (this.takenBy(mac)?.node ?? asked) : asked;
    if (owner === me || !this.signingKey || this.stopped) return undefined;
    // Our own record names our old CoA, not the one the other AN has for the MN: no `from` then.
    const from = owner === asked ? o.from : undefined;
    const attempts = o.attempts ?? RELEASE_RPC_ATTEMPTS;
    const deadline = this.host.wallMs() + RELEASE_RETRY_WINDOW_MS;
    const token = ++this.releaseToken;
    this.releaseFor.delete(mac);
    this.releaseFor.set(mac, token);
    while (this.releaseFor.size > 4096) this.releaseFor.delete(this.releaseFor.keys().next().value as string);
    this.counters.releasesRequested++;
    let sent = 0;
    const attemptsOf: ReleaseAttempts = { ids: [], answer: undefined, settle: undefined };
    try {
      while (sent < attempts && this.host.wallMs() < deadline && !this.stopped && this.releaseFor.get(mac) === token && (o.wanted?.() ?? true)) {
        if (!this.link.connected) {
          await this.nextConnect(deadline - this.host.wallMs());
          continue;
        }
        if (attemptsOf.answer !== undefined) return attemptsOf.answer;
        if (sent > 0) this.counters.releasesRetried++;
        sent++;
        const answer = await this.releaseOnce(owner, mac, careOf, timeoutMs, from, attemptsOf);
        if (answer !== undefined) return answer;
      }
      if (this.stopped) return undefined;
      this.counters.releasesUnanswered++;
      this.host.log.warn({ mac, owner, attempts: sent }, "release not answered: the old AN may keep the MN until the HA revokes it or it idles out");
      return undefined;
    } finally {
      if (this.releaseFor.get(mac) === token) this.releaseFor.delete(mac);
      // From now on an answer to any of its requests is late.
      for (const id of attemptsOf.ids) {
        this.pendingRpc.delete(id);
        this.gaveUpRpc.add(id);
        if (this.gaveUpRpc.size > 256) this.gaveUpRpc.delete(this.gaveUpRpc.values().next().value as string);
      }
    }
  }

  /**
   * The AN we released `mac` to within RELEASE_RETRY_WINDOW_MS, and the CoA it named
   * for the MN (where its forwarding comes from when the MN is back here).
   */
  takenBy(mac: string): { readonly node: string; readonly careOf: number } | undefined {
    const r = this.releasedTo.get(mac);
    return r && this.host.wallMs() - r.at <= RELEASE_RETRY_WINDOW_MS ? { node: r.to, careOf: r.target } : undefined;
  }

  /** Resolves at the next broker connect, at stop, or after `ms`, whichever is first. */
  private nextConnect(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        const i = this.connectWaiters.indexOf(done);
        if (i >= 0) this.connectWaiters.splice(i, 1);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      t.unref();
      this.connectWaiters.push(done);
    });
  }

  private wakeConnectWaiters(): void {
    const waiting = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiting) w();
  }

  /**
   * One signed release request and its answer (undefined: none in time, or not sent).
   * Its answer is still taken after its timeout while the release retries (`r`): the
   * first request may have been served, its answer slow; it answers the release then
   * (it used to be counted late, the retry answered `released: false`, and a third
   * request sent).
   */
  private releaseOnce(owner: string, mac: string, careOf: number, timeoutMs: number, from: CareOf | undefined, r: ReleaseAttempts): Promise<boolean | undefined> {
    const me = this.host.config().nodeId;
    const key = this.signingKey!;
    const id = `${me}-${++this.rpcId}`;
    this.seq = Math.max(this.seq + 1, this.host.wallMs());
    const seq = this.seq;
    return new Promise<boolean | undefined>((resolve) => {
      const t = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (released: boolean | undefined): void => {
        clearTimeout(t);
        if (r.settle === finish) r.settle = undefined;
        resolve(released);
      };
      r.settle = finish;
      r.ids.push(id);
      // Any attempt's answer settles the attempt waiting now (or the next check in the loop).
      const settle = (released: boolean | undefined): void => {
        if (released !== undefined && r.answer === undefined) r.answer = released;
        r.settle?.(released);
      };
      this.pendingRpc.set(id, (payload) => {
        if (!payload) return settle(undefined);
        const v = verifyReleaseAnswer(payload, { keys: this.fleetKeys, nowWallMs: this.host.wallMs(), signer: owner, mac, requestSeq: seq, admitVerification: this.admitAnswerVerification });
        if (v.ok) return settle(v.released);
        // Not the answer (forged, stale, another request's): ignored, the request waits on.
        this.releaseAnswersRejected[v.reason]++;
        this.logRefusal("release answer rejected", v.reason, { mac, owner, detail: v.detail });
      });
      const sent = this.link.publish(
        {
          topic: fleetTopics(this.fleet.prefix, owner).rpc,
          payload: encodeReleaseRequest({ by: me, to: owner, mac, target: careOf, seq, ...(from ? { from } : {}) }, this.host.wallMs(), key),
          qos: 1,
          retain: false,
          properties: { responseTopic: this.topics.rpc, correlationData: Buffer.from(id) },
        },
        false,
      );
      if (!sent) finish(undefined);
    });
  }

  private onRpc(payload: Buffer, packet: IPublishPacket): void {
    const correlation = packet.properties?.correlationData;
    // An answer to one of our requests (its correlation id); the check is the request's.
    const pending = correlation ? this.pendingRpc.get(Buffer.from(correlation).toString()) : undefined;
    if (pending) return pending(payload);
    if (correlation && this.gaveUpRpc.has(Buffer.from(correlation).toString())) {
      // The answer to a request that gave up (slow old AN or broker): ours, just late.
      this.counters.releaseAnswersLate++;
      this.host.log.debug({ correlation: Buffer.from(correlation).toString().slice(0, 80) }, "late release answer dropped");
      return;
    }
    const log = this.host.log;
    const responseTopic = packet.properties?.responseTopic;
    const v = verifyReleaseRequest(payload, {
      keys: this.fleetKeys,
      nowWallMs: this.host.wallMs(),
      self: this.host.config().nodeId,
      lastSeq: (s, m) => this.releaseWindow.last(s, m),
      // The answer goes to the asker's own rpc topic only: a request cannot aim it elsewhere.
      answerTopicOk: (by) => responseTopic === undefined || responseTopic === fleetTopics(this.fleet.prefix, by).rpc,
      admitVerification: this.admitVerification,
    });
    if (!v.ok) {
      // Not answered: an unverified asker learns nothing and cannot use us as a reflector;
      // a genuine one only loses the forwarding (its registration does not wait on us).
      this.releasesRefused[v.reason]++;
      this.logRefusal("release request refused", v.reason, { detail: v.detail });
      return;
    }
    const r = v.request;
    this.releaseWindow.accept(r.by, r.mac, r.seq);
    const released = this.host.release?.(r.mac, r.target, r.from) ?? false;
    if (released) {
      this.counters.releasesServed++;
      this.releasedTo.delete(r.mac);
      this.releasedTo.set(r.mac, { to: r.by, at: this.host.wallMs(), target: r.target });
      if (this.releasedTo.size > 4096) this.releasedTo.delete(this.releasedTo.keys().next().value as string);
    }
    log.info({ mac: r.mac, by: r.by, forwardTo: formatIpv4(r.target), released }, "release requested by another AN");
    if (responseTopic && correlation && this.signingKey)
      this.link.publish(
        {
          topic: responseTopic,
          payload: encodeReleaseAnswer({ signer: this.host.config().nodeId, mac: r.mac, released, requestSeq: r.seq }, this.host.wallMs(), this.signingKey),
          qos: 1,
          retain: false,
          properties: { correlationData: Buffer.from(correlation) },
        },
        false,
      );
  }

  // ---- stop ------------------------------------------------------------------------------------

  /** Publishes the retained `offline` status and disconnects (bounded). */
  async stop(cause = "stopped"): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.summaryTimer) clearInterval(this.summaryTimer);
    for (const f of [...this.fetches.values()]) f(undefined);
    for (const r of [...this.pendingRpc.values()]) r(undefined);
    this.wakeConnectWaiters();
    const c = this.host.config();
    await this.link.close({ topic: this.topics.status, payload: JSON.stringify({ nodeId: c.nodeId, state: "offline", cause, revision: c.revision, at: new Date(this.host.wallMs()).toISOString() }), qos: 1, retain: true });
  }
}
