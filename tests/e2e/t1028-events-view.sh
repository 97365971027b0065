#!/usr/bin/env bash
# The Events view in a real browser (Debian's chromium driven by
# playwright-core, tests/e2e/events.js): callbacks and event scripts of two
# real runs, one of them a script that is not executable, shown as the
# deliveries API lists them, filtered by kind, with a log read as text and
# the link to the run.  Screenshots: $TEST_OUT/t1028-events-view/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"
. "$TEST_ROOT/e2e/lib-browser.sh"

SHOTS=$TEST_OUT_BASE/t1028-events-view
mkdir -p "$SHOTS"

browser_ready

DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
W=$DATA/src/ws
mkdir -p "$W/dags" "$W/events"
printf '%s\n' "on_success: echo ok" "tasks:" "  a: {run: \"true\"}" >"$W/dags/ok.yaml"
printf '%s\n' "on_failure: echo failed" "tasks:" "  a: {run: exit 3}" >"$W/dags/bad.yaml"
# its log holds markup, which the view must show as text
printf '%s\n' '#!/bin/sh' 'printf "finished: %s\n" "$(cat)"' \
	"echo '<img src=x onerror=\"window.pwned=1\">'" >"$W/events/run-finished"
chmod +x "$W/events/run-finished"
# not executable: each run-started is a failed delivery that says so
printf '#!/bin/sh\nexit 0\n' >"$W/events/run-started"
web_start "$DATA" || { echo "not ok - serve did not start"; exit 1; }

# every delivery of both runs ended: run-started, the callback, run-finished
ended() {
	curl -s -H "$WEB_AUTH" "$WEB_BASE/api/v1/deliveries?limit=200" >"$TRASH_BASE/expect.json" &&
		jq -e '.deliveries | length == 6 and
			all(.[]; .state | IN("delivered", "failed", "redelivered"))' "$TRASH_BASE/expect.json"
}

expect_success 'two runs: their callbacks and event scripts end' '
	ok=$(trigger ok) && bad=$(trigger bad) &&
	wait_for 120 run_is "$ok" success && wait_for 120 run_is "$bad" failed &&
	wait_for 120 ended && jq . "$TRASH_BASE/expect.json" &&
	jq -e "[.deliveries[] | select(.event == \"run-started\") | .state] == [\"failed\", \"failed\"]" \
		"$TRASH_BASE/expect.json"
'

expect_success 'the Events view shows them: rows, filter, note, log as text, run link' '
	timeout 240 node "$TEST_ROOT/e2e/events.js" "$WEB_BASE/?token=$WEB_TOKEN" "$SHOTS" \
		"$TRASH_BASE/expect.json" >out 2>&1 || { cat out; exit 1; }
	cat out && grep -q "events browser test passed" out &&
	test -s "$SHOTS/events.png" && test -s "$SHOTS/events-log.png"
'

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

test_done
