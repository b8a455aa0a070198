#!/bin/bash
# Builds s4100 and runs the meter on its default scenario (a building with rooftop PV).
# Extra arguments go to 's4100 measure', e.g.  scripts/run.sh --seconds 60 --csv
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build-only
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target s4100 >/dev/null
exec ./build/s4100 measure --scenario scenarios/default.ini "$@"
