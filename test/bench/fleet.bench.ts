// Fleet figures over a local mosquitto: remote config push -> ack (validate, apply,
// persist, ack) and a context record fetch (subscribe, retained record, verify),
// each against the baseline of a plain MQTT 5 round trip (publish -> the same client
// receives it) measured in the same run. Run: npm run bench -- test/bench/fleet.bench.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { privateKeyFromSeed, rawPublicKey } from "../../src/app/context-record.ts";
import { FleetAgent } from "../../src/app/fleet-agent.ts";
import { Broker } from "../support/mosquitto.ts";
import { sampleContext } from "../support/contexts.ts";
import { until, Watcher } from "../support/mqtt-watch.ts";
import { baseDocument, ComponentHost, remoteDocument } from "../integration/fleet/fleet-host.ts";

// --quick: 40 rounds (the Nagle variant waits ~46 ms a fetch: 200 rounds alone took 20 s of the quick run).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (process.env.BENCH_QUICK === "1" ? 40 : 200));
const P = "netmip/v1";
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test.each([false, true])("fleet round trips over loopback mosquitto (set_tcp_nodelay %s)", async (nodelay) => {
  const broker = await Broker.start({ globalLines: [`set_tcp_nodelay ${nodelay}`] });
  const dir = mkdtempSync(join(tmpdir(), "an-fleet-bench-"));
  const seed = Buffer.alloc(32, 3);
  const fleet = { url: broker.url, prefix: P, allowSecretsWithoutTls: true, configStore: join(dir, "store.json"), contextKey: `hex:${seed.toString("hex")}`, fleetKeys: { "an-1": rawPublicKey(privateKeyFromSeed(seed)).toString("hex") } };
  const host = new ComponentHost(baseDocument("an-1", fleet));
  const agent = FleetAgent.start(host);
  if ("error" in agent) throw new Error(agent.error);
  const op = await Watcher.connect(broker.url, [`${P}/an/an-1/config/ack`, `${P}/bench/echo`]);
  try {
    await until(() => agent.connected, "agent connected");
    const base: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const from = op.seen.length;
      const t = performance.now();
      await op.client.publishAsync(`${P}/bench/echo`, JSON.stringify({ i }), { qos: 1 });
      await op.next(`${P}/bench/echo`, (v: { i: number }) => v.i === i, 5000, from);
      base.push(performance.now() - t);
    }
    const cfg: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const rev = i + 2;
      const from = op.seen.length;
      const t = performance.now();
      await op.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(rev)));
      await op.next(`${P}/an/an-1/config/ack`, (a: { revision: number }) => a.revision === rev, 5000, from);
      cfg.push(performance.now() - t);
    }
    const fetch: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      agent.publishContext(sampleContext());
      await new Promise((r) => setTimeout(r, 5));
      const t = performance.now();
      const got = await agent.fetchContext("02:11:22:33:44:01");
      fetch.push(performance.now() - t);
      expect(got).toBeDefined();
    }
    const b = median(base);
    console.log(
      `fleet (set_tcp_nodelay ${nodelay}, ${ROUNDS} rounds, medians): plain MQTT round trip ${b.toFixed(2)} ms; config push->ack ${median(cfg).toFixed(2)} ms (x${(median(cfg) / b).toFixed(1)}); ` +
        `context fetch+verify ${median(fetch).toFixed(2)} ms (x${(median(fetch) / b).toFixed(1)})`,
    );
  } finally {
    await op.close();
    await agent.stop();
    await broker.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
