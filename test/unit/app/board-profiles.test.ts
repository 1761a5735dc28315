// The shipped board profiles (board/*.json): each is valid, names the architecture of
// the image it runs, and with the example AP config gives a valid config; the AP
// profiles carry hostapd's control path and a detach through it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { boardDefaults, loadBoard } from "../../../src/app/board.ts";
import { loadConfigFile } from "../../../src/app/config-file.ts";

const root = join(import.meta.dirname, "../../..");
const names = readdirSync(join(root, "board")).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));

describe("board profiles", () => {
  it("ships generic-x64, rpi4-arm64 and armv7-ap (and the lab's)", () => {
    expect(names.sort()).toEqual(["armv7-ap", "generic-x64", "lab-x64", "rpi4-arm64"]);
  });

  it.each(names)("%s is valid and its name is its file name", (name) => {
    const b = loadBoard(name);
    expect(b.ok, b.ok ? "" : b.problems.join("; ")).toBe(true);
    if (b.ok) expect(b.board.name).toBe(name);
  });

  it("the Raspberry Pi 4 profile: arm64, hostapd on wlan0, eth0 uplink, detach via hostapd_cli on its control path", () => {
    const b = loadBoard("rpi4-arm64");
    if (!b.ok) throw new Error(b.problems.join("; "));
    expect(b.board).toMatchObject({ arch: "arm64", interfaces: { access: "wlan0", uplink: "eth0" }, hostapd: { controlPath: "/var/run/hostapd" } });
    expect(boardDefaults(b.board)).toMatchObject({
      access: { interface: "wlan0" },
      stationControl: { detachCommand: ["hostapd_cli", "-p", "/var/run/hostapd", "-i", "wlan0", "deauthenticate", "{mac}"] },
    });
  });

  it("architectures: x64 for generic-x64, armv7l for armv7-ap", () => {
    const x = loadBoard("generic-x64");
    const a = loadBoard("armv7-ap");
    expect(x.ok && x.board.arch).toBe("x64");
    expect(a.ok && a.board.arch).toBe("armv7l");
  });

  it.each(["generic-x64", "rpi4-arm64", "armv7-ap"])("board/examples/ap.json is a valid first config on %s (interfaces from the board)", (name) => {
    const b = loadBoard(name);
    if (!b.ok) throw new Error(b.problems.join("; "));
    const c = loadConfigFile(join(root, "board/examples/ap.json"), b.board);
    expect(c.ok, c.ok ? "" : JSON.stringify(c.problems)).toBe(true);
    if (c.ok) expect(c.config.access.interface).toBe(b.board.interfaces.access);
  });
});
