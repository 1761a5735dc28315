// A TUN device (IFF_TUN | IFF_NO_PI: raw IP packets, no header) or TAP device
// (Ethernet frames), for test peers. The device exists while it is open.
import { nativeAddon } from "./native-addon.ts";
import type { NativeEndpoint } from "./native-addon.ts";
import type { BatchOptions } from "./packet-endpoint.ts";
import { DEFAULT_BATCH_SIZE, PacketEndpoint } from "./packet-endpoint.ts";

export interface TunDeviceOptions extends BatchOptions {
  /** TAP (Ethernet frames) instead of TUN */
  readonly tap?: boolean;
}

export class TunDevice extends PacketEndpoint {
  private constructor(native: NativeEndpoint, batchSize: number, slotSize: number) {
    super(native, batchSize, slotSize);
  }

  /** Creates (or attaches to) the device `name`; "" lets the kernel pick (tun%d). */
  static open(name: string, options: TunDeviceOptions = {}): TunDevice {
    const native = nativeAddon().openTun(name === "" ? null : name, { tap: options.tap ?? false });
    return new TunDevice(native, options.batchSize ?? DEFAULT_BATCH_SIZE, options.slotSize ?? 2048);
  }

  protected describe(): string {
    return `TUN device ${this.name}`;
  }
}
