#!/usr/bin/env bash
# trigger when no `serve` runs for the data folder: it says so (the run stays
# queued) and --wait exits 1 at once instead of waiting forever; once serve
# starts, the run runs.  A killed `synthflow test` does not leave its run
# running forever.  DAGs: tests/cli/data/engine/ and security/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

expect_success 'trigger without serve: a warning; --wait exits 1 instead of hanging' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/engine/order.yaml" run-data/src/t/dags/ &&
	synthflow trigger order >id 2>err &&
	test "$(wc -l <id)" = 1 &&
	must_contain err "no scheduler is running for .*run-data.*stays queued.*synthflow serve" &&
	test_exit 1 timeout 60 synthflow trigger order --wait >id2 2>err2 &&
	must_contain err2 "error: no scheduler is running" && must_contain err2 "synthflow test order" &&
	test "$(synthflow runs show "$(cat id)" --json | jq -r .state)" = queued &&
	web_start "$PWD/run-data" &&
	wait_for "$WEB_WAIT" run_is "$(cat id)" success &&
	wait_for "$WEB_WAIT" run_is "$(cat id2)" success &&
	synthflow trigger order --wait >/dev/null 2>err3 &&
	! test -s err3 &&
	web_stop "$PWD/run-data"
'

expect_success 'a killed synthflow test: the next command ends its run, runner died' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/security/hang.yaml" run-data/src/t/dags/ || exit 1
	synthflow test hang -p n=$((TEST_UNIQ + 1)) --json >/dev/null 2>&1 &
	tpid=$!
	wait_for 60 pgrep -x -f "sleep $((TEST_UNIQ + 1))1" &&
	run=$(synthflow runs list --json | jq -r ".runs[0].run_id") &&
	test "$(synthflow runs show "$run" --json | jq -r .state)" = running &&
	kill -9 "$tpid" && { wait "$tpid" || true; } &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r .state r.json)" = failed &&
	jq -r .reason r.json | grep -q "^runner died: process $tpid " &&
	test "$(jq -r ".tasks[0].state" r.json)" = failed &&
	wait_for 20 sh -c "! pgrep -x -f \"sleep $((TEST_UNIQ + 1))\" && ! pgrep -x -f \"sleep $((TEST_UNIQ + 1))1\""
'

test_done
