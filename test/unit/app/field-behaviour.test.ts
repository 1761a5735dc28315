// Issue 9 (field behaviour), the io and app parts: carrier watch, pcap microseconds,
// the board's per-station flag and the operator defaults.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { boardDefaults, boardSchema } from "../../../src/app/board.ts";
import { toEngineConfig, validateConfig } from "../../../src/app/config-schema.ts";
import { CarrierWatch } from "../../../src/io/carrier-watch.ts";
import { preciseWallMs, systemClock } from "../../../src/io/clock.ts";
import { PcapWriter } from "../../../src/io/pcap-writer.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const dir = mkdtempSync(join(tmpdir(), "an-field-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("carrier watch (item 4)", () => {
  it("reads /sys/class/net/IF/carrier and reports each change, not the first reading; a read error is no carrier", () => {
    let value: string | Error = "1\n";
    const paths: string[] = [];
    const changes: boolean[] = [];
    const w = new CarrierWatch({
      interface: "acc0",
      read: (p) => {
        paths.push(p);
        if (value instanceof Error) throw value;
        return value;
      },
      onChange: (up) => changes.push(up),
    });
    w.poll();
    expect(w.up).toBe(true);
    w.poll();
    value = "0\n";
    w.poll();
    value = Object.assign(new Error("EINVAL"), { code: "EINVAL" }); // administratively down
    w.poll();
    value = "1\n";
    w.poll();
    expect(changes).toEqual([false, true]);
    expect(new Set(paths)).toEqual(new Set(["/sys/class/net/acc0/carrier"]));
  });

  it("refuses a name that is not an interface name (it becomes a path)", () => {
    expect(() => new CarrierWatch({ interface: "../../etc", onChange: () => {} })).toThrow(/not an interface name/);
  });
});

describe("pcap microseconds (item 5)", () => {
  it("the system clock has a sub-millisecond wall time, within a millisecond of Date.now()", () => {
    const samples = Array.from({ length: 50 }, () => [Date.now(), systemClock.preciseWallMs!()] as const);
    expect(samples.some(([, p]) => p !== Math.floor(p))).toBe(true);
    for (const [w, p] of samples) expect(Math.abs(p - w)).toBeLessThan(2);
    // After a wall-clock step the fraction still comes from the monotonic clock.
    expect(preciseWallMs(2_000_000_000_000, 1234.567, 1_000)).toBeCloseTo(2_000_000_000_000.567, 3);
  });

  it("records carry those microseconds", () => {
    const path = join(dir, "us.pcap");
    const w = PcapWriter.open(path);
    w.frame(1_750_000_000_123.456, dadNeighborSolicitation(mac("02:11:22:33:44:01")));
    w.close();
    expect(readPcap(Uint8Array.from(readFileSync(path))).records.map((r) => r.tsUsec)).toEqual([123_456]);
  });
});

describe("operator defaults and the board flag (items 1-4)", () => {
  const minimal = {
    nodeId: "an1",
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: ["10.0.0.10"] },
    realms: [{ realm: "example.net", homeAgent: "10.0.0.1", spi: 4097, key: "hex:00112233445566778899aabbccddeeff" }],
    identity: { derivedRealm: "example.net" },
  };

  it("idle timeout 1800 s, DAD-failure hold-off 300 s, revocation linger 2 s, outage retries at most 3 s apart", () => {
    const v = validateConfig(minimal);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    expect(v.config).toMatchObject({ idleTimeoutS: 1800, dadFailureHoldOffS: 300, revocationLingerMs: 2000, access: { perStationPort: false } });
    const e = toEngineConfig(v.config, mac("02:00:00:00:00:01"), () => "");
    expect(e).toMatchObject({ idleTimeoutMs: 1_800_000, dadFailureHoldOffMs: 300_000, revocationLingerMs: 2000 });
    expect(e.registration.outageRetryMaxMs).toBe(3000);
  });

  it("a board with accessPortPerStation sets access.perStationPort (the config may override it)", () => {
    const b = boardSchema.parse({ name: "wired-x", arch: "arm64", interfaces: { access: "lan1", uplink: "wan" }, accessPortPerStation: true });
    expect(boardDefaults(b)).toMatchObject({ access: { interface: "lan1", perStationPort: true } });
    const plain = boardSchema.parse({ name: "wifi-x", arch: "arm64", interfaces: { access: "wlan0", uplink: "wan" } });
    expect(boardDefaults(plain)).toMatchObject({ access: { perStationPort: false } });
  });
});
