#!/usr/bin/env bash
# Runs that end without a scheduler running them still get their callback
# and run-finished event, exactly once (docs/events.md): the run of a
# `synthflow test` killed with -9 (ended by the next command), a queued run
# cancelled while no serve runs, and a run whose DAG file is gone by the
# time serve takes it (its callback cannot be known: a failed delivery says so).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/ws/dags run-data/src/ws/events
	cat >run-data/src/ws/dags/d.yaml <<-'YAML'
	params:
	  mode: {type: enum, values: [ok, wait], default: ok}
	on_success: echo "success $SF_RUN_ID $SF_RUN_STATE [$SF_FAILED_TASKS]" >>"$SF_DATA/cb.log"
	on_failure: echo "failure $SF_RUN_ID $SF_RUN_STATE [$SF_FAILED_TASKS]" >>"$SF_DATA/cb.log"
	tasks:
	  work:
	    run: |
	      if [ {{ params.mode }} = wait ]; then touch "$SF_DATA/waiting"; exec sleep 600; fi
	YAML
	for e in run-finished task-failed; do
		printf '#!/bin/sh\necho "$SF_EVENT $(cat)" >>"$SF_DATA/ev.log"\n' >run-data/src/ws/events/$e
		chmod +x run-data/src/ws/events/$e
	done
}

stop_serve() { web_stop_if run-data; }
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }
# lines FILE PATTERN: how many lines of FILE match
lines() { cat "run-data/$1" 2>/dev/null | grep -c "$2" || true; }
settled() {
	synthflow --data run-data events list --limit 0 --json |
		jq -e 'length > 0 and all(.[]; .state | IN("delivered", "failed", "redelivered"))'
}

expect_success 'a killed synthflow test: its run ends failed, serve delivers its end once' '
	setup && trap stop_serve EXIT &&
	(synthflow --data run-data test d -p mode=wait >test.out 2>&1 & echo $! >test.pid; wait) &
	wait_for 60 test -e run-data/waiting &&
	run=$(synthflow --data run-data runs list d --json | jq -r ".runs[0].run_id") &&
	kill -9 "$(cat test.pid)" &&
	wait_for 10 sh -c "! kill -0 $(cat test.pid)" &&
	synthflow --data run-data runs show "$run" --json >r.json &&
	jq -e ".state == \"failed\" and (.reason | test(\"runner died\"))" r.json &&
	web_start run-data && wait_for 60 settled && sleep 1 &&
	cat run-data/cb.log run-data/ev.log &&
	same "$(lines cb.log "^failure $run failed \[work\]$")$(lines cb.log .)" 11 &&
	same "$(lines ev.log "^run-finished .*\"run_id\":\"$run\"")" 1 &&
	same "$(lines ev.log "^task-failed .*\"task_id\":\"work\".*runner died")" 1 &&
	synthflow --data run-data runs show "$run" --json |
		jq -e "[.callbacks[] | [.event, .state]] == [[\"failure\", \"delivered\"]]" &&
	stop_serve && web_start run-data && sleep 2 &&
	same "$(lines cb.log .) $(lines ev.log .)" "1 2"
'

expect_success 'a queued run cancelled while no serve runs: one on_failure, one run-finished' '
	setup && trap stop_serve EXIT &&
	run=$(synthflow --data run-data trigger d) &&
	synthflow --data run-data runs cancel "$run" &&
	synthflow --data run-data runs show "$run" --json | jq -e ".state == \"cancelled\"" &&
	web_start run-data && wait_for 60 settled && sleep 1 &&
	cat run-data/cb.log run-data/ev.log &&
	same "$(lines cb.log "^failure $run cancelled \[\]$")$(lines cb.log .)" 11 &&
	same "$(lines ev.log "^run-finished .*\"state\":\"cancelled\"")$(lines ev.log .)" 11
'

expect_success 'a queued run whose DAG file is gone: failed, and a delivery says why no callback ran' '
	setup && trap stop_serve EXIT &&
	run=$(synthflow --data run-data trigger d) &&
	rm run-data/src/ws/dags/d.yaml &&
	web_start run-data && wait_for 60 settled &&
	synthflow --data run-data runs show "$run" --json >r.json && cat r.json &&
	jq -e ".state == \"failed\" and (.reason | test(\"cannot be loaded\"))" r.json &&
	jq -e "[.callbacks[] | [.event, .state]] == [[\"failure\", \"failed\"]]" r.json &&
	jq -e ".callbacks[0].note | test(\"not run: DAG .d. cannot be loaded .* its on_failure command, if it has one, is not known\")" r.json &&
	synthflow --data run-data events list >list.txt && cat list.txt &&
	must_contain list.txt "failure .*failed .*not run: DAG" &&
	test ! -e run-data/cb.log
'

test_done
