#!/usr/bin/env bash
# synthflow serve with trigger, runs, tasks clear/logs, vars: a daemon in the
# background, driven from the CLI.
. "$(dirname "$0")/../lib.sh"

DATA=$SRC_ROOT/tests/cli/data/engine

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	for d in "$@"; do cp "$DATA/$d.yaml" run-data/src/t/dags/; done
}

# serve_start, serve_stop and wait_state: tests/lib.sh.

ms() { date -d "$1" +%s%3N; }

expect_success 'a triggered run starts within 100 ms and succeeds' '
	setup order && trap serve_stop EXIT && serve_start &&
	best=100000 &&
	for i in 1 2 3; do
		run=$(synthflow trigger order) &&
		wait_state "$run" success &&
		synthflow runs show "$run" --json >r.json &&
		d=$(( $(ms "$(jq -r .started_at r.json)") - $(ms "$(jq -r .created_at r.json)") )) &&
		echo "trigger to start: $d ms" &&
		if [ "$d" -lt "$best" ]; then best=$d; fi
	done &&
	test "$best" -lt 100
'

expect_success 'trigger prints only the run id; --wait gives the result' '
	setup order exhausted rules && trap serve_stop EXIT && serve_start &&
	synthflow trigger order >out &&
	test "$(wc -l <out)" = 1 && grep -q "^[0-9T]*-[0-9a-f]*$" out &&
	synthflow trigger order --wait >/dev/null &&
	test_exit 1 synthflow trigger rules --wait >/dev/null &&
	synthflow runs list >list && must_contain list "order" && must_contain list "rules" &&
	synthflow runs list order --json >l.json &&
	test "$(jq -r .total l.json)" = 2 &&
	test "$(jq -r ".runs[0].dag_id" l.json)" = order &&
	synthflow runs list rules --limit 1 --json >l.json && test "$(jq ".runs | length" l.json)" = 1 &&
	test_exit 1 synthflow runs list ordr 2>err && must_contain err "did you mean .order."
'

expect_success 'trigger checks params and DAG ids before queueing' '
	setup typed && trap serve_stop EXIT &&
	test_exit 1 synthflow trigger typed -p file=x -p rate=1 2>err && must_contain err "rate" &&
	test_exit 2 synthflow trigger typed -p =x 2>err &&
	test_exit 1 synthflow trigger typd 2>err && must_contain err "did you mean .typed." &&
	synthflow runs list --json >l.json && test "$(jq -r .total l.json)" = 0
'

expect_success 'runs cancel kills the running task and ends the run cancelled' '
	setup sleepy && trap serve_stop EXIT && serve_start &&
	run=$(synthflow trigger sleepy) &&
	for i in $(seq 200); do test -f run-data/generated/sleepy/$run/long.started && break; sleep 0.05; done &&
	synthflow runs cancel "$run" >out && must_contain out "cancel" &&
	wait_state "$run" cancelled &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"long\") | .state" r.json)" = cancelled &&
	test "$(jq -r ".tasks[] | select(.task_id == \"after\") | .state" r.json)" = cancelled &&
	test "$(jq -r ".tasks[] | select(.task_id == \"first\") | .state" r.json)" = success &&
	pid=$(cat run-data/generated/sleepy/$run/long.started) &&
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done &&
	! kill -0 "$pid" 2>/dev/null &&
	test_exit 1 synthflow runs cancel "$run" 2>err && must_contain err "already ended"
'

expect_success 'runs cancel without a scheduler ends a queued run' '
	setup order &&
	run=$(synthflow trigger order) &&
	synthflow runs cancel "$run" >/dev/null &&
	test "$(synthflow runs show "$run" --json | jq -r .state)" = cancelled
'

expect_success 'tasks clear --downstream runs the task and its downstream again' '
	setup chain3 && trap serve_stop EXIT && serve_start &&
	run=$(synthflow trigger chain3 --wait) &&
	synthflow tasks clear "$run" b --downstream >out && must_contain out "downstream" &&
	for i in $(seq 200); do
		test "$(grep -c . run-data/generated/chain3/$run/log)" -ge 6 && break; sleep 0.05
	done &&
	wait_state "$run" success &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"a\") | .try" r.json)" = 1 &&
	test "$(jq -r ".tasks[] | select(.task_id == \"b\") | .try" r.json)" = 2 &&
	test "$(jq -r ".tasks[] | select(.task_id == \"c\") | .try" r.json)" = 2 &&
	test "$(jq -r ".tasks[] | select(.task_id == \"other\") | .try" r.json)" = 1 &&
	test "$(grep -c "^b$" run-data/generated/chain3/$run/log)" = 2 &&
	test "$(grep -c "^a$" run-data/generated/chain3/$run/log)" = 1 &&
	synthflow tasks logs "$run" b --try 1 >l && must_contain l "^b$" &&
	synthflow tasks logs "$run" b --try 2 >l && must_contain l "^b$"
'

expect_success 'tasks clear without --downstream runs only that task' '
	setup chain3 && trap serve_stop EXIT && serve_start &&
	run=$(synthflow trigger chain3 --wait) &&
	synthflow tasks clear "$run" a >/dev/null &&
	for i in $(seq 200); do
		test "$(grep -c "^a$" run-data/generated/chain3/$run/log)" = 2 && break; sleep 0.05
	done &&
	wait_state "$run" success &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"b\") | .try" r.json)" = 1 &&
	test_exit 1 synthflow tasks clear "$run" zz 2>err && must_contain err "unknown task"
'

expect_success 'a cleared run without a scheduler waits for serve' '
	setup chain3 &&
	run=$(synthflow test chain3) &&
	synthflow tasks clear "$run" c >/dev/null &&
	test "$(synthflow runs show "$run" --json | jq -r .state)" = queued &&
	trap serve_stop EXIT && serve_start &&
	wait_state "$run" success &&
	test "$(synthflow runs show "$run" --json | jq -r ".tasks[] | select(.task_id == \"c\") | .try")" = 2
'

expect_success 'only one serve per data folder (SQLite)' '
	if [ -n "${SYNTHFLOW_FLOW_STORE:-}" ]; then
		# several serves share a PostgreSQL store: t1201 and t1203 test that
		echo "SQLite only" >"$TRASH/.skip" && exit 77
	fi &&
	setup order && trap serve_stop EXIT && serve_start &&
	test_exit 1 synthflow serve 2>err && must_contain err "another .synthflow serve. is running"
'

until_held() { for _ in $(seq 100); do test -e held && return 0; sleep 0.1; done; return 1; }

# A task being started holds a copy of serve.lock's descriptor until its
# exec: a serve killed then leaves its lock held for a moment after it is
# gone, and the next serve must wait for it, not refuse to start.  flock(1)
# stands in for that child, holding the lock under the pid of a serve that is
# gone (a process started and waited for here).
expect_success 'serve waits for a lock its gone predecessor left held; refuses when it stays held' '
	if [ -n "${SYNTHFLOW_FLOW_STORE:-}" ]; then
		echo "SQLite only" >"$TRASH/.skip" && exit 77
	fi &&
	setup order && mkdir -p run-data/flow &&
	dead=$(sh -c "echo \$\$") && ! kill -0 "$dead" 2>/dev/null &&
	echo "$dead" >run-data/flow/serve.lock &&
	{ flock -x run-data/flow/serve.lock sh -c "touch held; sleep 1" & } &&
	until_held &&
	trap serve_stop EXIT && serve_start &&
	test "$(cat run-data/flow/serve.lock)" = "$(cat serve.pid)" &&
	serve_stop && trap - EXIT &&
	echo "$dead" >run-data/flow/serve.lock && rm -f held &&
	{ flock -x run-data/flow/serve.lock sh -c "touch held; exec sleep 30" & } && holder=$! &&
	until_held &&
	test_exit 1 synthflow serve 2>err && kill $holder &&
	must_contain err "though the .synthflow serve. that took it (pid $dead) is gone"
'

expect_success 'serve stopped mid-task runs the task again when it restarts' '
	setup sleepy && trap serve_stop EXIT && serve_start &&
	run=$(synthflow trigger sleepy) &&
	for i in $(seq 200); do test -f run-data/generated/sleepy/$run/long.started && break; sleep 0.05; done &&
	serve_stop &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"long\") | .state" r.json)" = queued &&
	rm run-data/generated/sleepy/$run/long.started &&
	serve_start &&
	for i in $(seq 200); do test -f run-data/generated/sleepy/$run/long.started && break; sleep 0.05; done &&
	test -f run-data/generated/sleepy/$run/long.started &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"long\") | .try" r.json)" = 2 &&
	synthflow runs cancel "$run" >/dev/null && wait_state "$run" cancelled
'

expect_success 'max_active_runs keeps the second run queued until the first ends' '
	setup onerun && trap serve_stop EXIT && serve_start &&
	r1=$(synthflow trigger onerun) && r2=$(synthflow trigger onerun) &&
	wait_state "$r2" success &&
	e1=$(ms "$(synthflow runs show "$r1" --json | jq -r .ended_at)") &&
	s2=$(ms "$(synthflow runs show "$r2" --json | jq -r .started_at)") &&
	test "$s2" -ge "$e1"
'

expect_success 'vars set, get, list, unset' '
	synthflow init >/dev/null &&
	synthflow vars set model "lj speech" &&
	synthflow vars set k2 v2 &&
	test "$(synthflow vars get model)" = "lj speech" &&
	synthflow vars list >l && must_contain l "^model=lj speech$" && must_contain l "^k2=v2$" &&
	synthflow vars list --json >l.json && test "$(jq -r .k2 l.json)" = v2 &&
	synthflow vars unset k2 &&
	test_exit 1 synthflow vars get k2 2>err && must_contain err "not set" &&
	test_exit 1 synthflow vars unset k2 2>err &&
	test_exit 2 synthflow vars set onlykey 2>err &&
	test_exit 2 synthflow vars bogus 2>err &&
	test_exit 2 synthflow vars set "bad key" v 2>err
'

expect_success 'a run whose DAG became invalid fails with a reason' '
	setup order &&
	run=$(synthflow trigger order) &&
	echo "tasks: {a: {needs: [nope], run: x}}" >run-data/src/t/dags/order.yaml &&
	trap serve_stop EXIT && serve_start &&
	wait_state "$run" failed &&
	synthflow runs show "$run" --json >r.json &&
	jq -r .reason r.json | grep -q "cannot be loaded"
'

test_done
