#!/usr/bin/env bash
# Item 8 of the events issue: the trigger rules none_failed_min_one_success,
# none_skipped, all_skipped and one_done (Airflow's meaning) in real runs, and
# skip_exit_code (a task ends itself skipped).
. "$(dirname "$0")/../lib.sh"

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
}

state() {
	jq -r --arg t "$2" '.tasks[] | select(.task_id == $t) | .state' "$1"
}

field() {
	jq -r --arg t "$2" ".tasks[] | select(.task_id == \$t) | .$3" "$1"
}

expect_success 'the four rules against success, failure and skipped upstreams' '
	setup &&
	cat >run-data/src/t/dags/rules2.yaml <<-\YAML &&
	tasks:
	  ok: {run: "true"}
	  bad: {run: "exit 1"}
	  skip: {foreach: "{{ run.dir }}/nothing/*", run: "true"}
	  skip99: {run: "exit 99", skip_exit_code: 99}
	  uf: {needs: [bad], run: "true"}
	  nfmos_run:   {needs: [ok, skip], trigger: none_failed_min_one_success, run: "true"}
	  nfmos_skip:  {needs: [skip, skip99], trigger: none_failed_min_one_success, run: "true"}
	  nfmos_fail:  {needs: [ok, bad], trigger: none_failed_min_one_success, run: "true"}
	  nfmos_uf:    {needs: [ok, uf], trigger: none_failed_min_one_success, run: "true"}
	  ns_run:      {needs: [ok, bad], trigger: none_skipped, run: "true"}
	  ns_skip:     {needs: [ok, skip], trigger: none_skipped, run: "true"}
	  as_run:      {needs: [skip, skip99], trigger: all_skipped, run: "true"}
	  as_skip_ok:  {needs: [ok, skip], trigger: all_skipped, run: "true"}
	  as_skip_bad: {needs: [bad, skip], trigger: all_skipped, run: "true"}
	  od_run_bad:  {needs: [bad, skip], trigger: one_done, run: "true"}
	  od_run_ok:   {needs: [ok, skip99], trigger: one_done, run: "true"}
	  od_skip:     {needs: [skip, skip99], trigger: one_done, run: "true"}
	  od_skip_uf:  {needs: [uf], trigger: one_done, run: "true"}
	YAML
	test_exit 1 synthflow test rules2 --json >out.json &&
	for t in nfmos_run ns_run as_run od_run_bad od_run_ok; do
		test "$(state out.json $t)" = success || { echo "$t: $(state out.json $t)"; exit 1; }
	done &&
	for t in skip99 nfmos_skip ns_skip as_skip_ok as_skip_bad od_skip od_skip_uf; do
		test "$(state out.json $t)" = skipped || { echo "$t: $(state out.json $t)"; exit 1; }
	done &&
	for t in nfmos_fail nfmos_uf; do
		test "$(state out.json $t)" = upstream_failed || { echo "$t: $(state out.json $t)"; exit 1; }
	done
'

expect_success 'skip_exit_code: no retry, the branch is skipped, the join runs, the run succeeds' '
	setup &&
	cat >run-data/src/t/dags/skipper.yaml <<-\YAML &&
	tasks:
	  check: {run: "echo nothing to do; exit 99", skip_exit_code: 99, retries: 2}
	  train: {needs: [check], run: "touch {{ run.dir }}/trained"}
	  prep:  {run: "true"}
	  join:  {needs: [train, prep], trigger: none_failed_min_one_success, run: "true"}
	YAML
	synthflow test skipper --json >out.json &&
	test "$(jq -r .state out.json)" = success &&
	test "$(state out.json check)" = skipped &&
	test "$(field out.json check try)" = 1 &&
	test "$(field out.json check exit_code)" = 99 &&
	must_contain out.json "skip_exit_code" &&
	test "$(state out.json train)" = skipped &&
	test "$(state out.json join)" = success &&
	! test -e run-data/generated/skipper/*/trained &&
	synthflow tasks logs "$(jq -r .run_id out.json)" check >log &&
	must_contain log "nothing to do"
'

expect_success 'another exit code still fails and is retried; 99 without the key fails' '
	setup &&
	cat >run-data/src/t/dags/skipfail.yaml <<-\YAML &&
	tasks:
	  other: {run: "exit 3", skip_exit_code: 99, retries: 1}
	  plain: {run: "exit 99"}
	YAML
	test_exit 1 synthflow test skipfail --json >out.json &&
	test "$(state out.json other)" = failed &&
	test "$(field out.json other try)" = 2 &&
	test "$(state out.json plain)" = failed
'

expect_success 'a timeout is never a skip, even when the code matches' '
	setup &&
	cat >run-data/src/t/dags/skiptime.yaml <<-\YAML &&
	tasks:
	  slow: {run: "trap \"exit 99\" TERM; sleep 30 & wait", skip_exit_code: 99, timeout: 300ms}
	YAML
	test_exit 1 synthflow test skiptime --json >out.json &&
	test "$(state out.json slow)" = failed &&
	must_contain out.json "timed out"
'

expect_success 'bad skip_exit_code values are diagnostics with file:line:col' '
	cat >zero.yaml <<-\YAML &&
	tasks:
	  a: {run: "true", skip_exit_code: 0}
	YAML
	test_exit 1 synthflow dags validate zero.yaml 2>err &&
	must_contain err "^zero.yaml:2:.*skip_exit_code.* must be between 1 and 255" &&
	cat >big.yaml <<-\YAML &&
	tasks:
	  a:
	    run: "true"
	    skip_exit_code: 300
	YAML
	test_exit 1 synthflow dags validate big.yaml 2>err &&
	must_contain err "^big.yaml:4:21: error: .skip_exit_code. must be between 0 and 255" &&
	cat >batch.yaml <<-\YAML &&
	tasks:
	  a: {foreach: "x*", batch: 4, run: "true", skip_exit_code: 9}
	YAML
	test_exit 1 synthflow dags validate batch.yaml 2>err &&
	must_contain err "^batch.yaml:2:.*does not apply to a .batch. task" &&
	cat >rule.yaml <<-\YAML &&
	tasks:
	  a: {run: "true"}
	  b: {needs: [a], trigger: one_don, run: "true"}
	YAML
	test_exit 1 synthflow dags validate rule.yaml 2>err &&
	must_contain err "one_done"
'

test_done
