#!/usr/bin/env bash
# A run that could never start (a local task asking for more cpus than
# flow.parallelism or more gpus than the pool holds) is refused when it is
# triggered, never created: `trigger` exits 1 naming the DAG file, the task
# and the field, the API answers 422, a schedule's time passes and a file's
# arrival fails, each saying why in serve's log (and `files`).  The limits
# are those of the serve that runs it, else the trigger's own configuration.
# (The run-start check that stays behind this is in t1302.)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

# rdag NAME RESOURCES [LINE...]: DAG NAME, one task `w` with those resources.
rdag() {
	mkdir -p run-data/src/r/dags
	{
		[ $# -gt 2 ] && printf '%s\n' "${@:3}"
		printf 'tasks:\n  w:\n    resources: %s\n    run: "true"\n' "$2"
	} >"run-data/src/r/dags/$1.yaml"
}
no_runs() { test "$(runs_of "$1")" = 0; }

expect_success 'trigger without a serve: refused against this configuration; Slurm tasks are not' '
	test_store_fresh && synthflow init >/dev/null &&
	rdag big "{cpus: 5}" && rdag gpus "{gpus: 3}" &&
	rdag away "{cpus: 64}" "executor: slurm" &&
	test_exit 1 env SYNTHFLOW_FLOW_PARALLELISM=4 synthflow trigger big >out 2>err &&
	must_contain err "run-data/src/r/dags/big.yaml: task .w. asks for 5 cpus but flow.parallelism is 4: it could never start (lower resources.cpus or raise flow.parallelism); no run was created" &&
	test ! -s out && no_runs big &&
	test_exit 1 env SYNTHFLOW_FLOW_GPU_DEVICES=0,1 synthflow trigger gpus >out 2>err &&
	must_contain err "gpus.yaml: task .w. asks for 3 gpus but this machine.s pool holds 2 (flow.gpu_devices): it could never start (lower resources.gpus or add devices to flow.gpu_devices)" &&
	no_runs gpus &&
	SYNTHFLOW_FLOW_PARALLELISM=4 synthflow trigger away >out 2>err &&
	test "$(runs_of away)" = 1 &&
	# a variable still changes; of its on_variable DAGs only those that can start run
	rdag onvar "{cpus: 5}" "params:" "  variable: {type: string}" "on_variable: \"model_*\"" &&
	rdag onvar_ok "{cpus: 4}" "params:" "  variable: {type: string}" "on_variable: \"model_*\"" &&
	SYNTHFLOW_FLOW_PARALLELISM=4 synthflow vars set model_a 1 >out 2>err &&
	must_contain err "warning: variable .model_a. changed: no run of DAG .onvar. (on_variable): .*onvar.yaml: task .w. asks for 5 cpus but flow.parallelism is 4" &&
	must_contain err "run .* of DAG .onvar_ok. (on_variable)" &&
	test "$(synthflow vars get model_a)" = 1 &&
	no_runs onvar && test "$(runs_of onvar_ok)" = 1 &&
	SYNTHFLOW_FLOW_PARALLELISM=5 synthflow trigger big >out 2>err &&
	test "$(runs_of big)" = 1
'

expect_success 'with a serve: its limits count (CLI and API), a schedule and a file make no run, and once it stops this configuration counts again' '
	test_store_fresh && synthflow init >/dev/null &&
	rdag big "{cpus: 3}" && rdag fits "{cpus: 2}" && rdag gpus "{gpus: 2}" &&
	rdag at1 "{cpus: 3}" "schedule: \"0 1 * * *\"" "timezone: UTC" &&
	rdag ok1 "{cpus: 1}" "schedule: \"0 1 * * *\"" "timezone: UTC" &&
	rdag onfile "{cpus: 3}" "on_file: {glob: \"*.wav\", quiet: 300ms}" &&
	SYNTHFLOW_NOW=2027-01-01T00:59:58Z SYNTHFLOW_FLOW_PARALLELISM=2 SYNTHFLOW_FLOW_GPU_DEVICES=0 \
		web_start run-data &&
	# the serve holds 2 cpus, whatever this process is told
	test_exit 1 env SYNTHFLOW_FLOW_PARALLELISM=8 synthflow trigger big >out 2>err &&
	must_contain err "big.yaml: task .w. asks for 3 cpus but flow.parallelism is 2 in the running serve (pid $WEB_PID): it could never start" &&
	SYNTHFLOW_FLOW_PARALLELISM=1 synthflow trigger fits --wait >out 2>err &&
	test "$(synthflow runs show "$(cat out)" --json | jq -r .state)" = success &&
	api POST /api/v1/dags/big/runs -H "Content-Type: application/json" -d "{}" >/dev/null &&
	expect_status 422 &&
	jq -e ".task == \"w\" and .field == \"resources.cpus\"" body &&
	jq -r .error body >msg && must_contain msg "big.yaml: task .w. asks for 3 cpus but flow.parallelism is 2 in the running serve" &&
	api POST /api/v1/dags/gpus/runs -H "Content-Type: application/json" -d "{\"params\": {}}" >/dev/null &&
	expect_status 422 &&
	jq -e ".task == \"w\" and .field == \"resources.gpus\"" body &&
	jq -r .error body >msg && must_contain msg "asks for 2 gpus but this machine.s pool holds 1 (flow.gpu_devices) in the running serve" &&
	no_runs big && no_runs gpus &&
	# a scheduled time of a DAG that could never start passes, said in the log
	wait_runs ok1 1 &&
	wait_for "$WEB_WAIT" grep -q "DAG .at1.: no run for its scheduled time 2027-01-01T01:00:00" run-data/serve.err &&
	must_contain run-data/serve.err "no run for its scheduled time 2027-01-01T01:00:00+00:00: .*at1.yaml: task .w. asks for 3 cpus" &&
	no_runs at1 &&
	# a file arrival: failed, with the reason, in the log and in `files`
	printf x >run-data/downloaded/a.wav &&
	wait_for "$WEB_WAIT" status_starts a.wav "failed" onfile &&
	file_status a.wav onfile >st && must_contain st "onfile.yaml: task .w. asks for 3 cpus but flow.parallelism is 2 in the running serve" &&
	must_contain run-data/serve.err "file .a.wav.: no run of DAG .onfile.: .*asks for 3 cpus" &&
	test_exit 1 synthflow files retry a.wav >out 2>err &&
	must_contain err "asks for 3 cpus but flow.parallelism is 2 in the running serve" &&
	no_runs onfile &&
	web_stop run-data &&
	# its published limits die with it
	SYNTHFLOW_FLOW_PARALLELISM=3 synthflow trigger big >out 2>err &&
	test "$(runs_of big)" = 1
'

test_done
