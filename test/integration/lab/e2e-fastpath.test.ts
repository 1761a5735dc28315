// The kernel fast path in the lab (issue 12): with datapath.backend "auto" (the
// default) and root, the tc-BPF programs carry a bound MN's traffic both ways (their
// counters move, the daemon's sockets see none of it), in IPv6-in-IPv4 and in GRE
// (shared CoA); a revocation stops the fast path at once; the idle timer counts
// fast-pathed frames; a killed daemon's fast path dies with it; and a fast path that
// does not load gives the userspace backend with the same results.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB, Topology } from "../../lab/topology.ts";
import type { AnProcess, HaProcess, MnNode } from "../../lab/topology.ts";
import { netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { anEvents, attach, startAn, udpFrames, waitAnEvent } from "./lab-steps.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab fast path e2e: skipped: ${skipReason}`);

type Stats = {
  accessRx: number;
  tunnelRx: number;
  tunnelTx: number;
  accessTx: number;
  bound: number;
  backend: string;
  fastPath?: {
    uplinkPackets: number;
    downlinkPackets: number;
    slow: Record<string, number>;
    sessions?: Record<string, { up: [number, number]; down: [number, number] }>;
  };
};

/** SIGUSR2 -> the next telemetry line's datapath stats. */
async function datapathStats(an: AnProcess): Promise<Stats> {
  const before = an.logs.filter((l) => l.msg === "telemetry").length;
  an.child.kill("SIGUSR2");
  await waitFor(() => (an.logs.filter((l) => l.msg === "telemetry").length > before ? true : undefined), 5000, "telemetry line");
  const line = an.logs.filter((l) => l.msg === "telemetry")[before]!;
  return (line.telemetry as { datapath: Stats }).datapath;
}

/** Our tc filters (the pre-6.6 attachment) on the ingress of `ifname` in `ns`. */
function ourFilters(ns: string, ifname: string): string {
  const out = execFileSync("ip", ["netns", "exec", ns, "tc", "filter", "show", "dev", ifname, "ingress"], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes("an_uplink") || l.includes("an_downlink")).join("\n");
}

/** The ifindexes of the tcx ingress links the process holds (its fdinfo). */
function tcxLinks(pid: number): number[] {
  const out: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let info = "";
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue;
    }
    if (/^link_type:\s+tcx$/m.test(info) && /^attach_type:\s+46/m.test(info)) out.push(Number(/^ifindex:\s+(\d+)$/m.exec(info)?.[1]));
  }
  return out.sort((a, b) => a - b);
}

const ifindex = (ns: string, ifname: string): number => Number(execFileSync("ip", ["netns", "exec", ns, "cat", `/sys/class/net/${ifname}/ifindex`], { encoding: "utf8" }).trim());

describe.skipIf(skipReason !== undefined)("lab: kernel fast path", () => {
  let t: Topology;
  let mn: MnNode;
  let ha: HaProcess;
  let daemon: string;

  beforeAll(async () => {
    t = Topology.create({ mns: 2 });
    mn = t.mns[0]!;
    ha = await t.startHomeAgent();
    daemon = t.buildDaemon();
    await t.startEcho(t.cnNs);
  }, 120_000);

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  const COUNT = 30;

  it("IPv6-in-IPv4 (pool CoA): the fast path carries the pings both ways, the daemon's sockets none; a revocation stops it at once; stop detaches", async () => {
    const an = await startAn(t, 1, daemon);
    // tcx links (Linux 6.6+, this kernel): held by the daemon, released with it.
    expect(an.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: "kernel", attach: "tcx" });
    expect(an.logs.find((l) => l.msg === "kernel fast path unavailable: using the userspace datapath")).toBeUndefined();
    const site = t.an(1);
    expect(tcxLinks(an.child.pid!)).toEqual([ifindex(site.ns, site.access), ifindex(site.ns, site.uplink)].sort((a, b) => a - b));

    await attach(t, mn, 1, an);
    // Let the MN's address settle (its ND went the slow path, through the engine).
    await t.ping(mn.ns, LAB.cn, { count: 2, intervalMs: 100 });
    const before = await datapathStats(an);
    expect(before.backend).toBe("kernel");
    expect(before.bound).toBe(1);
    const atMn = await t.capture(mn.ns, "eth0", "udp");
    const r = await t.ping(mn.ns, LAB.cn, { count: COUNT, intervalMs: 20 });
    expect(r.received).toBe(COUNT);
    const after = await datapathStats(an);
    // The decapsulated replies: to the MN's MAC, from the HA's MAC its RA announced (learned on the slow path).
    const replies = udpFrames(await atMn.stop()).filter((f) => f.src === LAB.cn && f.ethDst === mn.mac);
    expect(replies.length).toBeGreaterThanOrEqual(COUNT);
    expect(new Set(replies.map((f) => f.ethSrc))).toEqual(new Set([LAB.haMac]));
    const fpUp = after.fastPath!.uplinkPackets - before.fastPath!.uplinkPackets;
    const fpDown = after.fastPath!.downlinkPackets - before.fastPath!.downlinkPackets;
    expect(fpUp).toBeGreaterThanOrEqual(COUNT);
    expect(fpDown).toBeGreaterThanOrEqual(COUNT);
    // The daemon's sockets: at most a few ND frames, not the pings.
    expect(after.accessRx - before.accessRx).toBeLessThan(COUNT / 3);
    expect(after.tunnelRx - before.tunnelRx).toBeLessThan(COUNT / 3);
    expect(after.tunnelTx - before.tunnelTx).toBeLessThan(COUNT / 3);
    // Per-session counters from the maps.
    const s = after.fastPath!.sessions![mn.mac]!;
    expect(s.up[0]).toBeGreaterThanOrEqual(COUNT);
    expect(s.down[0]).toBeGreaterThanOrEqual(COUNT);
    expect(s.up[1]).toBeGreaterThanOrEqual(COUNT * 40);

    // Revocation: released, the entry gone at once; the MN's frames reach the engine
    // again (which no longer forwards them) and the fast path counts nothing more.
    ha.command({ op: "revoke", nai: mn.nai });
    await waitAnEvent(an, "released", mn.mac, 5000);
    const revoked = await datapathStats(an);
    expect(revoked.bound).toBe(0);
    expect(revoked.fastPath!.sessions).toEqual({});
    // The next frame reaches the engine, not the fast path.
    await t.ping(mn.ns, LAB.cn, { count: 1, waitMs: 1000 });
    const late = await datapathStats(an);
    expect(late.fastPath!.uplinkPackets).toBe(revoked.fastPath!.uplinkPackets);
    expect(late.accessRx - revoked.accessRx).toBeGreaterThanOrEqual(1);
    // With triggerOn "any-ipv6" a frame then starts a new session, once the revoked
    // session's linger (revocationLingerMs, 2 s) is over: until then a start waits, as
    // the revocation may yet prove a DAD failure. Bounded: at most 10 tries.
    for (let i = 0; i < 10 && anEvents(an, "session-started", mn.mac).length < 2; i++) await t.ping(mn.ns, LAB.cn, { count: 1, waitMs: 500 });
    // The second start's trigger is whichever frame came first (a ping, an NS, an MLD report).
    expect(anEvents(an, "session-started", mn.mac)).toHaveLength(2);

    await an.stop();
    expect(ourFilters(site.ns, site.access)).toBe("");
    expect(ourFilters(site.ns, site.uplink)).toBe("");
    t.moveMn(mn, null);
  }, 90_000);

  it("GRE (shared CoA, per-MN key): the fast path carries it; the HA sees the MN's key", async () => {
    const an = await startAn(t, 2, daemon, t.anConfig(2, {}, "shared"));
    expect(an.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: "kernel" });
    const other = t.mns[1]!;
    await attach(t, other, 2, an);
    await t.ping(other.ns, LAB.cn, { count: 2, intervalMs: 100 });
    const before = await datapathStats(an);
    const r = await t.ping(other.ns, LAB.cn, { count: COUNT, intervalMs: 20 });
    expect(r.received).toBe(COUNT);
    const after = await datapathStats(an);
    expect(after.fastPath!.uplinkPackets - before.fastPath!.uplinkPackets).toBeGreaterThanOrEqual(COUNT);
    expect(after.fastPath!.downlinkPackets - before.fastPath!.downlinkPackets).toBeGreaterThanOrEqual(COUNT);
    expect(after.tunnelRx - before.tunnelRx).toBeLessThan(COUNT / 3);
    const registered = anEvents(an, "registered", other.mac)[0]!.event as { greKey: number | null };
    expect(registered.greKey).not.toBeNull();
    await an.stop();
    t.moveMn(other, null);
  }, 90_000);

  it("idle detection counts fast-path frames: an MN pinging through the kernel stays; once quiet it is deregistered", async () => {
    const an = await startAn(t, 1, daemon, t.anConfig(1, { idleTimeoutS: 2 }));
    await attach(t, mn, 1, an);
    const stream = await t.pingStream(mn.ns, LAB.cn, { intervalMs: 50 });
    await new Promise((r) => setTimeout(r, 4500));
    const during = await datapathStats(an);
    const summary = await stream.stop();
    // More than twice the idle timeout with frames only the fast path saw: still bound.
    expect(anEvents(an, "released", mn.mac)).toEqual([]);
    expect(during.bound).toBe(1);
    expect(during.fastPath!.sessions![mn.mac]!.up[0]).toBeGreaterThanOrEqual(summary.sent / 2);
    const released = await waitAnEvent(an, "released", mn.mac, 8000);
    // Idle: the AN deregisters the MN (lifetime 0), which ends as "deregistered".
    expect(released.event).toMatchObject({ reason: "deregistered" });
    await an.stop();
    t.moveMn(mn, null);
  }, 60_000);

  it("crash: a killed daemon's fast path dies with it (tcx links), no stale forwarding; the next start carries traffic again", async () => {
    const site = t.an(1);
    const first = await startAn(t, 1, daemon);
    await attach(t, mn, 1, first);
    expect((await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 50 })).received).toBe(3);
    first.child.kill("SIGKILL");
    await waitFor(() => (first.exited ? true : undefined), 5000, "AN1 killed");
    // The binding is still valid at the HA, but nothing forwards it without a daemon.
    expect((await t.ping(mn.ns, LAB.cn, { count: 3, intervalMs: 50, waitMs: 300 })).received).toBe(0);
    expect(ourFilters(site.ns, site.access)).toBe("");
    const second = await startAn(t, 1, daemon);
    expect(second.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: "kernel" });
    expect(tcxLinks(second.child.pid!)).toHaveLength(2);
    await waitFor(() => (anEvents(second, "registered", mn.mac).length > 0 ? true : undefined), 15_000, "MN registered again");
    const before = await datapathStats(second);
    const r = await t.ping(mn.ns, LAB.cn, { count: 5, intervalMs: 50 });
    expect(r.received).toBe(5);
    expect((await datapathStats(second)).fastPath!.uplinkPackets - before.fastPath!.uplinkPackets).toBeGreaterThanOrEqual(5);
    await second.stop();
    t.moveMn(mn, null);
  }, 60_000);

  it("pre-6.6 attachment (clsact filters, forced): a killed daemon's filters are replaced by the next start, which removes them on stop", async () => {
    const site = t.an(1);
    process.env.AN_FASTPATH_ATTACH = "tc";
    try {
      const first = await startAn(t, 1, daemon);
      expect(first.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: "kernel", attach: "tc" });
      first.child.kill("SIGKILL");
      await waitFor(() => (first.exited ? true : undefined), 5000, "AN1 killed");
      // Filters outlive the process (nothing pinned, but the filter holds the program).
      expect(ourFilters(site.ns, site.access)).toContain("an_uplink");
      expect(ourFilters(site.ns, site.uplink)).toContain("an_downlink");
      const second = await startAn(t, 1, daemon);
      expect(ourFilters(site.ns, site.access).split("\n")).toHaveLength(1);
      expect(ourFilters(site.ns, site.uplink).split("\n")).toHaveLength(1);
      await attach(t, mn, 1, second);
      const before = await datapathStats(second);
      expect((await t.ping(mn.ns, LAB.cn, { count: 5, intervalMs: 50 })).received).toBe(5);
      expect((await datapathStats(second)).fastPath!.uplinkPackets - before.fastPath!.uplinkPackets).toBeGreaterThanOrEqual(5);
      await second.stop();
      expect(ourFilters(site.ns, site.access)).toBe("");
      expect(ourFilters(site.ns, site.uplink)).toBe("");
    } finally {
      delete process.env.AN_FASTPATH_ATTACH;
    }
    t.moveMn(mn, null);
  }, 60_000);

  it("fallback: a fast path that does not load (here: no BPF object) -> the userspace backend, said once, same results", async () => {
    const an = await startAn(t, 1, daemon, t.anConfig(1, { datapath: { backend: "auto", bpfObject: "/nonexistent/an_fastpath.bpf.o" } }));
    const warned = an.logs.filter((l) => l.msg === "kernel fast path unavailable: using the userspace datapath");
    expect(warned).toHaveLength(1);
    expect(String(warned[0]!.reason)).toContain("/nonexistent/an_fastpath.bpf.o");
    expect(an.logs.find((l) => l.msg === "datapath opened")).toMatchObject({ backend: "userspace" });
    expect(tcxLinks(an.child.pid!)).toEqual([]);
    await attach(t, mn, 1, an);
    await t.ping(mn.ns, LAB.cn, { count: 2, intervalMs: 100 });
    const before = await datapathStats(an);
    const r = await t.ping(mn.ns, LAB.cn, { count: COUNT, intervalMs: 20 });
    expect(r.received).toBe(COUNT);
    const after = await datapathStats(an);
    expect(after.backend).toBe("userspace");
    expect(after.fastPath).toBeUndefined();
    expect(after.accessRx - before.accessRx).toBeGreaterThanOrEqual(COUNT);
    expect(after.tunnelRx - before.tunnelRx).toBeGreaterThanOrEqual(COUNT);
    await an.stop();
    t.moveMn(mn, null);
  }, 90_000);

  it("backend \"kernel\" that cannot load refuses to start, saying why", async () => {
    const an = t.startAn(1, t.anConfig(1, { datapath: { backend: "kernel", bpfObject: "/nonexistent/an_fastpath.bpf.o" } }), { daemon });
    await waitFor(() => (an.exited ? true : undefined), 15_000, "AN exits");
    const fatal = an.logs.find((l) => l.msg === "datapath.backend is \"kernel\" but the fast path does not load: not starting");
    expect(String(fatal?.reason)).toContain("not found");
  }, 30_000);
});
