#!/bin/bash
# Installs what the tests need, then runs every test: the normal build, the same tests
# under AddressSanitizer + UBSan, the Cortex-M4 build of the core and the fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-interop-deps.sh   # nodejs, npm, tshark; @bacnet-js/client from the lockfile
jobs=2

echo "== build and test (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j$jobs
(cd build && ctest --output-on-failure -j$jobs)

echo "== build and test under ASan + UBSan"
cmake -S . -B build-asan -DS4100_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j$jobs
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$jobs)

echo "== Cortex-M4 build of the portable core"
scripts/build-arm.sh

echo "== the firmware image (QEMU mps2-an386) and its budgets: stack, flash, RAM, no double"
scripts/firmware.sh

echo "== fuzzers (bounded)"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
