#!/usr/bin/env bash
# make demo: from a fresh machine to a finished example run.
#   - installs what is missing and builds,
#   - makes ./demo/run-data (synthflow init; kept between runs) and puts the
#     example workspace examples/ppp-audio in its src/ppp-audio,
#   - validates and lists the DAGs,
#   - runs the example DAG ppp-preprocess with `synthflow test` (it speaks a
#     small dataset with espeak-ng, cleans every clip with sox, and writes
#     filelists into uploadable/),
#   - prints where the outputs, logs and run record are,
#   - starts `synthflow serve` in the background and prints the web UI's URL.
# Re-running it refreshes the example's files and makes a new run.
# Each step is a function and the sequence is at the bottom: the web UI and
# the workspace container come in as steps of their own.
set -eu -o pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sf="$root/build/synthflow"
data="$root/demo/run-data"
dag=ppp-preprocess

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

run_example() {
	say "synthflow test $dag"
	# the run id is the first line on stdout; progress goes to stderr
	status=0
	"$sf" --data "$data" test "$dag" | tee "$root/demo/last-run.txt" || status=$?
	run_id=$(head -n 1 "$root/demo/last-run.txt")
	if [ "$status" -ne 0 ]; then
		echo "the run ${run_id:-?} failed: see build/synthflow --data demo/run-data runs show $run_id" >&2
		echo "and the task logs in $data/flow/logs/$dag/$run_id/" >&2
		exit 1
	fi
}

show_outputs() {
	out="$data/uploadable/espeak-sample"
	say "done: run $run_id of $dag"
	cat <<EOF
outputs (self-contained, ready to share):
  $out/filelist_train.txt       $(wc -l <"$out/filelist_train.txt") clips
  $out/filelist_validation.txt  $(wc -l <"$out/filelist_validation.txt") clips
  $out/clips/                   the cleaned clips
intermediate files:  $data/generated/$dag/$run_id/
task logs:           $data/flow/logs/$dag/$run_id/
the run's record:    build/synthflow --data demo/run-data runs show $run_id
a task's log:        build/synthflow --data demo/run-data tasks logs $run_id clean --index 0
run it again:        build/synthflow --data demo/run-data test $dag -p sample_rate=16000
EOF
}

# The scheduler and web UI in the background, on web.port (8881).  A serve
# already running for this data folder (demo/serve.pid) is kept.
serve_ui() {
	say "synthflow serve (scheduler + web UI)"
	pidf="$root/demo/serve.pid"
	log="$root/demo/serve.log"
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		echo "already running (pid $(cat "$pidf"))"
	else
		nohup "$sf" --data "$data" serve >"$log" 2>&1 </dev/null &
		echo $! >"$pidf"
		for _ in $(seq 50); do
			grep -q '^http://' "$log" && break
			kill -0 "$(cat "$pidf")" 2>/dev/null || break
			sleep 0.1
		done
	fi
	url=$(grep -m1 '^http://' "$log" || true)
	if [ -z "$url" ]; then
		echo "the web UI did not start:" >&2
		tail -n 5 "$log" >&2
		return 0
	fi
	echo "open the web UI:     $url"
	echo "  (trigger $dag with other params, watch it run, read its logs, listen to the clips)"
	echo "stop it:             kill \$(cat demo/serve.pid)"
}

# The example workspace in a container, when a Docker engine answers: its
# engine serves the UI in place of serve_ui's (the demo's own serve is
# stopped: one per data folder and port).  The base is a local debootstrap
# image (no registry needed) unless SYNTHFLOW_WORKSPACE_BASE_IMAGE names
# another.  It stays up until 'synthflow stop'.  Returns 1 when the
# container could not be had, and the demo goes on on the host.
start_workspace() {
	say "the example workspace in a container"
	if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
		cat <<EOF
no Docker engine answers here, so the example ran on the host only (above).
To get one: sudo apt-get install docker.io && sudo systemctl start docker
(or 'sudo dockerd &' where there is no systemd), then run 'make demo' again.
EOF
		return 1
	fi
	if [ -z "${SYNTHFLOW_WORKSPACE_BASE_IMAGE:-}" ]; then
		base=$("$sf" --data "$data" base) || {
			echo "no base image: run 'sudo build/synthflow base' once, then 'make demo' again"
			return 1
		}
		export SYNTHFLOW_WORKSPACE_BASE_IMAGE=$base
	fi
	pidf="$root/demo/serve.pid"
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		kill "$(cat "$pidf")"
		for _ in $(seq 100); do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.1; done
	fi
	"$sf" --data "$data" stop >/dev/null
	if ! "$sf" --data "$data" build ppp-audio || ! "$sf" --data "$data" run ppp-audio --detach; then
		echo "the example workspace did not start (above); the UI runs on the host instead"
		return 1
	fi
	jupyter=$("$sf" --data "$data" jupyter) || jupyter="(add jupyter-notebook to the example's packages.txt)"
	cat <<EOF
web UI:   $("$sf" --data "$data" web)
Jupyter:  $jupyter
a shell:  build/synthflow --data demo/run-data shell
stop it:  build/synthflow --data demo/run-data stop
EOF
}

install_and_build
make_data_folder
check_dags
run_example
show_outputs
start_workspace || serve_ui
