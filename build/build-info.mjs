// What every build stamps into the firmware: the package version and the git commit
// (full id, "-dirty" when tracked files differ from it). $AN_BUILD_COMMIT overrides
// (a source tarball without .git); "unknown" when neither is there.
import process from "node:process";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function packageVersion(root) {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
}

export function gitCommit(root) {
  if (process.env.AN_BUILD_COMMIT) return process.env.AN_BUILD_COMMIT;
  try {
    const id = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    let dirty = false;
    try {
      execFileSync("git", ["diff-index", "--quiet", "HEAD", "--"], { cwd: root, stdio: "ignore" });
    } catch {
      dirty = true;
    }
    return dirty ? `${id}-dirty` : id;
  } catch {
    return "unknown";
  }
}
