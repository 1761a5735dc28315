// The lab itself (test/lab/topology.ts), before any AN daemon runs in it: the MN is
// a real Linux stack that gets nothing without an AN; the HA peer listens and
// routes through its TUN to the CN; a stand-in AN registers with the HA over the
// IPv4 core, and the RA the HA sends down the tunnel configures the real MN
// (SLAAC with forwarding=0, L=0, the tunnel MTU); moveMn is a real L2 move; and
// cleanup leaves nothing behind, after a thrown error or a Ctrl-C.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ETHERTYPE_IPV6, parseEthernet } from "../../../src/wire/ethernet.ts";
import { formatIpv6, isUnspecified } from "../../../src/wire/ipv6-address.ts";
import { formatMac } from "../../../src/wire/mac.ts";
import { parseIpv6Header } from "../../../src/wire/ipv6.ts";
import { parseNdPacket } from "../../../src/wire/ndisc.ts";
import { bundleEntry } from "../../lab/bundle.ts";
import { LAB, Topology, withTopology } from "../../lab/topology.ts";
import type { HaProcess, MnNode } from "../../lab/topology.ts";
import { listNamespaces, netnsUnavailableReason, waitFor } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab topology: skipped: ${skipReason}`);

interface SeenNd {
  readonly mac: string;
  readonly kind: string;
  readonly src: string;
}

/** ICMPv6 messages in a pcap of Ethernet frames: sender MAC, type name, IPv6 source. */
function ndIn(pcap: Uint8Array): SeenNd[] {
  const out: SeenNd[] = [];
  for (const r of readPcap(pcap).records) {
    const eth = parseEthernet(r.data);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV6) continue;
    const ip = parseIpv6Header(r.data, eth.length);
    if (!ip.ok) continue;
    const src = isUnspecified(ip.value.src) ? "::" : formatIpv6(ip.value.src);
    const nd = parseNdPacket(r.data, eth.length);
    // MLDv2 reports ride behind a Hop-by-Hop header (RFC 3810 5.2).
    const hbhIcmp = ip.value.nextHeader === 0 && r.data[eth.length + 40] === 58 ? r.data[eth.length + 48] : undefined;
    const kind = nd.ok ? nd.value.message.kind : hbhIcmp === 143 ? "mld-report" : `next-header-${ip.value.nextHeader}`;
    out.push({ mac: formatMac(eth.value.src), kind, src });
  }
  return out;
}

describe.skipIf(skipReason !== undefined)("lab topology", () => {
  let t: Topology;
  let mn: MnNode;
  let ha: HaProcess;

  beforeAll(() => {
    t = Topology.create({ mns: 1 });
    mn = t.mns[0]!;
  });

  afterAll(async () => {
    await t?.stopProcesses();
    t?.cleanup();
  });

  it("an MN plugged in at an AN without a daemon probes the link but gets no IPv6 service", async () => {
    const cap = await t.capture(t.an(1).ns, "acc0");
    expect(t.carrier(mn)).toBe(false);
    t.moveMn(mn, 1);
    expect(t.carrier(mn)).toBe(true);
    // Linux: DAD of the link-local, then RS once it is valid (DESIGN.md 5).
    const seen = await waitFor(
      () => {
        const nd = ndIn(readPcapSafe(cap.file));
        return nd.some((n) => n.kind === "ns" && n.src === "::") && nd.some((n) => n.kind === "rs") ? nd : undefined;
      },
      8_000,
      "the MN's DAD NS and RS at AN1",
      100,
    );
    await cap.stop();
    expect(seen.every((n) => n.mac === mn.mac)).toBe(true); // nothing else talks on the access link
    expect(t.mnAddresses(mn).filter((a) => a.scope === "global")).toEqual([]);
    expect(t.mnRoutes(mn).some((r) => r.dst === "default")).toBe(false);
    expect(t.lab.readSysctl(mn.ns, "net.ipv6.conf.eth0.forwarding")).toBe("0");
    const ping = await t.ping(mn.ns, LAB.cn, { count: 1, waitMs: 300 });
    expect(ping.received).toBe(0);
  });

  it("the HA peer starts, listens on UDP 434 and attaches to its TUN", async () => {
    ha = await t.startHomeAgent({ hexDumps: true });
    const ss = t.exec(t.haNs, "ss", "-uln");
    expect(ss).toContain(`${LAB.ha}:434`);
    const tun = (): string[] => (JSON.parse(t.lab.ip(t.haNs, "-j", "link", "show", "dev", LAB.tun)) as { flags: string[] }[])[0]?.flags ?? [];
    expect(tun()).toContain("LOWER_UP"); // the process holds the TUN open
    // Restartable (the e2e "HA restarted" case): the TUN and its routes outlive the process.
    await ha.stop();
    expect(tun()).not.toContain("LOWER_UP");
    ha = await t.startHomeAgent({ hexDumps: true });
    expect(tun()).toContain("LOWER_UP");
  });

  it("the CN answers the HA over IPv6, and CN traffic for the home prefix is routed into the HA's TUN", async () => {
    await t.startEcho(t.cnNs);
    expect((await t.ping(t.haNs, LAB.cn, { count: 2, intervalMs: 100 })).received).toBe(2);
    expect(t.exec(t.haNs, "ip", "-6", "route", "get", "2001:db8:1::5")).toContain(`dev ${LAB.tun}`);
    await t.ping(t.cnNs, "2001:db8:1::5", { count: 1, waitMs: 100 });
    await ha.waitFor("dropped", (e) => e.what === "home-link-packet" && e.reason === "no binding for 2001:db8:1::5", 5_000);
  });

  it("a stand-in AN registers over the IPv4 core; the HA's RA through the tunnel configures the real MN; traffic goes round through the TUN", async () => {
    const probe = {
      ha: LAB.ha,
      coa: t.an(1).coas[3],
      nai: `probe@${LAB.realm}`,
      spi: LAB.spi,
      keyHex: LAB.keyHex,
      src: "2001:db8:1::5",
      cn: LAB.cn,
      cnPort: LAB.echoPort,
      accessIf: "acc0",
    };
    const r = await t.runTool(t.an(1).ns, "test/lab/tools/an-probe.ts", [JSON.stringify(probe)]);
    const step = (name: string) => r.lines.find((l) => l.step === name);
    expect(r.code, `${JSON.stringify(r.lines)} ${r.stderr}`).toBe(0);
    expect(step("registration")).toMatchObject({ ok: true, code: 0, lifetime: 60, v6: true, auth: true });
    expect(step("ra")).toMatchObject({ ok: true, src: LAB.haLinkLocal });
    expect(step("ra-forwarded")).toMatchObject({ ok: true });
    // The CN's echo came back through the HA's kernel (one hop less) and down the tunnel.
    expect(step("echo")).toMatchObject({ ok: true, src: LAB.cn, dst: "2001:db8:1::5", hopLimit: 63, payload: "lab probe" });
    expect(step("deregistration")).toMatchObject({ ok: true });

    expect(ha.events("registration-accepted")).toMatchObject([{ nai: probe.nai, coa: probe.coa, v6: true, binding: "new" }]);
    expect(ha.events("address-learned")).toMatchObject([{ nai: probe.nai, address: "2001:db8:1::5" }]);
    const rx = ha.events("tunnel-rx").find((e) => e.fate === "to-home-link");
    expect(rx?.hex?.length).toBe(2 * (40 + 8 + 9));
    expect(ha.events("deregistered")).toMatchObject([{ removed: true }]);

    // The real MN took the RA: SLAAC with forwarding=0, A=1 and L=0, the tunnel's MTU.
    expect(await t.waitForGlobalAddress(mn, 10_000)).toBe(mn.homeAddress);
    const routes = t.mnRoutes(mn);
    expect(routes.find((x) => x.dst === "default")).toMatchObject({ gateway: LAB.haLinkLocal, dev: "eth0" });
    expect(routes.some((x) => x.dst === LAB.homePrefix)).toBe(false); // L=0: not on-link, everything via the router
    expect(t.lab.readSysctl(mn.ns, "net.ipv6.conf.eth0.mtu")).toBe("1480");
  });

  it("shared-CoA GRE mode through the HA process: the HA's key on the uplink, the AN's key on the downlink, MTU 1472", async () => {
    const probe = { ha: LAB.ha, coa: t.an(2).coas[3], nai: `gre@${LAB.realm}`, spi: LAB.spi, keyHex: LAB.keyHex, src: "2001:db8:1::6", cn: LAB.cn, cnPort: LAB.echoPort, greKey: 0x4242 };
    const r = await t.runTool(t.an(2).ns, "test/lab/tools/an-probe.ts", [JSON.stringify(probe)]);
    expect(r.code, `${JSON.stringify(r.lines)} ${r.stderr}`).toBe(0);
    const step = (name: string) => r.lines.find((l) => l.step === name);
    expect(step("registration")).toMatchObject({ ok: true, v6: true, uplinkKey: 0x7000_0000 });
    expect(step("ra")).toMatchObject({ ok: true, mtu: 1472 });
    expect(step("echo")).toMatchObject({ ok: true, src: LAB.cn, dst: "2001:db8:1::6", hopLimit: 63 });
    expect(ha.events("registration-accepted").at(-1)).toMatchObject({ nai: probe.nai, greKey: 0x4242, uplinkKey: 0x7000_0000 });
    expect(ha.events("tunnel-tx").filter((e) => e.nai === probe.nai).every((e) => e.greKey === 0x4242)).toBe(true);
  });

  it("moveMn moves the MN's link to AN2 in one call: its kernel sees the carrier go and come back, and speaks at AN2", async () => {
    const at1 = await t.capture(t.an(1).ns, "acc0");
    const at2 = await t.capture(t.an(2).ns, "acc0");
    const changes = t.carrierChanges(mn);
    t.moveMn(mn, 2);
    expect(t.carrier(mn)).toBe(true);
    expect(t.carrierChanges(mn) - changes).toBe(2); // down, up
    // Linux keeps a configured interface "ready" across a carrier flap: no new DAD or
    // RS, only its MLD reports again ("we might have roamed", net/ipv6/addrconf.c).
    const seen = await waitFor(
      () => {
        const nd = ndIn(readPcapSafe(at2.file));
        return nd.some((n) => n.kind === "mld-report" && n.mac === mn.mac) ? nd : undefined;
      },
      8_000,
      "the MN's MLD report at AN2",
      100,
    );
    const before1 = ndIn(await at1.stop());
    await at2.stop();
    console.info(`lab: after the move AN2 saw ${JSON.stringify(seen)}`);
    expect(seen.every((n) => n.mac === mn.mac)).toBe(true);
    expect(before1).toEqual([]); // nothing from the MN reaches AN1 any more
    // Same interface, same MAC, same address: only the network moved.
    const link = JSON.parse(t.lab.ip(mn.ns, "-j", "link", "show", "dev", "eth0")) as { address: string }[];
    expect(link[0]?.address).toBe(mn.mac);
    expect(t.mnAddresses(mn).some((a) => a.local === mn.homeAddress)).toBe(true);

    t.moveMn(mn, null);
    expect(t.carrier(mn)).toBe(false);
  });

  it("cleanup leaves no namespace and no process behind, even when the test body throws", async () => {
    let names: readonly string[] = [];
    let haProcess: HaProcess | undefined;
    await expect(
      withTopology({ label: "labthrow", mns: 2 }, async (x) => {
        names = [...x.namespaces];
        haProcess = await x.startHomeAgent();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(names.length).toBe(8); // sw, core, ha, cn, an1, an2, mn1, mn2
    const left = new Set(listNamespaces());
    expect(names.filter((n) => left.has(n))).toEqual([]);
    expect(haProcess?.exited).toBe(true);
  });

  it("Ctrl-C (SIGINT) or SIGTERM to a process holding a lab removes its namespaces", async () => {
    const dir = t.lab.tempDir("lab-hold-");
    const file = await bundleEntry("test/lab/tools/lab-hold.ts", join(dir, "hold.mjs"), { native: false });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const child = spawn(process.execPath, [file, "labhold"], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const first = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`lab-hold printed nothing: ${stderr}`)), 20_000);
        createInterface({ input: child.stdout }).once("line", (l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
      const names = (JSON.parse(first) as { namespaces: string[] }).namespaces;
      expect(names.every((n) => listNamespaces().includes(n))).toBe(true);
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
      child.kill(signal);
      expect(await exited).toBe(signal);
      const left = new Set(listNamespaces());
      expect(names.filter((n) => left.has(n)), signal).toEqual([]);
    }
  });
});

/** The capture so far (readPcap ignores a record dumpcap is still writing). */
function readPcapSafe(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}
