// Issue 9 item 4: carrier of the access interface, for boards whose access port is
// a wired port with one station behind it (board profile `accessPortPerStation`):
// losing the carrier means that station left, and the daemon deregisters it.
//
// How: /sys/class/net/IF/carrier, read every `intervalMs` (default 500 ms). Chosen
// over netlink (RTM_NEWLINK via `ip monitor link`, or a socket in the native addon)
// because it needs no child process to supervise and restart, no iproute2 on the
// board image and no new C; the cost is one 2-byte sysfs read per interval, and a
// loss is seen within the interval, which is nothing against a binding lifetime
// (a flap shorter than the interval is not seen, which is what we want: the
// station did not leave). sysfs shows the network namespace it was mounted in
// (`ip netns exec` remounts it), as the daemon's own interfaces are.
import { readFileSync } from "node:fs";

export interface CarrierWatchOptions {
  readonly interface: string;
  readonly intervalMs?: number;
  /** Reads the carrier file (tests: a fake). Throws when the interface is down or gone. */
  readonly read?: (path: string) => string;
  /** Called on every change, with the new state (not for the first reading). */
  readonly onChange: (up: boolean) => void;
}

export class CarrierWatch {
  private timer: ReturnType<typeof setInterval> | undefined;
  private state: boolean | undefined;
  private readonly path: string;
  private readonly read: (path: string) => string;

  constructor(private readonly o: CarrierWatchOptions) {
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(o.interface)) throw new Error(`not an interface name: ${o.interface}`);
    this.path = `/sys/class/net/${o.interface}/carrier`;
    this.read = o.read ?? ((p) => readFileSync(p, "utf8"));
  }

  /** The carrier as last read (undefined before the first reading). */
  get up(): boolean | undefined {
    return this.state;
  }

  start(): this {
    this.poll();
    this.timer = setInterval(() => this.poll(), this.o.intervalMs ?? 500);
    this.timer.unref();
    return this;
  }

  /** One reading; reports a change. Public for tests. */
  poll(): void {
    let up: boolean;
    try {
      up = this.read(this.path).trim() === "1";
    } catch {
      // EINVAL while the interface is administratively down, ENOENT once it is gone: no carrier.
      up = false;
    }
    const before = this.state;
    this.state = up;
    if (before !== undefined && before !== up) this.o.onChange(up);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
