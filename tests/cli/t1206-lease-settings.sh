#!/usr/bin/env bash
# The schedulers: section of synthflow.yaml (docs/engine.md, "Schedulers and
# leases"): heartbeat, lease_ttl, grace and watchdog are checked together
# (an error at the key's line and column, or naming its environment
# variable), and a serve acts on them: with a short lease another host takes
# a killed serve's run over at lease_ttl + grace of the dead serve's own
# lease, not at the 15 s of the defaults, nor at the adopter's own (longer)
# figures.  Every wait is a bounded poll.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-serves.sh"

# refused CODE_OF_YAML MESSAGE [VAR=VALUE...]: every command, serve too, refuses it
refused() {
	yaml=$1 msg=$2
	shift 2
	printf "$yaml" >run-data/synthflow.yaml || return 1
	for cmd in "dags list" "serve --port 0"; do
		rc=0
		env "$@" synthflow --data run-data $cmd >out 2>err || rc=$?
		test "$rc" = 1 && must_contain err "$msg" || { echo "$cmd: exit $rc"; return 1; }
	done
}

expect_success 'keys that do not agree are refused, naming where the key was set' '
	synthflow init >/dev/null &&
	must_contain run-data/synthflow.yaml "^schedulers: .*# the lease of each serve" &&
	must_contain run-data/synthflow.yaml "^  # lease_ttl: 10s  *# live while its heartbeat is younger" &&
	refused "schedulers:\n  heartbeat: 5s\n" \
		"synthflow.yaml:2:14: error: .schedulers.heartbeat. (5s) must be at most a third of .schedulers.lease_ttl. (10s)" &&
	refused "schedulers:\n  watchdog: 5s\n" \
		"synthflow.yaml:2:13: error: .schedulers.watchdog. (5s) must be at least .schedulers.lease_ttl. minus .schedulers.heartbeat. (8s)" &&
	refused "schedulers:\n  lease_ttl: 4s\n  heartbeat: 1s\n  grace: 500ms\n  watchdog: 3600ms\n" \
		"synthflow.yaml:5:13: error: .schedulers.watchdog. (3600ms) must be at least 1s shorter than .schedulers.lease_ttl. plus .schedulers.grace. (4500ms)" &&
	# the override is blamed, not the file it disagrees with
	refused "schedulers:\n  heartbeat: 2s\n" \
		"synthflow: error: \$SYNTHFLOW_SCHEDULERS_LEASE_TTL: .schedulers.heartbeat. (2s) must be at most a third of .schedulers.lease_ttl. (3s)" \
		SYNTHFLOW_SCHEDULERS_LEASE_TTL=3s &&
	printf "schedulers:\n  lease_ttl: 4s\n  heartbeat: 1s\n  grace: 1s\n  watchdog: 3500ms\n" >run-data/synthflow.yaml &&
	synthflow --data run-data dags list >out 2>err && test ! -s err
'

dead_data() {
	serves_data &&
	cat >run-data/src/t/dags/long.yaml <<-'EOF'
	tasks:
	  work: {run: "mkdir \"$SF_DATA/first\" 2>/dev/null && exec sleep 60; true"}
	EOF
	# a short lease for serve a; b overrides it with a long one
	cat >>run-data/synthflow.yaml <<-'EOF'
	schedulers:
	  heartbeat: 500ms
	  lease_ttl: 2s
	  grace: 500ms
	  watchdog: 1500ms
	EOF
}

expect_success 'a short lease: another host takes a killed serve over at its lease_ttl + grace' '
	dead_data &&
	trap "kill -9 \$(cat a.pid b.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start a SYNTHFLOW_HOST_ID=host-a &&
	test "$(q "SELECT ttl_ms, grace_ms FROM schedulers WHERE pid = $(cat a.pid)")" = "2000|500" &&
	leases | jq -e ".[] | select(.pid == $(cat a.pid)) | .lease_ttl_ms == 2000 and .grace_ms == 500" >/dev/null &&
	run=$(synthflow --data run-data trigger long) &&
	running() { test "$(q "SELECT owner LIKE '\''$(cat a.pid):%'\'' FROM runs")" = t &&
		    test -d run-data/first; } &&
	wait_for "$WAIT" running &&
	start b SYNTHFLOW_HOST_ID=host-b SYNTHFLOW_SCHEDULERS_LEASE_TTL=30s \
		SYNTHFLOW_SCHEDULERS_GRACE=10s SYNTHFLOW_SCHEDULERS_WATCHDOG=30s &&
	test "$(q "SELECT ttl_ms, grace_ms FROM schedulers WHERE pid = $(cat b.pid)")" = "30000|10000" &&
	kill -9 "$(cat a.pid)" &&
	beat=$(q "SELECT beat_at FROM schedulers WHERE pid = $(cat a.pid)") &&
	done_() { test "$(q "SELECT state FROM runs")" = success; } &&
	wait_for "$WAIT" done_ &&
	lost=$(q "SELECT ended_at FROM tries WHERE reason LIKE '\''scheduler lost%host-a%'\''") &&
	echo "taken over $((lost - beat)) ms after the last heartbeat of a" &&
	# never before its lease was dead; before the 15 s of the defaults (and the 40 s of b)
	test $((lost - beat)) -ge 2500 && test $((lost - beat)) -lt 15000 &&
	must_contain b.log "taken over from host .host-a." &&
	test "$(q "SELECT count(*) FROM tries WHERE exit_code = 0")" = 1
'

test_done
