// AF_PACKET access-link socket in a two-namespace lab: IPv6-only filter, outgoing
// frames not looped back, VLAN-tagged IPv6, batched receive, promiscuous membership.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ETH_IPV4, ETH_IPV6, ethernet, fromHex, ipv4, ipv6, mac, toHex, vlanEthernet } from "./frames.ts";
import type { Agent } from "./netns-lab.ts";
import { Lab, labGate, sleep } from "./netns-lab.ts";

interface Opened {
  handle: number;
  mac: string | null;
  ifindex: number;
  kernelIgnoresOutgoing: boolean | null;
}

const gate = labGate();

describe.skipIf(!gate.run)("AccessLinkSocket (AF_PACKET) in netns", () => {
  const lab = new Lab();
  let an: Agent;
  let peer: Agent;
  let anIf: string;
  let peerIf: string;

  beforeAll(async () => {
    const nsAn = lab.namespace();
    const nsPeer = lab.namespace();
    const link = lab.veth(nsAn, nsPeer);
    anIf = link.a;
    peerIf = link.b;
    an = await lab.agent(nsAn);
    peer = await lab.agent(nsPeer);
  });

  afterAll(() => lab.cleanup());

  it("receives IPv6 frames only and never outgoing ones", async () => {
    const rx = await an.request<Opened>("open", { kind: "access", name: anIf });
    const tx = await an.request<Opened>("open", { kind: "access", name: anIf });
    const peerRx = await peer.request<Opened>("open", { kind: "access", name: peerIf, options: { filter: "all" } });
    expect(rx.kernelIgnoresOutgoing).toBe(true);
    await an.request("receive", { handle: rx.handle });
    await peer.request("receive", { handle: peerRx.handle });
    const peerTx = await peer.request<Opened>("open", { kind: "access", name: peerIf });

    const anMac = fromHex(rx.mac ?? "");
    const peerMac = fromHex(peerRx.mac ?? "");
    const v6FromPeer = ethernet(anMac, peerMac, ETH_IPV6, ipv6(0x11110000));
    const v4FromPeer = ethernet(anMac, peerMac, ETH_IPV4, ipv4({ src: "192.0.2.1", dst: "192.0.2.2", protocol: 17, payload: new Uint8Array(8) }));
    const v6FromAn = ethernet(peerMac, anMac, ETH_IPV6, ipv6(0x22220000));

    expect(await peer.request("send", { handle: peerTx.handle, hex: toHex(v4FromPeer) })).toBe(true);
    expect(await peer.request("send", { handle: peerTx.handle, hex: toHex(v6FromPeer) })).toBe(true);
    expect(await an.request("send", { handle: tx.handle, hex: toHex(v6FromAn) })).toBe(true);

    await an.waitUntil(() => an.received(rx.handle).some((p) => p.hex === toHex(v6FromPeer)), "IPv6 frame from peer");
    await peer.waitUntil(() => peer.received(peerRx.handle).some((p) => p.hex === toHex(v6FromAn)), "AN's frame at the peer");
    await sleep(200); // anything else that was going to arrive has arrived

    const got = an.received(rx.handle);
    expect(got.map((p) => p.hex)).toContain(toHex(v6FromPeer));
    expect(got.map((p) => p.hex)).not.toContain(toHex(v4FromPeer));
    expect(got.map((p) => p.hex)).not.toContain(toHex(v6FromAn)); // outgoing: not looped back
    for (const p of got) {
      expect(p.meta?.etherType).toBe(ETH_IPV6);
      expect(p.meta?.pkttype).not.toBe(4);
      expect(p.meta?.ifindex).toBe(rx.ifindex);
      expect(p.meta?.vlan).toBeNull();
    }
    const own = got.find((p) => p.hex === toHex(v6FromPeer));
    expect(own?.meta?.pkttype).toBe(0); // PACKET_HOST: addressed to the AN's MAC
    // the "all" filter at the peer still drops outgoing frames (its own IPv4/IPv6 sends)
    expect(peer.received(peerRx.handle).map((p) => p.hex)).not.toContain(toHex(v4FromPeer));

    for (const h of [rx, tx]) await an.request("close", { handle: h.handle });
    for (const h of [peerRx, peerTx]) await peer.request("close", { handle: h.handle });
  });

  it("accepts 802.1Q-tagged IPv6 only when asked, with the TCI as metadata", async () => {
    const plain = await an.request<Opened>("open", { kind: "access", name: anIf });
    const tagged = await an.request<Opened>("open", { kind: "access", name: anIf, options: { vlan: true } });
    await an.request("receive", { handle: plain.handle });
    await an.request("receive", { handle: tagged.handle });
    const peerTx = await peer.request<Opened>("open", { kind: "access", name: peerIf });

    const dst = fromHex(plain.mac ?? "");
    const src = mac("02:00:00:00:00:33");
    const payload = ipv6(0x33330000);
    const frame = vlanEthernet(dst, src, 0x2064, ETH_IPV6, payload); // PCP 1, VID 100
    const marker = toHex(ethernet(dst, src, ETH_IPV6, payload)); // the kernel strips the tag
    const untagged = ethernet(dst, src, ETH_IPV6, ipv6(0x33340000));
    await peer.request("send", { handle: peerTx.handle, hex: toHex(frame) });
    await peer.request("send", { handle: peerTx.handle, hex: toHex(untagged) });

    await an.waitUntil(() => an.received(tagged.handle).some((p) => p.hex === marker), "tagged IPv6 frame");
    await an.waitUntil(() => an.received(plain.handle).some((p) => p.hex === toHex(untagged)), "untagged frame");
    const t = an.received(tagged.handle).find((p) => p.hex === marker);
    expect(t?.meta?.vlan).toBe(0x2064);
    expect(t?.meta?.etherType).toBe(ETH_IPV6);
    expect(an.received(plain.handle).map((p) => p.hex)).not.toContain(marker);

    for (const h of [plain, tagged]) await an.request("close", { handle: h.handle });
    await peer.request("close", { handle: peerTx.handle });
  });

  it("delivers 200 queued frames in batches, byte-exact and in order", async () => {
    const rx = await an.request<Opened>("open", {
      kind: "access",
      name: anIf,
      options: { batchSize: 64, receiveBufferBytes: 4 << 20 },
    });
    const peerTx = await peer.request<Opened>("open", { kind: "access", name: peerIf });
    const dst = fromHex(rx.mac ?? "");
    const src = mac("02:00:00:00:00:44");
    const frames = Array.from({ length: 200 }, (_, i) => toHex(ethernet(dst, src, ETH_IPV6, ipv6(0x44000000 + i * 0x100, 16 + (i % 50) * 4))));
    // not receiving yet: the kernel queues them, so the first wakeups get full batches
    expect(await peer.request("sendBatch", { handle: peerTx.handle, hexes: frames })).toBe(200);
    await sleep(100);
    await an.request("receive", { handle: rx.handle });
    await an.waitUntil(() => an.received(rx.handle).length >= 200, "200 frames");

    expect(an.received(rx.handle).map((p) => p.hex)).toEqual(frames);
    const sizes = an.batchSizes(rx.handle);
    expect(Math.max(...sizes)).toBe(64);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200);
    const stats = await an.request<{ rxPackets: number; rxBatches: number; kernelDrops: number }>("stats", { handle: rx.handle });
    expect(stats.rxPackets).toBe(200);
    expect(stats.rxBatches).toBe(sizes.length);
    expect(stats.kernelDrops).toBe(0);

    await an.request("close", { handle: rx.handle });
    await peer.request("close", { handle: peerTx.handle });
  });

  it("holds promiscuous mode while open and releases it on close", async () => {
    const flags = (): string => lab.ip(an.ns, "-d", "-o", "link", "show", anIf);
    expect(flags()).not.toMatch(/promiscuity [1-9]/);
    const s = await an.request<Opened>("open", { kind: "access", name: anIf, options: { promiscuous: true } });
    expect(flags()).toMatch(/promiscuity [1-9]/);
    await an.request("close", { handle: s.handle });
    expect(flags()).not.toMatch(/promiscuity [1-9]/);
  });

  it("releases descriptors of endpoints dropped without close (finalizers)", async () => {
    // a first round lets the runtime make its one-off descriptors; AF_PACKET close is
    // slow (synchronize_net, some ms each), hence few sockets
    await an.request("leakCheck", { count: 5, ifname: anIf }, 15_000);
    const r = await an.request<{ before: number; opened: number; after: number }>("leakCheck", { count: 50, ifname: anIf }, 15_000);
    expect(r.opened).toBeGreaterThanOrEqual(r.before + 100);
    expect(r.after).toBe(r.before);
  });
});
