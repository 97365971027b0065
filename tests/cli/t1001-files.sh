#!/usr/bin/env bash
# New files in downloaded/ start runs (docs/events.md): real inotify, real
# time, a real serve.  Exactly one run per file and identity, also across
# kill -9; found at start and by the rescan alone; paused DAGs keep a backlog.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

# setup: a data folder with the DAGs of this test (quiet periods of 1 s keep it quick).
setup() {
	files_init && files_sets_dag &&
	cat >run-data/src/t/dags/zip.yaml <<-'YAML'
	params:
	  file: {type: path}
	on_file: "*.zip"
	tasks:
	  a: {run: "true"}
	YAML
}

expect_success 'files present at start, string and folder forms, files lists each' '
	setup && trap stop_serve EXIT &&
	D=run-data/downloaded &&
	mkdir -p $D/Twilight.clipper/clips $D/deep/er &&
	echo a >$D/Twilight.clipper/clips/1.flac && echo b >$D/Twilight.clipper/clips/2.flac &&
	echo x >$D/deep/er/a.wav && echo z >$D/set.zip && echo n >$D/notes.txt &&
	start_serve &&
	wait_runs wav 1 && wait_runs sets 1 && wait_runs zip 1 &&
	run=$(synthflow runs list sets --json | jq -r ".runs[0].run_id") &&
	synthflow runs show "$run" --json | jq -e ".params.dataset == \"Twilight.clipper\"" &&
	run=$(synthflow runs list zip --json | jq -r ".runs[0].run_id") &&
	synthflow runs show "$run" --json | jq -e ".params.file == \"$PWD/$D/set.zip\"" &&
	for i in $(seq 100); do synthflow files | grep -q notes.txt && break; sleep 0.1; done &&
	synthflow files >files.txt && cat files.txt &&
	must_contain files.txt "^Twilight.clipper/ *sets *run " &&
	must_contain files.txt "^deep/er/a.wav *wav *run " &&
	must_contain files.txt "^notes.txt *- *ignored (no DAG matches)" &&
	must_not_contain files.txt "clips/1.flac" &&
	synthflow files sets --json >f.json &&
	jq -e "length == 1 and .[0].path == \"Twilight.clipper\" and .[0].dir and .[0].state == \"run\"" f.json &&
	stop_serve && start_serve && sleep 2 &&
	wait_runs wav 1 && wait_runs sets 1 && wait_runs zip 1
'

expect_success '1,000 files dropped at once give exactly 1,000 runs' '
	setup && trap stop_serve EXIT && start_serve &&
	mkdir -p stage/many && for i in $(seq 1000); do echo $i >stage/many/$i.wav; done &&
	mv stage/many run-data/downloaded/many &&
	wait_runs wav 1000 120 &&
	synthflow files wav --json >f.json &&
	jq -e "length == 1000 and ([.[].run_id] | unique | length) == 1000" f.json &&
	sleep 2 && test "$(runs_of wav)" -eq 1000
'

expect_success 'a file written slowly over 3 s gives one run that sees all of it' '
	setup && trap stop_serve EXIT && start_serve &&
	for i in $(seq 10); do printf "%0100d" 0; sleep 0.3; done >run-data/downloaded/slow.wav &&
	wait_runs wav 1 &&
	run=$(synthflow runs list wav --json | jq -r ".runs[0].run_id") &&
	synthflow runs show "$run" --json >r.json &&
	for i in $(seq 100); do test -s run-data/generated/wav/$run/size && break; sleep 0.1; done &&
	test "$(cat run-data/generated/wav/$run/size)" -eq 1000 &&
	sleep 2 && test "$(runs_of wav)" -eq 1
'

expect_success 'kill -9 of serve while files arrive: exactly one run per file' '
	setup && trap "kill -9 \$(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	cat >run-data/src/t/dags/fast.yaml <<-YAML &&
	params:
	  f: {type: string}
	on_file: {glob: "*.k", quiet: 200ms, params: {f: "{{ file.rel }}"}}
	tasks:
	  a: {run: "true"}
	YAML
	start_serve &&
	for batch in $(seq 10); do
		for i in $(seq 20); do echo $batch-$i >run-data/downloaded/k$batch-$i.k; sleep 0.01; done &&
		sleep 0.$((RANDOM % 5)) &&
		kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
		start_serve || exit 1
	done &&
	wait_runs fast 200 60 &&
	synthflow files fast --json >f.json &&
	jq -e "length == 200 and ([.[].run_id] | unique | length) == 200 and all(.[]; .state == \"run\")" f.json &&
	sleep 1 && test "$(runs_of fast)" -eq 200
'

expect_success 'with inotify off the rescan alone finds everything' '
	setup && trap stop_serve EXIT &&
	export SYNTHFLOW_FLOW_INOTIFY=false SYNTHFLOW_FLOW_RESCAN=500ms &&
	start_serve &&
	mkdir -p run-data/downloaded/a/b && echo 1 >run-data/downloaded/a/b/x.wav &&
	echo 2 >run-data/downloaded/y.wav && mkdir run-data/downloaded/New.clipper &&
	echo 3 >run-data/downloaded/New.clipper/c.flac &&
	wait_runs wav 2 && wait_runs sets 1
'

expect_success 'a paused DAG keeps its backlog and runs it on unpause' '
	setup && trap stop_serve EXIT && start_serve &&
	synthflow dags pause zip &&
	for i in 1 2 3; do echo $i >run-data/downloaded/p$i.zip; done &&
	for i in $(seq 100); do test "$(synthflow files zip | grep -c "pending (paused)")" -eq 3 && break; sleep 0.1; done &&
	test "$(synthflow files zip | grep -c "pending (paused)")" -eq 3 &&
	test "$(runs_of zip)" -eq 0 &&
	synthflow trigger zip -p file=/dev/null >/dev/null && wait_runs zip 1 &&
	synthflow dags unpause zip &&
	wait_runs zip 4 && sleep 1.5 && test "$(runs_of zip)" -eq 4
'

expect_success 'a rewritten file runs again; on_change: ignore records it; retry makes a new arrival' '
	setup && trap stop_serve EXIT &&
	cat >run-data/src/t/dags/ign.yaml <<-YAML &&
	params:
	  f: {type: string}
	on_file: {glob: "*.ign", quiet: 1s, on_change: ignore, params: {f: "{{ file.rel }}"}}
	tasks:
	  a: {run: "true"}
	YAML
	start_serve &&
	echo 1 >run-data/downloaded/r.wav && echo 1 >run-data/downloaded/i.ign &&
	wait_runs wav 1 && wait_runs ign 1 &&
	echo 22 >run-data/downloaded/r.wav && echo 22 >run-data/downloaded/i.ign &&
	wait_runs wav 2 &&
	for i in $(seq 50); do synthflow files ign | grep -q "ignored (on_change: ignore)" && break; sleep 0.1; done &&
	synthflow files ign | grep "i.ign *ign *ignored (on_change: ignore)" &&
	test "$(runs_of ign)" -eq 1 &&
	synthflow files retry i.ign >out && wait_runs ign 2 &&
	synthflow files retry run-data/downloaded/../downloaded/r.wav --dag wav && wait_runs wav 3 &&
	test_exit 1 synthflow files retry r.wav --dag sets 2>err && must_contain err "does not take" &&
	test_exit 1 synthflow files retry /etc/passwd 2>err && must_contain err "is not inside"
'

expect_success 'a file deleted before its quiet period ends gets no run' '
	setup && trap stop_serve EXIT && start_serve &&
	echo 1 >run-data/downloaded/gone.wav && sleep 0.3 && rm run-data/downloaded/gone.wav &&
	echo 2 >run-data/downloaded/kept.wav && wait_runs wav 1 && sleep 1.5 &&
	test "$(runs_of wav)" -eq 1 && synthflow files | grep "gone.wav .*gone (deleted before"
'

expect_success 'the web API lists a DAG'"'"'s files and retries one' '
	setup &&
	echo 1 >run-data/downloaded/w.wav && trap stop_serve EXIT && start_serve &&
	wait_runs wav 1 &&
	api GET /api/v1/dags/wav/files >f.json && test "$(cat "$TRASH/status")" = 200 &&
	jq -e ".files | length == 1 and .[0].path == \"w.wav\" and .[0].state == \"run\"" f.json &&
	api POST /api/v1/dags/wav/files/retry -H "Content-Type: application/json" -d "{\"path\": \"w.wav\"}" >r.json &&
	test "$(cat "$TRASH/status")" = 200 && jq -e ".runs[0].state == \"run\"" r.json &&
	wait_runs wav 2 &&
	api POST /api/v1/dags/wav/files/retry -H "Content-Type: application/json" -d "{\"path\": \"../synthflow.yaml\"}" >e.json &&
	test "$(cat "$TRASH/status")" = 400 && jq -e ".error | test(\"not inside\")" e.json &&
	api POST /api/v1/dags/sets/files/retry -H "Content-Type: application/json" -d "{\"path\": \"w.wav\"}" >e.json &&
	test "$(cat "$TRASH/status")" = 400 && jq -e ".error | test(\"does not take\")" e.json
'

test_done
