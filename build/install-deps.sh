#!/usr/bin/env bash
# Installs the system packages a purpose needs, from Debian, only those missing.
#   bash build/install-deps.sh demo   # the lab demo: iproute2, util-linux, mosquitto (the fleet broker)
#   bash build/install-deps.sh bench  # the tests' packages + trafgen for npm run bench
#   bash build/install-deps.sh test   # the test suite: + tshark/dumpcap, tcpdump, mosquitto,
#                                     #   hostapd, wpa_supplicant, clang/libbpf/bpftool,
#                                     #   cross compilers and qemu-user for the board images
# The README's two commands and .ci/run call it. Needs root (apt-get); without root it
# lists what is missing and exits 0, so a developer's non-root shell still runs what it can
# (the namespace tests skip there and say so).
set -euo pipefail
purpose="${1:-test}"

# Each entry: "command-or-path:package". A path (starting with /) is tested with -e.
demo=(
  "ip:iproute2"
  "setpriv:util-linux"
  "mosquitto:mosquitto"
)
test=(
  "${demo[@]}"
  "tshark:tshark"
  "dumpcap:tshark"
  "tcpdump:tcpdump"
  "mosquitto_pub:mosquitto-clients"
  "openssl:openssl"
  "hostapd:hostapd"
  "hostapd_cli:hostapd"
  "wpa_supplicant:wpasupplicant"
  "clang:clang"
  "llc:llvm"
  "/usr/include/bpf/libbpf.h:libbpf-dev"
  "pkg-config:pkg-config"
  "bpftool:bpftool"
  "aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
  "aarch64-linux-gnu-g++:g++-aarch64-linux-gnu"
  "arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf"
  "arm-linux-gnueabihf-g++:g++-arm-linux-gnueabihf"
  "/usr/aarch64-linux-gnu/include/stdio.h:libc6-dev-arm64-cross"
  "/usr/arm-linux-gnueabihf/include/stdio.h:libc6-dev-armhf-cross"
  "/usr/aarch64-linux-gnu/lib/libstdc++.so.6:libstdc++6-arm64-cross"
  "/usr/arm-linux-gnueabihf/lib/libstdc++.so.6:libstdc++6-armhf-cross"
  "/usr/arm-linux-gnueabihf/lib/libatomic.so.1:libatomic1-armhf-cross"
  "strip:binutils"
  "qemu-aarch64:qemu-user"
  "qemu-arm:qemu-user"
)

# npm run bench: trafgen (netsniff-ng) generates the datapath load.
bench=(
  "${test[@]}"
  "trafgen:netsniff-ng"
)

case "$purpose" in
  demo) wanted=("${demo[@]}") ;;
  test | ci) wanted=("${test[@]}") ;;
  bench) wanted=("${bench[@]}") ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

missing=()
for entry in "${wanted[@]}"; do
  probe="${entry%%:*}" pkg="${entry#*:}"
  if [[ "$probe" == /* ]]; then [ -e "$probe" ] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps ($purpose): everything present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps ($purpose): not root, not installing: ${missing[*]} (tests that need them skip outside CI)"
  exit 0
fi
echo "install-deps ($purpose): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
