// A client socket for a local datagram service (hostapd's control interface):
// AF_UNIX SOCK_DGRAM connected to the service's path, our end autobound to an
// abstract address (nothing to clean up in the filesystem). Node's core has no
// unix datagram sockets; the addon's openUnixDgram gives one (src/native).
import { nativeAddon } from "./native-addon.ts";
import type { NativeIoError } from "./native-addon.ts";
import { PacketEndpoint } from "./packet-endpoint.ts";

/** hostapd's replies fit 4 KiB (its reply buffer); 16 KiB leaves room for a global interface. */
const SLOT_BYTES = 16384;
const BATCH = 8;

export class UnixDatagramSocket extends PacketEndpoint {
  private constructor(
    native: ReturnType<typeof openNative>,
    private readonly path: string,
  ) {
    super(native, BATCH, SLOT_BYTES);
  }

  /** Connects to `path`; throws a NativeIoError (ENOENT: no socket, ECONNREFUSED: nobody listening). */
  static connect(path: string): UnixDatagramSocket {
    return new UnixDatagramSocket(openNative(path), path);
  }

  /** Receives each datagram as text (UTF-8); `onError` as PacketEndpoint.onBatch. */
  onText(onText: (text: string) => void, onError: (error: NativeIoError, stopped: boolean) => void): this {
    const decoder = new TextDecoder("utf-8", { fatal: false });
    return this.onBatch((batch) => {
      for (let i = 0; i < batch.count; i++) onText(decoder.decode(batch.packet(i)));
    }, onError);
  }

  /** Sends one datagram; false when the socket buffer is full. Throws on ECONNREFUSED (the service is gone). */
  sendText(text: string): boolean {
    return this.send(new TextEncoder().encode(text));
  }

  protected describe(): string {
    return `unix datagram socket to ${this.path}`;
  }
}

function openNative(path: string) {
  const addon = nativeAddon();
  if (typeof addon.openUnixDgram !== "function") throw new Error("the native addon is older than openUnixDgram: rebuild it (npm run build:native)");
  return addon.openUnixDgram(path);
}
