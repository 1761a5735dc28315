// Config rules the review asked for: realm keys of at least 128 bits (RFC 5944
// 3.5.1), NAI lengths in UTF-8 bytes, and JSON syntax errors reported by position
// only (V8's message quotes the file, which holds keys).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { engineConfigOf, loadConfigFile } from "../../../src/app/config-file.ts";
import { validateConfig } from "../../../src/app/config-schema.ts";
import { jsonErrorPosition } from "../../../src/app/json-syntax.ts";
import { RELEASE_RETRY_WINDOW_MS, RELEASE_RPC_TIMEOUT_MS } from "../../../src/app/release-rpc.ts";

const dir = mkdtempSync(join(tmpdir(), "an-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY16 = "00112233445566778899aabbccddeeff";
const base = {
  nodeId: "an-1",
  access: { interface: "acc0" },
  uplink: { interface: "up0" },
  careOf: { mode: "pool", addresses: ["10.0.0.10"] },
  realms: [{ realm: "*", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY16}` }],
  identity: { derivedRealm: "example.net" },
};

const problemPaths = (raw: unknown): string[] => {
  const v = validateConfig(raw);
  return v.ok ? [] : v.problems.map((p) => p.path);
};

describe("config schema", () => {
  it("tunnel.uplinkMtu: optional (the interface's MTU), 576..65535 when given", () => {
    expect(problemPaths(base)).toEqual([]);
    expect(problemPaths({ ...base, tunnel: { uplinkMtu: 1400 } })).toEqual([]);
    expect(problemPaths({ ...base, tunnel: { uplinkMtu: 500 } })).toEqual(["tunnel.uplinkMtu"]);
    expect(problemPaths({ ...base, tunnel: { uplinkMtu: 1400.5 } })).toEqual(["tunnel.uplinkMtu"]);
    const v = validateConfig(base);
    expect(v.ok && v.config.tunnel.uplinkMtu).toBeUndefined();
  });

  it("accepts 16-byte keys and refuses shorter ones, inline and in key files", () => {
    expect(problemPaths(base)).toEqual([]);
    expect(problemPaths({ ...base, realms: [{ ...base.realms[0], key: `hex:${KEY16.slice(2)}` }] })).toEqual(["realms.0.key"]);
    const v = validateConfig({ ...base, realms: [{ ...base.realms[0], key: "hex:0011" }] });
    expect(v.ok ? "" : v.problems[0]!.message).toMatch(/16-64 bytes/);
    const short = join(dir, "short.hex");
    writeFileSync(short, `${KEY16.slice(2)}\n`);
    const withFile = validateConfig({ ...base, realms: [{ ...base.realms[0], key: `file:${short}` }] });
    if (!withFile.ok) throw new Error("file: reference refused");
    const ec = engineConfigOf(withFile.config, new Uint8Array(6));
    expect(ec.ok).toBe(false);
    expect(ec.ok ? "" : ec.problems[0]!.message).toMatch(/16-64 bytes/);
  });

  it("counts NAI lengths in UTF-8 bytes: provisioned NAIs up to 255, the derived realm up to 242", () => {
    const mac = "02:11:22:33:44:01";
    const fits = `${"é".repeat(100)}@${"a".repeat(54)}`; // 200 + 1 + 54 = 255 bytes, 155 characters
    const over = `${"é".repeat(100)}@${"a".repeat(55)}`; // 256 bytes, 156 characters
    expect(problemPaths({ ...base, identity: { derivedRealm: "example.net", provisioned: { [mac]: fits } } })).toEqual([]);
    expect(problemPaths({ ...base, identity: { derivedRealm: "example.net", provisioned: { [mac]: over } } })).toEqual([`identity.provisioned.${mac}`]);
    const realm242 = `${"é".repeat(120)}ab`; // 242 bytes, 122 characters
    const realm243 = `${"é".repeat(120)}abc`;
    expect(problemPaths({ ...base, identity: { derivedRealm: realm242 } })).toEqual([]);
    expect(problemPaths({ ...base, identity: { derivedRealm: realm243 } })).toEqual(["identity.derivedRealm"]);
    expect(Buffer.byteLength(`021122334401@${realm242}`)).toBe(255);
  });

  it("reports a JSON syntax error by line and column only, never quoting the file (which holds the key)", () => {
    const secret = "c0ffee00c0ffee00c0ffee00c0ffee00";
    // The quotes around the key forgotten: V8 says "Unexpected token 'h', ..."key": hex:c0ffee"... is not valid JSON".
    const text = `{\n  "nodeId": "an-1",\n  "realms": [{ "key": hex:${secret} }]\n}\n`;
    const p = join(dir, "bad.json");
    writeFileSync(p, text);
    // The premise: V8's own message quotes the text around the error, key included.
    let v8 = "";
    try {
      JSON.parse(text);
    } catch (e) {
      v8 = (e as Error).message;
    }
    expect(v8).toContain("c0ffee");
    const loaded = loadConfigFile(p, undefined);
    expect(loaded.ok).toBe(false);
    const message = loaded.ok ? "" : loaded.problems[0]!.message;
    expect(message).toBe(`${p}: invalid JSON at line 3 column ${text.split("\n")[2]!.indexOf("hex:") + 1} (offset ${text.indexOf("hex:")})`);
    expect(message).not.toContain("c0ffee");
  });

  it("locates syntax errors like JSON.parse accepts and refuses", () => {
    for (const ok of ['{"a":[1,-2.5e+3,true,false,null,"\\u00e9\\n"]}', " 0 ", '""', "[]", "{}"]) expect(jsonErrorPosition(ok)).toBeUndefined();
    const cases: [string, number][] = [
      ["", 0],
      ["{", 1],
      ['{"a":1,}', 7],
      ["[1 2]", 3],
      ["01", 1],
      ['"a\u0001"', 2],
      ['"\\x"', 2],
      ["tru", 3],
      ["{} x", 3],
      ["{'a':1}", 1],
    ];
    for (const [text, offset] of cases) {
      expect(() => JSON.parse(text)).toThrow();
      expect(jsonErrorPosition(text)?.offset, text).toBe(offset);
    }
  });
});

// Issue 10: fleet.releaseForwardMs (the handover forwarding window) reaches the engine
// as both windows: the old AN's, and the new AN's (that plus the release rpc's
// timeout, which it spans after its import).
const withFleet = (fleet: Record<string, unknown>) => ({ ...base, fleet: { url: "mqtt://127.0.0.1:1883", ...fleet } });

function windows(raw: unknown): { releaseForwardMs?: number; peerForwardAcceptMs?: number } {
  const v = validateConfig(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const e = engineConfigOf(v.config, new Uint8Array(6));
  if (!e.ok) throw new Error(JSON.stringify(e.problems));
  return { releaseForwardMs: e.engine.releaseForwardMs, peerForwardAcceptMs: e.engine.peerForwardAcceptMs };
}

describe("fleet.releaseForwardMs", () => {
  it("defaults to 2000 ms; the new AN accepts for that after the latest release it still waits for: a request sent at the end of the retry window (the broker down until then), answered within its timeout", () => {
    // Not only 3 x the timeout: a release waiting out a broker outage is sent up to 10 s after the import.
    expect(windows(withFleet({}))).toEqual({ releaseForwardMs: 2000, peerForwardAcceptMs: 2000 + RELEASE_RETRY_WINDOW_MS + RELEASE_RPC_TIMEOUT_MS });
    expect(windows(withFleet({ releaseForwardMs: 500 }))).toEqual({ releaseForwardMs: 500, peerForwardAcceptMs: 11_500 });
  });

  it("0 turns both off, and so does having no fleet", () => {
    expect(windows(withFleet({ releaseForwardMs: 0 }))).toEqual({ releaseForwardMs: 0, peerForwardAcceptMs: 0 });
    expect(windows(base)).toEqual({ releaseForwardMs: 0, peerForwardAcceptMs: 0 });
  });

  it("is an integer 0..30000: anything else is refused with its path", () => {
    for (const bad of [-1, 30_001, 1.5, "2000"]) {
      const v = validateConfig(withFleet({ releaseForwardMs: bad }));
      expect(v.ok ? [] : v.problems.map((p) => p.path)).toEqual(["fleet.releaseForwardMs"]);
    }
    expect(validateConfig(withFleet({ releaseForwardMs: 30_000 })).ok).toBe(true);
  });
});

// The leave hold (src/core/leave-hold.ts): on by default in a fleet, where a new AN asks
// for the release; off by default without one; linkLayer.leaveHoldMs sets it either way.
describe("linkLayer.leaveHoldMs", () => {
  const leaveHold = (raw: unknown): number | undefined => {
    const v = validateConfig(raw);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    const e = engineConfigOf(v.config, new Uint8Array(6));
    if (!e.ok) throw new Error(JSON.stringify(e.problems));
    return e.engine.leaveHoldMs;
  };
  const withLinkLayer = (raw: Record<string, unknown>, ms: number) => ({ ...raw, linkLayer: { leaveHoldMs: ms } });

  it("1500 ms in a fleet, 0 without (and with releaseForwardMs 0), unless set", () => {
    expect(leaveHold(withFleet({}))).toBe(1500);
    expect(leaveHold(base)).toBe(0);
    expect(leaveHold(withFleet({ releaseForwardMs: 0 }))).toBe(0);
    expect(leaveHold(withLinkLayer(base, 2000))).toBe(2000);
    expect(leaveHold(withLinkLayer(withFleet({}), 0))).toBe(0);
  });

  it("is an integer 0..10000, and no longer a fleet key", () => {
    for (const bad of [-1, 10_001, 1.5]) {
      const v = validateConfig(withLinkLayer(base, bad as number));
      expect(v.ok ? [] : v.problems.map((p) => p.path)).toEqual(["linkLayer.leaveHoldMs"]);
    }
    const v = validateConfig(withFleet({ leaveHoldMs: 1500 }));
    expect(v.ok).toBe(false);
  });
});
