// In-process checks of the wrapper (addon loaded from the source tree): errors carry
// errno name and operation, closed endpoints refuse work, the batch layout.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { AccessLinkSocket } from "../../../src/io/access-link-socket.ts";
import { addonCandidates, isNativeIoError, nativeAddon } from "../../../src/io/native-addon.ts";
import { interfaceInfo } from "../../../src/io/network-interface.ts";
import { META_STRIDE, PacketBatch } from "../../../src/io/packet-batch.ts";
import { TunnelSocket } from "../../../src/io/tunnel-socket.ts";
import { addonPath, labGate } from "./netns-lab.ts";

const gate = labGate();
const MISSING = "an-nonexist0";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("PacketBatch and addon resolution", () => {
  it("lays out slots, lengths and metadata", () => {
    const b = new PacketBatch(4, 100);
    expect(b.buffer.byteLength).toBe(400);
    expect(b.meta.length).toBe(4 * META_STRIDE);
    expect(nativeAddon().META_STRIDE).toBe(META_STRIDE);
    expect(b.push(Uint8Array.of(1, 2, 3))).toBe(true);
    expect(b.push(new Uint8Array(101))).toBe(false);
    expect(b.count).toBe(1);
    expect([...b.packet(0)]).toEqual([1, 2, 3]);
    expect(b.offset(3)).toBe(300);
    expect(() => new PacketBatch(0, 10)).toThrow(RangeError);
  });

  it("takes the addon path from AN_NATIVE_ADDON when set", () => {
    const saved = process.env.AN_NATIVE_ADDON;
    try {
      process.env.AN_NATIVE_ADDON = "/opt/an/an_native.node";
      expect(addonCandidates()).toEqual(["/opt/an/an_native.node"]);
      delete process.env.AN_NATIVE_ADDON;
      expect(addonCandidates()).toContain(addonPath);
    } finally {
      if (saved === undefined) delete process.env.AN_NATIVE_ADDON;
      else process.env.AN_NATIVE_ADDON = saved;
    }
  });
});

describe.skipIf(!gate.run)("native errors", () => {
  it("a missing interface is ENODEV with the operation", () => {
    const e1 = thrown(() => AccessLinkSocket.open(MISSING));
    expect(isNativeIoError(e1)).toBe(true);
    expect(e1).toMatchObject({ code: "ENODEV", errno: -19, syscall: "ioctl(SIOCGIFINDEX)" });
    expect((e1 as Error).message).toContain(MISSING);

    expect(thrown(() => nativeAddon().openPacket(MISSING))).toMatchObject({ code: "ENODEV", syscall: "if_nametoindex" });
    expect(thrown(() => TunnelSocket.open(41, { interface: MISSING }))).toMatchObject({ code: "ENODEV" });
    expect(thrown(() => interfaceInfo(MISSING))).toMatchObject({ code: "ENODEV" });
  });

  it("without CAP_NET_RAW the socket call fails with EPERM", () => {
    const script = `
      const m = { exports: {} };
      process.dlopen(m, ${JSON.stringify(addonPath)});
      try { m.exports.openRawIPv4(41); console.log("opened"); }
      catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, errno: e.errno })); }`;
    const r = spawnSync(process.execPath, ["-e", script], { uid: 65534, gid: 65534, encoding: "utf8", timeout: 10_000 });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ code: "EPERM", syscall: "socket(AF_INET, SOCK_RAW)", errno: -1 });
  });

  it("a closed endpoint refuses to send (EBADF); close is idempotent", () => {
    const t = TunnelSocket.open(41);
    expect(t.fd).toBeGreaterThan(2);
    t.close();
    t.close();
    expect(t.closed).toBe(true);
    expect(thrown(() => t.send(new Uint8Array(20)))).toMatchObject({ code: "EBADF", syscall: "sendto" });
    expect(() => t.onBatch(() => {}, () => {})).toThrow(/closed/);
  });

  it("one batch handler at a time; bad arguments are TypeErrors", () => {
    const t = TunnelSocket.open(47).unref();
    try {
      t.onBatch(() => {}, () => {});
      expect(() => t.onBatch(() => {}, () => {})).toThrow(/already/);
      t.stopReceiving();
      t.onBatch(() => {}, () => {});
      const native = nativeAddon().openRawIPv4(47);
      try {
        expect(() => native.sendBatch(new ArrayBuffer(10), 10, new Int32Array([11]), 1)).toThrow(TypeError);
        expect(() => native.sendBatch(new ArrayBuffer(10), 10, new Int32Array([10]), 2)).toThrow(TypeError);
        // a malformed packet (not IPv4) in a batch is skipped and counted, not thrown
        expect(native.sendBatch(new Uint8Array(10), 10, new Int32Array([10]), 1)).toBe(1);
        expect(native.stats()).toMatchObject({ txErrors: 1, lastTxError: "EINVAL" });
      } finally {
        native.close();
      }
    } finally {
      t.close();
    }
  });
});
