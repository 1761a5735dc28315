#!/usr/bin/env bash
# CI for the firmware images (issue 13). Called by .ci/run after `npm ci`, as root:
#   build/ci-images.sh [--lab]
# 1. builds dist/an-linux-{x64,arm64,armv7} (build/images.mjs), printing the size and
#    start-time report (x64 native, ARM under qemu-user);
# 2. `an --version` of each (the commit must be this checkout's) and `an selftest`:
#    x64 natively, arm64 under qemu-aarch64, armv7 under qemu-arm (--emulated: qemu-user
#    has no SOL_PACKET socket options);
# 3. the embedded addon refused with a clear error from a noexec directory;
# 4. reproducibility: a second build into build/out/repro must give identical files;
# 5. with --lab: the lab end-to-end tests and the demo against the x64 single executable
#    (AN_DAEMON=dist/an-linux-x64). Without it, export AN_DAEMON for the later `npm test`
#    (what .ci/run should do, so the lab tests run once).
# Debian packages it needs (installed here when missing): gcc-aarch64-linux-gnu
# gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
# libstdc++6-arm64-cross libstdc++6-armhf-cross libatomic1-armhf-cross qemu-user
# binutils util-linux.
# Runtimes come from the npm registry (cached in .cache/runtimes, or $AN_RUNTIME_CACHE).
set -euo pipefail
cd "$(dirname "$0")/.."

lab=0
[ "${1:-}" = "--lab" ] && lab=1

need_pkgs=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || need_pkgs+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need_pkgs+=(libstdc++6-arm64-cross)
[ -e /usr/arm-linux-gnueabihf/lib/libstdc++.so.6 ] || need_pkgs+=(libstdc++6-armhf-cross)
[ -e /usr/arm-linux-gnueabihf/lib/libatomic.so.1 ] || need_pkgs+=(libatomic1-armhf-cross)
command -v qemu-aarch64 >/dev/null 2>&1 || need_pkgs+=(qemu-user)
command -v strip >/dev/null 2>&1 || need_pkgs+=(binutils)
command -v unshare >/dev/null 2>&1 || need_pkgs+=(util-linux)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "ci-images: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

t0=$(date +%s)
echo "ci-images: building the images"
node build/images.mjs

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
run_image() { # target args...
  local target=$1; shift
  case $target in
    x64) dist/an-linux-x64 "$@" ;;
    arm64) qemu-aarch64 -L /usr/aarch64-linux-gnu dist/an-linux-arm64 "$@" ;;
    armv7) qemu-arm -L /usr/arm-linux-gnueabihf dist/an-linux-armv7 "$@" ;;
  esac
}

fail=0
for target in x64 arm64 armv7; do
  v=$(run_image "$target" --version)
  echo "ci-images: an-linux-$target --version: $v"
  case $v in
    *"commit $commit"*"target linux-$target"*) ;;
    *) echo "ci-images: FAIL: an-linux-$target --version does not name commit $commit and target linux-$target"; fail=1 ;;
  esac
  extra=()
  [ "$target" != x64 ] && extra=(--emulated)
  echo "ci-images: an-linux-$target selftest ${extra[*]:-}"
  if ! run_image "$target" selftest "${extra[@]}"; then
    echo "ci-images: FAIL: an-linux-$target selftest"; fail=1
  fi
done

echo "ci-images: the embedded addon from a noexec directory (must be refused with a clear error)"
out=$(unshare -m sh -c 'd=$(mktemp -d); mount -t tmpfs -o noexec tmpfs "$d" && AN_RUNTIME_DIR="$d" dist/an-linux-x64 selftest; rc=$?; umount "$d"; rmdir "$d"; exit $rc' 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  /'
if [ "$rc" -ne 1 ] || ! echo "$out" | grep -q "mounted noexec; set AN_RUNTIME_DIR"; then
  echo "ci-images: FAIL: noexec directory not reported (exit $rc)"; fail=1
fi

echo "ci-images: reproducibility: a second build into build/out/repro"
rm -rf build/out/repro
node build/images.mjs --outdir build/out/repro --no-report | grep -v '^images: firmware' || true
for target in x64 arm64 armv7; do
  a=$(sha256sum "dist/an-linux-$target" | cut -d' ' -f1)
  b=$(sha256sum "build/out/repro/an-linux-$target" | cut -d' ' -f1)
  if [ "$a" = "$b" ]; then echo "ci-images: reproducible: an-linux-$target $a"
  else echo "ci-images: FAIL: an-linux-$target differs between two builds: $a vs $b"; fail=1; fi
done
rm -rf build/out/repro

if [ "$lab" -eq 1 ]; then
  echo "ci-images: lab end-to-end tests and demo against dist/an-linux-x64"
  AN_DAEMON="$PWD/dist/an-linux-x64" npx vitest run test/integration/lab || fail=1
fi

echo "ci-images: report (dist/images-report.md):"
cat dist/images-report.md
echo "ci-images: done in $(( $(date +%s) - t0 )) s, $([ $fail -eq 0 ] && echo PASS || echo FAIL)"
exit $fail
