#!/usr/bin/env bash
# Faults of files in downloaded/ (docs/events.md): a glob that matches
# nothing yet is said in serve's log, in `files DAG` and by the API, and
# still starts its run once a file comes; a file deleted before its quiet
# period ends is shown as gone and never runs, while a file written again
# under that name later runs exactly once.  Real inotify, a real serve.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

expect_success 'a glob that matches nothing yet: said in the log, files and the API; runs later' '
	files_init && trap stop_serve EXIT &&
	echo x >run-data/downloaded/notes.txt &&
	start_serve &&
	wait_for 30 grep -q "DAG .wav.: nothing in downloaded/ matches on_file .\*\*/\*.wav. yet" run-data/serve.err &&
	synthflow files wav >out 2>err && cat out err &&
	must_contain err "nothing in downloaded/ matches on_file .\*\*/\*.wav. of DAG .wav. yet" &&
	test "$(wc -l <out)" -eq 1 &&
	api GET /api/v1/dags/wav/files >f.json && expect_status 200 &&
	jq -e ".files == []" f.json &&
	test "$(runs_of wav)" -eq 0 &&
	mkdir -p run-data/downloaded/a/b && echo 12345 >run-data/downloaded/a/b/late.wav &&
	wait_runs wav 1 &&
	test "$(file_status a/b/late.wav wav | cut -c1-4)" = "run " &&
	synthflow files wav 2>err && must_not_contain err "nothing in downloaded" &&
	sleep 1.5 && test "$(runs_of wav)" -eq 1 &&
	test "$(grep -c "nothing in downloaded/ matches" run-data/serve.err)" -eq 1
'

expect_success 'a file deleted before its quiet period ends: gone, no run; written again: one run' '
	files_init && trap stop_serve EXIT &&
	sed -i "s/quiet: 1s/quiet: 5s/" run-data/src/t/dags/wav.yaml &&
	start_serve &&
	echo 1 >run-data/downloaded/g.wav &&
	wait_for 10 status_is g.wav "waiting (being written)" &&
	# serve noted it (a 5 s quiet period leaves time to delete it even on a loaded machine)
	rm run-data/downloaded/g.wav &&
	wait_for 10 grep -q "file .g.wav.: deleted before its quiet period ended; no run" run-data/serve.err &&
	test "$(file_status g.wav)" = "gone (deleted before it stayed unchanged for its quiet period)" &&
	test "$(file_status g.wav wav)" = "gone (deleted before it stayed unchanged for its quiet period)" &&
	api GET /api/v1/dags/wav/files >f.json &&
	jq -e ".files[0].path == \"g.wav\" and .files[0].state == \"gone\" and .files[0].run_id == null" f.json &&
	sleep 1.5 && test "$(runs_of wav)" -eq 0 &&
	echo 22 >run-data/downloaded/g.wav && wait_runs wav 1 &&
	run=$(synthflow runs list wav --json | jq -r ".runs[0].run_id") &&
	test "$(file_status g.wav)" = "run $run" &&
	wait_for 30 test -s run-data/generated/wav/$run/size &&
	test "$(cat run-data/generated/wav/$run/size)" -eq 3 &&
	sleep 1.5 && test "$(runs_of wav)" -eq 1 &&
	test "$(metric synthflow_files_seen_total)" -eq 2 &&
	test "$(metric synthflow_file_runs_created_total)" -eq 1
'

test_done
