#!/usr/bin/env bash
# Files in downloaded/ that cannot be read (docs/events.md): a file whose
# permissions refuse reading, a folder that cannot be opened (a plain one,
# and a dataset folder that a dirs: true DAG takes) and a FIFO.  Each is
# said once in serve's log and shown by `files` and the API, gets no run
# while it cannot be read, and exactly one run once it can.
#
# Tests run as root, and root reads any file whatever its mode.  So serve
# runs as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv
# drops them from its bounding set): mode 000 then refuses it as it would
# refuse any user.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

command -v setpriv >/dev/null || skip_all "no setpriv (util-linux) to drop root's file capabilities"

# start_serve without the capabilities that let root read anything.
start_serve_unprivileged() {
	mkdir -p bin &&
	printf "#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search %s \"\$@\"\n" \
		"$(command -v synthflow)" >bin/synthflow && chmod +x bin/synthflow &&
	PATH=$PWD/bin:$PATH start_serve
}

expect_success 'the check is honest: serve cannot read a mode 000 file' '
	echo secret >f && chmod 000 f &&
	test_exit 1 setpriv --bounding-set=-dac_override,-dac_read_search cat f 2>err &&
	must_contain err "Permission denied"
'

expect_success 'an unreadable file: said once, no run; readable again: exactly one run' '
	files_init && trap stop_serve EXIT &&
	start_serve_unprivileged &&
	(umask 777 && echo 1234 >run-data/downloaded/u.wav) && ls -l run-data/downloaded/u.wav &&
	why="cannot open it: Permission denied; it is handled once it can be read" &&
	wait_for 20 status_is u.wav "unreadable ($why)" &&
	test "$(file_status u.wav wav)" = "unreadable ($why)" &&
	api GET /api/v1/dags/wav/files >f.json &&
	jq -e ".files[0].state == \"unreadable\" and .files[0].run_id == null" f.json &&
	grep "u.wav" run-data/serve.err &&
	must_contain run-data/serve.err "warning: .u.wav. in downloaded/: $why" &&
	echo 5 >run-data/downloaded/ok.wav && wait_runs wav 1 &&
	sleep 2 && test "$(runs_of wav)" -eq 1 &&
	test "$(grep -c "u.wav. in downloaded/: cannot open" run-data/serve.err)" -eq 1 &&
	chmod 644 run-data/downloaded/u.wav && wait_runs wav 2 &&
	test "$(file_status u.wav | cut -c1-4)" = "run " &&
	run=$(synthflow files --json | jq -r ".[] | select(.path == \"u.wav\") | .run_id") &&
	wait_for 30 test -s run-data/generated/wav/$run/size &&
	test "$(cat run-data/generated/wav/$run/size)" -eq 5 &&
	sleep 2 && test "$(runs_of wav)" -eq 2
'

expect_success 'an unreadable file found by the rescan alone (inotify off) also waits for its permissions' '
	files_init && trap stop_serve EXIT &&
	export SYNTHFLOW_FLOW_INOTIFY=false SYNTHFLOW_FLOW_RESCAN=300ms &&
	(umask 777 && echo 1234 >run-data/downloaded/u.wav) &&
	start_serve_unprivileged &&
	wait_for 20 status_starts u.wav unreadable &&
	sleep 2 && test "$(runs_of wav)" -eq 0 &&
	test "$(grep -c "u.wav. in downloaded/: cannot open" run-data/serve.err)" -eq 1 &&
	chmod 644 run-data/downloaded/u.wav && wait_runs wav 1 &&
	sleep 2 && test "$(runs_of wav)" -eq 1
'

expect_success 'a folder that cannot be opened: said once; readable again: its files run once' '
	files_init && trap stop_serve EXIT &&
	files_sets_dag &&
	mkdir -p run-data/downloaded/locked run-data/downloaded/Shut.clipper &&
	echo 1 >run-data/downloaded/locked/x.wav &&
	echo a >run-data/downloaded/Shut.clipper/1.flac && echo b >run-data/downloaded/Shut.clipper/2.flac &&
	chmod 000 run-data/downloaded/locked run-data/downloaded/Shut.clipper &&
	start_serve_unprivileged &&
	wait_for 20 grep -q "cannot open the folder .locked. in downloaded/: Permission denied; files in it are not picked up until it can be read" run-data/serve.err &&
	wait_for 20 status_starts Shut.clipper unreadable sets &&
	sleep 2 && test "$(runs_of wav)" -eq 0 && test "$(runs_of sets)" -eq 0 &&
	chmod 755 run-data/downloaded/locked run-data/downloaded/Shut.clipper &&
	wait_runs wav 1 && wait_runs sets 1 &&
	must_contain run-data/serve.err "folder .locked. in downloaded/ can be read again" &&
	run=$(synthflow runs list sets --json | jq -r ".runs[0].run_id") &&
	wait_for 30 test -s run-data/generated/sets/$run/n &&
	test "$(cat run-data/generated/sets/$run/n)" -eq 2 &&
	sleep 2 && test "$(runs_of wav)" -eq 1 && test "$(runs_of sets)" -eq 1 &&
	test "$(grep -c "cannot open the folder .locked." run-data/serve.err)" -eq 1
'

expect_success 'a FIFO matching the glob: listed as not a regular file, no run, no hang' '
	files_init && trap stop_serve EXIT &&
	start_serve &&
	mkfifo run-data/downloaded/pipe.wav &&
	wait_for 20 status_is pipe.wav "ignored (a FIFO, not a regular file)" &&
	test "$(file_status pipe.wav wav)" = "ignored (a FIFO, not a regular file)" &&
	echo 1 >run-data/downloaded/after.wav && wait_runs wav 1 &&
	must_contain run-data/serve.err "pipe.wav. in downloaded/: a FIFO, not a regular file" &&
	stop_serve && start_serve && sleep 2 && test "$(runs_of wav)" -eq 1
'

test_done
