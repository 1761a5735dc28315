// `an run --pcap FILE`: the signalling (UDP 434 both ways) and the Neighbor
// Discovery (NS/RS/RA/NA) the AN handles, in a classic pcap file with Ethernet
// framing that tshark and Wireshark read. ND frames are recorded as they were on
// the access link (downlink ones with the Ethernet header the AN wrote); signalling
// is wrapped in an IPv4/UDP header with the real addresses and ports and an
// Ethernet header of zero MACs (the uplink's link layer is the kernel's business).
// Each record is written at once (synchronously), so the file is readable while
// the daemon runs; this is a field-debugging aid, not a datapath capture: a write
// that fails (ENOSPC, EIO, ...) disables the capture, reports once, and never
// throws into the frame handlers that call it.
import { closeSync, openSync, writeSync } from "node:fs";
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import {
  ND_NEIGHBOR_ADVERTISEMENT,
  ND_NEIGHBOR_SOLICITATION,
  ND_ROUTER_ADVERTISEMENT,
  ND_ROUTER_SOLICITATION,
  classifyFrame,
} from "../wire/ndisc.ts";
import {
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_LINKTYPE_ETHERNET,
  PCAP_RECORD_HEADER_LENGTH,
  pcapRecordForMillis,
  writePcapGlobalHeader,
  writePcapRecordHeader,
} from "../wire/pcap.ts";
import { encodeIpv4Udp, ipv4UdpLength } from "../wire/udp.ts";

export const PCAP_SNAP_LENGTH = 65535;

/** True for an Ethernet frame carrying NS, RS, RA or NA: what the pcap records of the access link. */
export function isRecordedNd(frame: Uint8Array): boolean {
  const c = classifyFrame(frame);
  return c === ND_ROUTER_SOLICITATION || c === ND_ROUTER_ADVERTISEMENT || c === ND_NEIGHBOR_SOLICITATION || c === ND_NEIGHBOR_ADVERTISEMENT;
}

/** True for an IPv6 packet (no L2 header) carrying NS, RS, RA or NA without extension headers. */
export function isRecordedNdPacket(packet: Uint8Array): boolean {
  if (packet.length < 41 || packet[0]! >>> 4 !== 6 || packet[6] !== 58) return false;
  const t = packet[40]!;
  return t >= ND_ROUTER_SOLICITATION && t <= ND_NEIGHBOR_ADVERTISEMENT && packet[41] === 0;
}

/** Told once, when a write failed and the capture stopped. */
export type PcapFailure = (error: NodeJS.ErrnoException) => void;

export class PcapWriter {
  private fd: number | null;
  private scratch = new Uint8Array(PCAP_RECORD_HEADER_LENGTH + ETHERNET_HEADER_LENGTH + 28 + 2048);
  records = 0;
  /** The error code that stopped the capture, if one did. */
  failed: string | null = null;

  private constructor(
    fd: number,
    private readonly onFailure: PcapFailure,
  ) {
    this.fd = fd;
    const header = new Uint8Array(PCAP_GLOBAL_HEADER_LENGTH);
    writePcapGlobalHeader({ linkType: PCAP_LINKTYPE_ETHERNET, snapLength: PCAP_SNAP_LENGTH, nanoseconds: false }, header, 0);
    this.write(header, header.length);
  }

  /** Creates (truncates) the file, mode 0600: it holds MN identities. Throws when it cannot be opened. */
  static open(path: string, onFailure: PcapFailure = () => {}): PcapWriter {
    return new PcapWriter(openSync(path, "w", 0o600), onFailure);
  }

  /** True while records are being written. */
  get capturing(): boolean {
    return this.fd !== null;
  }

  private write(buf: Uint8Array, length: number): boolean {
    if (this.fd === null) return false;
    try {
      writeSync(this.fd, buf, 0, length);
      return true;
    } catch (e) {
      const error = e as NodeJS.ErrnoException;
      this.failed = error.code ?? "EIO";
      this.close();
      this.onFailure(error);
      return false;
    }
  }

  private room(n: number): Uint8Array {
    if (this.scratch.length < n) this.scratch = new Uint8Array(n);
    return this.scratch;
  }

  private emit(buf: Uint8Array, length: number): void {
    if (this.write(buf, length)) this.records++;
  }

  /** An Ethernet frame as seen on the access link. */
  frame(wallMs: number, frame: Uint8Array): void {
    if (this.fd === null) return;
    const captured = Math.min(frame.length, PCAP_SNAP_LENGTH);
    const buf = this.room(PCAP_RECORD_HEADER_LENGTH + captured);
    writePcapRecordHeader(pcapRecordForMillis(wallMs, captured, frame.length), buf, 0);
    buf.set(frame.subarray(0, captured), PCAP_RECORD_HEADER_LENGTH);
    this.emit(buf, PCAP_RECORD_HEADER_LENGTH + captured);
  }

  /** An IPv6 packet sent to an MN with this Ethernet header. */
  ipv6(wallMs: number, dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void {
    if (this.fd === null) return;
    const length = Math.min(ETHERNET_HEADER_LENGTH + packet.length, PCAP_SNAP_LENGTH);
    const buf = this.room(PCAP_RECORD_HEADER_LENGTH + ETHERNET_HEADER_LENGTH + packet.length);
    writePcapRecordHeader(pcapRecordForMillis(wallMs, length, ETHERNET_HEADER_LENGTH + packet.length), buf, 0);
    const e = PCAP_RECORD_HEADER_LENGTH;
    buf.set(dst.subarray(0, 6), e);
    buf.set(src.subarray(0, 6), e + 6);
    buf[e + 12] = ETHERTYPE_IPV6 >>> 8;
    buf[e + 13] = ETHERTYPE_IPV6 & 0xff;
    buf.set(packet, e + ETHERNET_HEADER_LENGTH);
    this.emit(buf, PCAP_RECORD_HEADER_LENGTH + length);
  }

  /** A UDP datagram (signalling) with its real addresses and ports. */
  udp(wallMs: number, src: number, srcPort: number, dst: number, dstPort: number, payload: Uint8Array): void {
    if (this.fd === null) return;
    const ipLength = ipv4UdpLength(payload.length);
    if (ipLength > 0xffff) return;
    const total = ETHERNET_HEADER_LENGTH + ipLength;
    const buf = this.room(PCAP_RECORD_HEADER_LENGTH + total);
    writePcapRecordHeader(pcapRecordForMillis(wallMs, total), buf, 0);
    const e = PCAP_RECORD_HEADER_LENGTH;
    buf.fill(0, e, e + 12);
    buf[e + 12] = ETHERTYPE_IPV4 >>> 8;
    buf[e + 13] = ETHERTYPE_IPV4 & 0xff;
    encodeIpv4Udp({ src, dst, srcPort, dstPort, ttl: 64, identification: 0, dontFragment: false }, payload, buf, e + ETHERNET_HEADER_LENGTH);
    this.emit(buf, PCAP_RECORD_HEADER_LENGTH + total);
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      // Already gone (EBADF) or a late write-back error: nothing more to capture either way.
    }
  }
}
