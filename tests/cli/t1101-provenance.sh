#!/usr/bin/env bash
# Provenance of task instances (docs/replication.md): the expanded command,
# the environment (values only for SF_* and the DAG's env), times, exit
# code, and the sha256 and size of declared files, in `runs show --json`
# and in the API's task view.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

setup() {
	synthflow init >/dev/null &&
	mkdir -p run-data/src/rep/dags &&
	cp "$TEST_ROOT/cli/data/replication/prov.yaml" run-data/src/rep/dags/
}

expect_success 'every instance has its command, environment, times and file hashes' '
	setup &&
	SECRET_TOKEN=hunter2-not-in-provenance synthflow test prov -p word=howdy --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])" run.json) &&
	synthflow runs show "$run" --json >show.json &&
	! grep -q hunter2 show.json &&
	! grep -q hunter2 run-data/flow/synthflow.db &&
	python3 - "$TRASH/run-data" <<-\PY
	import hashlib, json, os, sys
	data = sys.argv[1]
	run = json.load(open("show.json"))
	def sha(p):
	    return hashlib.sha256(open(os.path.join(data, p), "rb").read()).hexdigest()
	tasks = {(t["task_id"], t["index"]): t["provenance"] for t in run["tasks"]}
	assert len(tasks) == 6, tasks.keys()
	c1 = tasks[("copy", 1)]
	q = chr(39)  # the command is shell-quoted
want = "cp {q}{d}/generated/prov/{r}/in/f2.txt{q} {q}{d}{q}/uploadable/prov-{q}f2.txt{q}"
assert c1["command"] == want.format(q=q, d=data, r=run["run_id"]), c1["command"]
	assert c1["env"]["GREETING"] == "howdy" and c1["env"]["SF_TASK_ID"] == "copy"
	assert c1["env"]["SF_ITEM"].endswith("/in/f2.txt") and c1["exit_code"] == 0 and c1["try"] == 1
	assert c1["started_at"] <= c1["ended_at"]
	assert "SECRET_TOKEN" not in c1["env"]
	item = c1["item"]
	assert item["path"] == "generated/prov/%s/in/f2.txt" % run["run_id"] and item["size"] == 8
	assert item["sha256"] == sha(item["path"]), item
	assert c1["outputs"] == [{"path": "uploadable/prov-f2.txt", "sha256": sha("uploadable/prov-f2.txt"), "size": 8}]
	mk = tasks[("make", None)]
	assert [o["path"].rsplit("/", 1)[1] for o in mk["outputs"]] == ["f1.txt", "f2.txt", "f3.txt"], mk
	j = tasks[("join", None)]
	assert [i["path"] for i in j["inputs"]] == ["uploadable/prov-f%d.txt" % i for i in (1, 2, 3)], j
	assert j["outputs"][0]["sha256"] == sha("uploadable/prov-all.txt") and j["outputs"][0]["size"] == 24
	p = tasks[("plain", None)]
	assert p["command"] == "true" and "outputs" not in p and "inputs" not in p
	r = run["provenance"]
	assert r["params"] == {"word": "howdy"} and r["vars"] == {}
	assert "SECRET_TOKEN" in r["env_names"] and "PATH" in r["env_names"]
	host = r["host"]
	assert host["os"] and host["kernel"] and host["engine_version"] and host["workspace"] is None
	assert r["programs"]["sh"]["package"] == "dash" and r["programs"]["sh"]["version"], r["programs"]
	assert r["programs"]["cp"]["package"] == "coreutils", r["programs"]
	PY
'

expect_success 'a variable snapshot is recorded; a failed try records its exit code' '
	setup &&
	synthflow vars set colour blue >/dev/null &&
	cat >run-data/src/rep/dags/fail.yaml <<-\EOF &&
	id: fail
	tasks:
	  boom: {run: "sh -c \"exit 3\"", outputs: [uploadable/nothing-here]}
	EOF
	test_exit 1 synthflow test fail --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	synthflow runs show "$run" --json >show.json &&
	python3 - <<-\PY
	import json
	run = json.load(open("show.json"))
	p = run["tasks"][0]["provenance"]
	assert p["exit_code"] == 3, p
	assert p["outputs"] == [{"path": "uploadable/nothing-here", "missing": True}], p
	assert run["provenance"]["vars"] == {"colour": "blue"}
	PY
'

expect_success 'the API task view carries the provenance' '
	setup &&
	synthflow test prov --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	web_start "$TRASH/run-data" &&
	api GET "/api/v1/runs/$run/tasks/copy/tries?index=0" >tries.json &&
	test "$(cat "$TRASH/status")" = 200 &&
	python3 -c "
import json
t = json.load(open(\"tries.json\"))
assert t[\"provenance\"][\"outputs\"][0][\"path\"] == \"uploadable/prov-f1.txt\", t
" &&
	api GET "/api/v1/runs/$run/tasks/plain/tries" >tries.json &&
	python3 -c "
import json
assert json.load(open(\"tries.json\"))[\"provenance\"][\"command\"] == \"true\"
" &&
	web_stop "$TRASH/run-data"
'

expect_success 'flow.provenance false: nothing recorded, and pack says why it refuses' '
	setup &&
	sed -i "s/^flow:\$/flow:\n  provenance: false/" run-data/synthflow.yaml &&
	grep -q "^  provenance: false" run-data/synthflow.yaml &&
	synthflow test prov --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	test "$(store_sql "select count(*) from provenance where run_id = '"'"'$run'"'"'")" = 0 &&
	synthflow runs show "$run" --json >show.json &&
	python3 -c "
import json
run = json.load(open(\"show.json\"))
assert run[\"provenance\"] is None and len(run[\"tasks\"]) == 6, run
assert all(t[\"provenance\"] is None for t in run[\"tasks\"]), run[\"tasks\"]
" &&
	test_exit 1 synthflow pack "$run" -o p.sfpack 2>err &&
	must_contain err "run .$run. has no provenance (it ran with flow.provenance false" &&
	test ! -e p.sfpack &&
	# the environment turns it back on for one run
	SYNTHFLOW_FLOW_PROVENANCE=true synthflow test prov --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	test "$(store_sql "select count(*) from provenance where run_id = '"'"'$run'"'"'")" = 7
'

test_done
