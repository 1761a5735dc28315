// Interface facts from the kernel: index, MTU, up flag, Ethernet MAC.
import type { InterfaceInfo } from "./native-addon.ts";
import { nativeAddon } from "./native-addon.ts";

export type { InterfaceInfo } from "./native-addon.ts";

/** Throws a NativeIoError with code "ENODEV" when there is no such interface. */
export function interfaceInfo(name: string): InterfaceInfo {
  return nativeAddon().interfaceInfo(name);
}
