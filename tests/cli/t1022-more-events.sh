#!/usr/bin/env bash
# The events besides a run's start and end (docs/events.md): run-queued,
# dag-paused, dag-unpaused, variable-changed, file-added, file-changed.
# Each is written in the transaction of what causes it and delivered once;
# events about a DAG go to its own workspace, file and variable events to
# every workspace that has the script.  Real serve, real inotify.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

setup() {
	synthflow init >/dev/null
	quick_dag ws d && wav_dag ws && quick_dag other o
	# every workspace gets every script: one line per delivery in ev-WS.log
	for ws in ws other; do
		mkdir -p run-data/src/$ws/events
		for e in run-queued dag-paused dag-unpaused variable-changed file-added file-changed; do
			printf '#!/bin/sh\necho "$SF_EVENT $(cat)" >>"$SF_DATA/ev-%s.log"\n' $ws \
				>run-data/src/$ws/events/$e
			chmod +x run-data/src/$ws/events/$e
		done
	done
}

start_serve() { web_start run-data; }
stop_serve() { web_stop_if run-data; }
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }
# n WS EVENT: lines of EVENT in WS's log
n() { cat "run-data/ev-$1.log" 2>/dev/null | grep -c "^$2 " || true; }
has() { [ "$(n "$1" "$2")" = "$3" ]; }
# json WS EVENT: the JSON of WS's last EVENT line
json() { grep "^$2 " "run-data/ev-$1.log" | tail -1 | sed 's/^[^{]*//'; }
# no open deliveries left (every row ended)
settled() {
	synthflow --data run-data events list --limit 0 --json |
		jq -e 'length > 0 and all(.[]; .state | IN("delivered", "failed", "redelivered"))'
}

expect_success 'run-queued: once per run, also for runs queued while serve was down' '
	setup && trap stop_serve EXIT &&
	early=$(synthflow --data run-data trigger d) &&
	start_serve &&
	late=$(synthflow --data run-data trigger d) &&
	api=$(trigger d) &&
	for r in $early $late $api; do wait_for 60 run_is $r success || exit 1; done &&
	wait_for 30 has ws run-queued 3 && wait_for 30 settled && sleep 1 &&
	cat run-data/ev-ws.log &&
	same "$(n ws run-queued) $(n other run-queued)" "3 0" &&
	for r in $early $late $api; do
		same "$(grep -c "\"run_id\":\"$r\"" run-data/ev-ws.log)" 1 || exit 1
	done &&
	grep "\"run_id\":\"$api\"" run-data/ev-ws.log | sed "s/^[^{]*//" >q.json &&
	jq -e ".event == \"run-queued\" and .dag_id == \"d\" and .trigger == \"api\" and
		(.queued_at | test(\"Z$\")) and (.at | test(\"Z$\"))" q.json &&
	grep "\"run_id\":\"$early\"" run-data/ev-ws.log | grep -q "\"trigger\":\"manual\"" &&
	stop_serve && start_serve && sleep 2 && same "$(n ws run-queued)" 3
'

expect_success 'dag-paused and dag-unpaused: once per change, from the CLI and the API' '
	setup && trap stop_serve EXIT && start_serve &&
	synthflow --data run-data dags pause d &&
	synthflow --data run-data dags pause d &&
	api POST /api/v1/dags/d/pause -H "Content-Type: application/json" -d "{\"paused\": false}" &&
	expect_status 200 &&
	api POST /api/v1/dags/d/pause -H "Content-Type: application/json" -d "{\"paused\": false}" &&
	expect_status 200 &&
	wait_for 30 has ws dag-unpaused 1 && wait_for 30 settled && sleep 1 &&
	cat run-data/ev-ws.log &&
	same "$(n ws dag-paused) $(n ws dag-unpaused) $(n other dag-paused)" "1 1 0" &&
	json ws dag-paused | jq -e ".dag_id == \"d\" and .source == \"cli\"" &&
	json ws dag-unpaused | jq -e ".dag_id == \"d\" and .source == \"api\""
'

expect_success 'variable-changed: every workspace, once per change, with old, new and source' '
	setup && trap stop_serve EXIT && start_serve &&
	synthflow --data run-data vars set model tacotron &&
	synthflow --data run-data vars set model tacotron &&
	synthflow --data run-data vars set model glow &&
	api PUT /api/v1/variables/model -H "Content-Type: application/json" -d "{\"value\": \"vits\"}" &&
	expect_status 200 &&
	synthflow --data run-data vars unset model &&
	wait_for 30 has other variable-changed 4 && wait_for 30 settled && sleep 1 &&
	cat run-data/ev-ws.log &&
	same "$(n ws variable-changed) $(n other variable-changed)" "4 4" &&
	grep "^variable-changed " run-data/ev-other.log | sed "s/^[^{]*//" |
		jq -s -c "sort_by(.at) | [.[] | [.variable, .old, .new, .source]]" >changes.json &&
	cat changes.json &&
	# in the order of the changes (.at): up to 16 deliveries run at once, so
	# the scripts may append their lines in another order
	same "$(cat changes.json)" "[[\"model\",null,\"tacotron\",\"cli\"],[\"model\",\"tacotron\",\"glow\",\"cli\"],[\"model\",\"glow\",\"vits\",\"api\"],[\"model\",\"vits\",null,\"cli\"]]"
'

expect_success 'file-added and file-changed: every workspace, once per arrival, with its runs' '
	setup && trap stop_serve EXIT && start_serve &&
	echo one >run-data/downloaded/a.wav &&
	echo notes >run-data/downloaded/notes.txt &&
	wait_for 30 has other file-added 2 &&
	echo two more >run-data/downloaded/a.wav &&
	wait_for 30 has other file-changed 1 && wait_for 30 settled && sleep 1 &&
	cat run-data/ev-ws.log &&
	same "$(n ws file-added) $(n other file-added) $(n ws file-changed) $(n other file-changed)" "2 2 1 1" &&
	grep "^file-added .*\"rel\":\"a.wav\"" run-data/ev-ws.log | sed "s/^[^{]*//" >added.json &&
	run=$(synthflow --data run-data files --json | jq -r "first(.[] | select(.path == \"a.wav\")).run_id") &&
	jq -e ".file == \"$(realpath run-data/downloaded)/a.wav\" and .dir == false and
		.dags[0].dag_id == \"wav\" and .dags[0].state == \"run\"" added.json &&
	json other file-changed | jq -e ".rel == \"a.wav\" and .dags[0].run_id == \"$run\"" &&
	grep "^file-added .*\"rel\":\"notes.txt\"" run-data/ev-other.log | sed "s/^[^{]*//" |
		jq -e ".dags == []"
'

test_done
