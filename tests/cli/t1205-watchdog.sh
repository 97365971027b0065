#!/usr/bin/env bash
# The watchdog of a serve on PostgreSQL (docs/engine.md, "Schedulers and
# leases"): when the serve is stopped (SIGSTOP) or killed (-9) while its
# machine goes on, its running tries are killed before a serve of another
# host may take the run over (15 s after the last heartbeat), so two tries
# of one instance never run at once.  Each try holds a per-instance flock
# for its whole life and records when it could not take it; the first try
# would sleep for a minute.  Every wait is a bounded poll.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-serves.sh"

data() {
	serves_data &&
	mkdir -p run-data/locks &&
	cat >run-data/long.sh <<-'EOF'
	key="$SF_RUN_ID.$SF_TASK_ID"
	exec 9>"$SF_DATA/locks/$key"
	flock -n 9 || echo "$key $$" >>"$SF_DATA/overlaps"
	echo "$$" >>"$SF_DATA/pids"
	# the first try would run for a minute, the next ones end at once
	if mkdir "$SF_DATA/first" 2>/dev/null; then exec sleep 60; fi
	EOF
	cat >run-data/src/t/dags/long.yaml <<-'EOF'
	tasks:
	  work: {run: sh "$SF_DATA/long.sh"}
	EOF
}

# the first try's process is gone (or a zombie that its stopped parent cannot reap)
first_gone() {
	p=$(head -n 1 run-data/pids) &&
	{ ! [ -e "/proc/$p" ] || [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ]; }
}
first_started() { test -s run-data/pids; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

checks() {
	test "$(q "SELECT state FROM runs")" = success &&
	test "$(q "SELECT count(*) FROM tries WHERE exit_code = 0")" = 1 &&
	test "$(wc -l <run-data/pids)" = 2 &&
	test ! -e run-data/overlaps
}

expect_success 'a serve stopped mid-try: its watchdog ends the try before another host takes the run over' '
	data &&
	trap "kill -CONT \$(cat a.pid) 2>/dev/null || true; kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	run=$(synthflow --data run-data trigger long) &&
	wait_for "$WAIT" first_started &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	kill -STOP "$(cat a.pid)" && t0=$(date +%s.%N) &&
	wait_for "$WAIT" first_gone && secs=$(since "$t0") &&
	echo "try ended $secs s after the stop" &&
	# after the lease could not be renewed for 9 s, before any adoption (15 s)
	awk -v s="$secs" "BEGIN { exit !(s >= 5 && s < 15) }" &&
	kill -0 "$(cat a.pid)" &&
	done_() { test "$(q "SELECT state FROM runs")" = success; } &&
	wait_for "$WAIT" done_ &&
	kill -CONT "$(cat a.pid)" &&
	wait_for "$WAIT" grep -q "serve: stopped" a.log &&
	must_contain a.log "was ended by another scheduler" &&
	checks
'

expect_success 'a serve killed with -9 mid-try: its watchdog ends the try at once' '
	data &&
	trap "kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	run=$(synthflow --data run-data trigger long) &&
	wait_for "$WAIT" first_started &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	kill -9 "$(cat a.pid)" && t0=$(date +%s.%N) &&
	wait_for "$WAIT" first_gone && secs=$(since "$t0") &&
	echo "try ended $secs s after kill -9" &&
	awk -v s="$secs" "BEGIN { exit !(s < 5) }" &&
	done_() { test "$(q "SELECT state FROM runs")" = success; } &&
	wait_for "$WAIT" done_ &&
	checks
'

test_done
