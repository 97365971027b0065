#!/usr/bin/env bash
# Event scripts fire exactly once per event under serve (docs/events.md): for
# a success, a failure, a task timeout and a cancel; after kill -9 of serve in
# the middle of a run; a script interrupted by kill -9 runs again once and is
# shown redelivered; a script that hangs is stopped by flow.delivery_timeout,
# shown failed, and never run again.  Each script appends one line per run.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

# Each body has its own data folder, so on PostgreSQL its own database too
# (lib-web.sh shares one store between bodies; these count every delivery).
setup() {
	test_store_fresh || return 1
	synthflow init >/dev/null
	mkdir -p run-data/src/ws/dags run-data/src/ws/events
	cat >run-data/src/ws/dags/d.yaml <<-'YAML'
	params:
	  mode: {type: enum, values: [ok, fail, hang, wait], default: ok}
	tasks:
	  work:
	    run: |
	      case {{ params.mode }} in
	      fail) exit 3 ;;
	      hang) exec sleep 600 ;;
	      wait) touch "$SF_RUN_DIR/../waiting-$SF_RUN_ID"; while [ ! -e "$SF_DATA/go" ]; do sleep 0.1; done ;;
	      esac
	    timeout: 1s
	YAML
	sed -e 's/timeout: 1s/timeout: 10m/' -e 's/^params:/id: slow\nparams:/' \
		run-data/src/ws/dags/d.yaml >run-data/src/ws/dags/slow.yaml
	for e in run-started run-finished task-failed; do
		printf '#!/bin/sh\necho "$SF_EVENT $(cat)" >>"$SF_DATA/ev.log"\n' >run-data/src/ws/events/$e
		chmod +x run-data/src/ws/events/$e
	done
}

stop_serve() { web_stop_if run-data; }
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }
# n EVENT RUN: lines of EVENT for RUN in ev.log
n() { cat run-data/ev.log 2>/dev/null | grep -c "^$1 .*\"run_id\":\"$2\"" || true; }
# has EVENT RUN N / starts N: counted again at each try of wait_for
has() { [ "$(n "$1" "$2")" = "$3" ]; }
starts() { [ "$(grep -c start run-data/slow.log)" = "$1" ]; }
settled() {
	synthflow --data run-data events list --limit 0 --json >"$TRASH/all.json" &&
	jq -e 'length > 0 and all(.[]; .state | IN("delivered", "failed", "redelivered"))' "$TRASH/all.json"
}
ended() { synthflow --data run-data runs show "$1" --json | jq -e '.state | IN("success", "failed", "cancelled")'; }

expect_success 'success, failure, task timeout and cancel: each event exactly once' '
	setup && trap stop_serve EXIT && web_start run-data &&
	ok=$(synthflow --data run-data trigger d) &&
	fail=$(synthflow --data run-data trigger d -p mode=fail) &&
	hang=$(synthflow --data run-data trigger d -p mode=hang) &&
	cancel=$(synthflow --data run-data trigger slow -p mode=wait) &&
	wait_for 60 test -e "run-data/generated/slow/waiting-$cancel" &&
	synthflow --data run-data runs cancel "$cancel" >/dev/null &&
	for r in $ok $fail $hang $cancel; do wait_for 60 ended $r || exit 1; done &&
	wait_for 60 settled && sleep 1 && cat run-data/ev.log &&
	same "$(n run-started $ok)$(n task-failed $ok)$(n run-finished $ok)" 101 &&
	same "$(n run-started $fail)$(n task-failed $fail)$(n run-finished $fail)" 111 &&
	same "$(n run-started $hang)$(n task-failed $hang)$(n run-finished $hang)" 111 &&
	same "$(n run-started $cancel)$(n run-finished $cancel)" 11 &&
	grep "^run-finished .*\"run_id\":\"$cancel\"" run-data/ev.log | grep -q "\"state\":\"cancelled\"" &&
	same "$(wc -l <run-data/ev.log)" 10
'

expect_success 'kill -9 of serve mid-run: the next serve finishes it, run-finished once' '
	setup && trap "kill -9 \$(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	web_start run-data &&
	run=$(synthflow --data run-data trigger slow -p mode=wait) &&
	wait_for 60 test -e "run-data/generated/slow/waiting-$run" &&
	wait_for 30 has run-started "$run" 1 &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
	touch run-data/go && web_start run-data &&
	wait_for 60 ended "$run" && wait_for 60 settled && sleep 1 && cat run-data/ev.log &&
	same "$(n run-started $run)$(n run-finished $run)" 11 &&
	grep "^run-finished .*\"run_id\":\"$run\"" run-data/ev.log | grep -q "\"state\":\"success\"" &&
	web_stop_if run-data
'

expect_success 'kill -9 during a script: run again once, shown redelivered' '
	setup && trap "kill -9 \$(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	cat >run-data/src/ws/events/run-finished <<-'"'"'SH'"'"' &&
	#!/bin/sh
	echo start >>"$SF_DATA/slow.log"
	while [ ! -e "$SF_DATA/release" ]; do sleep 0.1; done
	echo done >>"$SF_DATA/slow.log"
	SH
	web_start run-data &&
	run=$(synthflow --data run-data trigger d) &&
	wait_for 60 grep -q start run-data/slow.log &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
	synthflow --data run-data events list --kind event --json |
		jq -e "[.[] | select(.event == \"run-finished\") | .state] == [\"running\"]" &&
	web_start run-data &&
	wait_for 60 starts 2 &&
	touch run-data/release && wait_for 60 settled && sleep 1 && cat run-data/slow.log &&
	same "$(grep -c start run-data/slow.log) $(grep -c done run-data/slow.log)" "2 1" &&
	jq -e "[.[] | select(.event == \"run-finished\")][0] | .state == \"redelivered\" and .attempts == 2 and .exit_code == 0" "$TRASH/all.json" &&
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" |
		grep -q "^synthflow_deliveries_total{kind=\"event\",result=\"redelivered\"} 1$" &&
	web_stop_if run-data
'

expect_success 'a script that hangs: stopped at flow.delivery_timeout, failed, never run again' '
	setup && trap stop_serve EXIT &&
	printf "#!/bin/sh\necho started >>\"\$SF_DATA/hang.log\"\nexec sleep 600\n" >run-data/src/ws/events/run-finished &&
	SYNTHFLOW_FLOW_DELIVERY_TIMEOUT=1s web_start run-data &&
	run=$(synthflow --data run-data trigger d) &&
	wait_for 60 settled && sleep 2 &&
	{ jq -e "[.[] | select(.event == \"run-finished\")] | length == 1 and (.[0] | .state == \"failed\" and
		(.note // \"\" | test(\"timed out after 1s .flow.delivery_timeout.\")))" "$TRASH/all.json" ||
		{ cat "$TRASH/all.json"; tail -n 20 run-data/serve.err; exit 1; }; } &&
	same "$(wc -l <run-data/hang.log)" 1 &&
	synthflow --data run-data events list >list.txt && cat list.txt &&
	must_contain list.txt "run-finished .*failed .*timed out"
'

# Every store numbers its rows from 1: a redelivery in one data folder must
# kill what its own row left running, not the script of the same row id that
# another folder's serve runs (it did: SF_TRY_KEY was delivery/<id>).  The
# serves left running on a failure end with the body (test_body_done).
expect_success 'a redelivery kills only its own leftovers, not the same row id of another data folder' '
	mkdir a b && cd a && setup && a_store=${SYNTHFLOW_FLOW_STORE:-} &&
	printf "#!/bin/sh\necho \$\$ >>\"\$SF_DATA/hang.log\"\nexec sleep 600\n" >run-data/src/ws/events/run-finished &&
	web_start run-data &&
	synthflow --data run-data trigger d >/dev/null &&
	wait_for 60 test -s run-data/hang.log && pid=$(cat run-data/hang.log) &&
	synthflow --data run-data events list --kind event --json >../a.json &&
	ida=$(jq -e ".[] | select(.event == \"run-finished\" and .state == \"running\") | .id" ../a.json) &&
	cd ../b && setup &&
	cat >run-data/src/ws/events/run-finished <<-'"'"'SH'"'"' &&
	#!/bin/sh
	echo start >>"$SF_DATA/slow.log"
	while [ ! -e "$SF_DATA/release" ]; do sleep 0.1; done
	SH
	web_start run-data &&
	synthflow --data run-data trigger d >/dev/null &&
	wait_for 60 grep -q start run-data/slow.log &&
	synthflow --data run-data events list --kind event --json >../b.json &&
	idb=$(jq -e ".[] | select(.event == \"run-finished\" and .state == \"running\") | .id" ../b.json) &&
	same "$idb" "$ida" &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
	web_start run-data &&
	wait_for 60 starts 2 && touch run-data/release && wait_for 60 settled &&
	jq -e "[.[] | select(.event == \"run-finished\")][0].state == \"redelivered\"" "$TRASH/all.json" &&
	web_stop_if run-data &&
	cd ../a && if [ -n "$a_store" ]; then export SYNTHFLOW_FLOW_STORE=$a_store; fi &&
	state=$(awk "{print \$3}" "/proc/$pid/stat" 2>/dev/null || true) &&
	{ [ -n "$state" ] && [ "$state" != Z ] || { echo "the script of row $ida of folder a is gone (${state:-no process})"; exit 1; }; } &&
	synthflow --data run-data events list --kind event --json |
		jq -e ".[] | select(.id == $ida) | .state == \"running\" and .exit_code == null" &&
	{ stop_serve || { echo "serve of folder a: exit $?"; tail -n 20 run-data/serve.err; exit 1; }; }
'

test_done
