#!/usr/bin/env bash
# runs diff and the API behind the UI's Compare view: params and variables
# that differ, per task instance the outputs whose hashes differ (instances
# matched by foreach item across run folders), durations side by side.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

setup() {
	synthflow init >/dev/null &&
	mkdir -p run-data/src/rep/dags &&
	cp "$TEST_ROOT/cli/data/replication/prov.yaml" run-data/src/rep/dags/ &&
	synthflow test prov -p word=hello --json >a.json &&
	synthflow vars set colour blue >/dev/null &&
	synthflow test prov -p word=howdy --json >b.json &&
	A=$(python3 -c "import json; print(json.load(open(\"a.json\"))[\"run_id\"])") &&
	B=$(python3 -c "import json; print(json.load(open(\"b.json\"))[\"run_id\"])")
}

expect_success 'runs diff: params, variables, outputs that differ, durations' '
	setup &&
	synthflow runs diff "$A" "$B" >out &&
	must_contain out "^param word: \"hello\" -> \"howdy\"$" &&
	must_contain out "^var colour: null -> \"blue\"$" &&
	must_contain out "^copy\[in/f2.txt\] *success *success .* 1 of 1 differ$" &&
	must_contain out "^plain *success *success *[0-9.]*s *[0-9.]*s$" &&
	must_contain out "^1 params, 1 variables and 7 outputs differ$" &&
	synthflow runs diff "$A" "$A" >same &&
	must_contain same "^0 params, 0 variables and 0 outputs differ$" &&
	synthflow runs diff "$A" "$B" --json >d.json &&
	python3 - <<-\PY
	import json
	d = json.load(open("d.json"))
	assert d["params"] == {"word": ["hello", "howdy"]}, d["params"]
	assert d["vars"] == {"colour": [None, "blue"]}
	t = {x["key"]: x for x in d["tasks"]}
	assert sorted(t) == ["copy[in/f1.txt]", "copy[in/f2.txt]", "copy[in/f3.txt]", "join", "make", "plain"], sorted(t)
	assert t["copy[in/f1.txt]"]["outputs_differ"] == ["uploadable/prov-f1.txt"]
	assert t["make"]["outputs_differ"] == ["generated/prov/{run}/in/f%d.txt" % i for i in (1, 2, 3)]
	assert all(isinstance(ms, int) and ms >= 0 for x in d["tasks"] for ms in x["duration_ms"])
	PY
'

expect_success 'runs diff names an unknown run' '
	setup &&
	test_exit 1 synthflow runs diff "$A" nope 2>err &&
	must_contain err "unknown run .nope." &&
	test_exit 2 synthflow runs diff "$A" 2>err
'

expect_success 'API: GET /runs/A/diff/B and /runs/R/provenance' '
	setup &&
	web_start "$TRASH/run-data" &&
	api GET "/api/v1/runs/$A/diff/$B" >d.json &&
	test "$(cat "$TRASH/status")" = 200 &&
	python3 -c "
import json
d = json.load(open(\"d.json\"))
assert d[\"params\"] == {\"word\": [\"hello\", \"howdy\"]} and len(d[\"tasks\"]) == 6, d
" &&
	api GET "/api/v1/runs/$A/diff/nope" >/dev/null &&
	test "$(cat "$TRASH/status")" = 404 &&
	api GET "/api/v1/runs/$B/provenance" >p.json &&
	test "$(cat "$TRASH/status")" = 200 &&
	python3 -c "
import json
p = json.load(open(\"p.json\"))[\"provenance\"]
assert p[\"vars\"] == {\"colour\": \"blue\"} and p[\"params\"] == {\"word\": \"howdy\"}, p
" &&
	web_stop "$TRASH/run-data"
'

test_done
