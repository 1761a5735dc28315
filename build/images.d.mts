// Types of the parts of build/images.mjs its unit test uses (test/unit/build/images.test.ts).
export interface RuntimePin {
  readonly package: string;
  readonly version: string;
  readonly sha256: string;
  readonly integrity?: string;
}
export interface Runtime extends RuntimePin {
  readonly node: string;
  readonly include: string;
}
export const TARGETS: Readonly<Record<"x64" | "arm64" | "armv7", { readonly triple: string; readonly cc: string; readonly strip: string; readonly emulator: readonly string[]; readonly elfMachine: number }>>;
export function ensureRuntime(target: string, pins?: Readonly<Record<string, RuntimePin>>): Runtime;
export function findFastpathObject(): { readonly path: string; readonly bytes: Buffer } | undefined;
