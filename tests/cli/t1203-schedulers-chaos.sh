#!/usr/bin/env bash
# Several schedulers on one PostgreSQL (docs/engine.md, "Several schedulers"),
# shortened chaos test: two serves share one data folder and database while a
# big fan-out and small runs go on.  One is killed with -9 mid-run and
# restarted; later one that acts as another host (SYNTHFLOW_HOST_ID) is
# stopped (SIGSTOP) past its lease, its runs are taken over, and when it is
# resumed it finds itself fenced and stops.  Afterwards every task instance
# has exactly one successful try and it is its final one, no instance ever
# had two tries running at once (each try holds a per-instance flock for its
# whole life and records when it could not take it), no deadlock error is in
# any log, and each takeover took under 30 s.  Work is shared by task
# instance too (exec-peer.c): a try the stopped serve ran ends as lost,
# while one the other serve ran for the stopped serve's offer is followed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-serves.sh"

data() { fan_data 4 0.3; }

# start NAME [VAR=VALUE...]: a serve of run-data, its pid in NAME.pid, its log NAME.log
start() {
	name=$1
	shift
	env "$@" synthflow --data run-data serve --port 0 >"$name.out" 2>>"$name.log" &
	echo $! >"$name.pid"
	wait_for_lease "$(cat "$name.pid")"
}

lease_of() {
	synthflow --data run-data schedulers --json | jq -e ".[] | select(.pid == $1) | .epoch"
}

wait_for_lease() {
	for i in $(seq $((WAIT * 10))); do
		lease_of "$1" >/dev/null 2>&1 && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}


# unfinished runs held by the scheduler of epoch $1
held_by() { q "SELECT count(*) FROM runs WHERE state IN ('queued', 'running') AND owner LIKE '%#$1'"; }
all_done() { [ "$(q "SELECT count(*) FROM runs WHERE state IN ('queued', 'running')")" = 0 ]; }

# waits (bounded) until the scheduler of epoch $1 holds no unfinished run; prints the seconds
takeover() {
	t0=$(date +%s.%N)
	for i in $(seq $((WAIT * 10))); do
		[ "$(held_by "$1")" = 0 ] && break
		sleep 0.1
	done
	[ "$(held_by "$1")" = 0 ] && awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN { printf \"%.1f\", b - a }"
}

checks() {
	# every run succeeded; each instance has one successful try, its final one
	test "$(q "SELECT count(*) FROM runs WHERE state <> 'success'")" = 0 &&
	test "$(q "SELECT count(*) FROM tis WHERE state <> 'success'")" = 0 &&
	test "$(q "SELECT count(*) FROM (SELECT run_id, task_id, idx FROM tries WHERE exit_code = 0
		GROUP BY 1, 2, 3 HAVING count(*) <> 1) x")" = 0 &&
	test "$(q "SELECT count(*) FROM tis i WHERE NOT EXISTS (SELECT 1 FROM tries t WHERE
		t.run_id = i.run_id AND t.task_id = i.task_id AND t.idx = i.idx AND t.try = i.try
		AND t.exit_code = 0)")" = 0 &&
	test "$(q "SELECT count(*) FROM tries WHERE ended_at = 0")" = 0 &&
	test ! -e run-data/overlaps &&
	! grep -i deadlock ./*.log
}

expect_success 'kill -9 of one of two schedulers mid-run: its runs are taken over, every task once' '
	data &&
	trap "kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a && start b &&
	ea=$(lease_of "$(cat a.pid)") &&
	big=$(synthflow --data run-data trigger fan -p n=40) &&
	for i in 1 2 3 4 5 6; do synthflow --data run-data trigger fan >/dev/null; done &&
	# both hold runs, and the work is under way
	busy() { [ "$(held_by "$ea")" -gt 0 ] && [ "$(q "SELECT count(*) FROM tis WHERE state = '\''success'\''")" -ge 10 ]; } &&
	wait_for "$WAIT" busy &&
	kill -9 "$(cat a.pid)" &&
	secs=$(takeover "$ea") && echo "takeover after kill -9: $secs s" &&
	awk -v s="$secs" "BEGIN { exit !(s < 30) }" &&
	start a &&
	wait_for $((WAIT * 3)) all_done &&
	checks &&
	# the run of 40 was shared out or moved, and done once
	test "$(q "SELECT count(*) FROM tries WHERE run_id = '\''$big'\'' AND exit_code = 0")" = 42
'

expect_success 'a scheduler of another host stopped past its lease: taken over, and fenced when resumed' '
	data &&
	trap "kill -CONT \$(cat a.pid) 2>/dev/null || true; kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a SYNTHFLOW_HOST_ID=host-a && start b SYNTHFLOW_HOST_ID=host-b &&
	ea=$(lease_of "$(cat a.pid)") &&
	for i in 1 2 3 4 5 6; do synthflow --data run-data trigger fan -p n=6 -p pause=1 >/dev/null; done &&
	running_of_a() { q "SELECT run_id, task_id, idx FROM tis WHERE state = '\''running'\'' AND run_id IN (SELECT run_id FROM runs WHERE owner LIKE '\''%#$ea'\'')"; } &&
	busy() { [ -n "$(running_of_a)" ]; } &&
	# stopped while the store shows it running tries (bounded: 5 attempts)
	for i in 1 2 3 4 5; do
		wait_for "$WAIT" busy && kill -STOP "$(cat a.pid)" && running_of_a >running &&
		{ [ -s running ] && break || kill -CONT "$(cat a.pid)"; }
	done &&
	test -s running &&
	secs=$(takeover "$ea") && echo "takeover after SIGSTOP: $secs s" &&
	# not before its lease ran out and the grace period passed (15 s)
	awk -v s="$secs" "BEGIN { exit !(s >= 10 && s < 30) }" &&
	kill -CONT "$(cat a.pid)" &&
	wait_for "$WAIT" grep -q "serve: stopped" a.log &&
	test_exit 1 wait "$(cat a.pid)" &&
	must_contain a.log "was ended by another scheduler" &&
	must_contain b.log "taken over from host .host-a." &&
	wait_for $((WAIT * 3)) all_done &&
	checks &&
	# each try it ran ended as lost with its scheduler, and ran again; a
	# try another serve ran for its offer was followed by b, not run again
	while IFS="|" read -r r t x; do
		k="$r.$t.$((x + 1))"
		test "$(q "SELECT count(*) FROM tries WHERE run_id = '\''$r'\'' AND task_id = '\''$t'\''
			AND idx = $x AND reason LIKE '\''scheduler lost: %host-a%'\''")" = 1 ||
		{ test "$(grep -c "^$k " run-data/starts)" = 1 && grep -q "^$k host-b " run-data/starts; } ||
		exit 1
	done <running
'

test_done
