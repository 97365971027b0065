#!/usr/bin/env bash
# Event scripts (docs/events.md): run-data/src/WS/events/EVENT runs once per
# event of the workspace's DAGs, the event as JSON on its input, through the
# same outbox as callbacks; events list|log show each delivery.
. "$(dirname "$0")/../lib.sh"

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/ws/dags run-data/src/ws/events run-data/src/other/events
	cat >run-data/src/ws/dags/d.yaml <<-'YAML'
	params:
	  fail: {type: boolean, default: false}
	tasks:
	  a: {run: "test {{ params.fail }} = false"}
	YAML
	for e in run-started run-finished; do
		printf '#!/bin/sh\necho "$SF_EVENT $PWD $(cat)" >>"$SF_DATA/ev.log"\n' >run-data/src/ws/events/$e
		chmod +x run-data/src/ws/events/$e
		# another workspace's script never gets this DAG's events
		cp run-data/src/ws/events/$e run-data/src/other/events/$e
	done
	# present but not executable: a failed delivery that says why
	echo "echo never" >run-data/src/ws/events/task-failed
}

expect_success 'run-started and run-finished once each, the event on stdin, in the workspace' '
	setup && cd run-data &&
	run=$(synthflow test d) &&
	cat ev.log &&
	test "$(wc -l <ev.log)" = 2 &&
	grep "^run-started $PWD/src/ws {" ev.log | sed "s/^[^{]*//" >started.json &&
	jq -e ".event == \"run-started\" and .run_id == \"$run\" and .dag_id == \"d\" and (.at | test(\"Z$\"))" started.json &&
	grep "^run-finished " ev.log | sed "s/^[^{]*//" >finished.json &&
	jq -e ".state == \"success\" and .run_id == \"$run\" and .params.fail == false" finished.json &&
	synthflow events list --kind event --json >l.json &&
	jq -e "length == 2 and all(.[]; .state == \"delivered\" and .workspace == \"ws\" and .exit_code == 0)" l.json
'

expect_success 'a script that is not executable is a failed delivery saying so' '
	setup && cd run-data &&
	synthflow test d -p fail=true >/dev/null 2>&1 && exit 1
	synthflow events list >list.txt && cat list.txt &&
	must_contain list.txt "task-failed *ws *failed .*is not executable: .chmod +x. it" &&
	id=$(synthflow events list --json | jq ".[] | select(.event == \"run-finished\") | .id") &&
	synthflow events log "$id" >log.txt && cat log.txt &&
	must_contain log.txt "^# event .run-finished. delivered, exit code 0" &&
	synthflow events log 999 2>err && exit 1
	must_contain err "no delivery 999" &&
	code=0 && synthflow events log abc 2>err || code=$? &&
	test "$code" = 2 && must_contain err "not a delivery id"
'

expect_success 'synthflow new: a commented example that runs only once renamed and executable' '
	synthflow init >/dev/null && cd run-data &&
	synthflow new w >out && must_contain out "created .*/src/w/events/run-finished.example" &&
	test -f src/w/events/run-finished.example && test ! -x src/w/events/run-finished.example &&
	must_contain src/w/events/run-finished.example "^# .*mv run-finished.example run-finished && chmod +x run-finished" &&
	synthflow test w-example >/dev/null &&
	test ! -e events-w.log &&
	synthflow events list --json | jq -e "length == 0" &&
	mv src/w/events/run-finished.example src/w/events/run-finished &&
	chmod +x src/w/events/run-finished &&
	run=$(synthflow test w-example) && cat events-w.log &&
	test "$(wc -l <events-w.log)" = 1 &&
	sed "s/^[^ ]* //" events-w.log | jq -e ".event == \"run-finished\" and .run_id == \"$run\" and .state == \"success\""
'

test_done
