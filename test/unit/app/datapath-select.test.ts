// Backend choice (datapath.backend): kernel where it loads, userspace otherwise under
// "auto" with the reason; "kernel" refuses; "userspace" never tries the kernel.
import { describe, expect, it } from "vitest";
import { activityIntervalMs, describeFastPathFailure, openDatapath, selectDatapath } from "../../../src/app/datapath-select.ts";
import type { DatapathOpeners } from "../../../src/app/datapath-select.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import type { AnConfig } from "../../../src/app/config-schema.ts";
import type { Datapath } from "../../../src/io/datapath.ts";

const base = {
  nodeId: "an1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.2"] },
  realms: [{ realm: "x.example", homeAgent: "10.0.0.1", spi: 4096, key: "hex:00112233445566778899aabbccddeeff" }],
  identity: { derivedRealm: "x.example" },
};

function config(over: Record<string, unknown> = {}): AnConfig {
  const r = validateConfig({ ...base, ...over });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const fake = (name: string): Datapath => ({ name, stats: () => ({}) }) as unknown as Datapath;
const eperm = Object.assign(new Error("bpf_object__load failed: EPERM"), { code: "EPERM", errno: -1, syscall: "bpf_object__load" });

function openers(kernel: () => Datapath): DatapathOpeners & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    userspace: () => (calls.push("userspace"), fake("userspace")),
    kernel: () => (calls.push("kernel"), kernel()),
  };
}

const options = { accessInterface: "acc0", uplinkInterface: "up0", promiscuous: true, ttl: 64, dontFragment: false };

describe("datapath backend selection", () => {
  it("defaults to auto: kernel when it loads", () => {
    expect(config().datapath).toEqual({ backend: "auto", bpfObject: "" });
    const o = openers(() => fake("kernel"));
    expect(openDatapath(config(), options, o)).toMatchObject({ ok: true, backend: "kernel", fallbackReason: null });
    expect(o.calls).toEqual(["kernel"]);
  });

  it("auto: a kernel failure falls back to userspace with the reason (capability hint on EPERM)", () => {
    const o = openers(() => {
      throw eperm;
    });
    const c = openDatapath(config(), options, o);
    expect(c).toMatchObject({ ok: true, backend: "userspace" });
    expect(c.ok && c.fallbackReason).toMatch(/^bpf_object__load: EPERM \(loading tc-BPF needs CAP_BPF and CAP_NET_ADMIN/);
    expect(o.calls).toEqual(["kernel", "userspace"]);
  });

  it("kernel: a failure refuses (no userspace attempt); userspace never tries the kernel", () => {
    const o = openers(() => {
      throw new Error("BPF object /x not found");
    });
    expect(openDatapath(config({ datapath: { backend: "kernel" } }), options, o)).toEqual({ ok: false, reason: "BPF object /x not found" });
    expect(o.calls).toEqual(["kernel"]);
    const u = openers(() => fake("kernel"));
    expect(openDatapath(config({ datapath: { backend: "userspace" } }), options, u)).toMatchObject({ ok: true, backend: "userspace" });
    expect(u.calls).toEqual(["userspace"]);
  });

  it("selectDatapath logs the fallback once and the backend; a refusal is fatal", () => {
    const lines: [string, string, object][] = [];
    const log = { warn: (o: object, m: string) => lines.push(["warn", m, o]), fatal: (o: object, m: string) => lines.push(["fatal", m, o]), info: (o: object, m: string) => lines.push(["info", m, o]) };
    const failing = openers(() => {
      throw eperm;
    });
    expect(selectDatapath(config(), options, log, failing)).toMatchObject({ name: "userspace" });
    expect(lines.map((l) => l[0])).toEqual(["warn", "info"]);
    expect(lines[1]![2]).toEqual({ backend: "userspace", attach: null });
    lines.length = 0;
    expect(selectDatapath(config({ datapath: { backend: "kernel" } }), options, log, failing)).toBeUndefined();
    expect(lines.map((l) => l[0])).toEqual(["fatal"]);
  });

  it("rejects an unknown backend", () => {
    const r = validateConfig({ ...base, datapath: { backend: "xdp" } });
    expect(r.ok).toBe(false);
  });

  it("reads the fast path's activity at a quarter of the idle timeout (0.25-5 s), not at all without one", () => {
    expect(activityIntervalMs(config({ idleTimeoutS: 0 }))).toBe(0); // 0: no idle timeout (the default is 1800 since issue 9)
    expect(activityIntervalMs(config({ idleTimeoutS: 2 }))).toBe(500);
    expect(activityIntervalMs(config({ idleTimeoutS: 600 }))).toBe(5000);
    expect(activityIntervalMs(config({ idleTimeoutS: 1 }))).toBe(250);
  });

  it("describes non-native failures by message", () => {
    expect(describeFastPathFailure(new Error("no libbpf"))).toBe("no libbpf");
  });
});
