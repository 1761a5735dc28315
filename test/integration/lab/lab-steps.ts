// Steps the lab end-to-end tests share: start ANs, attach an MN, read AN log events,
// and the UDP frames of a capture.
import { ETHERTYPE_IPV6, parseEthernet } from "../../../src/wire/ethernet.ts";
import { IPPROTO_UDP } from "../../../src/wire/ipv4.ts";
import { formatIpv6 } from "../../../src/wire/ipv6-address.ts";
import { formatMac } from "../../../src/wire/mac.ts";
import { daemonCommand } from "../../lab/topology.ts";
import type { AnConfigFile, AnIndex, AnProcess, MnNode, Topology } from "../../lab/topology.ts";
import { waitFor } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

export type LogLine = Readonly<Record<string, unknown>>;

/** The engine event a daemon log line carries ({} when none). */
export function eventOf(l: LogLine): Readonly<Record<string, unknown>> {
  return (l.event ?? {}) as Readonly<Record<string, unknown>>;
}

/** Log lines of `msg` (an engine event type) about this MAC. */
export function anEvents(an: AnProcess, msg: string, mac?: string): LogLine[] {
  return an.logs.filter((l) => l.msg === msg && (mac === undefined || eventOf(l).mac === mac));
}

/** Waits for the n-th (1-based) log line of `msg` about `mac`. */
export function waitAnEvent(an: AnProcess, msg: string, mac: string, timeoutMs = 10_000, nth = 1): Promise<LogLine> {
  let seen = 0;
  return an.waitForLog((l) => l.msg === msg && eventOf(l).mac === mac && ++seen >= nth, `AN${an.site.index}: ${msg} #${nth} for ${mac}`, timeoutMs);
}

/** Starts the daemon (bundled from the current source) as AN `index` and waits for "started". */
export async function startAn(t: Topology, index: AnIndex, daemon: string, config: AnConfigFile = t.anConfig(index)): Promise<AnProcess> {
  const an = t.startAn(index, config, { daemon });
  await an.waitForLog((l) => l.msg === "started", `AN${index} started`, 15_000);
  return an;
}

/** Plugs the MN in at AN `index`; resolves with its usable home address once registered. */
export async function attach(t: Topology, mn: MnNode, index: AnIndex, an: AnProcess): Promise<string> {
  const nth = anEvents(an, "registered", mn.mac).length + 1;
  t.moveMn(mn, index);
  await waitAnEvent(an, "registered", mn.mac, 10_000, nth);
  return t.waitForGlobalAddress(mn, 15_000);
}

/** Waits until the broker holds `mn`'s record signed by `signer` naming `address` (read with `an fleet context`, the same firmware, from `an`'s config). */
export async function waitForRecord(t: Topology, daemon: string, an: AnProcess, mn: MnNode, signer: string, address: string): Promise<void> {
  const [cmd, ...first] = daemonCommand(daemon);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await t.lab.run(t.an(1).ns, cmd, [...first, "fleet", "context", mn.mac, "--timeout-s", "1", "--config", an.configFile], 15_000);
    const rec = r.code === 0 ? (JSON.parse(r.stdout) as { signer: string; context: { addresses: string[] } }) : undefined;
    if (rec?.signer === signer && rec.context.addresses.includes(address)) return;
    if (Date.now() > deadline) throw new Error(`no record of ${mn.mac} by ${signer} with ${address}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export type Telemetry = { engine: Record<string, number>; datapath: { fastPath?: { slow: Record<string, number> } } };

/** SIGUSR2 -> the next telemetry line (engine counters, datapath stats). */
export async function telemetry(an: AnProcess): Promise<Telemetry> {
  const before = an.logs.filter((l) => l.msg === "telemetry").length;
  an.child.kill("SIGUSR2");
  await waitFor(() => (an.logs.filter((l) => l.msg === "telemetry").length > before ? true : undefined), 5000, "telemetry line");
  return an.logs.filter((l) => l.msg === "telemetry")[before]!.telemetry as Telemetry;
}

/** When each probe left: replies carry it (t - rtt); a lost probe's is interpolated between its received neighbours (probes every `probeMs`). */
export function sendTimes(replies: readonly { seq: number; rttMs: number; t: number }[], sent: number, probeMs: number): number[] {
  const known = new Map(replies.map((r) => [r.seq, r.t - r.rttMs]));
  const out: number[] = [];
  for (let s = 0; s < sent; s++) {
    const k = known.get(s);
    if (k !== undefined) {
      out.push(k);
      continue;
    }
    let a = s - 1;
    while (a >= 0 && !known.has(a)) a--;
    let b = s + 1;
    while (b < sent && !known.has(b)) b++;
    const ta = a >= 0 ? known.get(a)! : undefined;
    const tb = b < sent ? known.get(b) : undefined;
    out.push(ta !== undefined && tb !== undefined ? ta + ((tb - ta) * (s - a)) / (b - a) : ta !== undefined ? ta + (s - a) * probeMs : tb! - (b - s) * probeMs);
  }
  return out;
}

export interface UdpFrame {
  readonly ethSrc: string;
  readonly ethDst: string;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

/** The IPv6/UDP frames (no extension headers) of a pcap of Ethernet frames. */
export function udpFrames(pcap: Uint8Array): UdpFrame[] {
  const out: UdpFrame[] = [];
  for (const r of readPcap(pcap).records) {
    const eth = parseEthernet(r.data);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV6) continue;
    const p = r.data.subarray(eth.length);
    if (p.length < 48 || p[6] !== IPPROTO_UDP) continue;
    out.push({
      ethSrc: formatMac(eth.value.src),
      ethDst: formatMac(eth.value.dst),
      src: formatIpv6(p, 8),
      dst: formatIpv6(p, 24),
      srcPort: (p[40]! << 8) | p[41]!,
      dstPort: (p[42]! << 8) | p[43]!,
    });
  }
  return out;
}
