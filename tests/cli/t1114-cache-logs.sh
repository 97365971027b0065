#!/usr/bin/env bash
# The log of an instance restored from the content cache (docs/replication.md,
# "Content cache"): it never ran, so `tasks logs`, the API's log request and
# the UI's log page give the log of the instance that made its outputs, and
# say which run that was.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

# setup: a cached plain task and a cached foreach over downloaded/in/*.txt,
# each printing the run it runs in
setup() {
	synthflow init >/dev/null &&
	mkdir -p run-data/src/w/dags run-data/downloaded/in &&
	echo b >run-data/downloaded/in/b.txt && echo c >run-data/downloaded/in/c.txt &&
	cat >run-data/src/w/dags/l.yaml <<-\EOF
	id: l
	defaults: {cache: true}
	tasks:
	  one:
	    run: echo "one ran in {{ run.id }}" && echo 1 >{{ run.dir }}/one
	    outputs: ["{{ run.dir }}/one"]
	  each:
	    foreach: "downloaded/in/*.txt"
	    run: echo "{{ item.name }} ran in {{ run.id }}" && cp {{ item }} {{ run.dir }}/{{ item.name }}
	    outputs: ["{{ run.dir }}/{{ item.name }}"]
	EOF
}

expect_success 'tasks logs: a cached instance shows the log of the run that made it' '
	setup &&
	synthflow test l --json >run.json && first=$(jq -r .run_id run.json) &&
	# a new first item: the old ones move to other indexes in the next run
	echo a >run-data/downloaded/in/a.txt &&
	synthflow test l --json >run.json && second=$(jq -r .run_id run.json) &&
	jq -e "[.tasks[] | .cached] == [false, true, true, true]" run.json >/dev/null &&
	synthflow tasks logs "$second" one >out 2>err &&
	test "$(cat out)" = "one ran in $first" &&
	test "$(cat err)" = "task '\''one'\'': from the cache, produced by run $first; its log:" &&
	synthflow tasks logs "$second" each --index 2 >out 2>err &&
	test "$(cat out)" = "c.txt ran in $first" &&
	test "$(cat err)" = "task '\''each'\'' (item 2): from the cache, produced by run $first, item 1; its log:" &&
	# the instance that ran in this run: its own log, nothing on stderr
	synthflow tasks logs "$second" each --index 0 >out 2>err &&
	test "$(cat out)" = "a.txt ran in $second" && test ! -s err &&
	test_exit 1 synthflow tasks logs "$second" one --try 1 2>err &&
	must_contain err "task '\''one'\'' has no try 1: it was restored from the cache, produced by run $first" &&
	# without provenance nothing records who made it: said, not guessed
	SYNTHFLOW_FLOW_PROVENANCE=false synthflow test l --json >run.json && third=$(jq -r .run_id run.json) &&
	jq -e "all(.tasks[]; .cached)" run.json >/dev/null &&
	test_exit 1 synthflow tasks logs "$third" one 2>err &&
	must_contain err "flow.provenance off"
'

expect_success 'the API serves the log of the run that made a cached instance, and names it' '
	setup &&
	synthflow test l --json >run.json && first=$(jq -r .run_id run.json) &&
	echo a >run-data/downloaded/in/a.txt &&
	synthflow test l --json >run.json && second=$(jq -r .run_id run.json) &&
	web_start "$TRASH/run-data" &&
	api GET "/api/v1/runs/$second/tasks/each/log?index=1" -D hdr >got &&
	expect_status 200 &&
	test "$(cat got)" = "b.txt ran in $first" &&
	grep -qi "^X-Synthflow-Log-Run: $first" hdr && grep -qi "^X-Synthflow-Log-Index: 0" hdr &&
	api GET "/api/v1/runs/$second/tasks/one/log" -D hdr >got &&
	expect_status 200 && test "$(cat got)" = "one ran in $first" &&
	! grep -qi "^X-Synthflow-Log-Index" hdr &&
	# the log page reads the run from the provenance of the tries request
	api GET "/api/v1/runs/$second/tasks/one/tries" >tries.json &&
	jq -e ".tries == [] and .provenance.cached and .provenance.cached_from == \"$first\" and .provenance.cached_from_index == null" tries.json >/dev/null &&
	# an instance that ran: its own log, no such header
	api GET "/api/v1/runs/$second/tasks/each/log?index=0" -D hdr >got &&
	test "$(cat got)" = "a.txt ran in $second" && ! grep -qi "^X-Synthflow-Log-Run" hdr &&
	web_stop "$TRASH/run-data"
'

test_done
