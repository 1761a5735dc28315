// The --pcap writer: a classic Ethernet pcap with ND frames as on the link and
// signalling wrapped in IPv4/UDP with valid checksums.
import { closeSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isRecordedNd, isRecordedNdPacket, PcapWriter } from "../../../src/io/pcap-writer.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { parseIpv4Udp } from "../../../src/wire/udp.ts";
import { dadNeighborSolicitation, dataFrame, ip6, mac, packetOf, routerAdvertisementPacket } from "../../support/frames.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const dir = mkdtempSync(join(tmpdir(), "an-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PcapWriter", () => {
  it("writes frames, downlink packets and UDP signalling that read back exactly", () => {
    const path = join(dir, "a.pcap");
    const w = PcapWriter.open(path);
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    const ra = routerAdvertisementPacket({ src: ip6("fe80::1"), slla: mac("02:00:5e:00:53:01") });
    const rrq = Uint8Array.from({ length: 60 }, (_, i) => i);
    w.frame(1_750_000_000_123, ns);
    w.ipv6(1_750_000_000_456, mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), ra);
    w.udp(1_750_000_001_000, parseIpv4("10.0.0.10")!, 434, parseIpv4("10.0.0.2")!, 434, rrq);
    w.close();
    expect(w.records).toBe(3);

    const { linkType, records } = readPcap(Uint8Array.from(readFileSync(path)));
    expect(linkType).toBe(1);
    expect(records.map((r) => [r.tsSec, r.tsUsec])).toEqual([
      [1_750_000_000, 123_000],
      [1_750_000_000, 456_000],
      [1_750_000_001, 0],
    ]);
    expect(records[0]!.data).toEqual(ns);
    expect([...records[1]!.data.subarray(0, 14)]).toEqual([2, 0x11, 0x22, 0x33, 0x44, 1, 2, 0, 0x5e, 0, 0x53, 1, 0x86, 0xdd]);
    expect(records[1]!.data.subarray(14)).toEqual(ra);
    const udp = parseIpv4Udp(records[2]!.data, 14);
    if (!udp.ok) throw new Error(udp.error.detail);
    expect(udp.value.ip.src).toBe(parseIpv4("10.0.0.10"));
    expect(udp.value.ip.dst).toBe(parseIpv4("10.0.0.2"));
    expect(udp.value.udp.srcPort).toBe(434);
    expect(udp.value.payload).toEqual(rrq);
  });

  it("records ND (NS/RS/RA/NA) but not data frames", () => {
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    const data = dataFrame(mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), ip6("2001:db8::1"));
    expect(isRecordedNd(ns)).toBe(true);
    expect(isRecordedNd(data)).toBe(false);
    expect(isRecordedNdPacket(packetOf(ns))).toBe(true);
    expect(isRecordedNdPacket(routerAdvertisementPacket({ src: ip6("fe80::1"), slla: null }))).toBe(true);
    expect(isRecordedNdPacket(packetOf(data))).toBe(false);
  });

  it("a failing write (ENOSPC on /dev/full) disables the capture, reports once, and never throws", () => {
    const failures: string[] = [];
    const w = PcapWriter.open("/dev/full", (e) => failures.push(e.code ?? "?"));
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    expect(() => {
      w.frame(1_750_000_000_000, ns);
      w.udp(1_750_000_000_000, parseIpv4("10.0.0.10")!, 434, parseIpv4("10.0.0.2")!, 434, new Uint8Array(20));
      w.ipv6(1_750_000_000_000, mac("02:11:22:33:44:01"), mac("02:00:5e:00:53:01"), packetOf(ns));
    }).not.toThrow();
    expect(failures).toEqual(["ENOSPC"]);
    expect(w.failed).toBe("ENOSPC");
    expect(w.capturing).toBe(false);
    expect(w.records).toBe(0);
    w.close();
  });

  it("a write failing after some records (fd closed underneath: EBADF) stops the capture without throwing", () => {
    const path = join(dir, "closed.pcap");
    const failures: string[] = [];
    const w = PcapWriter.open(path, (e) => failures.push(e.code ?? "?"));
    const ns = dadNeighborSolicitation(mac("02:11:22:33:44:01"));
    w.frame(1_750_000_000_000, ns);
    const fd = readdirSync("/proc/self/fd").map(Number).find((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`) === path;
      } catch {
        return false;
      }
    });
    if (fd === undefined) throw new Error("the writer's fd not found");
    closeSync(fd);
    expect(() => w.frame(1_750_000_000_001, ns)).not.toThrow();
    expect(() => w.frame(1_750_000_000_002, ns)).not.toThrow();
    expect(failures).toEqual(["EBADF"]);
    expect(w.records).toBe(1);
    expect(() => w.close()).not.toThrow();
    expect(readPcap(Uint8Array.from(readFileSync(path))).records).toHaveLength(1);
  });
});
