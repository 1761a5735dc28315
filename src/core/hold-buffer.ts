// Frames an MN sends while its registration is pending (draft Figure 6 step 9:
// the DAD NS is delayed until the tunnel is up). Bounded per MN and in total, so a
// flood from one station or many cannot exhaust the AP's memory.
import type { HoldCaps } from "./config.ts";

export type HoldDropReason = "per-mn-frames" | "per-mn-bytes" | "total-frames" | "total-bytes";

export interface HeldFrames {
  frames: Uint8Array[];
  bytes: number;
}

/** The frames of a holder that holds none: shared and frozen (hold() starts a new list). */
export const NO_FRAMES = Object.freeze([]) as readonly Uint8Array[] as Uint8Array[];

export class HoldPool {
  private frames = 0;
  private bytes = 0;

  constructor(private caps: HoldCaps) {}

  setCaps(caps: HoldCaps): void {
    this.caps = caps;
  }

  /** Copies the frame into `held` (the caller's buffer is reused), or says why not. */
  hold(held: HeldFrames, frame: Uint8Array): HoldDropReason | undefined {
    const size = frame.length;
    if (held.frames.length + 1 > this.caps.framesPerMn) return "per-mn-frames";
    if (held.bytes + size > this.caps.bytesPerMn) return "per-mn-bytes";
    if (this.frames + 1 > this.caps.framesTotal) return "total-frames";
    if (this.bytes + size > this.caps.bytesTotal) return "total-bytes";
    // An empty list may be the shared NO_FRAMES: a new list, sized for one frame.
    if (held.frames.length === 0) held.frames = [frame.slice()];
    else held.frames.push(frame.slice());
    held.bytes += size;
    this.frames++;
    this.bytes += size;
    return undefined;
  }

  /** Takes every held frame out, in arrival order. */
  drain(held: HeldFrames): Uint8Array[] {
    const out = held.frames;
    this.frames -= out.length;
    this.bytes -= held.bytes;
    held.frames = NO_FRAMES;
    held.bytes = 0;
    return out;
  }

  get totalFrames(): number {
    return this.frames;
  }

  get totalBytes(): number {
    return this.bytes;
  }
}
