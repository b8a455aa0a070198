#!/bin/bash
# The committed object table is exactly what the generator makes of data/objects.csv.
set -eu
root=$2
cd "$root"
if ! diff -u src/core/objects/obj_table.c <(python3 tools/gen_objects.py); then
    echo "src/core/objects/obj_table.c is stale: run python3 tools/gen_objects.py" >&2
    exit 1
fi
echo "object table matches data/objects.csv"
