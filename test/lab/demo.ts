// The lab demo (`npm run demo`, as root; needs iproute2 and node, nothing else):
// the AN firmware (the single executable when built, else the bundled daemon
// dist/an.mjs) runs in the namespace lab of topology.ts, and a real Linux MN
//   attaches at AN1 -> is registered -> autoconfigures its address in the HA's prefix
//   -> pings the CN both ways -> moves to AN2 while a ping stream runs
//   -> keeps its address and its connectivity.
// It prints a timeline of what each party observed and the figures derived from it,
// and exits 1 when a step fails (2 on usage). Every figure comes from a real
// observation, never from the demo's own sleeps:
//   AN log    the daemon's JSON log line of the event (pino "time", ms)
//   AN pcap   the daemon's --pcap record (stamped when it read or wrote the frame or datagram)
//   HA        the HA peer's JSON event line ("t", ms)
//   MN kernel `ip -ts monitor link address route` in the MN's namespace (the kernel's change notifications)
//   ping      arrival times of the UDP ping stream's replies in the MN (a probe every 10 ms)
//   demo      the demo's clock around the one `ip -batch` that moves the MN's link
//
//   npm run demo [-- --pcap-dir DIR] [--json FILE] [--daemon PATH] [--hostapd]
//
// --hostapd: 802.1X on the access network (issue 11; needs hostapd and wpa_supplicant):
// hostapd (driver=wired, EAP-MD5 user file) on each AN's access port, wpa_supplicant in
// the MN; the ANs serve only authorised stations and register one as soon as hostapd
// authorises it, under its EAP identity. The timeline then shows authentication ->
// registration.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet } from "../../src/wire/ethernet.ts";
import { formatIpv6 } from "../../src/wire/ipv6-address.ts";
import { formatMac } from "../../src/wire/mac.ts";
import { MipMessageType } from "../../src/wire/mip-types.ts";
import { parseNdPacket } from "../../src/wire/ndisc.ts";
import { readPcap } from "../support/pcap-reader.ts";
import { prepareHostapd, startHostapd, startSupplicant, wpaCli } from "./hostapd.ts";
import type { EapUser, HostapdSite } from "./hostapd.ts";
import { daemonCommand, defaultDaemon, LAB, Topology } from "./topology.ts";
import type { AnIndex, AnProcess, HaProcess, LabBroker, MnKernelEvent, MnMonitor, MnNode, PingSummary } from "./topology.ts";

const USAGE = "usage: npm run demo [-- --pcap-dir DIR] [--json FILE] [--daemon PATH] [--hostapd]";
/** The MN's 802.1X credentials with --hostapd. */
const MN_USER: EapUser = { identity: `alice@${LAB.realm}`, password: "alice-lab-secret" };
const PING_INTERVAL_MS = 10;

type Log = Readonly<Record<string, unknown>>;

interface Mark {
  readonly what: string;
  /** ms since 1970 */
  readonly t: number;
  readonly source: string;
}

class StepFailed extends Error {}

// ---- small helpers ------------------------------------------------------------------

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

function logTime(l: Log): number {
  const t = typeof l.time === "string" ? Date.parse(l.time) : typeof l.time === "number" ? l.time : NaN;
  if (!Number.isFinite(t)) throw new StepFailed(`AN log line without a time: ${JSON.stringify(l)}`);
  return t;
}

function eventOf(l: Log): Record<string, unknown> {
  return (l.event ?? {}) as Record<string, unknown>;
}

/** The first AN log line with this message (and, if given, this MAC) at or after `since`. */
function anLog(an: AnProcess, msg: string, mac: string | undefined, since: number): Log | undefined {
  return an.logs.find((l) => l.msg === msg && (mac === undefined || eventOf(l).mac === mac) && logTime(l) >= since);
}

async function waitAnLog(an: AnProcess, msg: string, mac: string, since: number, timeoutMs: number): Promise<Log> {
  return an.waitForLog((l) => l.msg === msg && eventOf(l).mac === mac && logTime(l) >= since, `AN${an.site.index} to log ${msg}`, timeoutMs);
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? "-" : `${ms >= 0 ? "+" : ""}${ms.toFixed(ms < 10 && ms > -10 ? 1 : 0)}`;
}

/** A duration for the figures lines. */
function dur(ms: number | undefined): string {
  return ms === undefined ? "-" : `${ms.toFixed(Math.abs(ms) < 10 ? 1 : 0)} ms`;
}

const round = (x: number | undefined): number | undefined => (x === undefined ? undefined : Math.round(x * 10) / 10);

/** What the AN's --pcap file holds, as timestamped marks. */
interface AnPcapView {
  /** The MN's NS / RS as the AN read them off the access link. */
  readonly ndFromMn: { t: number; kind: string; detail: string }[];
  /** RAs / NAs the AN wrote to the MN. */
  readonly ndToMn: { t: number; kind: string }[];
  /** UDP 434 both ways: message type, source, destination. */
  readonly signalling: { t: number; type: number; from: string; to: string }[];
}

function readAnPcap(file: string, mnMac: string): AnPcapView {
  const v: AnPcapView = { ndFromMn: [], ndToMn: [], signalling: [] };
  for (const r of readPcap(new Uint8Array(readFileSync(file))).records) {
    const t = r.tsSec * 1000 + r.tsUsec / 1000;
    const eth = parseEthernet(r.data);
    if (!eth.ok) continue;
    const o = eth.length;
    if (eth.value.etherType === ETHERTYPE_IPV4) {
      const ihl = (r.data[o]! & 0x0f) * 4;
      const type = r.data[o + ihl + 8];
      const addr = (at: number): string => r.data.subarray(at, at + 4).join(".");
      if (type !== undefined) v.signalling.push({ t, type, from: addr(o + 12), to: addr(o + 16) });
      continue;
    }
    if (eth.value.etherType !== ETHERTYPE_IPV6) continue;
    const nd = parseNdPacket(r.data, o);
    if (!nd.ok) continue;
    const m = nd.value.message;
    if (formatMac(eth.value.src) === mnMac && (m.kind === "ns" || m.kind === "rs")) {
      const src = nd.value.ip.src.every((b) => b === 0) ? "::" : formatIpv6(nd.value.ip.src);
      v.ndFromMn.push({ t, kind: m.kind.toUpperCase(), detail: m.kind === "ns" ? `target ${formatIpv6(m.target)} from ${src}` : `from ${src}` });
    } else if (formatMac(eth.value.dst) === mnMac) v.ndToMn.push({ t, kind: m.kind.toUpperCase() });
  }
  return v;
}

function kernelAddress(e: MnKernelEvent, address: string): boolean {
  return e.kind === "address" && new RegExp(`inet6 ${address.replace(/\./g, "\\.")}/`).test(e.text);
}

// ---- the scenario --------------------------------------------------------------------

interface Figures {
  daemon: { path: string; kind: string };
  mn: { mac: string; nai: string; address: string | null };
  attach: Record<string, unknown>;
  pings: Record<string, PingSummary>;
  handover: Record<string, unknown>;
  /** Which fleet broker carried the handover's context. */
  broker?: Record<string, unknown>;
  ok: boolean;
  failedStep?: string;
  error?: string;
  timeline: { phase: string; what: string; t: number; source: string }[];
}

class Demo {
  private readonly t: Topology;
  private readonly mn: MnNode;
  private ha!: HaProcess;
  private readonly an: Partial<Record<AnIndex, AnProcess>> = {};
  private monitor!: MnMonitor;
  private broker: LabBroker | undefined;
  private brokerProblem: string | undefined;
  private readonly pcaps: Record<AnIndex, string>;
  private step = "setup";
  readonly figures: Figures;
  /** The NAI the MN registers under: its EAP identity with --hostapd, else derived from its MAC. */
  private readonly nai: string;
  private supplicantStarted = false;

  constructor(
    private readonly daemon: { path: string; kind: string },
    pcapDir: string | undefined,
    private readonly hostapd = false,
  ) {
    this.t = Topology.create({ label: "demo", mns: 1 });
    this.mn = this.t.mns[0]!;
    this.nai = hostapd ? MN_USER.identity : this.mn.nai;
    const dir = pcapDir ?? this.t.file("");
    this.pcaps = { 1: join(dir, "an1.pcap"), 2: join(dir, "an2.pcap") };
    this.figures = { daemon, mn: { mac: this.mn.mac, nai: this.nai, address: null }, attach: {}, pings: {}, handover: {}, ok: false, timeline: [] };
  }

  private begin(step: string): void {
    this.step = step;
  }

  private ok(text: string): void {
    out(`  ok  ${text}`);
  }

  private check(cond: boolean, message: string): void {
    if (!cond) throw new StepFailed(message);
  }

  private timeline(phase: string, zero: number, zeroName: string, marks: Mark[]): void {
    const sorted = [...marks].sort((a, b) => a.t - b.t);
    out();
    out(`  ${phase}: t = 0 at ${zeroName}`);
    out(`  ${"t (ms)".padStart(9)}  ${"event".padEnd(70)} measured by`);
    for (const m of sorted) {
      out(`  ${fmtMs(m.t - zero).padStart(9)}  ${m.what.padEnd(70)} ${m.source}`);
      this.figures.timeline.push({ phase, what: m.what, t: m.t, source: m.source });
    }
  }

  async run(): Promise<void> {
    const t = this.t;
    const mn = this.mn;
    this.begin("lab setup");
    // The fleet broker (issue 10): the handover's context goes over it. Without mosquitto
    // the demo still runs, with the ANs on "any-ipv6" (a fresh registration at AN2), and says so.
    try {
      this.broker = await t.startBroker();
    } catch (e) {
      this.brokerProblem = (e as Error).message.split("\n")[0] ?? "mosquitto did not start";
      t.broker = undefined;
    }
    this.ha = await t.startHomeAgent();
    const sites: Partial<Record<AnIndex, HostapdSite>> = {};
    if (this.hostapd) {
      for (const i of [1, 2] as const) {
        const site = prepareHostapd(t, i, [MN_USER]);
        sites[i] = site;
        await startHostapd(t, i, site);
      }
    }
    for (const i of [1, 2] as const) {
      const site = sites[i];
      const config = site ? t.anConfig(i, { linkLayer: { hostapdControl: site.controlPath, registerOnAuthorised: true } }) : t.anConfig(i);
      this.an[i] = t.startAn(i, config, { daemon: this.daemon.path, pcap: this.pcaps[i] });
    }
    for (const i of [1, 2] as const) await this.an[i]!.waitForLog((l) => l.msg === "started", `AN${i} started`, 15_000);
    if (this.broker) for (const i of [1, 2] as const) await this.an[i]!.waitForLog((l) => l.msg === "fleet broker connected", `AN${i} connected to the fleet broker`, 15_000);
    if (this.hostapd) for (const i of [1, 2] as const) await this.an[i]!.waitForLog((l) => l.msg === "hostapd attached", `AN${i} attached to hostapd`, 10_000);
    await t.startEcho(t.cnNs);
    await t.startEcho(mn.ns);
    this.monitor = await t.monitorMn(mn);
    this.ok(`lab up: MN ${mn.mac}, AN1 and AN2 (${this.daemon.kind}), HA ${LAB.ha} with home prefix ${LAB.homePrefix}, CN ${LAB.cn}`);
    const brokerNote = this.broker ? this.broker.describe(this.broker.version) : `none (${this.brokerProblem ?? "not started"}): the ANs use triggerOn "any-ipv6" and the handover is a fresh registration`;
    this.figures.broker = this.broker ? { kind: "mosquitto", version: this.broker.version, url: this.broker.url } : { kind: "none", problem: this.brokerProblem ?? null };
    this.ok(`fleet broker: ${brokerNote}`);
    if (this.hostapd) this.ok(`802.1X: hostapd (driver=wired, EAP-MD5) at both ANs, wpa_supplicant in the MN as ${MN_USER.identity}; only authorised stations are served`);

    await this.attach();
    await this.pingBothWays("at AN1", 1);
    await this.handover();
    await this.pingBothWays("at AN2", 2);
    this.figures.ok = true;
  }

  private async attach(): Promise<void> {
    const { t, mn, ha } = this;
    const an1 = this.an[1]!;
    this.begin("attach at AN1");
    const before = Date.now();
    t.moveMn(mn, 1);
    const after = Date.now();
    if (this.hostapd && !this.supplicantStarted) {
      startSupplicant(t, mn, MN_USER);
      this.supplicantStarted = true;
    }
    const registered = await waitAnLog(an1, "registered", mn.mac, before, this.hostapd ? 20_000 : 10_000);
    const usable = await this.monitor.waitFor((e) => kernelAddress(e, mn.homeAddress) && !e.deleted && !/tentative|dadfailed/.test(e.text), `${mn.homeAddress} usable`, 15_000);
    const address = await t.waitForGlobalAddress(mn, 5_000);
    this.check(address === mn.homeAddress, `the MN's global address is ${address}, expected ${mn.homeAddress} (SLAAC in ${LAB.homePrefix})`);
    this.figures.mn.address = address;

    const pcap = readAnPcap(this.pcaps[1], mn.mac);
    const started = anLog(an1, "session-started", mn.mac, before);
    const rrqLog = anLog(an1, "registration-sent", mn.mac, before);
    const accepted = await ha.waitFor("registration-accepted", (e) => e.nai === this.nai && e.t >= before, 5_000);
    const raSent = ha.events("ra-sent").find((e) => e.nai === this.nai && e.t >= before);
    const dads = ha.events("proxy-dad").filter((e) => e.nai === this.nai && e.t >= before);
    const firstNd = pcap.ndFromMn[0];
    const rrq = pcap.signalling.find((s) => s.type === MipMessageType.RegistrationRequest && s.to === LAB.ha && s.t >= before);
    const reply = pcap.signalling.find((s) => s.type === MipMessageType.RegistrationReply && s.from === LAB.ha && s.t >= before);
    const raToMn = pcap.ndToMn.find((n) => n.kind === "RA");
    const carrier = this.monitor.events.find((e) => e.kind === "link" && e.t >= before - 5 && /LOWER_UP/.test(e.text));
    const route = this.monitor.events.find((e) => e.kind === "route" && !e.deleted && /^default via fe80::1 /.test(e.text));
    this.check(started !== undefined && rrq !== undefined && reply !== undefined && raToMn !== undefined, "AN1's log / pcap or the HA lack a step of the registration");
    this.check(accepted.v6 && accepted.coa === t.an(1).coas[0], `HA accepted ${JSON.stringify(accepted)}`);

    const trigger = String(eventOf(started!).trigger);
    const marks: Mark[] = [
      { what: "MN link plugged into AN1 (ip -batch returned)", t: after, source: "demo" },
      { what: `session started at AN1 ${trigger === "station-authorised" ? "by hostapd's authorisation" : "by the MN's first frame"} (trigger: ${trigger})`, t: logTime(started!), source: "AN log" },
      { what: `RRQ sent (CoA ${accepted.coa} -> HA ${LAB.ha})`, t: rrq!.t, source: "AN pcap" },
      { what: "HA accepted, binding new, IPv6 HoA extension in the reply", t: accepted.t, source: "HA" },
      { what: "reply received", t: reply!.t, source: "AN pcap" },
      { what: "session bound (registered)", t: logTime(registered), source: "AN log" },
      { what: "RA delivered to the MN (home prefix, MTU, HA's MAC)", t: raToMn!.t, source: "AN pcap" },
      { what: `${mn.homeAddress} usable (DAD done)`, t: usable.t, source: "MN kernel" },
    ];
    if (carrier) marks.push({ what: "MN carrier up", t: carrier.t, source: "MN kernel" });
    if (rrqLog) marks.push({ what: "registration-sent logged", t: logTime(rrqLog), source: "AN log" });
    if (raSent) marks.push({ what: "RA sent into the tunnel", t: raSent.t, source: "HA" });
    if (firstNd) marks.push({ what: `first NS/RS from the MN: ${firstNd.kind} ${firstNd.detail}`, t: firstNd.t, source: "AN pcap" });
    if (route) marks.push({ what: "MN default route via fe80::1 (RA processed)", t: route.t, source: "MN kernel" });
    for (const d of dads) marks.push({ what: `HA proxy DAD for ${d.address}: ${d.result} (the MN's DAD NS)`, t: d.t, source: "HA" });
    const linkLocal = this.monitor.events.find((e) => e.t >= before && kernelAddress(e, mn.linkLocal) && !e.deleted && !/tentative|dadfailed/.test(e.text));
    if (linkLocal) marks.push({ what: `${mn.linkLocal} usable (DAD done)`, t: linkLocal.t, source: "MN kernel" });
    marks.push(...this.authMarks(an1, before));
    const zero = carrier?.t ?? after;
    this.timeline("attach at AN1", zero, carrier ? "MN carrier up (MN kernel)" : "link plugged (demo)", marks);

    const firstFrame = logTime(started!);
    const f = {
      trigger,
      careOf: accepted.coa,
      firstFrameToRrqMs: round(rrq!.t - firstFrame),
      firstNdRsToRrqMs: firstNd ? round(rrq!.t - firstNd.t) : undefined,
      rrqToReplyMs: round(reply!.t - rrq!.t),
      replyToRaDeliveredMs: round(raToMn!.t - reply!.t),
      raDeliveredToAddressUsableMs: round(usable.t - raToMn!.t),
      firstNdRsToAddressUsableMs: firstNd ? round(usable.t - firstNd.t) : undefined,
      carrierUpToAddressUsableMs: round(usable.t - zero),
      heldFramesReleased: eventOf(registered).heldFramesReleased,
    };
    this.figures.attach = f;
    out();
    out(`  figures: first frame (trigger) -> RRQ sent ${dur(f.firstFrameToRrqMs)} -> reply ${dur(f.rrqToReplyMs)} -> RA delivered ${dur(f.replyToRaDeliveredMs)}`);
    out(`           -> address usable ${dur(f.raDeliveredToAddressUsableMs)} (the MN's own DAD); carrier up -> address usable ${dur(f.carrierUpToAddressUsableMs)}.`);
    if (this.hostapd) {
      const success = this.authMarks(an1, before).find((m) => m.what.startsWith("EAP success"));
      out(`           802.1X: the session starts when hostapd authorises the MN (${this.nai}); EAP success -> RRQ sent ${dur(success ? rrq!.t - success.t : undefined)}.`);
      out(`           Frames before that (Linux's MLD, DAD NS, RS) are not served: the MN's RS retry gets the RA.`);
    } else if (this.broker) {
      out(`           The ANs use the default trigger with the fleet broker: an unknown station's first frame asks the broker`);
      out(`           for its context record; none at first attach, so it registers from scratch.`);
    } else {
      out(`           The lab's ANs start on any IPv6 frame (triggerOn "any-ipv6"): Linux's first frame is an MLD report, so the`);
      out(`           session is bound before the MN's first NS/RS (first NS/RS -> RRQ ${dur(f.firstNdRsToRrqMs)}); its NS then goes straight to the HA.`);
    }
    out();
    this.ok(`attached at AN1: registered with CoA ${accepted.coa}, the MN autoconfigured ${address} from the HA's prefix`);
  }

  /** EAP start, success and the authorisation, as the AN logged them (hostapd's events), with --hostapd. */
  private authMarks(an: AnProcess, since: number): Mark[] {
    if (!this.hostapd) return [];
    const marks: Mark[] = [];
    const mac = this.mn.mac;
    const find = (msg: string, eap?: string): Log | undefined => an.logs.find((l) => l.msg === msg && l.mac === mac && (eap === undefined || l.eap === eap) && logTime(l) >= since);
    const started = find("station eap", "CTRL-EVENT-EAP-STARTED");
    const success = find("station eap", "CTRL-EVENT-EAP-SUCCESS");
    const authorised = find("station authorised");
    if (started) marks.push({ what: "EAP started (hostapd CTRL-EVENT-EAP-STARTED)", t: logTime(started), source: "AN log" });
    if (success) marks.push({ what: "EAP success (hostapd CTRL-EVENT-EAP-SUCCESS)", t: logTime(success), source: "AN log" });
    if (authorised) marks.push({ what: `station authorised (AP-STA-CONNECTED; STA gives identity ${String(authorised.identity)})`, t: logTime(authorised), source: "AN log" });
    return marks;
  }

  private async pingBothWays(where: string, at: AnIndex): Promise<void> {
    const { t, mn } = this;
    this.begin(`ping both ways ${where}`);
    const since = Date.now();
    const up = await t.ping(mn.ns, LAB.cn, { count: 5, intervalMs: 50, waitMs: 500 });
    this.figures.pings[`mnToCn${where === "at AN1" ? "AtAn1" : "AtAn2"}`] = up;
    this.check(up.received === up.sent, `MN -> CN: ${up.received}/${up.sent} replies`);
    const down = await t.ping(t.cnNs, mn.homeAddress, { count: 5, intervalMs: 50, waitMs: 500 });
    this.figures.pings[`cnToMn${where === "at AN1" ? "AtAn1" : "AtAn2"}`] = down;
    this.check(down.received === down.sent, `CN -> MN: ${down.received}/${down.sent} replies`);
    const coa = t.an(at).coas[0]!;
    const via = this.ha.events("tunnel-rx").filter((e) => e.t >= since && e.fate === "to-home-link" && e.src === mn.homeAddress);
    this.check(via.length >= up.sent + down.sent && via.every((e) => e.coa === coa), `the MN's packets did not all reach the HA through AN${at}'s tunnel (${coa})`);
    this.ok(`ping ${where}: MN -> CN ${up.received}/${up.sent}, CN -> MN ${down.received}/${down.sent}; the HA got the MN's packets through the tunnel from ${coa}`);
  }

  private async handover(): Promise<void> {
    const { t, mn, ha } = this;
    const an1 = this.an[1]!;
    const an2 = this.an[2]!;
    this.begin("handover to AN2 under a ping stream");
    const stream = await t.pingStream(mn.ns, LAB.cn, { intervalMs: PING_INTERVAL_MS, waitMs: 500 });
    let summary: PingSummary | undefined;
    try {
      await waitUntil(() => stream.replies.length >= 25, 5_000, "the ping stream to run at AN1");
      const before = Date.now();
      t.moveMn(mn, 2);
      const after = Date.now();
      // wpa_supplicant -D wired does not follow carrier: told, as a roaming station re-authenticates at its new AP by itself.
      let reauth: number | undefined;
      if (this.hostapd) {
        wpaCli(t, mn, "reauthenticate");
        reauth = Date.now();
      }
      const registered = await waitAnLog(an2, "registered", mn.mac, before, this.hostapd ? 20_000 : 10_000);
      const resumedAfter = logTime(registered);
      await waitUntil(() => stream.replies.filter((r) => r.t > resumedAfter).length >= 25, 5_000, "ping replies through AN2");
      const ack = await ha.waitFor("ack-received", (e) => e.nai === this.nai && e.t >= before, 5_000);
      const released = await waitAnLog(an1, "released", mn.mac, before, 5_000);
      summary = await stream.stop();
      this.figures.pings.stream = summary;

      const replies = [...stream.replies].sort((a, b) => a.t - b.t);
      let gap = { from: before, to: before, ms: 0 };
      for (let i = 1; i < replies.length; i++) {
        const ms = replies[i]!.t - replies[i - 1]!.t;
        if (ms > gap.ms && replies[i]!.t > before) gap = { from: replies[i - 1]!.t, to: replies[i]!.t, ms };
      }
      const firstAfter = replies.find((r) => r.t > resumedAfter);
      const started = anLog(an2, "session-started", mn.mac, before);
      const rrqLog = anLog(an2, "registration-sent", mn.mac, before);
      const pcap2 = readAnPcap(this.pcaps[2], mn.mac);
      const rrq = pcap2.signalling.find((s) => s.type === MipMessageType.RegistrationRequest && s.to === LAB.ha && s.t >= before);
      const reply = pcap2.signalling.find((s) => s.type === MipMessageType.RegistrationReply && s.from === LAB.ha && s.t >= before);
      const accepted = await ha.waitFor("registration-accepted", (e) => e.nai === this.nai && e.t >= before, 5_000);
      const revocation = ha.events("revocation-sent").find((e) => e.nai === this.nai && e.t >= before);
      const revoked = anLog(an1, "revoked", mn.mac, before);
      const carrier = this.monitor.events.find((e) => e.kind === "link" && e.t >= before - 5 && /LOWER_UP/.test(e.text));
      this.check(accepted.binding === "moved" && accepted.coa === t.an(2).coas[0], `HA: ${JSON.stringify(accepted)}`);
      this.check(revocation?.reason === "handover" && revocation.coa === t.an(1).coas[0], `HA revocation: ${JSON.stringify(revocation)}`);
      // AN1 lets go on AN2's release request (context handover) or on the HA's revocation, whichever comes first; it acknowledges the revocation either way.
      const releaseReason = String(eventOf(released).reason);
      this.check(releaseReason === "revoked" || (this.broker !== undefined && releaseReason === "handed-over"), `AN1 released the session for ${releaseReason}`);
      this.check(this.broker !== undefined || revoked !== undefined, "AN1 did not log the revocation");
      const imported = an2.logs.find((l) => l.msg === "context record imported: registering at once" && l.mac === mn.mac && logTime(l) >= before);
      const fetchMiss = an2.logs.find((l) => l.msg === "no context record: registering from scratch" && l.mac === mn.mac && logTime(l) >= before);
      const releaseAsked = an1.logs.find((l) => l.msg === "release requested by another AN" && l.mac === mn.mac && logTime(l) >= before);
      // (With --hostapd the authorisation at AN2 starts the session: a fresh registration, no fetch.)
      if (this.broker && !this.hostapd) this.check(imported !== undefined && imported.from === "an1", `AN2 did not import AN1's context record${fetchMiss ? " (it found none and registered from scratch)" : ""}`);

      // The MN kept its address: never deleted nor re-probed, still usable.
      const lost = this.monitor.events.filter((e) => e.t >= before && kernelAddress(e, mn.homeAddress) && (e.deleted || /tentative|dadfailed/.test(e.text)));
      const now = t.mnAddresses(mn).find((a) => a.local === mn.homeAddress);
      this.check(lost.length === 0 && now !== undefined && !now.tentative && !now.dadfailed, `the MN lost or re-probed ${mn.homeAddress}: ${JSON.stringify(lost)}`);
      this.check(summary.received > 0 && firstAfter !== undefined, "no ping reply after the handover");

      const marks: Mark[] = [
        { what: "MN link moved to AN2 (ip -batch returned)", t: after, source: "demo" },
        { what: `last ping reply before the interruption`, t: gap.from, source: "ping" },
        { what: `session started at AN2 (trigger: ${String(eventOf(started ?? {}).trigger)})`, t: started ? logTime(started) : NaN, source: "AN log" },
        ...this.authMarks(an2, before),
        ...(reauth !== undefined ? [{ what: "MN's supplicant asked to re-authenticate at AN2 (wpa_cli returned)", t: reauth, source: "demo" }] : []),
        { what: `HA accepted, binding moved to ${accepted.coa}`, t: accepted.t, source: "HA" },
        { what: `HA revokes AN1's binding (${revocation!.coa}, RFC 3543)`, t: revocation!.t, source: "HA" },
        ...(revoked ? [{ what: "AN1 verified the revocation, acknowledged", t: logTime(revoked), source: "AN log" }] : []),
        ...(imported ? [{ what: `AN2 fetched the MN's context record over the broker (signer ${String(imported.from)}), imported it: registering at once`, t: logTime(imported), source: "AN log" }] : []),
        ...(fetchMiss ? [{ what: "AN2 found no context record: registering from scratch", t: logTime(fetchMiss), source: "AN log" }] : []),
        ...(releaseAsked ? [{ what: `AN1 asked by AN2 to let go (MQTT request/response): released ${String(releaseAsked.released)}`, t: logTime(releaseAsked), source: "AN log" }] : []),
        { what: `AN1 released the session (reason: ${releaseReason})`, t: logTime(released), source: "AN log" },
        { what: "HA got AN1's acknowledgement", t: ack.t, source: "HA" },
        { what: "session bound at AN2 (registered)", t: resumedAfter, source: "AN log" },
        { what: "first ping reply after the interruption", t: gap.to, source: "ping" },
      ];
      if (carrier) marks.push({ what: "MN carrier up (at AN2)", t: carrier.t, source: "MN kernel" });
      if (rrq) marks.push({ what: `RRQ sent (CoA ${accepted.coa})`, t: rrq.t, source: "AN pcap" });
      else if (rrqLog) marks.push({ what: "RRQ sent", t: logTime(rrqLog), source: "AN log" });
      if (reply) marks.push({ what: "reply received at AN2", t: reply.t, source: "AN pcap" });
      for (const n of pcap2.ndFromMn) marks.push({ what: `${n.kind} from the MN at AN2: ${n.detail}`, t: n.t, source: "AN pcap" });
      const zero = carrier?.t ?? after;
      this.timeline("handover AN1 -> AN2", zero, carrier ? "MN carrier up at AN2 (MN kernel)" : "link moved (demo)", marks.filter((m) => Number.isFinite(m.t)));

      const f = {
        trigger: started ? eventOf(started).trigger : null,
        context: imported ? { over: "broker", signer: imported.from } : null,
        newCareOf: accepted.coa,
        interruptionMs: round(gap.ms),
        interruption: { lastReplyBefore: gap.from, firstReplyAfter: gap.to },
        probeIntervalMs: PING_INTERVAL_MS,
        probesSent: summary.sent,
        probesAnswered: summary.received,
        packetsLost: summary.lost,
        carrierUpToBoundMs: round(resumedAfter - zero),
        rrqToReplyMs: rrq && reply ? round(reply.t - rrq.t) : undefined,
        revocationToAckMs: round(ack.t - revocation!.t),
        addressKept: true,
        /** NS/RS the MN sent at AN2 (AN2's pcap): a DAD probe (from ::) or an RS would mean it restarted autoconfiguration. */
        ndFromMnAtAn2: pcap2.ndFromMn.map((n) => `${n.kind} ${n.detail}`),
      };
      const restarted = pcap2.ndFromMn.filter((n) => n.kind === "RS" || n.detail.endsWith("from ::"));
      this.check(restarted.length === 0, `the MN probed again at AN2: ${JSON.stringify(restarted)}`);
      this.figures.handover = f;
      out();
      out(`  figures: interruption ${dur(f.interruptionMs)} (largest gap between ping replies, probes every ${PING_INTERVAL_MS} ms), ${f.packetsLost} of ${f.probesSent} probes lost;`);
      out(`           carrier up -> bound at AN2 ${dur(f.carrierUpToBoundMs)}; RRQ -> reply ${dur(f.rrqToReplyMs)}; revocation -> acknowledgement ${dur(f.revocationToAckMs)};`);
      out(`           the MN kept ${mn.homeAddress}: no DAD probe, no RS at AN2 (its NS there: ${f.ndFromMnAtAn2.join(", ") || "none"})`);
      out();
      this.ok(`handed over to AN2${imported ? " with AN1's context record over the broker" : " by a fresh registration"}: ${mn.homeAddress} kept, interruption ${dur(f.interruptionMs)}, ${f.packetsLost} of ${f.probesSent} probes lost; AN1 released (${releaseReason}) and acknowledged the revocation`);
    } finally {
      if (!summary) await stream.stop().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.t.stopProcesses().catch(() => undefined);
    this.t.cleanup();
  }

  get failedStep(): string {
    return this.step;
  }

  /** Tails of the logs, for a failure report. */
  diagnostics(): string[] {
    const lines: string[] = [];
    for (const i of [1, 2] as const) {
      const an = this.an[i];
      if (!an) continue;
      lines.push(`--- AN${i} log (last lines)`, ...an.logs.slice(-12).map((l) => JSON.stringify(l)));
      if (an.stderr) lines.push(`--- AN${i} stderr`, an.stderr.slice(-1500));
    }
    if (this.ha) lines.push("--- HA events (last lines)", ...this.ha.lines.slice(-12).map((l) => JSON.stringify(l)));
    return lines;
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new StepFailed(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<number> {
  let values: { "pcap-dir"?: string; json?: string; daemon?: string; hostapd?: boolean; help?: boolean };
  try {
    values = parseArgs({ options: { "pcap-dir": { type: "string" }, json: { type: "string" }, daemon: { type: "string" }, hostapd: { type: "boolean" }, help: { type: "boolean", short: "h" } } }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("the demo builds network namespaces: run it as root (sudo npm run demo)\n");
    return 2;
  }
  const found = values.daemon !== undefined ? { path: resolve(values.daemon), kind: "given with --daemon" } : defaultDaemon();
  if (!found) {
    process.stderr.write("no AN firmware built: run npm run build (npm run demo does)\n");
    return 2;
  }
  const pcapDir = values["pcap-dir"] !== undefined ? resolve(values["pcap-dir"]) : undefined;
  if (pcapDir) mkdirSync(pcapDir, { recursive: true });
  const startedAt = Date.now();
  out(`Access Node lab demo: ${daemonCommand(found.path).join(" ")} (${found.kind}) in network namespaces`);
  out("  MN (unmodified Linux IPv6) -- AN1 | AN2 -- IPv4-only core -- HA (TUN) -- CN; times measured as stated per line");
  let demo: Demo | undefined;
  let code = 1;
  try {
    demo = new Demo(found, pcapDir, values.hostapd === true);
    await demo.run();
    code = 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    out(`  FAIL ${demo?.failedStep ?? "lab setup"}: ${message}`);
    if (demo) {
      demo.figures.failedStep = demo.failedStep;
      demo.figures.error = message;
      for (const l of demo.diagnostics()) out(`       ${l}`);
    }
  } finally {
    await demo?.close();
  }
  if (values.json !== undefined && demo) writeFileSync(resolve(values.json), `${JSON.stringify({ ...demo.figures, wallTimeMs: Date.now() - startedAt }, null, 2)}\n`);
  out();
  out(code === 0 ? `PASS: every step succeeded in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; the lab is cleaned up` : "FAILED (the lab is cleaned up)");
  if (pcapDir) out(`signalling pcaps: ${pcapDir}/an1.pcap ${pcapDir}/an2.pcap (UDP 434 both ways + the NS/RS/RA/NA each AN handled)`);
  if (values.json !== undefined) out(`figures: ${resolve(values.json)}`);
  return code;
}

process.exitCode = await main();
