// TUN device: the kernel answers an ICMP echo written into the device, and the reply
// is read back; the device goes away when closed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromHex, icmpEcho, toHex } from "./frames.ts";
import type { Agent } from "./netns-lab.ts";
import { Lab, labGate, uniqueName } from "./netns-lab.ts";

const gate = labGate();

describe.skipIf(!gate.run)("TunDevice in netns", () => {
  const lab = new Lab();
  let ns: string;
  let agent: Agent;

  beforeAll(async () => {
    ns = lab.namespace();
    agent = await lab.agent(ns);
  });

  afterAll(() => lab.cleanup());

  it("writes an IP packet in and reads the kernel's answer out", async () => {
    const name = `${uniqueName().short}u`;
    const tun = await agent.request<{ handle: number; name: string; ifindex: number }>("open", { kind: "tun", name });
    expect(tun.name).toBe(name);
    expect(tun.ifindex).toBeGreaterThan(0);
    lab.ip(ns, "addr", "add", "10.99.0.1/24", "dev", name);
    lab.ip(ns, "link", "set", name, "up");
    await agent.request("receive", { handle: tun.handle });

    const data = Uint8Array.from({ length: 32 }, (_, i) => i);
    const request = icmpEcho("10.99.0.2", "10.99.0.1", 0x7777, 1, data);
    expect(await agent.request("send", { handle: tun.handle, hex: toHex(request) })).toBe(true);

    const isReply = (hex: string): boolean => {
      const b = fromHex(hex);
      return b[9] === 1 && b[20] === 0;
    };
    await agent.waitUntil(() => agent.received(tun.handle).some((p) => isReply(p.hex)), "echo reply");
    const reply = fromHex(agent.received(tun.handle).find((p) => isReply(p.hex))?.hex ?? "");
    expect([...reply.subarray(12, 16)]).toEqual([10, 99, 0, 1]);
    expect([...reply.subarray(16, 20)]).toEqual([10, 99, 0, 2]);
    expect([...reply.subarray(24, 28)]).toEqual([0x77, 0x77, 0, 1]); // id, seq
    expect([...reply.subarray(28)]).toEqual([...data]);

    await agent.request("close", { handle: tun.handle });
    expect(() => lab.ip(ns, "link", "show", name)).toThrow();
  });

  it("reports a stopping error when the device is deleted under it", async () => {
    const name = `${uniqueName().short}v`;
    const tun = await agent.request<{ handle: number }>("open", { kind: "tun", name });
    await agent.request("receive", { handle: tun.handle });
    lab.ip(ns, "link", "del", name);
    await agent.waitUntil(() => agent.events.some((e) => e.event === "error" && e.handle === tun.handle), "error event");
    const e = agent.events.find((ev) => ev.event === "error" && ev.handle === tun.handle);
    expect(e?.stopped).toBe(true);
    expect(e?.error?.code).toMatch(/^EBADFD?$/);
    // the handler can be set again; it reports the dead device again
    await agent.request("receive", { handle: tun.handle });
    await agent.request("close", { handle: tun.handle });
  });
});
