// Stations the link layer (802.1X through hostapd) has authorised and not yet
// withdrawn, keyed by the 48-bit MAC number so that the per-frame check reads the
// source address in place (no MAC text per frame).
import { macKey } from "../wire/mac.ts";

export class AuthorisedStations {
  private readonly keys = new Set<number>();

  add(macBytes: Uint8Array): void {
    this.keys.add(macKey(macBytes));
  }

  delete(macBytes: Uint8Array): void {
    this.keys.delete(macKey(macBytes));
  }

  has(macBytes: Uint8Array): boolean {
    return this.keys.has(macKey(macBytes));
  }

  /** Is the source MAC of this Ethernet frame authorised? */
  hasFrameSource(frame: Uint8Array): boolean {
    return this.keys.has(macKey(frame, 6));
  }

  get size(): number {
    return this.keys.size;
  }
}
