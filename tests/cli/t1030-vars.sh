#!/usr/bin/env bash
# Variables (docs/events.md): every set and unset is kept in the history;
# a run reads the snapshot taken when it was created, never the live values,
# also when serve is restarted (kill -9) in the middle of the run.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
# Each body has its own data folder, so its own store on PostgreSQL too.
TEST_STORE_SHARED=0

expect_success 'set and unset keep a history with old, new, time and source' '
	synthflow init >/dev/null &&
	synthflow vars set model tacotron &&
	synthflow vars set model tacotron &&
	synthflow vars set model "glow
tts" &&
	synthflow vars set other 1 &&
	synthflow vars unset model &&
	test_exit 1 synthflow vars unset model 2>err && must_contain err "variable .model. is not set" &&
	synthflow vars history model >h.txt && cat h.txt &&
	test "$(wc -l <h.txt)" -eq 3 &&
	must_contain h.txt "^20[0-9-]*T[0-9:.]*Z  cli  (unset) -> \"tacotron\"$" &&
	must_contain h.txt "Z  cli  \"tacotron\" -> \"glow\\\\ntts\"$" &&
	must_contain h.txt "Z  cli  \"glow\\\\ntts\" -> (unset)$" &&
	synthflow vars history model --json >h.json &&
	jq -e "length == 3 and .[0].old == null and .[0].new == \"tacotron\" and
	       .[1].new == \"glow\ntts\" and .[2].new == null and .[2].old == \"glow\ntts\" and
	       all(.[]; .source == \"cli\" and .key == \"model\" and .runs == [])" h.json &&
	jq -e "[.[].at] | . == sort" h.json &&
	synthflow vars history other --json | jq -e "length == 1" &&
	synthflow vars history never --json | jq -e ". == []" &&
	test_exit 2 synthflow vars history "bad key" 2>err && must_contain err "bad variable name" &&
	test_exit 2 synthflow vars history 2>err
'

# A DAG whose first task waits for a file, so that variables can change while it runs.
snap_dag() {
	mkdir -p run-data/src/t/dags &&
	cat >run-data/src/t/dags/snap.yaml <<-'YAML'
	tasks:
	  wait:
	    run: echo {{ vars.model }} >{{ run.dir }}/first; while ! test -e {{ run.dir }}/go; do sleep 0.05; done
	  use:
	    needs: [wait]
	    run: echo {{ vars.model }} >{{ run.dir }}/second
	YAML
}

expect_success 'a run uses the variables of its creation, not those of later changes' '
	synthflow init >/dev/null && snap_dag &&
	synthflow vars set model one &&
	{ synthflow test snap >test.out 2>&1 & } &&
	wait_for 60 sh -c "ls run-data/generated/snap/*/first" &&
	dir=$(echo run-data/generated/snap/*) &&
	synthflow vars set model two && synthflow vars set extra yes &&
	touch $dir/go && wait &&
	test "$(cat $dir/first)" = one && test "$(cat $dir/second)" = one &&
	run=$(basename $dir) &&
	synthflow runs show $run --json | jq -e ".vars == {\"model\": \"one\"}"
'

expect_success 'a queued run keeps its snapshot until serve starts it, also after kill -9 of serve' '
	synthflow init >/dev/null && snap_dag &&
	synthflow vars set model queued &&
	synthflow trigger snap >trig.out 2>&1 &&
	run=$(synthflow runs list snap --json | jq -r ".runs[0].run_id") &&
	synthflow vars set model changed &&
	web_start run-data &&
	wait_for 60 test -e run-data/generated/snap/$run/first &&
	kill -9 "$(cat run-data/serve.pid)" && wait_for 20 test -s run-data/serve.status &&
	synthflow vars set model after-crash && synthflow vars set extra later &&
	web_start run-data &&
	touch run-data/generated/snap/$run/go &&
	wait_for 60 test -s run-data/generated/snap/$run/second &&
	test "$(cat run-data/generated/snap/$run/first)" = queued &&
	test "$(cat run-data/generated/snap/$run/second)" = queued &&
	synthflow runs show $run --json | jq -e ".vars == {\"model\": \"queued\"}" &&
	web_stop run-data
'

expect_success 'a variable unset after the run was created is still seen by it; a new one is not' '
	synthflow init >/dev/null && snap_dag &&
	cat >>run-data/src/t/dags/snap.yaml <<-'"'"'YAML'"'"' &&
	  late:
	    needs: [use]
	    run: echo {{ vars.extra }}
	YAML
	synthflow vars set model kept &&
	{ { synthflow test snap >test.out 2>&1; echo $? >test.rc; } & } &&
	wait_for 60 sh -c "ls run-data/generated/snap/*/first" &&
	dir=$(echo run-data/generated/snap/*) &&
	synthflow vars unset model && synthflow vars set extra new &&
	touch $dir/go && wait_for 60 test -s test.rc &&
	test "$(cat $dir/second)" = kept &&
	test "$(cat test.rc)" -ne 0 && must_contain test.out "variable .extra. is not set" &&
	synthflow runs show $(basename $dir) --json | jq -e ".vars == {\"model\": \"kept\"}"
'

test_done
