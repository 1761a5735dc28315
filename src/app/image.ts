// What a firmware image (a Node single executable, built by build/images.mjs) carries
// besides the code: the native addon for its architecture and, when the build found
// one, the tc-BPF fast-path object. The build puts them in as base64 strings (esbuild
// `define`), so one mechanism serves Node 22 and Node 20.11 (which has no node:sea
// assets). Running from the sources or from dist/an.mjs none of this is defined.
import { addonRuntimeDir, loadAddonFromBytes } from "../io/addon-extract.ts";
import { useEmbeddedAddon } from "../io/native-addon.ts";

declare const AN_IMAGE_ADDON: string | undefined;
declare const AN_IMAGE_FASTPATH_BPF: string | undefined;

function decode(b64: string | undefined): Uint8Array | undefined {
  return typeof b64 === "string" && b64 !== "" ? new Uint8Array(Buffer.from(b64, "base64")) : undefined;
}

/** True in a single-executable image. */
export const IS_IMAGE: boolean = typeof AN_IMAGE_ADDON === "string";

/** The embedded an_native.node, if this is an image. */
export function embeddedAddon(): Uint8Array | undefined {
  return decode(typeof AN_IMAGE_ADDON === "string" ? AN_IMAGE_ADDON : undefined);
}

/**
 * The embedded tc-BPF fast-path object (arch-neutral ELF, clang -target bpf), if the
 * build found one (build/images.mjs: $AN_FASTPATH_BPF, else build/out/an_fastpath.bpf.o,
 * else dist/an_fastpath.bpf.o). The fast path writes it where tc can read it.
 */
export function embeddedFastpathObject(): Uint8Array | undefined {
  return decode(typeof AN_IMAGE_FASTPATH_BPF === "string" ? AN_IMAGE_FASTPATH_BPF : undefined);
}

/** In an image: the addon comes from the embedded bytes, extracted on first use into $AN_RUNTIME_DIR. */
export function installEmbeddedAddon(): void {
  const bytes = embeddedAddon();
  if (bytes !== undefined) useEmbeddedAddon(() => loadAddonFromBytes(bytes, addonRuntimeDir()));
}
