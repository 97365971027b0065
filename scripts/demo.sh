#!/usr/bin/env bash
# make demo: a data folder under ./demo with the example workspace, its DAGs
# validated and listed.  Later steps (running them, the UI, the container)
# are added as those parts land.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sf="$root/build/synthflow"
data="$root/demo/run-data"

"$sf" init "$data" >/dev/null
for ex in examples/*/; do
	[ -d "$ex" ] || continue
	name=$(basename "$ex")
	mkdir -p "$data/src/$name"
	cp -rn "$ex"/. "$data/src/$name/"
done
echo "data folder: $data"
