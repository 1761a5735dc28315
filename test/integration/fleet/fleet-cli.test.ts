// `an fleet` (through main, as the binary runs it) against two ANs' fleet agents and
// a real mosquitto: list from the retained status, push with the ack awaited (errors
// printed, exit codes a script can use), follow events, show a verified context record.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { privateKeyFromSeed, rawPublicKey } from "../../../src/app/context-record.ts";
import { FleetAgent } from "../../../src/app/fleet-agent.ts";
import { main } from "../../../src/app/main.ts";
import { Broker, freePort, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { MAC, sampleContext } from "../../support/contexts.ts";
import { baseDocument, ComponentHost, KEY2_HEX, remoteDocument } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});
const P = "netmip/v1";

async function an(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["fleet", ...args], (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe.skipIf(skip !== undefined)(`an fleet against mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("lists, pushes (applied: 0, refused: 1 with errors), follows events and shows a context record", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const dir = mkdtempSync(join(tmpdir(), "an-fleet-cli-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const seed = Buffer.alloc(32, 7);
    const fleet = { url: broker.url, prefix: P, allowSecretsWithoutTls: true, groups: ["site-a"], contextKey: `hex:${seed.toString("hex")}`, fleetKeys: { "an-1": rawPublicKey(privateKeyFromSeed(seed)).toString("hex") } };
    const agents: FleetAgent[] = [];
    for (const id of ["an-1", "an-2"]) {
      const a = FleetAgent.start(new ComponentHost(baseDocument(id, fleet)));
      if ("error" in a) throw new Error(a.error);
      cleanups.push(() => a.stop());
      agents.push(a);
    }
    for (let i = 0; i < 250 && !agents.every((a) => a.connected); i++) await new Promise((r) => setTimeout(r, 20));
    // The operator's config file: just the fleet section's way to the broker and the keys.
    const opConfig = join(dir, "operator.json");
    writeFileSync(opConfig, JSON.stringify(baseDocument("operator", fleet)));

    const l = await an(["list", "--config", opConfig]);
    expect(l.code).toBe(0);
    expect(l.out).toMatch(/^an-1\tonline\t\d+\.\d+\.\d+\S*\t1\t0\t/m);
    expect(l.out).toMatch(/^an-2\tonline\t/m);

    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(remoteDocument(2)));
    const p1 = await an(["push", "--broker", broker.url, "--node", "an-1", "--file", good]);
    expect(p1).toMatchObject({ code: 0 });
    expect(p1.out).toBe("an-1: revision 2 applied (not persisted)");

    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify(remoteDocument(3, { registration: { lifetimeS: 5 } })));
    const p2 = await an(["push", "--broker", broker.url, "--node", "an-1", "--file", bad]);
    expect(p2.code).toBe(1);
    expect(p2.out).toContain("an-1: revision 3 refused, 2 stays in force:");
    expect(p2.out).toMatch(/^ {2}registration\.lifetimeS: /m);
    expect(p2.out + p2.err).not.toContain(KEY2_HEX);

    // A group push: both ANs ack.
    const g = join(dir, "group.json");
    writeFileSync(g, JSON.stringify(remoteDocument(4)));
    const p3 = await an(["push", "--broker", broker.url, "--group", "site-a", "--expect", "2", "--file", g]);
    expect(p3.code).toBe(0);
    expect(p3.out.split("\n").sort()).toEqual(["an-1: revision 4 applied (not persisted)", "an-2: revision 4 applied (not persisted)"]);

    // Nobody listens on this node's topic: exit 5 once the timeout passes.
    const p4 = await an(["push", "--broker", broker.url, "--node", "an-9", "--file", good, "--timeout-s", "0.5"]);
    expect(p4.code).toBe(5);

    // Events: the next one that an-2 publishes.
    const following = an(["events", "--broker", broker.url, "--node", "an-2", "--count", "1", "--timeout-s", "5"]);
    await new Promise((r) => setTimeout(r, 300));
    agents[1]!.event({ type: "registered", mac: MAC });
    const ev = await following;
    expect(ev.code).toBe(0);
    expect(JSON.parse(ev.out)).toMatchObject({ nodeId: "an-2", type: "registered", mac: MAC });

    // A context record, verified with the fleet keys from the config.
    agents[0]!.publishContext(sampleContext());
    await new Promise((r) => setTimeout(r, 200));
    const cx = await an(["context", MAC, "--config", opConfig]);
    expect(cx.code).toBe(0);
    expect(JSON.parse(cx.out)).toMatchObject({ mac: MAC, signer: "an-1", signature: "verified", context: { nai: "021122334401@example.net" } });
    expect((await an(["context", "02:00:00:00:00:99", "--broker", broker.url])).code).toBe(1);

    // Usage and an unreachable broker.
    expect((await an(["push", "--broker", broker.url, "--file", good])).code).toBe(2);
    expect((await an(["list", "--broker", `mqtt://127.0.0.1:${await freePort()}`])).code).toBe(3);
  });
});
