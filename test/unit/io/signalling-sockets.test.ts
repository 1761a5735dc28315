// UDP 434 adapter: one socket per care-of address on loopback.
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { SignallingSockets } from "../../../src/io/signalling-sockets.ts";

async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const LOOPBACK = 0x7f000001;

describe("SignallingSockets", () => {
  it("a send that dgram refuses synchronously (port 0) is counted and leaves nothing pending", async () => {
    const sockets = new SignallingSockets({ message: () => {}, error: () => {} }, await freePort());
    expect(await sockets.ensure([LOOPBACK])).toEqual([]);
    expect(sockets.send(LOOPBACK, LOOPBACK, 0, Uint8Array.of(3, 0))).toBe(false);
    // flushed() resolves at once only when no send is pending (else it waits for its timeout).
    let settled = false;
    void sockets.flushed(60_000).then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(true);
    sockets.close();
  });
});
