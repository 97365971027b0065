#!/usr/bin/env bash
# trigger when no `serve` runs for the data folder: it says so (the run stays
# queued) and --wait exits 1 at once instead of waiting forever; once serve
# starts, the run runs.  DAGs: tests/cli/data/engine/.
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

test_done
