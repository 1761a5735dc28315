// The version `an --version` prints: stamped into the bundle by build/bundle.mjs
// (esbuild `define`), "-dev" when running from the sources.
declare const AN_BUILD_VERSION: string | undefined;

export const VERSION: string = typeof AN_BUILD_VERSION === "string" ? AN_BUILD_VERSION : "0.0.0-dev";
