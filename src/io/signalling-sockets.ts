// Mobile IPv4 signalling on UDP 434 (RFC 5944 3.1): one datagram socket bound to
// `CoA:434` for every care-of address, so each Registration Request leaves from
// the address it registers (the engine's send action names it) and replies and
// revocations for that CoA come back to the same socket.
//
// The CoAs must be addresses of this host (on the uplink): the daemon does not add
// them; binding fails with EADDRNOTAVAIL otherwise. Port 434 is below 1024: the
// process needs CAP_NET_BIND_SERVICE, or `net.ipv4.ip_unprivileged_port_start`
// at or below 434 in its network namespace (see README, "Privileges").
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { formatIpv4, parseIpv4 } from "../wire/ipv4-address.ts";

export interface SignallingHandlers {
  /** A datagram arrived on `local`:port from `from`:fromPort. */
  message(from: number, fromPort: number, local: number, bytes: Uint8Array): void;
  /** A socket failed after it was bound (it is closed and forgotten; `ensure` reopens). */
  error(local: number, error: Error): void;
}

export interface SignallingStats {
  readonly sockets: number;
  readonly rxDatagrams: number;
  readonly txDatagrams: number;
  /** sends refused: no socket for the source address, or the kernel refused */
  readonly txErrors: number;
  readonly lastTxError: string | null;
}

export interface BindFailure {
  readonly address: string;
  readonly code: string;
  readonly message: string;
}

export class SignallingSockets {
  private readonly sockets = new Map<number, Socket>();
  private rx = 0;
  private tx = 0;
  private txErrors = 0;
  private lastTxError: string | null = null;
  private pendingSends = 0;
  private drained: (() => void)[] = [];

  constructor(
    private readonly handlers: SignallingHandlers,
    readonly port = 434,
  ) {}

  /** Opens a socket for each address that has none; returns the addresses that failed. */
  async ensure(addresses: readonly number[]): Promise<BindFailure[]> {
    const failures: BindFailure[] = [];
    await Promise.all(
      addresses
        .filter((a) => !this.sockets.has(a))
        .map(async (a) => {
          try {
            this.sockets.set(a, await this.bind(a));
          } catch (e) {
            const err = e as NodeJS.ErrnoException;
            failures.push({ address: formatIpv4(a), code: err.code ?? "EUNKNOWN", message: err.message });
          }
        }),
    );
    return failures;
  }

  /** The addresses with an open socket. */
  addresses(): number[] {
    return [...this.sockets.keys()];
  }

  private bind(address: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: "udp4", reuseAddr: false });
      const onBindError = (error: Error): void => {
        socket.close();
        reject(error);
      };
      socket.once("error", onBindError);
      socket.bind({ address: formatIpv4(address), port: this.port, exclusive: true }, () => {
        socket.off("error", onBindError);
        socket.on("error", (error) => {
          if (this.sockets.get(address) === socket) this.sockets.delete(address);
          socket.close();
          this.handlers.error(address, error);
        });
        socket.on("message", (msg, rinfo) => {
          const from = parseIpv4(rinfo.address);
          if (from === null) return;
          this.rx++;
          this.handlers.message(from, rinfo.port, address, new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
        });
        resolve(socket);
      });
    });
  }

  /** Sends `bytes` from `from`:port to `to`:toPort; false when no socket serves `from`. */
  send(from: number, to: number, toPort: number, bytes: Uint8Array): boolean {
    const socket = this.sockets.get(from);
    if (!socket) {
      this.txErrors++;
      this.lastTxError = `no socket for ${formatIpv4(from)}`;
      return false;
    }
    this.pendingSends++;
    const done = (error: Error | null): void => {
      this.pendingSends--;
      if (error) {
        this.txErrors++;
        this.lastTxError = (error as NodeJS.ErrnoException).code ?? error.message;
      } else this.tx++;
      if (this.pendingSends === 0) for (const d of this.drained.splice(0)) d();
    };
    try {
      // The engine may reuse its buffer after the call: hand dgram a copy.
      socket.send(Buffer.from(bytes), toPort, formatIpv4(to), done);
    } catch (error) {
      // dgram throws synchronously for some arguments (e.g. port 0): count, never leak the pending send.
      done(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
    return true;
  }

  /** Resolves when every send handed to the kernel has completed (or after timeoutMs). */
  flushed(timeoutMs = 1000): Promise<void> {
    if (this.pendingSends === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drained.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stats(): SignallingStats {
    return { sockets: this.sockets.size, rxDatagrams: this.rx, txDatagrams: this.tx, txErrors: this.txErrors, lastTxError: this.lastTxError };
  }

  /** Closes the socket of one address (the config no longer lists it); false when there was none. */
  release(address: number): boolean {
    const socket = this.sockets.get(address);
    if (!socket) return false;
    this.sockets.delete(address);
    socket.close();
    return true;
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
