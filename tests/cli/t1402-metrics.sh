#!/usr/bin/env bash
# Per-item metrics: what tasks write to $SF_METRICS is stored with the task
# instance, shown by 'runs show --json' and served (filtered, sorted, paged)
# by GET /api/v1/runs/{run}/metrics of a real 'synthflow serve'.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

SIG="python3 $TEST_ROOT/cli/audio-signals.py"
DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
mkdir -p "$DATA/src/m/dags" "$DATA/downloaded/clips/a"
$SIG tone "$DATA/downloaded/clips/a/00_00_01_Fluttershy_Happy__Hi.wav" 22050 1 440 -20
$SIG tone "$DATA/downloaded/clips/a/00_00_02_Rarity_Sad__Oh.wav" 22050 0.5 440 -35
$SIG tone "$DATA/downloaded/clips/00_00_03_Fluttershy_Neutral__Hm.wav" 22050 2 300 -40
cat >"$DATA/src/m/dags/metrics.yaml" <<'YAML'
id: metrics
tasks:
  each:
    foreach: "{{ data }}/downloaded/clips/**/*.wav"
    run: synthflow audio stats {{ item }}
  lines:
    run: >-
      sh -c 'printf "%s\n" "{\"item\": \"x\", \"n\": 3, \"tag\": \"Big\"}" "not json"
      "" "{\"n\": 10, \"tag\": \"small\"}" "{\"n\": -1}" >"$SF_METRICS"'
YAML
# esc: a key spelled with a JSON escape; `hold` keeps the run active (so
# the store answers its queries) until the test creates the file it waits for
cat >"$DATA/src/m/dags/esc.yaml" <<'YAML'
id: esc
tasks:
  lines:
    run: >-
      printf "%s\n" "{\"k\\u0065y\": 5, \"item\": \"a\"}" "{\"key\": 1, \"item\": \"b\"}"
      "{\"k\\u0065y\": 3, \"item\": \"c\"}" >"$SF_METRICS"
  hold:
    needs: [lines]
    timeout: 2m
    run: while [ ! -e "{{ data }}/release-esc" ]; do sleep 0.1; done
YAML

expect_success 'test stores the metrics; runs show --json has them' '
	synthflow --data "$DATA" test metrics >out 2>err &&
	run=$(head -n1 out) && echo "$run" >"$DATA/run-id" &&
	synthflow --data "$DATA" runs show "$run" --json >show &&
	test "$(jq ".metrics | length" show)" = 6 &&
	test "$(jq -r "[.metrics[] | select(.task_id == \"each\") | .metrics.rate] | unique | join(\",\")" show)" = 22050 &&
	jq -e ".metrics[] | select(.task_id == \"each\" and .index == 0) | .item | endswith(\"00_00_03_Fluttershy_Neutral__Hm.wav\")" show &&
	test "$(jq "[.metrics[] | select(.task_id == \"lines\")] | length" show)" = 3 &&
	jq -e ".metrics[] | select(.task_id == \"lines\" and .metrics.n == 3) | .item == \"x\" and .index == null" show &&
	log=$(ls "$DATA"/flow/logs/metrics/$run/lines/try-1.log) &&
	must_contain "$log" "1 line(s) are not JSON objects and are skipped (the first is line 2)"
'

web_start "$DATA" || { echo "not ok 2 - serve did not start"; exit 1; }
RUN=$(cat "$DATA/run-id")

expect_success 'serve reads the newest finished run with metrics into memory as it starts' '
	wait_for 60 grep -q "dataset view: run .$RUN. read into memory (6 lines, [0-9]* ms)" "$DATA/serve.err"
'

expect_success 'GET /api/v1/runs/{run}/metrics filters, sorts and pages on the server' '
	api GET "/api/v1/runs/$RUN/metrics" >all && expect_status 200 &&
	test "$(jq .total all)" = 6 && test "$(jq ".items | length" all)" = 6 &&
	api GET "/api/v1/runs/$RUN/metrics?task=each&sort=-duration" >s && expect_status 200 &&
	test "$(jq -r "[.items[].metrics.duration] | join(\",\")" s)" = "2,1,0.5" &&
	api GET "/api/v1/runs/$RUN/metrics?task=each&filter=item~fluttershy,duration>1.5" >f &&
	test "$(jq .total f)" = 1 && jq -e ".items[0].item | endswith(\"Hm.wav\")" f &&
	api GET "/api/v1/runs/$RUN/metrics?filter=peak_db<-30&sort=peak_db" >p &&
	test "$(jq -r "[.items[].metrics.peak_db | round] | join(\",\")" p)" = "-40,-35" &&
	grep -q "\"peak_db\":-34.996," p &&
	api GET "/api/v1/runs/$RUN/metrics?task=lines&filter=n>=0&sort=n&limit=1&offset=1" >l &&
	test "$(jq .total l)" = 2 && test "$(jq ".items[0].metrics.n" l)" = 10 &&
	api GET "/api/v1/runs/$RUN/metrics?task=lines&filter=tag=small" >t && test "$(jq .total t)" = 1 &&
	api GET "/api/v1/runs/$RUN/metrics?task=lines&filter=tag>1" >t && test "$(jq .total t)" = 0
'

expect_success 'bad filters and sorts are 400 with the condition named; unknown run 404' '
	api GET "/api/v1/runs/$RUN/metrics?filter=duration" >b && expect_status 400 &&
	jq -r .error b | grep -q "filter condition .duration. has no operator" &&
	api GET "/api/v1/runs/$RUN/metrics?filter=a%27b=1" >b && expect_status 400 &&
	jq -r .error b | grep -q "bad filter condition" &&
	api GET "/api/v1/runs/$RUN/metrics?sort=-x.y" >b && expect_status 400 &&
	api GET "/api/v1/runs/$RUN/metrics?limit=x" >b && expect_status 400 &&
	api GET "/api/v1/runs/nope/metrics" >b && expect_status 404
'

metrics_total() {
	test "$(curl -s -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$1/metrics" | jq .total)" = "$2"
}

expect_success 'a key spelled with an escape is the key, in the store (active run) and in memory (finished)' '
	run=$(trigger esc) && test -n "$run" &&
	wait_for 60 metrics_total "$run" 3 &&
	test "$(run_state "$run")" = running &&
	api GET "/api/v1/runs/$run/metrics?filter=key>2&sort=-key" >active && expect_status 200 &&
	test "$(jq -c "[.total, [.items[].item]]" active)" = "[2,[\"a\",\"c\"]]" &&
	touch "$DATA/release-esc" &&
	wait_for 60 run_is "$run" success &&
	api GET "/api/v1/runs/$run/metrics?filter=key>2&sort=-key" >done && expect_status 200 &&
	test "$(jq -c "[.total, [.items[].item]]" done)" = "[2,[\"a\",\"c\"]]" &&
	synthflow --data "$DATA" runs show "$run" --json >show &&
	test "$(jq -c "[.metrics[].metrics.key]" show)" = "[5,1,3]"
'

expect_success 'a metrics file over 64 MB keeps its first 64 MB of whole lines, with a note' '
	printf "%s\n" "id: big" "tasks:" "  big:" "    run: python3 src/m/big.py" >"$DATA/src/m/dags/big.yaml" &&
	printf "%s\n" "import os" "line = \"{\\\"pad\\\": \\\"\" + \"x\" * 1000 + \"\\\"}\\n\"" \
		"open(os.environ[\"SF_METRICS\"], \"w\").write(line * 70000)" >"$DATA/src/m/big.py" &&
	synthflow --data "$DATA" test big >out 2>err &&
	run=$(head -n1 out) &&
	n=$(synthflow --data "$DATA" runs show "$run" --json | jq ".metrics | length") &&
	test "$n" = $(( (64 << 20) / 1012 )) &&
	must_contain "$DATA"/flow/logs/big/$run/big/try-1.log "only the first 64 MB are kept" &&
	must_not_contain "$DATA"/flow/logs/big/$run/big/try-1.log "cannot read"
'

test_done
