// The --pcap recorder over the ports: signalling both ways with the socket's real
// port, ND both ways on the datapath, data left out, nothing before a writer is
// attached; the wrapped ports still do their work.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Datapath, DatapathHandlers } from "../../../src/io/datapath.ts";
import { PcapWriter } from "../../../src/io/pcap-writer.ts";
import { PortRecorder } from "../../../src/io/recording-ports.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { parseIpv4Udp } from "../../../src/wire/udp.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac, packetOf, routerAdvertisementPacket } from "../../support/frames.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const dir = mkdtempSync(join(tmpdir(), "an-rec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COA = parseIpv4("10.0.0.10")!;
const HA = parseIpv4("10.0.0.2")!;
const PORT = 43434;

function fakeDatapath(): { datapath: Datapath; toMn: Uint8Array[]; handlers: () => DatapathHandlers } {
  const toMn: Uint8Array[] = [];
  let handlers: DatapathHandlers | undefined;
  const datapath: Datapath = {
    start: (h) => void (handlers = h),
    toTunnel: () => {},
    toMn: (_dst, _src, packet) => void toMn.push(packet),
    bind: () => {},
    unbind: () => {},
    flush: () => {},
    setOuterHeader: () => {},
    accessMac: mac("02:00:00:00:a1:01"),
    stats: () => ({}) as ReturnType<Datapath["stats"]>,
    close: () => {},
  };
  return { datapath, toMn, handlers: () => handlers! };
}

describe("PortRecorder", () => {
  it("records signalling both ways with the socket's port, and ND both ways on the datapath; not data", () => {
    const path = join(dir, "a.pcap");
    const recorder = new PortRecorder(() => 1_750_000_000_000);
    const sent: Uint8Array[] = [];
    const received: Uint8Array[] = [];
    const send = recorder.signalling({ send: (_f, _t, _p, bytes) => (sent.push(bytes), true) }, PORT);
    const handlers = recorder.signallingHandlers({ message: (_f, _fp, _l, bytes) => void received.push(bytes), error: () => {} }, PORT);
    const fake = fakeDatapath();
    const datapath = recorder.datapath(fake.datapath);
    const mnFrames: Uint8Array[] = [];
    datapath.start({ frameFromMn: (f) => void mnFrames.push(f), tunnelPacket: () => {}, tunnelPacketDropped: () => {}, batchDone: () => {}, ioError: () => {} });

    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    const data = dataFrame(mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), ip6("2001:db8::1"));
    const ra = routerAdvertisementPacket({ src: ip6("fe80::1"), slla: mac("02:00:5e:00:53:01") });
    // Before a writer is attached: passed through, nothing recorded.
    send.send(COA, HA, 434, Uint8Array.of(1, 2, 3));
    expect(recorder.records).toBe(0);

    recorder.attach(PcapWriter.open(path));
    const rrq = Uint8Array.from({ length: 40 }, (_, i) => i);
    const rrp = Uint8Array.from({ length: 30 }, (_, i) => 100 + i);
    expect(send.send(COA, HA, 434, rrq)).toBe(true);
    handlers.message(HA, 434, COA, rrp);
    fake.handlers().frameFromMn(ns);
    fake.handlers().frameFromMn(data);
    datapath.toMn(mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), ra);
    datapath.toMn(mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), packetOf(data));
    recorder.close();

    // The ports did their work.
    expect(sent).toHaveLength(2);
    expect(received).toEqual([rrp]);
    expect(mnFrames).toEqual([ns, data]);
    expect(fake.toMn).toHaveLength(2);

    const { records } = readPcap(Uint8Array.from(readFileSync(path)));
    expect(records).toHaveLength(4);
    const out = parseIpv4Udp(records[0]!.data, 14);
    const back = parseIpv4Udp(records[1]!.data, 14);
    if (!out.ok || !back.ok) throw new Error("UDP records do not parse");
    expect([out.value.ip.src, out.value.udp.srcPort, out.value.ip.dst, out.value.udp.dstPort]).toEqual([COA, PORT, HA, 434]);
    expect(out.value.payload).toEqual(rrq);
    expect([back.value.ip.src, back.value.udp.srcPort, back.value.ip.dst, back.value.udp.dstPort]).toEqual([HA, 434, COA, PORT]);
    expect(back.value.payload).toEqual(rrp);
    expect(records[2]!.data).toEqual(ns);
    expect(records[3]!.data.subarray(14)).toEqual(ra);
  });
});
