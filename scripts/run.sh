#!/bin/bash
# Builds s4100 and runs the meter on its default scenario (a building with rooftop PV),
# serving BACnet/IP on UDP 47808. Extra arguments go to 's4100 run', e.g.
#   scripts/run.sh --bind 127.0.0.1 --bip-port 47900 --device-id 1234
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build-only
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target s4100 >/dev/null
exec ./build/s4100 run "$@"
