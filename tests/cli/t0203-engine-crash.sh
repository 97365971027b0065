#!/usr/bin/env bash
# Crash safety: serve is killed with SIGKILL at random moments, at least ten
# times, during a 500-task run (200 under SF_SANITIZED=1, where everything is
# several times slower), and restarted each time.  The run must complete,
# every task instance must have succeeded exactly once, in its final try,
# and every try must be recorded with an end.
. "$(dirname "$0")/../lib.sh"

# Either way the tasks take ~12 s of work at parallelism 4, time for the kills.
if [ "${SF_SANITIZED:-0}" = 1 ]; then N=200 PAUSE=0.25; else N=500 PAUSE=0.1; fi

expect_success "kill -9 of serve mid-run loses nothing ($N tasks, 10+ kills)" '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags &&
	cp "$SRC_ROOT/tests/cli/data/engine/crash.yaml" run-data/src/t/dags/ &&
	export SYNTHFLOW_FLOW_PARALLELISM=4 &&
	trap "kill -9 \$(cat serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	run=$(synthflow trigger crash -p n='$N' -p pause='$PAUSE') &&
	# The kill moments are points of progress, not of wall time: twelve random
	# counts of finished instances in 1..85% of the run, so a loaded machine
	# cannot let the run finish before the kills are done.  Progress is read
	# from the files the tasks write (lines in done; count once join ran), not
	# with runs show: under ASan on a loaded machine one runs show took about a
	# second, the tasks ran ahead of the poll and the run ended with 9 kills.
	thresholds=$(shuf -i 1-$(('$N' * 85 / 100)) -n 12 | sort -n) &&
	out=run-data/generated/crash/$run &&
	progress() {
		ndone=$(cat "$out/done" 2>/dev/null | wc -l)
		if [ -e "$out/count" ]; then state=ended; else state=running; fi
	} &&
	kills=0 &&
	for t in $thresholds; do
		synthflow serve 2>>serve.log &
		echo $! >serve.pid
		# bounded: 2,400 polls of at least 50 ms
		for i in $(seq 2400); do
			progress
			[ "$ndone" -lt "$t" ] && [ "$state" = running ] || break
			sleep 0.05
		done
		kill -9 "$(cat serve.pid)"
		wait "$(cat serve.pid)" 2>/dev/null || true
		# a kill counts only when the join had not run yet
		progress
		[ "$state" = ended ] || kills=$((kills + 1))
		echo "kill at $ndone done (threshold $t), $state"
	done &&
	{ synthflow serve 2>>serve.log & echo $! >serve.pid; } &&
	state=running &&
	for i in $(seq 2400); do
		synthflow runs show "$run" --json >p.json && state=$(jq -r .state p.json)
		[ "$state" = running ] || [ "$state" = queued ] || break
		sleep 0.1
	done &&
	kill "$(cat serve.pid)" && { wait "$(cat serve.pid)" 2>/dev/null || true; } &&
	echo "killed serve $kills times" &&
	test $kills -ge 10 &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r .state r.json)" = success &&
	test "$(jq "[.tasks[] | select(.state == \"success\")] | length" r.json)" = $(('$N' + 2)) &&
	test "$(cat run-data/generated/crash/$run/count)" = '$N' &&
	# exactly one successful try per instance, and it is the last one
	test "$(store_sql "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND exit_code = 0")" = $(('$N' + 2)) &&
	test "$(store_sql "SELECT count(*) FROM tis i JOIN tries t USING(run_id, task_id, idx)
		WHERE i.run_id = '\''$run'\'' AND t.exit_code = 0 AND t.try <> i.try")" = 0 &&
	# every try recorded and ended; numbered 1..n without gaps
	test "$(store_sql "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND ended_at = 0")" = 0 &&
	test "$(store_sql "SELECT count(*) FROM tis i WHERE i.run_id = '\''$run'\'' AND i.try <>
		(SELECT count(*) FROM tries t WHERE t.run_id = i.run_id AND t.task_id = i.task_id AND t.idx = i.idx)")" = 0 &&
	lost=$(store_sql "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND reason LIKE '\''lost:%'\''") &&
	echo "tries lost to kills and run again: $lost" &&
	test "$lost" -ge 1 &&
	if [ -z "${SF_TEST_PG:-}" ]; then
		sqlite3 run-data/flow/synthflow.db "PRAGMA integrity_check" >ic && must_contain ic "^ok$"
	fi
'

test_done
