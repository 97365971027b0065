#!/usr/bin/env bash
# Names in downloaded/ that are hard to show (docs/events.md): a newline, an
# escape character, letters outside ASCII, bytes that are not UTF-8.  Valid
# names run like any other (the task gets the exact path, quoted), and are
# shown escaped in `files`, the log and never break JSON; a name that is not
# UTF-8 cannot go into a run's params (JSON): it is listed escaped as not
# handled, and runs once renamed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

expect_success 'a newline, an escape and non-ASCII letters: one run each, shown escaped' '
	files_init && trap stop_serve EXIT && start_serve &&
	D=run-data/downloaded &&
	printf 12 >"$D/$(printf "two\nlines.wav")" &&
	printf 123 >"$D/$(printf "esc\033[31mred.wav")" &&
	printf 1234 >"$D/Stimme-ü.wav" &&
	wait_runs wav 3 &&
	synthflow files --json >f.json && jq -e "length == 3 and all(.[]; .state == \"run\")" f.json &&
	jq -e "map(.path) | sort == [\"Stimme-ü.wav\", \"esc\u001b[31mred.wav\", \"two\nlines.wav\"]" f.json &&
	synthflow files >out && cat out &&
	must_contain out "^two\\\\x0alines.wav  *wav  *run " &&
	must_contain out "^esc\\\\x1b\[31mred.wav  *wav  *run " &&
	must_contain out "^Stimme-ü.wav  *wav  *run " &&
	test "$(wc -l <out)" -eq 4 &&
	must_contain run-data/serve.err "file .two\\\\x0alines.wav.: run " &&
	must_not_contain run-data/serve.err "^lines.wav" &&
	must_not_contain run-data/serve.err "$(printf "\033")" &&
	for p in "$(printf "two\nlines.wav")" "$(printf "esc\033[31mred.wav")" "Stimme-ü.wav"; do
		run=$(jq -r --arg p "$p" ".[] | select(.path == \$p) | .run_id" f.json) &&
		synthflow runs show "$run" --json | jq -e --arg f "$PWD/$D/$p" ".params.file == \$f" &&
		wait_for 30 test -s run-data/generated/wav/$run/size || exit 1
		test "$(cat run-data/generated/wav/$run/size)" -eq "$(stat -c %s "$D/$p")" || exit 1
	done &&
	api GET /api/v1/dags/wav/files >a.json && expect_status 200 && jq -e ".files | length == 3" a.json &&
	sleep 1.5 && test "$(runs_of wav)" -eq 3
'

expect_success 'a name that is not UTF-8: listed escaped with why, valid JSON, no run; renamed: one run' '
	files_init && trap stop_serve EXIT && start_serve &&
	D=run-data/downloaded &&
	echo 1 >"$D/$(printf "bad\377name.wav")" && echo 2 >"$D/ok.wav" &&
	wait_runs wav 1 &&
	why="ignored (its name is not valid UTF-8; rename it to have it handled)" &&
	wait_for 20 status_is "bad\\xffname.wav" "$why" &&
	wait_for 20 status_is "bad\\xffname.wav" "$why" wav &&
	synthflow files >out && must_contain out "^bad\\\\xffname.wav  *-  *$why" &&
	api GET /api/v1/dags/wav/files >a.json && expect_status 200 &&
	jq -e "[.files[].path] | sort == [\"bad\\\\xffname.wav\", \"ok.wav\"]" a.json &&
	must_contain run-data/serve.err "bad\\\\xffname.wav. in downloaded/: its name is not valid UTF-8" &&
	stop_serve && start_serve && sleep 2 && test "$(runs_of wav)" -eq 1 &&
	mv "$D/$(printf "bad\377name.wav")" "$D/good-name.wav" &&
	wait_runs wav 2 && wait_for 10 status_starts good-name.wav "run " &&
	wait_for 10 status_is "bad\\xffname.wav" "gone (deleted)" &&
	sleep 1.5 && test "$(runs_of wav)" -eq 2
'

test_done
