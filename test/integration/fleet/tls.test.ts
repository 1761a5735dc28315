// The fleet over TLS against a real mosquitto (certificates made by openssl here):
// the AN authenticates with its client certificate (CN = nodeId, the username the
// ACL sees), verifies the broker against its CA, and then accepts configs carrying
// inline keys. A broker with a certificate from another CA is refused.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FleetAgent } from "../../../src/app/fleet-agent.ts";
import type { ConfigAck } from "../../../src/app/fleet-agent.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until, Watcher } from "../../support/mqtt-watch.ts";
import { makePki } from "../../support/test-pki.ts";
import { baseDocument, ComponentHost, KEY2_HEX, remoteDocument } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const P = "netmip/v1";
const repoRoot = new URL("../../../", import.meta.url).pathname;

describe.skipIf(skip !== undefined)(`fleet over TLS${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("connects with a client certificate, accepts inline keys over TLS, and refuses a broker from another CA", async () => {
    const broker = await Broker.prepare();
    cleanups.push(() => broker.cleanup());
    const pki = makePki(broker.dir);
    const other = makePki(broker.dir, "other");
    const an = pki.client("an-1");
    const opCert = pki.client("operator");
    broker.configure({
      allowAnonymous: false,
      listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, "require_certificate true", "use_identity_as_username true", `acl_file ${join(repoRoot, "board/mosquitto-acl.conf")}`],
    });
    await broker.start();
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const tlsOpts = (c: { cert: string; key: string }) => ({ ca: readFileSync(pki.ca), cert: readFileSync(c.cert), key: readFileSync(c.key) });
    const op = await Watcher.connect(url, [`${P}/an/an-1/#`], { ...tlsOpts(opCert), rejectUnauthorized: true });
    cleanups.push(() => op.close());

    const host = new ComponentHost(baseDocument("an-1", { url, prefix: P, tls: { ca: `file:${pki.ca}`, cert: `file:${an.cert}`, key: `file:${an.key}` } }));
    const agent = FleetAgent.start(host);
    if ("error" in agent) throw new Error(agent.error);
    cleanups.push(() => agent.stop());
    expect(agent.secure).toBe(true);
    const st = await op.next<{ state: string; tls: boolean }>(`${P}/an/an-1/status`, (s) => s.state === "online");
    expect(st.tls).toBe(true);
    // Inline keys: accepted, because the link is TLS (no lab option set).
    await op.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(2)));
    const ack = await op.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 2);
    expect(ack.ok).toBe(true);
    expect(host.config().realms[0]!.key).toBe(`hex:${KEY2_HEX}`);
    expect(JSON.stringify(ack)).not.toContain(KEY2_HEX);

    // Without a client certificate the broker refuses the connection.
    await expect(Watcher.connect(url, [], { ca: readFileSync(pki.ca), reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
    // An AN that trusts another CA does not talk to this broker at all.
    const wrong = new ComponentHost(baseDocument("an-2", { url, prefix: P, tls: { ca: `file:${other.ca}`, cert: `file:${an.cert}`, key: `file:${an.key}` }, reconnect: { initialMs: 100, maxMs: 200 } }));
    const wa = FleetAgent.start(wrong);
    if ("error" in wa) throw new Error(wa.error);
    cleanups.push(() => wa.stop());
    await until(() => wa.stats().link.connectFailures >= 2, "refused TLS attempts");
    expect(wa.stats().link.connects).toBe(0);
  });
});
