#!/usr/bin/env bash
# Run callbacks (docs/events.md): on_success, on_failure, on_retry fire
# exactly once per event, for every way a run ends (task exit, timeout,
# cancel, a clear that later ends, a run finished after kill -9 of serve),
# and a callback interrupted by kill -9 is run again, shown redelivered.
# Real serve, real kill -9; each callback appends one line to cb.log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	# cb.sh EVENT: one line per delivery, with the environment it got
	cat >run-data/cb.sh <<-'SH'
	echo "$1 $SF_RUN_ID $SF_RUN_STATE [$SF_FAILED_TASKS] ${SF_TASK_ID:-} ${SF_TRY_NUMBER:-}" >>"$SF_DATA/cb.log"
	SH
	# work.sh MODE: ok, fail, hang (until killed), flaky (fails its first try),
	# gate (fails unless $SF_DATA/go exists), wait (waits for $SF_DATA/go)
	cat >run-data/work.sh <<-'SH'
	case $1 in
	ok) exit 0 ;;
	fail) exit 3 ;;
	hang) exec sleep 600 ;;
	flaky) [ -e "$SF_RUN_DIR/tried" ] && exit 0; mkdir -p "$SF_RUN_DIR"; touch "$SF_RUN_DIR/tried"; exit 1 ;;
	gate) [ -e "$SF_DATA/go" ] ;;
	wait) touch "$SF_RUN_DIR/waiting"; while [ ! -e "$SF_DATA/go" ]; do sleep 0.1; done ;;
	esac
	SH
	cat >run-data/src/t/dags/cbs.yaml <<-'YAML'
	params:
	  mode: {type: enum, values: [ok, fail, hang, flaky, gate, wait], default: ok}
	on_success: "sh {{ data }}/cb.sh success"
	on_failure: "sh {{ data }}/cb.sh failure"
	defaults:
	  on_retry: "sh {{ data }}/cb.sh retry"
	tasks:
	  work:
	    run: "sh {{ data }}/work.sh {{ params.mode }}"
	    timeout: 1s
	    retries: 1
	    retry_delay: 100ms
	  after:
	    needs: [work]
	    run: "true"
	YAML
	# the wait mode needs more than the 1 s timeout
	sed -e 's/timeout: 1s/timeout: 10m/' -e 's/^params:/id: cbslow\nparams:/' \
		run-data/src/t/dags/cbs.yaml >run-data/src/t/dags/cbslow.yaml
}

start_serve() { web_start run-data; }
stop_serve() { web_stop_if run-data; }

# lines EVENT RUN: how many deliveries of EVENT for RUN cb.log holds
lines() { grep -c "^$1 $2 " run-data/cb.log 2>/dev/null || true; }
# has_lines EVENT RUN N: cb.log has N of them (for wait_for)
has_lines() { [ "$(lines "$1" "$2")" = "$3" ]; }
# count_in FILE WORD N: FILE has N lines that are WORD (for wait_for)
count_in() { [ "$(grep -cx "$2" "$1" 2>/dev/null)" = "$3" ]; }
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }

# settled RUN: the run ended and every callback of it ended
settled() {
	synthflow --data run-data runs show "$1" --json >"$TRASH/settled.json" &&
	jq -e '(.state | IN("success", "failed", "cancelled")) and (.callbacks | length > 0)
		and all(.callbacks[]; .state | IN("delivered", "failed", "redelivered"))' \
		"$TRASH/settled.json" >/dev/null
}

expect_success 'test: success, failure and retry each fire once with their environment' '
	setup && cd run-data &&
	ok=$(synthflow test cbs) &&
	synthflow test cbs -p mode=fail >/dev/null 2>&1 && exit 1
	bad=$(synthflow runs list cbs --json | jq -r ".runs[0].run_id") &&
	test "$bad" != "$ok" &&
	cat cb.log &&
	same "$(cat cb.log | wc -l)" 3 &&
	grep -qx "success $ok success \[\]  " cb.log &&
	grep -qx "retry $bad running \[work\] work 1" cb.log &&
	grep -qx "failure $bad failed \[work\]  " cb.log &&
	synthflow runs show "$bad" --json >r.json &&
	jq -e "[.callbacks[] | [.event, .state, .exit_code, .task_id, .try]] ==
		[[\"retry\", \"delivered\", 0, \"work\", 1], [\"failure\", \"delivered\", 0, null, null]]" r.json &&
	jq -e "all(.callbacks[]; .redelivered == false and .attempts == 1 and (.at | test(\"Z$\")))" r.json &&
	synthflow runs show "$bad" >show.txt && cat show.txt &&
	must_contain show.txt "^failure .* delivered *0 .*/flow/event-logs/"
'

expect_success 'a failing callback is shown and does not change the run state' '
	setup && cd run-data &&
	cat >src/t/dags/badcb.yaml <<-YAML &&
	on_success: "echo output of the callback; exit 7"
	tasks:
	  a: {run: "true"}
	YAML
	run=$(synthflow test badcb) &&
	synthflow runs show "$run" --json >r.json &&
	jq -e ".state == \"success\" and (.callbacks | length) == 1" r.json &&
	jq -e ".callbacks[0] | .event == \"success\" and .state == \"failed\" and .exit_code == 7" r.json &&
	grep -q "output of the callback" "$(jq -r ".callbacks[0].log" r.json)"
'

expect_success 'serve: success, failure, task timeout, cancel, each exactly once' '
	setup && trap stop_serve EXIT && start_serve &&
	ok=$(synthflow --data run-data trigger cbs) &&
	fail=$(synthflow --data run-data trigger cbs -p mode=fail) &&
	hang=$(synthflow --data run-data trigger cbs -p mode=hang) &&
	flaky=$(synthflow --data run-data trigger cbs -p mode=flaky) &&
	cancel=$(synthflow --data run-data trigger cbslow -p mode=wait) &&
	wait_for 30 test -e "run-data/generated/cbslow/$cancel/waiting" &&
	synthflow --data run-data runs cancel "$cancel" &&
	for r in $ok $fail $hang $flaky $cancel; do wait_for 60 settled $r || exit 1; done &&
	sleep 1 && cat run-data/cb.log &&
	same "$(lines success $ok)$(lines failure $ok)$(lines retry $ok)" 100 &&
	same "$(lines success $fail)$(lines failure $fail)$(lines retry $fail)" 011 &&
	same "$(lines success $hang)$(lines failure $hang)$(lines retry $hang)" 011 &&
	same "$(lines success $flaky)$(lines failure $flaky)$(lines retry $flaky)" 101 &&
	same "$(lines success $cancel)$(lines failure $cancel)$(lines retry $cancel)" 010 &&
	grep -q "^failure $cancel cancelled " run-data/cb.log &&
	synthflow --data run-data runs show "$hang" --json | jq -e ".callbacks[-1].event == \"failure\"" &&
	same "$(wc -l <run-data/cb.log)" 8
'

expect_success 'a tasks clear that later ends fires again, once' '
	setup && trap stop_serve EXIT && start_serve &&
	run=$(synthflow --data run-data trigger cbs -p mode=gate) &&
	wait_for 60 settled "$run" &&
	touch run-data/go &&
	synthflow --data run-data tasks clear "$run" work --downstream &&
	wait_for 60 has_lines success "$run" 1 &&
	wait_for 60 settled "$run" && sleep 1 &&
	same "$(lines failure $run)$(lines success $run)$(lines retry $run)" 111 &&
	synthflow --data run-data runs show "$run" --json |
		jq -e "[.callbacks[].event] == [\"retry\", \"failure\", \"success\"]"
'

expect_success 'kill -9 of serve mid-run: the next serve ends the run and calls back once' '
	setup && trap "kill -9 \$(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	start_serve &&
	run=$(synthflow --data run-data trigger cbslow -p mode=wait) &&
	wait_for 30 test -e "run-data/generated/cbslow/$run/waiting" &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
	touch run-data/go && start_serve &&
	wait_for 60 settled "$run" && sleep 1 &&
	cat run-data/cb.log &&
	same "$(lines success $run)$(lines failure $run)" 10 &&
	synthflow --data run-data runs show "$run" --json |
		jq -e "[.callbacks[] | .state] == [\"delivered\"]" &&
	stop_serve
'

expect_success 'kill -9 during a callback: run again once, shown redelivered' '
	setup && trap "kill -9 \$(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true" EXIT &&
	cat >run-data/slowcb.sh <<-'"'"'SH'"'"' &&
	echo start >>"$SF_DATA/slow.log"
	while [ ! -e "$SF_DATA/release" ]; do sleep 0.1; done
	echo done >>"$SF_DATA/slow.log"
	SH
	cat >run-data/src/t/dags/slowcb.yaml <<-YAML &&
	on_success: "sh {{ data }}/slowcb.sh"
	tasks:
	  a: {run: "true"}
	YAML
	start_serve &&
	run=$(synthflow --data run-data trigger slowcb) &&
	wait_for 30 grep -q start run-data/slow.log &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 10 test -s run-data/serve.status &&
	synthflow --data run-data runs show "$run" --json | jq -e ".callbacks[0].state == \"running\"" &&
	start_serve &&
	wait_for 30 count_in run-data/slow.log start 2 &&
	touch run-data/release &&
	wait_for 30 settled "$run" && sleep 1 &&
	cat run-data/slow.log &&
	same "$(grep -c start run-data/slow.log) $(grep -c done run-data/slow.log)" "2 1" &&
	synthflow --data run-data runs show "$run" --json >r.json &&
	jq -e ".callbacks[0] | .state == \"redelivered\" and .attempts == 2 and .redelivered and .exit_code == 0" r.json &&
	grep -q "run again" "$(jq -r ".callbacks[0].log" r.json)" &&
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" >m.txt &&
	must_contain m.txt "^synthflow_deliveries_total{kind=\"callback\",result=\"redelivered\"} 1$" &&
	stop_serve
'

test_done
