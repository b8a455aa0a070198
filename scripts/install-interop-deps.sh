#!/bin/bash
# Installs what tests/e2e_interop.sh needs, from Debian's packages, when missing:
#   node + npm (the third-party BACnet client @bacnet-js/client runs on Node.js)
#   tshark + dumpcap (Wireshark's BACnet dissector judges every captured packet)
# then the npm packages of tests/interop from its lockfile.
# Runs apt-get as root, or through sudo. Idempotent: installs nothing that is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

pkgs=()
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
command -v tshark >/dev/null || pkgs+=(tshark)
command -v tmux >/dev/null || pkgs+=(tmux)            # the panel test drives a real terminal
command -v socat >/dev/null || pkgs+=(socat)          # the MS/TP test runs over a pty pair
command -v dumpcap >/dev/null || pkgs+=(wireshark-common)

if [ "${#pkgs[@]}" -gt 0 ]; then
  echo "install-interop-deps: apt-get install ${pkgs[*]}"
  # wireshark-common asks whether non-root users may capture: answer no, without asking.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

node --version >/dev/null
tshark --version | head -1

# The client from the lockfile (never a newer one).
if [ ! -f tests/interop/node_modules/@bacnet-js/client/package.json ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
fi
