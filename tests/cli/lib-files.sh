# Helpers for the downloaded/ watcher tests (t10xx-files*) and the other
# event tests (t10xx): a data folder with a watched DAG, a real serve
# (lib-web.sh) and polling of what it did.  Source after ../lib.sh and
# lib-web.sh.

# quick_dag WS NAME [LINE...]: run-data/src/WS/dags/NAME.yaml, a DAG of one
# quick task with the given top-level YAML lines.
quick_dag() {
	mkdir -p "run-data/src/$1/dags"
	set -- "run-data/src/$1/dags/$2.yaml" "${@:3}"
	{ [ $# -gt 1 ] && printf '%s\n' "${@:2}"; printf 'tasks:\n  a: {run: "true"}\n'; } >"$1"
}

# wav_dag WS [QUIET]: the DAG `wav` of workspace WS, taking *.wav (its `file`
# param gets the path) after a quiet period of QUIET (300ms).
wav_dag() {
	quick_dag "$1" wav "params:" "  file: {type: path}" \
		"on_file: {glob: \"*.wav\", quiet: ${2:-300ms}, params: {file: \"{{ file }}\"}}"
}

# files_sets_dag [COMMAND [ARGS [QUIET]]]: the DAG `sets` of files_init's
# workspace, which takes each *.clipper folder in downloaded/ whole (dirs:
# true) after a quiet period of QUIET (1s) and writes how many lines
# `COMMAND FOLDER ARGS` prints (ls: its entries) to its run's n.
files_sets_dag() {
	cat >run-data/src/t/dags/sets.yaml <<-YAML
	params:
	  dataset: {type: string}
	on_file: {glob: "*.clipper", dirs: true, quiet: ${3:-1s}, params: {dataset: "{{ file.name }}"}}
	tasks:
	  count:
	    run: ${1:-ls} {{ data }}/downloaded/{{ params.dataset }} ${2:-}| wc -l > {{ run.dir }}/n
	YAML
}

# files_init: a data folder whose DAG `wav` takes **/*.wav after a quiet
# period of 1 s and records the size of its file.
files_init() {
	# each body's own data folder, so on PostgreSQL its own database too
	# (lib-web.sh shares one store between bodies)
	test_store_fresh || return 1
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	cat >run-data/src/t/dags/wav.yaml <<-'YAML'
	params:
	  file: {type: path}
	on_file: {glob: "**/*.wav", quiet: 1s, params: {file: "{{ file }}"}}
	tasks:
	  size:
	    run: wc -c < {{ params.file }} > {{ run.dir }}/size
	YAML
}

# serve in the background (lib-web.sh); its stderr is run-data/serve.err.
start_serve() { web_start run-data; }
stop_serve() { web_stop_if run-data; }

runs_of() { synthflow runs list "$1" --limit 0 --json | jq .total; }

# wait_runs DAG N [SECONDS]: until DAG has N runs (in 30 s, or lib-web.sh's
# WEB_WAIT when longer); fails when it has more.
wait_runs() {
	for i in $(seq $((${3:-$((WEB_WAIT > 30 ? WEB_WAIT : 30))} * 10))); do
		n=$(runs_of "$1")
		[ "$n" -gt "$2" ] && { echo "DAG $1 has $n runs, more than $2" >&2; return 1; }
		[ "$n" -eq "$2" ] && return 0
		sleep 0.1
	done
	echo "DAG $1 has $n runs, not $2" >&2
	cat run-data/serve.err >&2
	return 1
}

# metric NAME: its value in serve's /metrics.
metric() {
	curl -sf -H "$WEB_AUTH" "$WEB_BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

# file_status PATH [DAG]: what `synthflow files --json` says of PATH (DAG's row).
file_status() {
	synthflow files ${2:-} --json | jq -r --arg p "$1" '.[] | select(.path == $p) | .status'
}

# status_is PATH STATUS [DAG] / status_starts PATH PREFIX [DAG]: for wait_for.
status_is() { [ "$(file_status "$1" "${3:-}")" = "$2" ]; }
status_starts() { case "$(file_status "$1" "${3:-}")" in "$2"*) return 0 ;; esac; return 1; }
# log_has N PATTERN: serve's log has exactly N lines matching PATTERN (for wait_for).
log_has() { [ "$(grep -c "$2" run-data/serve.err)" -eq "$1" ]; }
# metric_is NAME VALUE / metric_positive NAME: for wait_for.
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_positive() { awk -v v="$(metric "$1")" 'BEGIN { exit !(v > 0) }'; }
