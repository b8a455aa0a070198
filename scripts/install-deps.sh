#!/bin/bash
# Installs every Debian package the build and the tests need (as root, or via sudo).
# Installs nothing when everything is already there, so repeated runs are quick.
set -euo pipefail
pkgs=(build-essential cmake pkg-config python3
      libinih-dev libsndfile1-dev libsamplerate0-dev   # host side: config, WAV, resampling
      libncurses-dev                                    # the front panel in a terminal
      libpcap-dev                                       # MS/TP captures (link type 165)
      libcmocka-dev                                     # unit tests
      man-db                                            # e2e_install renders the man page
      clang libclang-rt-14-dev                          # libFuzzer targets
      gcc-arm-none-eabi libnewlib-arm-none-eabi         # the Cortex-M4 build of the core
      qemu-system-arm                                   # the firmware under emulation (mps2-an386)
      gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user # the core's tests big-endian (be-tests.sh)
)
[ "${1:-}" = "--build-only" ] && pkgs=(build-essential cmake pkg-config libinih-dev libsndfile1-dev libsamplerate0-dev libncurses-dev libpcap-dev libcmocka-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
