// The embedded addon's way onto disk and back off (src/io/addon-extract.ts): loaded
// from a private file that is gone afterwards; noexec mounts found from mountinfo.
// (CI also runs the x64 image's selftest with AN_RUNTIME_DIR on a real noexec tmpfs:
// build/ci-images.sh.)
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AddonDirectoryError, addonRuntimeDir, loadAddonFromBytes, mountOf } from "../../../src/io/addon-extract.ts";
import { addonCandidates, NATIVE_ABI } from "../../../src/io/native-addon.ts";

const MOUNTINFO = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "25 22 0:21 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw",
  "26 22 0:22 / /run rw,nosuid,nodev,noexec shared:6 - tmpfs tmpfs rw,mode=755",
  "27 26 0:23 / /run/an rw,nosuid,nodev shared:7 - tmpfs tmpfs rw",
  "28 22 0:24 / /mnt/with\\040space rw,noexec shared:8 - tmpfs tmpfs rw",
  "29 25 0:25 / /tmp rw,noexec shared:9 - tmpfs tmpfs rw",
].join("\n");

const dir = mkdtempSync(join(tmpdir(), "an-extract-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Built by `npm ci` (the install script runs build:native); absent only in a tree where that was skipped.
const addonFile = addonCandidates().find((p) => existsSync(p));

describe("addon extraction", () => {
  it("mountOf: the longest mount point holding the path; a later over-mount wins; escapes decoded", () => {
    expect(mountOf("/var/lib/an", MOUNTINFO)).toEqual({ mountPoint: "/", options: ["rw", "relatime"] });
    expect(mountOf("/run/an/x", MOUNTINFO)?.mountPoint).toBe("/run/an");
    expect(mountOf("/run/an/x", MOUNTINFO)?.options).not.toContain("noexec");
    expect(mountOf("/run/other", MOUNTINFO)?.options).toContain("noexec");
    expect(mountOf("/runner", MOUNTINFO)?.mountPoint).toBe("/");
    expect(mountOf("/mnt/with space/d", MOUNTINFO)?.options).toContain("noexec");
    expect(mountOf("/tmp/x", MOUNTINFO)?.options).toContain("noexec");
  });

  it("the directory comes from $AN_RUNTIME_DIR, else the system temp dir", () => {
    expect(addonRuntimeDir({ AN_RUNTIME_DIR: "/run/an" })).toBe("/run/an");
    expect(addonRuntimeDir({})).toBe(tmpdir());
    expect(addonRuntimeDir({ AN_RUNTIME_DIR: "" })).toBe(tmpdir());
  });

  it.skipIf(addonFile === undefined)("loads the addon from bytes and leaves nothing behind", () => {
    const addon = loadAddonFromBytes(new Uint8Array(readFileSync(addonFile!)), dir);
    expect(addon.ABI).toBe(NATIVE_ABI);
    expect(typeof addon.openPacket).toBe("function");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a missing directory, or bytes that are not an addon: a clear error, nothing left behind", () => {
    expect(() => loadAddonFromBytes(new Uint8Array(8), join(dir, "nope"))).toThrow(AddonDirectoryError);
    expect(() => loadAddonFromBytes(new Uint8Array(8), join(dir, "nope"))).toThrow(/AN_RUNTIME_DIR/);
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    expect(() => loadAddonFromBytes(new Uint8Array(8), file)).toThrow(/unusable/);
    rmSync(file);
    expect(() => loadAddonFromBytes(new TextEncoder().encode("not an ELF"), dir)).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
