// A ping over UDP for the lab (the namespaces have no iputils; the demo needs
// nothing but iproute2 and node). Bundled by the lab and run inside a namespace:
//   udp-ping echo [PORT]                       answers every datagram to its sender
//   udp-ping ping ADDRESS [--port P] [--count N] [--interval MS] [--wait MS] [--size N]
// ping prints one JSON line per reply {"seq", "rttMs", "t"}, then a summary line
// {"summary": {sent, received, lost, lostSeqs, duplicates, maxGapMs, firstReplyMs}}
// after its last probe (count 0: until SIGTERM/SIGINT) plus `wait` ms for late ones.
import { createSocket } from "node:dgram";

const DEFAULT_PORT = 7007;
const args = process.argv.slice(2);
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

function option(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

if (args[0] === "echo") {
  const port = Number(args[1] ?? DEFAULT_PORT);
  const s = createSocket({ type: "udp6", ipv6Only: true });
  s.on("message", (msg, r) => s.send(msg, r.port, r.address));
  s.bind(port, "::", () => out({ ready: true, port }));
  const stop = (): void => {
    s.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else if (args[0] === "ping" && args[1] !== undefined) {
  const address = args[1];
  const port = option("port", DEFAULT_PORT);
  const count = option("count", 1);
  const intervalMs = option("interval", 200);
  const waitMs = option("wait", 1000);
  const size = Math.max(16, option("size", 64));
  const s = createSocket({ type: "udp6", ipv6Only: true });
  const start = Date.now();
  const received = new Set<number>();
  let sent = 0;
  let duplicates = 0;
  let lastReplyAt: number | undefined;
  let maxGapMs = 0;
  let firstReplyMs: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  s.on("message", (msg) => {
    if (msg.length < 16) return;
    const seq = msg.readUInt32BE(0);
    const sentAt = msg.readDoubleBE(8);
    const now = Date.now();
    if (received.has(seq)) {
      duplicates++;
      return;
    }
    received.add(seq);
    if (lastReplyAt !== undefined) maxGapMs = Math.max(maxGapMs, now - lastReplyAt);
    lastReplyAt = now;
    firstReplyMs ??= now - start;
    out({ seq, rttMs: now - sentAt, t: now });
  });
  s.on("error", () => {
    // ENETUNREACH and friends: the probe is simply lost, as a ping's would be.
  });
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (timer) clearInterval(timer);
    setTimeout(() => {
      const lostSeqs: number[] = [];
      for (let i = 0; i < sent; i++) if (!received.has(i)) lostSeqs.push(i);
      out({ summary: { sent, received: received.size, lost: lostSeqs.length, lostSeqs, duplicates, maxGapMs, firstReplyMs } });
      s.close();
      process.exit(0);
    }, waitMs);
  };
  const probe = (): void => {
    const buf = Buffer.alloc(size);
    buf.writeUInt32BE(sent, 0);
    buf.writeDoubleBE(Date.now(), 8);
    sent++;
    s.send(buf, port, address, () => undefined);
    if (count > 0 && sent >= count) finish();
  };
  s.bind(0, () => {
    probe();
    if (count === 0 || count > 1) timer = setInterval(probe, intervalMs);
  });
  process.on("SIGTERM", finish);
  process.on("SIGINT", finish);
} else {
  process.stderr.write("usage: udp-ping echo [PORT] | udp-ping ping ADDRESS [--port P] [--count N] [--interval MS] [--wait MS] [--size N]\n");
  process.exit(2);
}
