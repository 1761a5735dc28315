// Reads classic pcap files (as written by `dumpcap -P`, tcpdump, or our own writer).
export interface PcapRecord {
  readonly tsSec: number;
  readonly tsUsec: number;
  readonly data: Uint8Array;
}

export function readPcap(bytes: Uint8Array): { linkType: number; records: PcapRecord[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
  else throw new Error(`not a classic pcap file (magic ${magic.toString(16)})`);
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const linkType = view.getUint32(20, little);
  const records: PcapRecord[] = [];
  for (let p = 24; p + 16 <= bytes.length; ) {
    const tsSec = view.getUint32(p, little);
    const frac = view.getUint32(p + 4, little);
    const incl = view.getUint32(p + 8, little);
    if (p + 16 + incl > bytes.length) break;
    records.push({ tsSec, tsUsec: nanos ? Math.floor(frac / 1000) : frac, data: bytes.slice(p + 16, p + 16 + incl) });
    p += 16 + incl;
  }
  return { linkType, records };
}
