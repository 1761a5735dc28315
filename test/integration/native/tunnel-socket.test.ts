// Raw IPv4 tunnel sockets (protocol 41 and 47, IP_HDRINCL) between two namespaces:
// chosen source address, byte-exact on the wire, DF clear, whole packets received.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeIcmpv4Error } from "../../../src/wire/icmpv4.ts";
import { writeIpv4Fragment } from "../../../src/wire/ipv4-fragment.ts";
import { ETH_IPV4, fromHex, icmpEcho, ipv4, ipv6, toHex } from "./frames.ts";
import type { Agent } from "./netns-lab.ts";
import { AgentError, Lab, labGate } from "./netns-lab.ts";

interface Opened {
  handle: number;
}

const gate = labGate();

describe.skipIf(!gate.run)("TunnelSocket (raw IPv4) in netns", () => {
  const lab = new Lab();
  let an: Agent;
  let peer: Agent;
  let peerIf: string;

  beforeAll(async () => {
    const nsAn = lab.namespace();
    const nsPeer = lab.namespace();
    const link = lab.veth(nsAn, nsPeer);
    peerIf = link.b;
    lab.ip(nsAn, "addr", "add", "10.41.0.1/24", "dev", link.a);
    lab.ip(nsPeer, "addr", "add", "10.41.0.2/24", "dev", link.b);
    an = await lab.agent(nsAn);
    peer = await lab.agent(nsPeer);
  });

  afterAll(() => lab.cleanup());

  it("sends protocol 41 from a chosen (non-local) source, byte-exact with DF clear", async () => {
    const tx = await an.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    const rx = await peer.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    const wire = await peer.request<Opened>("open", { kind: "access", name: peerIf, options: { filter: "all" } });
    await peer.request("receive", { handle: rx.handle });
    await peer.request("receive", { handle: wire.handle });

    const packet = ipv4({ src: "10.41.0.77", dst: "10.41.0.2", protocol: 41, payload: ipv6(0x41410000, 24), id: 0x5151 });
    expect(await an.request("send", { handle: tx.handle, hex: toHex(packet) })).toBe(true);

    await peer.waitUntil(() => peer.received(rx.handle).length > 0, "proto 41 packet at the peer");
    const got = peer.received(rx.handle);
    expect(got.map((p) => p.hex)).toEqual([toHex(packet)]); // the IPv4 header included
    const bytes = fromHex(got[0]?.hex ?? "");
    expect((bytes[6] ?? 0) & 0x40).toBe(0); // DF clear
    expect([...bytes.subarray(12, 16)]).toEqual([10, 41, 0, 77]);

    await peer.waitUntil(() => peer.received(wire.handle).some((p) => p.meta?.etherType === ETH_IPV4 && p.hex.endsWith(toHex(packet))), "the frame on the wire");

    for (const h of [rx, wire]) await peer.request("close", { handle: h.handle });
    await an.request("close", { handle: tx.handle });
  });

  it("receives protocol 41 packets with their IPv4 header, and sends batches", async () => {
    const anRaw = await an.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    const peerRaw = await peer.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    await an.request("receive", { handle: anRaw.handle });
    const packets = Array.from({ length: 50 }, (_, i) =>
      toHex(ipv4({ src: "10.41.0.2", dst: "10.41.0.1", protocol: 41, payload: ipv6(0x4200000 + i * 0x10, 8 + i * 4), id: 0x100 + i })),
    );
    expect(await peer.request("sendBatch", { handle: peerRaw.handle, hexes: packets })).toBe(50);
    await an.waitUntil(() => an.received(anRaw.handle).length >= 50, "50 packets");
    expect(an.received(anRaw.handle).map((p) => p.hex)).toEqual(packets);
    const stats = await peer.request<{ txPackets: number }>("stats", { handle: peerRaw.handle });
    expect(stats.txPackets).toBe(50);
    await an.request("close", { handle: anRaw.handle });
    await peer.request("close", { handle: peerRaw.handle });
  });

  it("carries GRE (protocol 47) the same way", async () => {
    const tx = await an.request<Opened>("open", { kind: "tunnel", protocol: 47 });
    const rx = await peer.request<Opened>("open", { kind: "tunnel", protocol: 47 });
    await peer.request("receive", { handle: rx.handle });
    const gre = new Uint8Array([0x20, 0x00, 0x86, 0xdd, 0, 0, 0x12, 0x34, ...ipv6(0x47470000, 8)]); // K bit, key 0x1234
    const packet = ipv4({ src: "10.41.0.1", dst: "10.41.0.2", protocol: 47, payload: gre, id: 0x4747 });
    expect(await an.request("send", { handle: tx.handle, hex: toHex(packet) })).toBe(true);
    await peer.waitUntil(() => peer.received(rx.handle).length > 0, "GRE packet");
    expect(peer.received(rx.handle)[0]?.hex).toBe(toHex(packet));
    await an.request("close", { handle: tx.handle });
    await peer.request("close", { handle: rx.handle });
  });

  it("refuses a packet above the route MTU (no fragmentation with IP_HDRINCL)", async () => {
    const tx = await an.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    const big = toHex(ipv4({ src: "10.41.0.1", dst: "10.41.0.2", protocol: 41, payload: ipv6(1, 1480) }));
    const small = toHex(ipv4({ src: "10.41.0.1", dst: "10.41.0.2", protocol: 41, payload: ipv6(2, 8) }));
    const error = await an.request("send", { handle: tx.handle, hex: big }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("EMSGSIZE");
    expect((error as AgentError).syscall).toBe("sendto");
    // in a batch the refused packet is skipped and counted, the others go
    expect(await an.request("sendBatch", { handle: tx.handle, hexes: [small, big, small] })).toBe(3);
    const stats = await an.request<{ txPackets: number; txErrors: number; lastTxError: string }>("stats", { handle: tx.handle });
    expect(stats).toMatchObject({ txPackets: 2, txErrors: 2, lastTxError: "EMSGSIZE" });
    await an.request("close", { handle: tx.handle });
  });

  it("the kernel reassembles fragmented protocol 41 packets before the raw socket sees them (what the AN's downlink relies on)", async () => {
    const rx = await an.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    const tx = await peer.request<Opened>("open", { kind: "tunnel", protocol: 41 });
    await an.request("receive", { handle: rx.handle });
    const whole = ipv4({ src: "10.41.0.2", dst: "10.41.0.1", protocol: 41, payload: ipv6(0x41f00000, 1460), id: 0x7777 });
    expect(whole.length).toBe(1520);
    const frags = [0, 1].map((k) => {
      const out = new Uint8Array(1500);
      return toHex(out.subarray(0, writeIpv4Fragment(whole, 0, 1000, k, out, 0)));
    });
    expect(frags.map((f) => f.length / 2)).toEqual([996, 544]);
    expect(await peer.request("sendBatch", { handle: tx.handle, hexes: [frags[1], frags[0]] })).toBe(2);
    await an.waitUntil(() => an.received(rx.handle).length > 0, "the reassembled packet");
    expect(an.received(rx.handle).map((p) => p.hex)).toEqual([toHex(whole)]);
    await an.request("close", { handle: rx.handle });
    await peer.request("close", { handle: tx.handle });
  });

  it("the ICMP error socket gets errors with their quote, and no echo traffic (ICMP_FILTER)", async () => {
    const rx = await an.request<Opened>("open", { kind: "icmp-errors" });
    const tx = await peer.request<Opened>("open", { kind: "tunnel", protocol: 1 });
    await an.request("receive", { handle: rx.handle });
    const quote = ipv4({ src: "10.41.0.1", dst: "10.41.0.99", protocol: 41, payload: ipv6(0x99, 8), df: true }).subarray(0, 28);
    const icmp = new Uint8Array(8 + quote.length);
    encodeIcmpv4Error(icmp, 0, 3, 4, 1400, quote);
    const error = ipv4({ src: "10.41.0.2", dst: "10.41.0.1", protocol: 1, payload: icmp });
    const echo = icmpEcho("10.41.0.2", "10.41.0.1", 0x77, 1, new Uint8Array(8));
    expect(await peer.request("sendBatch", { handle: tx.handle, hexes: [toHex(echo), toHex(error), toHex(echo)] })).toBe(3);
    await an.waitUntil(() => an.received(rx.handle).length > 0, "the ICMP error");
    await new Promise((r) => setTimeout(r, 200));
    expect(an.received(rx.handle).map((p) => p.hex)).toEqual([toHex(error)]);
    await an.request("close", { handle: rx.handle });
    await peer.request("close", { handle: tx.handle });
  });
});
