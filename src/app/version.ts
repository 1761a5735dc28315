// What `an --version` prints. The build stamps the firmware version, the git commit
// and the image target into the bundle (esbuild `define`, see build/bundle.mjs and
// build/images.mjs); running from the sources gives "-dev" and "source". The Node
// version is the runtime's own, read at run time.
declare const AN_BUILD_VERSION: string | undefined;
declare const AN_BUILD_COMMIT: string | undefined;
declare const AN_BUILD_TARGET: string | undefined;

export const VERSION: string = typeof AN_BUILD_VERSION === "string" ? AN_BUILD_VERSION : "0.0.0-dev";
/** Full commit id the build ran on ("-dirty" when the tree had changes), "unknown" from the sources. */
export const COMMIT: string = typeof AN_BUILD_COMMIT === "string" ? AN_BUILD_COMMIT : "unknown";
/** Image target ("linux-arm64"), "bundle" for dist/an.mjs, "source" under a TS loader. */
export const TARGET: string = typeof AN_BUILD_TARGET === "string" ? AN_BUILD_TARGET : "source";

/** One line: "0.1.0 (commit 0123abc..., target linux-arm64, arch arm64, node v22.23.5)". */
export function versionLine(): string {
  return `${VERSION} (commit ${COMMIT}, target ${TARGET}, arch ${process.arch}, node ${process.version})`;
}
