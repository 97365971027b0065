#!/usr/bin/env bash
# The deliveries API behind the UI's Events view (docs/api.md): the list of
# callbacks and event scripts run, with state, exit code, time and output.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/ws/dags run-data/src/ws/events
	cat >run-data/src/ws/dags/d.yaml <<-'YAML'
	on_failure: echo "callback says $SF_RUN_STATE"; exit 4
	tasks:
	  a: {run: "exit 1"}
	YAML
	printf '#!/bin/sh\necho "script read $(cat)"\n' >run-data/src/ws/events/run-finished
	chmod +x run-data/src/ws/events/run-finished
}

stop_serve() { web_stop_if run-data; }
settled() {
	api GET /api/v1/deliveries >/dev/null &&
	jq -e '(.deliveries | length) == 2 and all(.deliveries[]; .state | IN("delivered", "failed"))' "$TRASH/body"
}

expect_success 'list, filter by kind, and each delivery'"'"'s output' '
	setup && trap stop_serve EXIT && web_start run-data &&
	run=$(trigger d) &&
	wait_for 60 settled &&
	jq -e "[.deliveries[] | [.kind, .event, .state, .exit_code, .run_id]] ==
		[[\"event\", \"run-finished\", \"delivered\", 0, \"$run\"], [\"callback\", \"failure\", \"failed\", 4, \"$run\"]]
		or [.deliveries[] | [.kind, .event, .state, .exit_code, .run_id]] ==
		[[\"callback\", \"failure\", \"failed\", 4, \"$run\"], [\"event\", \"run-finished\", \"delivered\", 0, \"$run\"]]" "$TRASH/body" &&
	jq -e "all(.deliveries[]; (.at | test(\"Z$\")) and (.log | test(\"/flow/event-logs/\")))" "$TRASH/body" &&
	cb=$(jq ".deliveries[] | select(.kind == \"callback\") | .id" "$TRASH/body") &&
	ev=$(jq ".deliveries[] | select(.kind == \"event\") | .id" "$TRASH/body") &&
	api GET "/api/v1/deliveries?kind=event" >/dev/null && expect_status 200 &&
	jq -e "[.deliveries[].id] == [$ev]" "$TRASH/body" &&
	api GET "/api/v1/deliveries?kind=callback&limit=1" >/dev/null && jq -e "[.deliveries[].id] == [$cb]" "$TRASH/body" &&
	api GET "/api/v1/deliveries?workspace=nope" >/dev/null && jq -e ".deliveries == []" "$TRASH/body" &&
	api GET "/api/v1/deliveries/$cb/log" >log && expect_status 200 &&
	must_contain log "callback says failed" &&
	api GET "/api/v1/deliveries/$ev/log" >log && must_contain log "script read {.*\"run_id\":\"$run\"" &&
	synthflow --data run-data events list --json | jq -e "[.[].id] | sort == ([$cb, $ev] | sort)"
'

expect_success 'bad requests: 400 for a bad kind, limit or id; 404 for an unknown delivery' '
	setup && trap stop_serve EXIT && web_start run-data &&
	api GET "/api/v1/deliveries?kind=mail" >/dev/null && expect_status 400 &&
	must_contain "$TRASH/body" "kind.* must be callback or event" &&
	api GET "/api/v1/deliveries?limit=-1" >/dev/null && expect_status 400 &&
	api GET "/api/v1/deliveries/abc/log" >/dev/null && expect_status 400 &&
	api GET "/api/v1/deliveries/999/log" >/dev/null && expect_status 404 &&
	must_contain "$TRASH/body" "no delivery 999" &&
	code=$(curl -s -o /dev/null -w "%{http_code}" "$WEB_BASE/api/v1/deliveries") && test "$code" = 401
'

expect_success 'the UI has the Events view, linked from the top bar' '
	setup && trap stop_serve EXIT && web_start run-data &&
	curl -s "$WEB_BASE/index.html" | grep -q "href=\"#/events\"" &&
	curl -s "$WEB_BASE/app.js" | grep -q "/api/v1/deliveries/" &&
	curl -s "$WEB_BASE/app.js" | grep -q "pageEvents(query)"
'

test_done
