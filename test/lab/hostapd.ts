// 802.1X in the lab (issue 11): hostapd (driver=wired, its internal EAP server with
// a user file, EAP-MD5: no certificates needed) on an AN's access port, and
// wpa_supplicant (-D wired) in an MN's namespace. Separate from topology.ts: the lab
// itself is unchanged, except that the AN's access bridge must forward EAPOL (a
// Linux bridge drops 01:80:c2:00:00:03 unless group_fwd_mask bit 3 is set).
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import type { AnIndex, MnNode, Topology } from "./topology.ts";
import { waitFor } from "../support/netns.ts";

export interface EapUser {
  readonly identity: string;
  readonly password: string;
}

/** Which Debian packages the 802.1X lab needs (.ci/run installs them). */
export const HOSTAPD_PACKAGES = ["hostapd", "wpasupplicant"] as const;

/** Why the 802.1X lab cannot run here, or undefined. */
export function hostapdUnavailableReason(): string | undefined {
  for (const tool of ["hostapd", "hostapd_cli", "wpa_supplicant", "wpa_cli"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } });
    } catch {
      return `${tool} is not installed (apt-get install ${HOSTAPD_PACKAGES.join(" ")})`;
    }
  }
  return undefined;
}

/** A process with its text output kept (hostapd logs to stdout with logger_stdout=-1). */
export class TextProcess {
  output = "";

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits for a line matching `pattern` in the output. */
  async waitForLine(pattern: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
    return waitFor(() => this.output.split("\n").find((l) => pattern.test(l)), timeoutMs, `${what}; output so far: ${this.output.slice(-1500)}`);
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill("SIGKILL"), 3000);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.kill("SIGTERM");
    });
  }
}

export interface HostapdSite {
  /** ctrl_interface directory; the AN's linkLayer.hostapdControl is `${controlDir}/acc0`. */
  readonly controlDir: string;
  readonly controlPath: string;
  readonly configFile: string;
}

/** Writes hostapd's config and user file for AN `index`, and lets its access bridge forward EAPOL. */
export function prepareHostapd(t: Topology, index: AnIndex, users: readonly EapUser[]): HostapdSite {
  const controlDir = t.file(`hostapd${index}-ctrl`);
  mkdirSync(controlDir, { recursive: true });
  const userFile = t.file(`hostapd${index}.eap_user`);
  // hostapd.eap_user(5): "identity" METHOD "password"; phase-1 only here.
  writeFileSync(userFile, users.map((u) => `"${u.identity}" MD5 "${u.password}"\n`).join(""));
  const configFile = t.file(`hostapd${index}.conf`);
  writeFileSync(
    configFile,
    [
      `interface=${t.an(index).access}`,
      "driver=wired",
      `ctrl_interface=${controlDir}`,
      "ieee8021x=1",
      "eap_server=1",
      `eap_user_file=${userFile}`,
      "eapol_version=2",
      // Replies to the PAE group address, as a wired authenticator does.
      "use_pae_group_addr=1",
      "logger_stdout=-1",
      "logger_stdout_level=1",
      "",
    ].join("\n"),
  );
  t.lab.ip(t.sw, "link", "set", `br${index}`, "type", "bridge", "group_fwd_mask", "8");
  return { controlDir, controlPath: `${controlDir}/${t.an(index).access}`, configFile };
}

/** Starts hostapd in AN `index`'s namespace and waits until its control socket answers. */
export async function startHostapd(t: Topology, index: AnIndex, site: HostapdSite): Promise<TextProcess> {
  const p = new TextProcess(t.lab.spawn(t.an(index).ns, "hostapd", [site.configFile]));
  await p.waitForLine(/AP-ENABLED/, `hostapd at AN${index} enabled`);
  return p;
}

/** hostapd_cli against AN `index`'s hostapd. */
export function hostapdCli(t: Topology, index: AnIndex, site: HostapdSite, ...args: string[]): string {
  return t.lab.exec(t.an(index).ns, "hostapd_cli", "-p", site.controlDir, "-i", t.an(index).access, ...args);
}

/** Starts wpa_supplicant (-D wired, EAP-MD5) on the MN's eth0 with this identity and password. */
export function startSupplicant(t: Topology, mn: MnNode, user: EapUser): TextProcess {
  const controlDir = t.file(`wpa-mn${mn.index}-ctrl`);
  mkdirSync(controlDir, { recursive: true });
  const configFile = t.file(`wpa-mn${mn.index}.conf`);
  writeFileSync(
    configFile,
    [
      `ctrl_interface=${controlDir}`,
      "ap_scan=0",
      "network={",
      "  key_mgmt=IEEE8021X",
      "  eap=MD5",
      `  identity="${user.identity}"`,
      `  password="${user.password}"`,
      "  eapol_flags=0",
      "}",
      "",
    ].join("\n"),
  );
  return new TextProcess(t.lab.spawn(mn.ns, "wpa_supplicant", ["-D", "wired", "-i", mn.ifname, "-c", configFile]));
}

/** wpa_cli in the MN's namespace (logoff, logon, reauthenticate, status). */
export function wpaCli(t: Topology, mn: MnNode, ...args: string[]): string {
  return t.lab.exec(mn.ns, "wpa_cli", "-p", t.file(`wpa-mn${mn.index}-ctrl`), "-i", mn.ifname, ...args);
}
