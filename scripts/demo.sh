#!/usr/bin/env bash
# make demo: from a fresh machine to the example workspace in a data folder.
#   - installs what is missing and builds,
#   - makes ./demo/run-data (synthflow init; kept between runs) and puts the
#     example workspace examples/ppp-audio in its src/ppp-audio,
#   - validates and lists the DAGs.
# Re-running it refreshes the example's files.
# Each step is a function and the sequence is at the bottom: the web UI and
# the workspace container come in as steps of their own.
set -eu -o pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sf="$root/build/synthflow"
data="$root/demo/run-data"

say() { printf '\n== %s\n' "$*"; }

install_and_build() {
	say "installing what is missing, building"
	scripts/install-deps.sh build
	scripts/install-deps.sh demo
	[ -f build/build.ninja ] || meson setup build >/dev/null
	ninja -C build >/dev/null
}

make_data_folder() {
	say "data folder $data"
	"$sf" init "$data"
	for ex in examples/*/; do
		name=$(basename "$ex")
		mkdir -p "$data/src/$name"
		# the example's own files are refreshed; anything added beside them stays
		cp -R "$ex". "$data/src/$name/"
	done
}

check_dags() {
	say "synthflow dags validate"
	"$sf" --data "$data" dags validate
	say "synthflow dags list"
	"$sf" --data "$data" dags list
}

install_and_build
make_data_folder
check_dags
