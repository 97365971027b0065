#!/usr/bin/env bash
# The replication pages of the UI in a real browser (Debian's chromium
# driven by playwright-core, tests/e2e/replication.js): a DAG whose first
# task is cached runs twice with different params and its first run is
# replayed from its bundle in the same folder; then the second run's
# "cached" mark, the cached instance's log page and its link to the run
# that produced the outputs, the Compare view of the two runs (as the diff
# API gives it) and the replay's report page (as its provenance holds it).
# Screenshots: $TEST_OUT/t1116-replication-ui/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"
. "$TEST_ROOT/e2e/lib-browser.sh"

SHOTS=$TEST_OUT_BASE/t1116-replication-ui
mkdir -p "$SHOTS"

browser_ready

DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
mkdir -p "$DATA/src/rep/dags"
# a's log holds markup, which the log page must show as text
cat >"$DATA/src/rep/dags/rep.yaml" <<-\X
id: rep
params:
  word: {type: string, default: one}
tasks:
  a:
    cache: true
    run: mkdir -p {{ data }}/uploadable/rep && echo "making a <b>bold</b>" && echo alpha >{{ data }}/uploadable/rep/a.txt
    outputs: [uploadable/rep/a.txt]
  b:
    needs: [a]
    run: echo {{ params.word }} >{{ data }}/uploadable/rep/b.txt
    outputs: [uploadable/rep/b.txt]
X
git -C "$DATA/src/rep" init -q && git -C "$DATA/src/rep" add -A &&
	git -C "$DATA/src/rep" -c user.email=t@t -c user.name=t commit -qm rep

expect_success 'run, pack, run again with another word (a cached), replay the first run' '
	synthflow --data "$DATA" test rep --json >r1.json && r1=$(jq -r .run_id r1.json) &&
	synthflow --data "$DATA" pack "$r1" -o one.sfpack >/dev/null &&
	synthflow --data "$DATA" test rep -p word=two --json >r2.json && r2=$(jq -r .run_id r2.json) &&
	jq -e "[.tasks[] | [.task_id, .cached]] == [[\"a\", true], [\"b\", false]]" r2.json &&
	synthflow replay one.sfpack --data "$DATA" >report &&
	must_contain report "2 identical, 0 different, 0 missing, 0 extra" &&
	r3=$(synthflow --data "$DATA" runs list --json | jq -r ".runs[0].run_id") &&
	test "$r3" != "$r2" && echo "$r1 $r2 $r3" >"$TRASH_BASE/runs"
'
read -r R1 R2 R3 <"$TRASH_BASE/runs"

web_start "$DATA" || { echo "not ok - serve did not start"; exit 1; }

expect_success 'the cached mark, the cached log, Compare and the replay report in the browser' '
	curl -sf -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$R1/diff/$R2" >diff.json &&
	jq -e ".params.word == [\"one\", \"two\"]" diff.json &&
	curl -sf -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$R3/provenance" >replay.json &&
	jq -e ".provenance.replay.identical == true and (.provenance.replay.files | length) == 2" replay.json &&
	timeout 240 node "$TEST_ROOT/e2e/replication.js" "$WEB_BASE/?token=$WEB_TOKEN" "$SHOTS" \
		"$R1" "$R2" "$R3" diff.json replay.json >out 2>&1 || { cat out; exit 1; }
	cat out && grep -q "replication browser test passed" out &&
	for s in cached-run cached-log compare replay; do test -s "$SHOTS/$s.png" || exit 1; done
'

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

test_done
