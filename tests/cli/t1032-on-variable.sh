#!/usr/bin/env bash
# on_variable (docs/events.md): a change of a matching variable starts
# exactly one run per DAG with params.variable = the key, written in the same
# transaction as the change; paused DAGs and unchanged values start nothing;
# the run sees the new value.  Bad on_variable declarations are DAG errors.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
TEST_STORE_SHARED=0

setup() {
	synthflow init >/dev/null && mkdir -p run-data/src/t/dags &&
	cat >run-data/src/t/dags/model.yaml <<-'YAML'
	params:
	  variable: {type: string}
	  size: {type: integer, default: 3}
	on_variable: "model_*"
	tasks:
	  show:
	    run: echo {{ params.variable }}={{ vars.model_voice }} >{{ run.dir }}/seen
	YAML
	cat >run-data/src/t/dags/any.yaml <<-'YAML'
	params:
	  variable: {type: string}
	on_variable: "*"
	tasks:
	  a: {run: "true"}
	YAML
}

runs_of() { synthflow runs list "$1" --limit 0 --json | jq .total; }

expect_success 'a matching change starts one run per DAG, with the key and the new value' '
	setup &&
	synthflow vars set model_voice twilight 2>err &&
	must_contain err "run .* of DAG .model. (on_variable)" &&
	must_contain err "run .* of DAG .any. (on_variable)" &&
	test "$(runs_of model)" -eq 1 && test "$(runs_of any)" -eq 1 &&
	run=$(synthflow runs list model --json | jq -r ".runs[0].run_id") &&
	synthflow runs show $run --json >r.json &&
	jq -e ".params == {\"variable\": \"model_voice\", \"size\": 3} and .vars == {\"model_voice\": \"twilight\"} and .state == \"queued\" and .trigger == \"variable\" and .scheduled_for == null" r.json &&
	synthflow vars history model_voice --json >h.json &&
	jq -e "length == 1 and (.[0].runs | map(.dag_id) | sort) == [\"any\", \"model\"] and
	       (.[0].runs[] | select(.dag_id == \"model\") | .run_id) == \"$run\"" h.json &&
	synthflow vars set other 1 2>err && test "$(runs_of model)" -eq 1 && test "$(runs_of any)" -eq 2 &&
	synthflow vars set other 1 2>err && test "$(runs_of any)" -eq 2 && test ! -s err &&
	synthflow vars unset other 2>err && test "$(runs_of any)" -eq 3
'

expect_success 'the run started by a change runs under serve and sees the value it was started by' '
	setup &&
	web_start run-data &&
	synthflow vars set model_voice rarity &&
	run=$(synthflow runs list model --json | jq -r ".runs[0].run_id") &&
	synthflow vars set model_voice applejack &&
	wait_for 60 test -s run-data/generated/model/$run/seen &&
	test "$(cat run-data/generated/model/$run/seen)" = model_voice=rarity &&
	web_stop run-data
'

expect_success 'a paused DAG starts nothing on a change; unpaused it does again' '
	setup &&
	synthflow dags pause model &&
	synthflow vars set model_voice a &&
	test "$(runs_of model)" -eq 0 && test "$(runs_of any)" -eq 1 &&
	synthflow vars history model_voice --json | jq -e ".[0].runs | map(.dag_id) == [\"any\"]" &&
	synthflow dags unpause model &&
	test "$(runs_of model)" -eq 0 &&
	synthflow vars set model_voice b &&
	test "$(runs_of model)" -eq 1
'

expect_success 'concurrent changes: each change starts exactly one run' '
	setup && rm run-data/src/t/dags/model.yaml &&
	for i in $(seq 20); do synthflow vars set k$((i % 4)) v$i 2>err.$i & done; wait &&
	# each says only which runs it started; anything else is why one failed
	{ ! grep -hv "^variable .k[0-3]. changed: run [0-9a-fT-]* of DAG .any. (on_variable)$" err.* || exit 1; } &&
	test "$(runs_of any)" -eq "$(for k in k0 k1 k2 k3; do synthflow vars history $k --json | jq length; done | paste -sd+ | bc)" &&
	test "$(runs_of any)" -eq 20
'

expect_success 'on_variable mistakes are DAG errors with file:line:col' '
	synthflow init >/dev/null && mkdir -p run-data/src/t/dags &&
	printf "on_variable: \"*\"\ntasks:\n  a: {run: \"true\"}\n" >run-data/src/t/dags/noparam.yaml &&
	printf "params:\n  variable: {type: integer}\non_variable: \"*\"\ntasks:\n  a: {run: \"true\"}\n" >run-data/src/t/dags/badtype.yaml &&
	printf "params:\n  variable: {type: string}\n  n: {type: integer}\non_variable: \"*\"\ntasks:\n  a: {run: \"true\"}\n" >run-data/src/t/dags/required.yaml &&
	printf "params:\n  variable: {type: string}\non_variable: \"a b\"\ntasks:\n  a: {run: \"true\"}\n" >run-data/src/t/dags/badglob.yaml &&
	test_exit 1 synthflow dags validate >out 2>&1; cat out &&
	must_contain out "noparam.yaml:1:14: error: .on_variable. gives the changed variable.s name to the param .variable." &&
	must_contain out "badtype.yaml:3:14: error: .on_variable. gives" &&
	must_contain out "required.yaml:4:14: error: required param .n. has no value in runs started by on_variable" &&
	must_contain out "badglob.yaml:3:14: error: .on_variable. must be a glob of variable names" &&
	synthflow vars set x 1 2>err && test "$(synthflow runs list --limit 0 --json | jq .total)" -eq 0
'

test_done
