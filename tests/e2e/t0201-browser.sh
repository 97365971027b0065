#!/usr/bin/env bash
# The UI in a real browser (Debian's chromium driven by playwright-core):
# sign in, trigger from the form (a refused run shows why), graph turns
# green, log, audio result.
# Screenshots: $TEST_OUT/t0201-browser/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"
. "$TEST_ROOT/e2e/lib-browser.sh"

SHOTS=$TEST_OUT_BASE/t0201-browser
mkdir -p "$SHOTS"

browser_ready

DATA=$TRASH_BASE/run-data
web_data "$DATA"
# a DAG whose trigger is refused: no machine has that many cpus
printf 'tasks:\n  w:\n    resources: {cpus: 100000}\n    run: "true"\n' >"$DATA/src/webtest/dags/huge.yaml"
web_start "$DATA" || { echo "not ok - serve did not start"; exit 1; }

expect_success 'trigger from the form, watch the graph turn green, read a log, play audio' '
	timeout 240 node "$TEST_ROOT/e2e/browser.js" "$WEB_BASE/?token=$WEB_TOKEN" "$SHOTS" >out 2>&1 ||
		{ cat out; exit 1; }
	cat out && grep -q "browser test passed" out &&
	for s in 01-dags 02-trigger-error 02-trigger-refused 03-graph-green 04-log 05-run; do
		test -s "$SHOTS/$s.png" || { echo "missing screenshot $s"; exit 1; }
	done
'

expect_success 'the run the browser started is recorded with its params' '
	api GET "/api/v1/dags/hello/runs?limit=1" >out &&
	test "$(jq -r ".runs[0].state" out)" = success &&
	test "$(jq -r ".runs[0].params.split" out)" = val &&
	test "$(jq ".runs[0].params.rate" out)" = 16000
'

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

test_done
