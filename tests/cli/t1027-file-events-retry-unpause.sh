#!/usr/bin/env bash
# What fires for a file besides its arrival (docs/events.md, "Event
# scripts"): `files retry` (CLI and API) is a new arrival and fires
# file-added once, with source "retry" and the new runs; a file kept pending
# for a paused DAG fires file-added when it arrives (state pending, no run)
# and once more when the unpaused DAG gets its run (source "unpause"); a
# retry that fails writes nothing.  Nothing fires again after a restart.
# Real serve, real inotify, real event scripts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

# setup: files_init's DAG wav, and scripts that log each file-added and
# run-queued delivery as one line "EVENT JSON" in run-data/ev.log.
setup() {
	files_init && mkdir -p run-data/src/t/events &&
	for e in file-added run-queued; do
		printf '#!/bin/sh\necho "$SF_EVENT $(cat)" >>"$SF_DATA/ev.log"\n' >run-data/src/t/events/$e &&
		chmod +x run-data/src/t/events/$e || return 1
	done
}
# n EVENT: deliveries of EVENT so far; has EVENT N: for wait_for.
n() { cat run-data/ev.log 2>/dev/null | grep -c "^$1 " || true; }
has() { [ "$(n "$1")" = "$2" ]; }
# nth EVENT K: the JSON of the Kth delivery of EVENT.
nth() { grep "^$1 " run-data/ev.log | sed -n "$2p" | sed 's/^[^{]*//'; }
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }
# every delivery ended
settled() {
	synthflow events list --limit 0 --json |
		jq -e 'length > 0 and all(.[]; .state | IN("delivered", "failed", "redelivered"))'
}

expect_success 'files retry (CLI and API): file-added once each, source retry, with the new run' '
	setup && trap stop_serve EXIT &&
	start_serve &&
	echo 1234 >run-data/downloaded/a.wav &&
	wait_runs wav 1 && wait_for 30 has file-added 1 &&
	nth file-added 1 | jq -e ".source == \"watcher\" and .rel == \"a.wav\"" &&
	synthflow files retry a.wav >out && cat out &&
	cli_run=$(cat out) && test -n "$cli_run" &&
	wait_runs wav 2 && wait_for 30 has file-added 2 &&
	nth file-added 2 >r1.json && cat r1.json &&
	jq -e --arg r "$cli_run" --arg f "$PWD/run-data/downloaded/a.wav" ".event == \"file-added\" and
		.source == \"retry\" and .file == \$f and .rel == \"a.wav\" and .dir == false and
		.dags == [{\"dag_id\": \"wav\", \"state\": \"run\", \"run_id\": \$r}]" r1.json &&
	api POST /api/v1/dags/wav/files/retry -H "Content-Type: application/json" \
		-d "{\"path\": \"a.wav\"}" >r.json && expect_status 200 &&
	api_run=$(jq -r ".runs[0].run_id" r.json) &&
	wait_runs wav 3 && wait_for 30 has file-added 3 &&
	nth file-added 3 | jq -e --arg r "$api_run" ".source == \"retry\" and .dags[0].run_id == \$r" &&
	wait_for 30 has run-queued 3 && wait_for 30 settled &&
	stop_serve && start_serve && sleep 2 && wait_for 30 settled &&
	same "$(n file-added) $(n run-queued) $(runs_of wav)" "3 3 3"
'

expect_success 'a failed retry writes nothing: no arrival, no run, no event' '
	setup && trap stop_serve EXIT &&
	echo x >run-data/downloaded/notes.txt &&
	test_exit 1 synthflow files retry notes.txt 2>err && must_contain err "no DAG" &&
	test_exit 1 synthflow files retry notes.txt --dag wav 2>err && must_contain err "does not take" &&
	test_exit 1 synthflow files retry gone.wav 2>err && must_contain err "does not exist" &&
	same "$(synthflow events list --limit 0 --json | jq length) $(runs_of wav)" "0 0"
'

expect_success 'paused: file-added when the file arrives (pending), once more with its run on unpause' '
	setup && trap stop_serve EXIT &&
	synthflow dags pause wav &&
	start_serve &&
	echo 1234 >run-data/downloaded/p.wav &&
	wait_for 30 has file-added 1 &&
	nth file-added 1 >p1.json && cat p1.json &&
	jq -e ".source == \"watcher\" and .rel == \"p.wav\" and
		.dags == [{\"dag_id\": \"wav\", \"state\": \"pending\", \"run_id\": null}]" p1.json &&
	sleep 2 && same "$(n file-added) $(runs_of wav)" "1 0" &&
	synthflow dags unpause wav && wait_runs wav 1 &&
	run=$(synthflow runs list wav --json | jq -r ".runs[0].run_id") &&
	wait_for 30 has file-added 2 &&
	nth file-added 2 >p2.json && cat p2.json &&
	jq -e --arg r "$run" ".source == \"unpause\" and .rel == \"p.wav\" and .dir == false and
		.dags == [{\"dag_id\": \"wav\", \"state\": \"run\", \"run_id\": \$r}]" p2.json &&
	wait_for 30 has run-queued 1 && nth run-queued 1 | jq -e --arg r "$run" ".run_id == \$r" &&
	wait_for 30 settled &&
	stop_serve && start_serve && sleep 3 && wait_for 30 settled &&
	same "$(n file-added) $(n run-queued) $(runs_of wav)" "2 1 1"
'

test_done
