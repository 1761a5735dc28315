// board/mosquitto-acl.conf in a real mosquitto (password authentication): an AN
// writes its own status, reads its own config and the records, and is refused
// another AN's config (never delivered to it) and another AN's status (PUBACK
// Not authorized, nothing delivered).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { Watcher } from "../../support/mqtt-watch.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const P = "netmip/v1";
const repoRoot = new URL("../../../", import.meta.url).pathname;

describe.skipIf(skip !== undefined)(`example ACL in mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("limits an AN to its own topics and the records", async () => {
    const acl = join(repoRoot, "board/mosquitto-acl.conf");
    const broker = await Broker.prepare();
    cleanups.push(() => broker.cleanup());
    const passwd = broker.file("passwd", "");
    for (const [u, p] of [["an-1", "pw1"], ["an-2", "pw2"], ["operator", "pwo"]]) execFileSync("mosquitto_passwd", ["-b", passwd, u!, p!]);
    broker.configure({ allowAnonymous: false, listenerLines: [`password_file ${passwd}`, `acl_file ${acl}`] });
    await broker.start();

    const op = await Watcher.connect(broker.url, [`${P}/#`], { username: "operator", password: "pwo" });
    cleanups.push(() => op.close());
    const an1 = await Watcher.connect(broker.url, [], { username: "an-1", password: "pw1", clientId: "an-1" });
    cleanups.push(() => an1.close());

    // Its own config and another AN's: mosquitto 2.0 grants both subscriptions but
    // delivers nothing the ACL does not let the client read (checked below).
    await an1.client.subscribeAsync([`${P}/an/an-1/config`, `${P}/an/an-2/config`], { qos: 1 });

    // A write to another AN's status is refused (MQTT 5 PUBACK "Not authorized") and not delivered; its own goes through.
    await expect(an1.publish(`${P}/an/an-2/status`, JSON.stringify({ state: "online", forged: true }))).rejects.toThrow(/Not authorized/);
    await an1.publish(`${P}/ctx/021122334401`, JSON.stringify({ record: 1 }));
    await an1.publish(`${P}/an/an-1/status`, JSON.stringify({ state: "online" }));
    await op.next(`${P}/an/an-1/status`);
    expect(op.seen.some((s) => s.topic === `${P}/ctx/021122334401`)).toBe(true);
    expect(op.seen.some((s) => s.topic === `${P}/an/an-2/status`)).toBe(false);

    // The operator's config for an-1 reaches an-1; the one for an-2 does not, though an-1 subscribed to it.
    await op.publish(`${P}/an/an-2/config`, JSON.stringify({ revision: 2, for: "an-2" }));
    await op.publish(`${P}/an/an-1/config`, JSON.stringify({ revision: 2, for: "an-1" }));
    await an1.next(`${P}/an/an-1/config`);
    expect(an1.seen.map((s) => s.topic)).toEqual([`${P}/an/an-1/config`]);

    // Without a password: refused outright.
    await expect(Watcher.connect(broker.url, [], { username: "an-1", password: "wrong", reconnectPeriod: 0 })).rejects.toThrow();
  });
});
