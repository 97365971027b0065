#!/usr/bin/env bash
# The clock and files in downloaded/ (docs/events.md): the quiet period is
# measured on the monotonic clock, identities on the files' mtimes.
#
# How the test proves it: serve runs under libfaketime, whose wall clock
# (CLOCK_REALTIME, time(), gettimeofday) the test sets an hour back and then
# an hour forward while a file is being written slowly, and libfaketime
# leaves CLOCK_MONOTONIC alone (DONT_FAKE_MONOTONIC=1).  Were the quiet
# period measured on the wall clock, the jump back would hold the file for an
# hour (no run within the test's bound) and the jump forward would let it
# arrive half-written (a run that sees part of it, and a second one).  Files
# whose mtime lies in the future or the distant past arrive like any other,
# and changing only a file's mtime is a change of its identity.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

FAKETIME_LIB=
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
	[ -f "$f" ] && FAKETIME_LIB=$f && break
done

# start_serve_faked: serve whose wall clock is the offset in the file ./offset.
start_serve_faked() {
	echo "+0" >offset &&
	LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$PWD/offset FAKETIME_CACHE_DURATION=1 \
		DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		start_serve
}

expect_success 'the wall clock set back an hour and forward again while a file is written: one run, all of it' '
	test -n "$FAKETIME_LIB" || test_skip "libfaketime is not installed (scripts/install-deps.sh)"
	files_init && trap stop_serve EXIT &&
	sed -i "s/quiet: 1s/quiet: 3s/" run-data/src/t/dags/wav.yaml &&
	start_serve_faked &&
	now=$(date +%s) &&
	{
		printf "%0100d" 0; sleep 0.5
		echo "-1h" >offset; sleep 1
		printf "%0100d" 0; sleep 0.5
		echo "+0" >offset; sleep 1
		printf "%0100d" 0
	} >run-data/downloaded/slow.wav &&
	wait_runs wav 1 30 &&
	run=$(synthflow runs list wav --json | jq -r ".runs[0].run_id") &&
	wait_for 30 test -s run-data/generated/wav/$run/size &&
	test "$(cat run-data/generated/wav/$run/size)" -eq 300 &&
	echo "-1h" >offset && echo 1 >run-data/downloaded/back.wav && wait_runs wav 2 30 &&
	created=$(synthflow runs list wav --json | jq -r ".runs[] | select(.run_id != \"$run\") | .created_at") &&
	echo "run created at $created by a serve an hour behind" &&
	test $(( $(date -d "$created" +%s) - now )) -lt -3000 &&
	sleep 4 && test "$(runs_of wav)" -eq 2
'

expect_success 'mtimes in the future and the past arrive after the quiet period; a new mtime is a change' '
	files_init && trap stop_serve EXIT && start_serve &&
	echo f >run-data/downloaded/future.wav && touch -d "+1 year" run-data/downloaded/future.wav &&
	echo p >run-data/downloaded/past.wav && touch -d "2001-01-01 00:00:00" run-data/downloaded/past.wav &&
	wait_runs wav 2 &&
	touch -d "2002-02-02 00:00:00" run-data/downloaded/past.wav &&
	wait_runs wav 3 &&
	synthflow files wav --json | jq -e "length == 2 and all(.[]; .state == \"run\")" &&
	stop_serve && start_serve && sleep 2.5 && test "$(runs_of wav)" -eq 3
'

test_done
