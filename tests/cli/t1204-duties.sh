#!/usr/bin/env bash
# Once-only duties of several serves on one PostgreSQL (docs/engine.md,
# "Once-only duties"): watching downloaded/, firing schedules and delivering
# callbacks are each held by one elected serve.  Its lease moving on moves
# them: after kill -9 of the holder another serve holds all three within
# 30 s and does them (a file becomes a run, a scheduled time fires, a run's
# callback is delivered, by it); a holder stopped (SIGSTOP) as another host
# loses them once its lease runs out and holds none when it is resumed.
# Every wait is a bounded poll.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-serves.sh"

data() {
	serves_data &&
	cat >run-data/src/t/dags/cb.yaml <<-'EOF'
	on_success: "echo $SF_RUN_ID >>{{ data }}/delivered"
	tasks:
	  a: {run: "sleep 1"}
	EOF
	cat >run-data/src/t/dags/arrive.yaml <<-'EOF'
	on_file: {glob: "*.in", quiet: 200ms}
	tasks:
	  a: {run: "true"}
	EOF
	cat >run-data/src/t/dags/tick.yaml <<-'EOF'
	schedule: "* * * * *"
	tasks:
	  a: {run: "true"}
	EOF
}

# duties PID: the duties the serve PID holds in the store, sorted, comma-separated
duties() { leases | jq -r "[.[] | select(.pid == $1) | .duties[]] | sort | join(\",\")"; }
holds_all() { test "$(duties "$1")" = deliveries,files,schedules; }
# every duty is held by exactly one scheduler
one_each() {
	test "$(leases | jq -r '[.[].duties[]] | sort | join(",")')" = deliveries,files,schedules
}

runs_of() { q "SELECT count(*) FROM runs WHERE dag_id = '$1' AND state = 'success'"; }

# seconds since $1 (date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

expect_success 'one holder per duty; after kill -9 of the holder another holds and does them all' '
	data &&
	trap "kill -9 \$(cat a.pid b.pid c.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	# schedule clocks: a records its first look at 00:00:01 and would fire next at
	# 00:01:00, a minute on; b and c are at 00:05:30, so that a time of theirs
	# (00:05:00) is due at once, and can only be fired by one that holds the duty
	start a SYNTHFLOW_NOW=2027-01-01T00:00:01Z &&
	wait_for "$WAIT" holds_all "$(cat a.pid)" &&
	looked() { test "$(q "SELECT count(*) FROM schedule_fires")" -ge 1; } &&
	wait_for "$WAIT" looked &&
	start b SYNTHFLOW_NOW=2027-01-01T00:05:30Z && start c SYNTHFLOW_NOW=2027-01-01T00:05:30Z &&
	one_each && test -z "$(duties "$(cat b.pid)")" && test -z "$(duties "$(cat c.pid)")" &&
	must_contain a.log "once-only duties held now: deliveries, files, schedules" &&
	# a has seen the other two (a heartbeat after c started): it takes a share of runs only
	seen() { leases | jq -e "(.[] | select(.pid == $(cat a.pid)) | .heartbeat_at) > (.[] | select(.pid == $(cat c.pid)) | .started_at)"; } &&
	wait_for "$WAIT" seen &&
	# the holder delivers the callbacks of the runs of every serve
	for i in 1 2 3 4 5 6; do synthflow --data run-data trigger cb >/dev/null || return 1; done &&
	has6() { test "$(wc -l <run-data/delivered 2>/dev/null || echo 0)" -ge 6; } &&
	wait_for "$WAIT" has6 &&
	test "$(sort -u run-data/delivered | wc -l)" = 6 && test "$(wc -l <run-data/delivered)" = 6 &&
	ea=$(leases | jq ".[] | select(.pid == $(cat a.pid)) | .epoch") &&
	q "SELECT owner, count(*) FROM runs GROUP BY 1" &&
	test "$(q "SELECT count(DISTINCT owner) FROM runs")" -ge 2 &&
	test "$(q "SELECT count(DISTINCT owner) FROM deliveries")" = 1 &&
	q "SELECT owner FROM deliveries" | grep -q "#$ea\$" &&
	! grep "schedule of DAG" b.log c.log &&
	kill -9 "$(cat a.pid)" && t0=$(date +%s.%N) &&
	taken() { holds_all "$(cat b.pid)" || holds_all "$(cat c.pid)"; } &&
	wait_for "$WAIT" taken && secs=$(since "$t0") && echo "duties taken over after kill -9: $secs s" &&
	awk -v s="$secs" "BEGIN { exit !(s < 30) }" &&
	one_each &&
	if holds_all "$(cat b.pid)"; then h=b o=c; else h=c o=b; fi &&
	eh=$(leases | jq ".[] | select(.pid == $(cat $h.pid)) | .epoch") &&
	# and does them: a new file becomes one run ...
	touch run-data/downloaded/x.in &&
	arrived() { test "$(runs_of arrive)" = 1; } &&
	wait_for "$WAIT" arrived &&
	# ... the callback of a new run is delivered by the new holder ...
	run=$(synthflow --data run-data trigger cb) &&
	got() { grep -qx "$run" run-data/delivered; } &&
	wait_for "$WAIT" got &&
	q "SELECT owner FROM deliveries WHERE run_id = '\''$run'\''" | grep -q "#$eh\$" &&
	# ... and the schedule time due fires, by it, once it holds the duty
	wait_for "$WAIT" must_contain $h.log "schedule of DAG .tick. at .*00:05:00" &&
	test "$(grep -n "duties held now: deliveries, files, schedules" $h.log | cut -d: -f1)" -lt \
		"$(grep -n "schedule of DAG .tick." $h.log | head -n 1 | cut -d: -f1)" &&
	! grep "schedule of DAG" $o.log &&
	test "$(q "SELECT count(*) FROM runs WHERE dag_id = '\''tick'\''")" = 1 &&
	! grep -i deadlock ./*.log
'

expect_success 'a holder of another host stopped past its lease loses its duties, and holds none when resumed' '
	data &&
	trap "kill -CONT \$(cat a.pid) 2>/dev/null || true; kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a SYNTHFLOW_HOST_ID=host-a && start b SYNTHFLOW_HOST_ID=host-b &&
	wait_for "$WAIT" holds_all "$(cat a.pid)" && one_each &&
	kill -STOP "$(cat a.pid)" && t0=$(date +%s.%N) &&
	wait_for "$WAIT" holds_all "$(cat b.pid)" && secs=$(since "$t0") &&
	echo "duties taken over after SIGSTOP: $secs s" &&
	# not before its lease ran out and the grace period passed (15 s after its last heartbeat)
	awk -v s="$secs" "BEGIN { exit !(s >= 12 && s < 30) }" &&
	one_each &&
	kill -CONT "$(cat a.pid)" &&
	# resumed: it beats again, holds nothing, and said so
	fresh() { leases | jq -e ".[] | select(.pid == $(cat a.pid)) | .heartbeat_age_ms < 2500" >/dev/null; } &&
	wait_for "$WAIT" fresh &&
	wait_for "$WAIT" must_contain a.log "once-only duties held now: none" &&
	test -z "$(duties "$(cat a.pid)")" && holds_all "$(cat b.pid)" && one_each &&
	# the one that holds them works: a file becomes a run
	touch run-data/downloaded/y.in &&
	arrived() { test "$(runs_of arrive)" = 1; } &&
	wait_for "$WAIT" arrived &&
	kill -TERM "$(cat a.pid)" && wait "$(cat a.pid)" &&
	kill -TERM "$(cat b.pid)" && wait "$(cat b.pid)"
'

test_done
