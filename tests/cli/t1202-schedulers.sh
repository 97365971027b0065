#!/usr/bin/env bash
# Schedulers' leases (docs/engine.md, "Schedulers and leases"): every serve
# registers in the store with a fencing epoch and renews its lease every
# 2 s; `synthflow schedulers` lists them (host from SYNTHFLOW_HOST_ID, pid,
# heartbeat, runs held, duties).  A clean stop ends the lease; a serve killed
# with -9 leaves one that the next serve on the same host ends, taking its
# runs over at once.  Runs on SQLite, and on PostgreSQL in tests/run.sh cli-pg.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
TEST_STORE_SHARED=0

data() {
	web_data run-data &&
	mkdir -p run-data/src/t/dags &&
	cat >run-data/src/t/dags/slow.yaml <<-'EOF'
	params:
	  gate: {type: string, default: "/nonexistent"}
	tasks:
	  wait:
	    run: while [ ! -e {{ params.gate }} ]; do sleep 0.05; done
	  after: {needs: [wait], run: "echo done"}
	EOF
}

leases() { synthflow schedulers --json >l.json && jq -e . l.json >/dev/null; }

expect_success 'no serve: the listing is empty and says so' '
	data &&
	synthflow schedulers >out 2>err &&
	test ! -s out && must_contain err "no scheduler holds a lease" &&
	leases && test "$(jq length l.json)" = 0
'

expect_success 'a serve holds a lease: host, pid, epoch, heartbeat renewed, runs held, offered tries, duties' '
	data &&
	export SYNTHFLOW_HOST_ID=box-$$ &&
	web_start "$PWD/run-data" &&
	leases && test "$(jq length l.json)" = 1 &&
	test "$(jq -r ".[0].host" l.json)" = "box-$$" &&
	test "$(jq -r ".[0].pid" l.json)" = "$WEB_PID" &&
	epoch=$(jq -r ".[0].epoch" l.json) && test "$epoch" -gt 0 &&
	test "$(jq -r ".[0].alive" l.json)" = true &&
	test "$(jq -c ".[0].duties" l.json)" = "[\"deliveries\",\"files\",\"schedules\"]" &&
	first=$(jq -r ".[0].heartbeat_at" l.json) &&
	# renewed every 2 s (bounded at 5x)
	beat_moved() { leases && [ "$(jq -r ".[0].heartbeat_at" l.json)" != "$first" ]; } &&
	wait_for 10 beat_moved &&
	test "$(jq -r ".[0].heartbeat_age_ms" l.json)" -lt 10000 &&
	run=$(synthflow trigger slow -p gate="$PWD/gate") &&
	holds_one() { leases && [ "$(jq -r ".[0].runs" l.json)" = 1 ]; } &&
	wait_for "$WEB_WAIT" holds_one &&
	test "$(store_sql "SELECT owner FROM runs WHERE run_id = '\''$run'\''")" = \
	     "$(store_sql "SELECT owner FROM schedulers WHERE epoch = $epoch")" &&
	case $(store_sql "SELECT owner FROM runs WHERE run_id = '\''$run'\''") in
	*"#$epoch") ;; *) false ;; esac &&
	synthflow schedulers >table &&
	must_contain table "^EPOCH  *HOST  *PID  *HEARTBEAT  *RUNS  *OFFERED  *DUTIES" &&
	must_contain table "^$epoch  *box-$$  *$WEB_PID  .*s ago  *1  *0  *deliveries,files,schedules$" &&
	# a lone serve offers nothing: no tries run for offers (t1207 has two)
	test "$(jq -r ".[0].offered_tries" l.json)" = 0 &&
	touch gate &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	leases && test "$(jq -r ".[0].runs" l.json)" = 0 &&
	web_stop "$PWD/run-data" &&
	leases && test "$(jq length l.json)" = 0
'

expect_success 'kill -9: the next serve on the host ends the dead lease and takes the run over' '
	data &&
	web_start "$PWD/run-data" &&
	leases && old=$(jq -r ".[0].epoch" l.json) &&
	run=$(synthflow trigger slow -p gate="$PWD/gate") &&
	running() { [ "$(store_sql "SELECT state FROM tis WHERE run_id = '\''$run'\'' AND task_id = '\''wait'\''")" = running ]; } &&
	wait_for "$WEB_WAIT" running &&
	kill -9 "$WEB_PID" && wait_for "$WEB_WAIT" test -s run-data/serve.status &&
	leases && test "$(jq length l.json)" = 1 && test "$(jq -r ".[0].epoch" l.json)" = "$old" &&
	web_start "$PWD/run-data" &&
	leases && test "$(jq length l.json)" = 1 &&
	new=$(jq -r ".[0].epoch" l.json) && test "$new" -gt "$old" &&
	test "$(jq -r ".[0].pid" l.json)" = "$WEB_PID" &&
	touch gate &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	case $(store_sql "SELECT owner FROM runs WHERE run_id = '\''$run'\''") in
	*"#$new") ;; *) false ;; esac &&
	# the first try was lost with the scheduler: a second, which succeeded
	test "$(store_sql "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND task_id = '\''wait'\''")" = 2 &&
	web_stop "$PWD/run-data"
'

expect_success 'trigger from another data folder on the same store: a live lease of its serve counts, a stopped one does not' '
	data &&
	synthflow init other/run-data >/dev/null &&
	mkdir -p other/run-data/src/t/dags &&
	cp run-data/src/t/dags/slow.yaml other/run-data/src/t/dags/ &&
	store=${SYNTHFLOW_FLOW_STORE:-sqlite:$PWD/run-data/flow/synthflow.db} &&
	gate=$PWD/gate &&
	export SYNTHFLOW_HOST_ID=far-$$ &&
	web_start "$PWD/run-data" &&
	other() { (cd other && SYNTHFLOW_FLOW_STORE=$store SYNTHFLOW_HOST_ID=near-$$ synthflow "$@"); } &&
	run=$(other trigger slow -p gate="$gate" 2>err) &&
	must_not_contain err "no scheduler" &&
	touch gate &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	web_stop "$PWD/run-data" &&
	other trigger slow -p gate="$gate" 2>err >/dev/null &&
	must_contain err "no scheduler is running" &&
	! other trigger slow -p gate="$gate" --wait 2>err >/dev/null &&
	must_contain err "no scheduler is running"
'

test_done
