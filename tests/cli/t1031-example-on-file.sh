#!/usr/bin/env bash
# The example DAG's on_file (examples/ppp-audio, docs/events.md): a
# Clipper-style dataset folder copied into downloaded/ while serve runs
# becomes exactly one run of ppp-preprocess with dataset = the folder's name.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
TEST_STORE_SHARED=0

runs_total() { synthflow runs list ppp-preprocess --limit 0 --json | jq .total; }

expect_success 'a dataset folder copied into downloaded/ runs the example once, on that folder' '
	synthflow init >/dev/null && cp -R "$SRC_ROOT/examples/ppp-audio" run-data/src/ &&
	synthflow dags validate >v && must_contain v "1 DAG(s) valid" &&
	web_start run-data &&
	sh run-data/src/ppp-audio/scripts/make-sample-dataset.sh "stage/My Set.clipper" 4 >/dev/null &&
	cp -R "stage/My Set.clipper" run-data/downloaded/ &&
	wait_for 120 sh -c "test \"\$(synthflow runs list ppp-preprocess --json | jq .total)\" -ge 1" &&
	run=$(synthflow runs list ppp-preprocess --json | jq -r ".runs[0].run_id") &&
	synthflow runs show $run --json | jq -e ".params.dataset == \"My Set.clipper\"" &&
	wait_for 300 sh -c "synthflow runs show $run --json | jq -e \".state == \\\"success\\\"\"" &&
	test -s "run-data/uploadable/My Set.clipper/filelist_train.txt" &&
	synthflow files --json >f.json &&
	jq -e "map(select(.dag_id == \"ppp-preprocess\")) | length == 1 and .[0].path == \"My Set.clipper\" and .[0].run_id == \"$run\"" f.json &&
	test "$(runs_total)" -eq 1 &&
	web_stop run-data
'

test_done
