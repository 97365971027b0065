#!/usr/bin/env bash
# Work shared at the level of task instances (docs/engine.md, "Sharing
# work"): two serves on one PostgreSQL, acting as two hosts
# (SYNTHFLOW_HOST_ID), each with parallelism 2.  One run's fan-out spreads
# over both: the serve that holds the run offers what it has no room for,
# the other runs it.  Each try records the host that ran it and holds a
# per-instance flock for its whole life (a second try of the same instance
# that finds it held says so in overlaps).  Then the runner is killed with
# -9 in the middle of a fan-out: its tries are lost, run again without
# using a retry, and still no instance has two tries at once.  Then the
# serve holding the run is killed with -9: the run is taken over and the
# tries the other serve runs for it are followed, not run again.  Last, a
# timeout and a cancel reach the tries the other serve runs.  Every wait is
# a bounded poll.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-serves.sh"

# each body's data folder; its serves a and b are killed when the body ends
data() {
	fan_data 20 0.5 &&
	trap "kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT
}

run_state() { q "SELECT state FROM runs WHERE run_id = '$1'"; }
ended() { case "$(run_state "$1")" in success|failed|cancelled) return 0;; esac; return 1; }
owned() { test -n "$(q "SELECT owner FROM runs WHERE run_id = '$1' AND state = 'running'")"; }
two_leases() { test "$(leases | jq '[.[] | select(.alive)] | length')" = 2; }
# tries of host $1 that started ($2: at least this many)
started_on() { test "$(grep -c " $1 " run-data/starts 2>/dev/null)" -ge "$2"; }

# every instance of run $1 succeeded in exactly one try, its last one
one_success_each() {
	test "$(q "SELECT count(*) FROM tis WHERE run_id = '$1' AND state <> 'success'")" = 0 &&
	test "$(q "SELECT count(*) FROM (SELECT task_id, idx FROM tries WHERE run_id = '$1'
		AND exit_code = 0 GROUP BY task_id, idx HAVING count(*) <> 1) x")" = 0 &&
	test "$(q "SELECT count(*) FROM tries t WHERE run_id = '$1' AND exit_code = 0 AND try <
		(SELECT max(try) FROM tries u WHERE u.run_id = t.run_id AND u.task_id = t.task_id
		 AND u.idx = t.idx)")" = 0
}

expect_success 'one fan-out spreads over two serves; each instance runs once' '
	data &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	wait_for "$WAIT" two_leases &&
	run=$(synthflow --data run-data trigger fan) &&
	wait_for "$WAIT" ended "$run" &&
	test "$(run_state "$run")" = success &&
	one_success_each "$run" &&
	test "$(q "SELECT count(*) FROM tis WHERE run_id = '\''$run'\'' AND task_id = '\''work'\''")" = 20 &&
	cat run-data/starts &&
	# both hosts ran some of the 20, each at most its parallelism at once
	test "$(grep -c " host-a " run-data/starts)" -ge 2 &&
	test "$(grep -c " host-b " run-data/starts)" -ge 2 &&
	test "$(grep -c "\.work\." run-data/starts)" = 20 &&
	test ! -e run-data/overlaps &&
	# the run belongs to one serve, the other only ran tries
	test "$(q "SELECT count(*) FROM offers")" = 0
'

expect_success 'the runner is killed with -9: its tries run again, without using a retry' '
	data &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	run=$(synthflow --data run-data trigger fan -p n=12 -p pause=3) &&
	wait_for "$WAIT" started_on host-a 2 &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	wait_for "$WAIT" started_on host-b 1 &&
	kill -9 "$(cat b.pid)" &&
	wait_for "$WAIT" ended "$run" &&
	test "$(run_state "$run")" = success &&
	one_success_each "$run" &&
	test ! -e run-data/overlaps &&
	# the tries host-b started ended as lost, and ran again on host-a
	q "SELECT task_id, idx, try, reason FROM tries WHERE run_id = '\''$run'\'' AND reason LIKE '\''%scheduler lost%'\''" >lost &&
	cat lost && test -s lost &&
	must_contain lost "host-b"
'

expect_success 'the serve holding the run is killed with -9: the other follows the tries it runs' '
	data &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	wait_for "$WAIT" two_leases &&
	run=$(synthflow --data run-data trigger fan -p n=8 -p pause=4) &&
	wait_for "$WAIT" owned "$run" &&
	holder=$(q "SELECT pid FROM schedulers s JOIN runs r ON r.owner = s.owner WHERE r.run_id = '\''$run'\''") &&
	if test "$holder" = "$(cat a.pid)"; then other=b; else other=a; fi &&
	host_other=host-$other &&
	wait_for "$WAIT" started_on "$host_other" 2 &&
	kill -9 "$holder" &&
	wait_for "$WAIT" ended "$run" &&
	test "$(run_state "$run")" = success &&
	one_success_each "$run" &&
	test ! -e run-data/overlaps &&
	# what the survivor ran for the dead owner was not run twice
	for k in $(grep " $host_other " run-data/starts | head -n 2 | cut -d" " -f1); do
		test "$(grep -c "^$k " run-data/starts)" = 1 || return 1
	done
'

expect_success 'a timeout and a cancel reach the tries another serve runs' '
	data &&
	cat >run-data/src/t/dags/slow.yaml <<-EOF &&
	tasks:
	  make:
	    run: mkdir -p {{ run.dir }}/in && cd {{ run.dir }}/in && touch 1 2 3 4 5 6
	  work:
	    needs: [make]
	    foreach: "{{ run.dir }}/in/*"
	    timeout: 2s
	    run: sh "\$SF_DATA/tick.sh" 60
	EOF
	start a SYNTHFLOW_HOST_ID=host-a &&
	start b SYNTHFLOW_HOST_ID=host-b &&
	wait_for "$WAIT" two_leases &&
	run=$(synthflow --data run-data trigger slow) &&
	wait_for "$WAIT" ended "$run" &&
	test "$(run_state "$run")" = failed &&
	test "$(q "SELECT count(*) FROM tis WHERE run_id = '\''$run'\'' AND task_id = '\''work'\'' AND state = '\''failed'\''")" = 6 &&
	test "$(q "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND task_id = '\''work'\'' AND reason = '\''timed out after 2s'\''")" = 6 &&
	grep " host-a " run-data/starts && grep " host-b " run-data/starts &&
	test ! -e run-data/ends &&
	# a cancel: the tries under way on both hosts stop at once
	rm -f run-data/starts &&
	run=$(synthflow --data run-data trigger fan -p n=8 -p pause=60) &&
	wait_for "$WAIT" started_on host-a 1 &&
	wait_for "$WAIT" started_on host-b 1 &&
	synthflow --data run-data runs cancel "$run" &&
	wait_for "$WAIT" ended "$run" &&
	test "$(run_state "$run")" = cancelled &&
	test ! -e run-data/ends &&
	test "$(q "SELECT count(*) FROM offers")" = 0 &&
	! pgrep -f "$(pwd)/run-data/tick.sh"
'

test_done
