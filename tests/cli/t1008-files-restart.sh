#!/usr/bin/env bash
# Files that come while serve is down, and the watcher's metrics (docs/events.md):
# new, rewritten and nested files that arrived while serve was stopped are
# found at start, each exactly once; synthflow_files_seen_total counts what
# serve did not know, synthflow_files_pending a paused DAG's backlog and
# synthflow_watcher_lag_seconds stays small.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

expect_success 'files added, rewritten and deleted while serve is down: picked up at start, once each' '
	files_init && trap stop_serve EXIT &&
	echo 1 >run-data/downloaded/a.wav && echo 1 >run-data/downloaded/gone.wav &&
	start_serve && wait_runs wav 2 &&
	test "$(metric synthflow_files_seen_total)" -eq 2 &&
	lag=$(metric synthflow_watcher_lag_seconds) && echo "lag $lag s" &&
	awk -v l="$lag" "BEGIN { exit !(l >= 0 && l < 5) }" &&
	stop_serve &&
	echo 22 >run-data/downloaded/a.wav && echo 1 >run-data/downloaded/b.wav &&
	mkdir -p run-data/downloaded/x/y && echo 1 >run-data/downloaded/x/y/c.wav &&
	rm run-data/downloaded/gone.wav && echo n >run-data/downloaded/notes.txt &&
	start_serve && wait_runs wav 5 &&
	synthflow files --json >f.json &&
	jq -e "[.[] | select(.state == \"run\") | .path] | sort == [\"a.wav\", \"b.wav\", \"gone.wav\", \"x/y/c.wav\"]" f.json &&
	a=$(jq -r ".[] | select(.path == \"a.wav\") | .run_id" f.json) &&
	wait_for 30 test -s run-data/generated/wav/$a/size && test "$(cat run-data/generated/wav/$a/size)" -eq 3 &&
	wait_for 10 status_is notes.txt "ignored (no DAG matches)" &&
	test "$(metric synthflow_files_seen_total)" -eq 3 &&
	test "$(metric synthflow_file_runs_created_total)" -eq 3 &&
	stop_serve && start_serve && sleep 2.5 && test "$(runs_of wav)" -eq 5
'

expect_success 'a paused DAG: synthflow_files_pending counts its backlog, 0 once it ran' '
	files_init && trap stop_serve EXIT && start_serve &&
	synthflow dags pause wav &&
	for i in 1 2 3; do echo $i >run-data/downloaded/p$i.wav; done &&
	wait_for 20 metric_is synthflow_files_pending 3 &&
	test "$(runs_of wav)" -eq 0 &&
	synthflow dags unpause wav && wait_runs wav 3 &&
	wait_for 20 metric_is synthflow_files_pending 0 &&
	test "$(metric synthflow_file_runs_created_total)" -eq 3 &&
	sleep 1.5 && test "$(runs_of wav)" -eq 3
'

test_done
