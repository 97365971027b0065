#!/usr/bin/env bash
# The Slurm executor on a real single-node cluster (tests/slurm-lib.sh):
# the engine's behaviour DAGs (tests/cli/data/engine/) end in the same
# states on Slurm as on the local executor, with the same commands,
# environment, folders and logs; Slurm's own states and errors reach the
# try; a restarted serve follows its predecessor's jobs instead of
# submitting them again.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/slurm-lib.sh"
trap 'slurm_stop; rm -rf "$TRASH_BASE"' EXIT
slurm_start || exit 1

DATA=$SRC_ROOT/tests/cli/data/engine

# setup DAG...: a data folder with the fixtures; Slurm polled every 200 ms.
setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	for d in "$@"; do cp "$DATA/$d.yaml" run-data/src/t/dags/; done
	export SYNTHFLOW_SLURM_POLL=200ms SYNTHFLOW_SLURM_FS_GRACE=5s
}

# states FILE: every instance as "task index state try", sorted.
states() {
	jq -r '.state, (.tasks[] | "\(.task_id) \(.index) \(.state) \(.try)")' "$1" | sort
}

# same DAG [ARGS]: runs DAG locally and on Slurm; the states must match.
same() {
	dag=$1
	shift
	SYNTHFLOW_FLOW_EXECUTOR=local synthflow test "$dag" "$@" --json >local.json || true
	SYNTHFLOW_FLOW_EXECUTOR=slurm synthflow test "$dag" "$@" --json >slurm.json || true
	states local.json >local.states
	states slurm.json >slurm.states
	diff -u local.states slurm.states
	# and the Slurm run did run on Slurm: one batch script per try
	n=$(jq '[.tasks[].try] | add' slurm.json)
	test "$(find run-data/flow/logs/"$dag"/"$(jq -r .run_id slurm.json)" -name 'try-*.sbatch' \
		! -name '*.array.sbatch' | wc -l)" = "$n"
}

expect_success 'retries, exhausted retries, trigger rules: same states as local' '
	setup retry3 exhausted rules &&
	same retry3 && test "$(jq -r .state slurm.json)" = success &&
	run=$(jq -r .run_id slurm.json) &&
	synthflow tasks logs "$run" flaky --try 1 >l1 && must_contain l1 "try 1" &&
	synthflow tasks logs "$run" flaky >l3 && must_contain l3 "try 3" &&
	same exhausted &&
	test "$(jq -r ".tasks[] | select(.task_id == \"bad\") | .exit_code" slurm.json)" = 3 &&
	same rules && test "$(jq -r .state slurm.json)" = failed
'

expect_success 'fan-out, fan-in and empty fan-out: same states as local' '
	setup fan &&
	same fan -p n=13 && test "$(jq -r .state slurm.json)" = success &&
	test "$(cat run-data/generated/fan/$(jq -r .run_id slurm.json)/count)" = 13 &&
	same fan -p n=0 &&
	test "$(jq -r ".tasks[] | select(.task_id == \"each\") | .state" slurm.json)" = skipped
'

expect_success 'params, env, workdir and SF_* reach the job as they reach a local task' '
	setup typed envdir &&
	same typed -p file=/tmp/x -p split=val -p flag=true &&
	run=$(jq -r .run_id slurm.json) &&
	test "$(cat run-data/generated/typed/$run/p)" = "22050 0.5 val true /tmp/x" &&
	same envdir &&
	run=$(jq -r .run_id slurm.json) &&
	dir=$(cd run-data && pwd)/generated/envdir/$run &&
	test "$(cat $dir/here)" = "$dir" &&
	test "$(cat $dir/greeting)" = "hi a b" &&
	test "$(cat $dir/ids)" = "$run|a b|envdir|where" &&
	test "$(cat $dir/rel)" = "$(cd run-data && pwd)/generated"
'

expect_success 'a timeout cancels the job and everything it started' '
	setup timeout &&
	same timeout &&
	run=$(jq -r .run_id slurm.json) &&
	test "$(jq -r ".tasks[0].reason" slurm.json)" = "timed out after 500ms" &&
	# The clock starts once Slurm runs the job: the command may not have
	# reached its grandchild within 500 ms on a busy machine; if it did,
	# the grandchild went with the job.
	pidf=run-data/generated/timeout/$run/grandchild.pid &&
	if test -f "$pidf"; then
		for i in $(seq 100); do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.1; done &&
		! kill -0 "$(cat "$pidf")" 2>/dev/null
	fi &&
	test -z "$(squeue -h -o %i)"
'
# serve in the background with sbatch, squeue and scancel wrapped to count their calls;
# the sbatch wrapper kills serve (-9) right after a submission whose arguments
# contain the text in file KILL_AFTER_SBATCH (and removes the file).
start_serve() {
	mkdir -p bin
	for c in sbatch squeue scancel; do
		cat >bin/$c <<EOC
#!/bin/sh
echo "\$*" >>$PWD/$c.calls
out=\$(/usr/bin/$c "\$@") || { rc=\$?; printf '%s\n' "\$out"; exit \$rc; }
printf '%s\n' "\$out"
if [ $c = sbatch ] && [ -f $PWD/KILL_AFTER_SBATCH ] &&
	echo "\$*" | grep -qF -- "\$(cat $PWD/KILL_AFTER_SBATCH)"; then
	rm -f $PWD/KILL_AFTER_SBATCH
	kill -9 \$PPID
fi
EOC
		chmod +x bin/$c
	done
	serve_start PATH="$PWD/bin:$PATH" SYNTHFLOW_FLOW_EXECUTOR=slurm
}

# serve_killed: waits until the sbatch wrapper has killed serve.
serve_killed() {
	for i in $(seq 600); do kill -0 "$(cat serve.pid)" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$(cat serve.pid)" 2>/dev/null && rm serve.pid
}

expect_success 'serve killed (-9) right after sbatch, twice, and mid-run submits nothing twice' '
	setup && cp "$SRC_ROOT/tests/cli/data/slurm/reattach.yaml" run-data/src/t/dags/ &&
	trap serve_stop EXIT &&
	echo ":make:" >KILL_AFTER_SBATCH &&
	start_serve &&
	run=$(synthflow trigger reattach) &&
	# killed right after submitting "make", before its try is written
	serve_killed &&
	test "$(wc -l <sbatch.calls)" = 1 &&
	echo ":each:" >KILL_AFTER_SBATCH &&
	start_serve &&
	# killed right after submitting the array of the six items
	serve_killed &&
	test "$(wc -l <sbatch.calls)" = 2 &&
	start_serve &&
	# and killed while the items run
	for i in $(seq 600); do
		test -s run-data/generated/reattach/$run/ran && break
		sleep 0.1
	done &&
	kill -9 "$(cat serve.pid)" && rm serve.pid &&
	start_serve &&
	for i in $(seq 1200); do
		state=$(synthflow runs show "$run" --json | jq -r .state)
		case $state in running | queued) sleep 0.1 ;; *) break ;; esac
	done &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r .state r.json)" = success &&
	# every instance ran once, in one try, from one submission
	test "$(jq "[.tasks[] | select(.try == 1 and .state == \"success\")] | length" r.json)" = 8 &&
	test "$(cat run-data/generated/reattach/$run/count)" = 6 &&
	# make, one array of six, join
	test "$(wc -l <sbatch.calls)" = 3 &&
	test "$(sort sbatch.calls | uniq -d | wc -l)" = 0
'
# 1,000 items (300 under SF_SANITIZED=1, where the scheduler is several times slower).
if [ "${SF_SANITIZED:-0}" = 1 ]; then N=300; else N=1000; fi

expect_success "a $N-item foreach is ceil($N/MaxArraySize) arrays; cancel is one scancel" '
	setup && cp "$SRC_ROOT/tests/cli/data/slurm/reattach.yaml" run-data/src/t/dags/ &&
	trap serve_stop EXIT &&
	t0=$(date +%s%N) &&
	start_serve &&
	run=$(synthflow trigger reattach -p n='$N' -p pause=300) &&
	arrays=$((('$N' + SLURM_MAX_ARRAY - 1) / SLURM_MAX_ARRAY)) &&
	for i in $(seq 1200); do
		test "$(grep -c ":each:" sbatch.calls 2>/dev/null)" = $arrays && break
		sleep 0.1
	done &&
	test "$(grep -c ":each:" sbatch.calls)" = $arrays &&
	test "$(grep -c -- "--array=0-$((SLURM_MAX_ARRAY - 1)) " sbatch.calls)" = $(('$N' / SLURM_MAX_ARRAY)) &&
	# every element is known to Slurm before the cancel
	for i in $(seq 600); do
		test "$(squeue -h -r -o %i | wc -l)" = '$N' && break
		sleep 0.1
	done &&
	synthflow runs cancel "$run" &&
	for i in $(seq 600); do
		state=$(synthflow runs show "$run" --json | jq -r .state)
		case $state in running | queued) sleep 0.1 ;; *) break ;; esac
	done &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r .state r.json)" = cancelled &&
	test "$(jq "[.tasks[] | select(.task_id == \"each\" and .state == \"cancelled\")] | length" r.json)" = '$N' &&
	test "$(wc -l <scancel.calls)" = 1 &&
	test "$(wc -w <scancel.calls)" = '$N' &&
	# squeue: at most twice per 200 ms poll interval, whatever the number of jobs
	serve_stop &&
	ms=$((($(date +%s%N) - t0) / 1000000)) &&
	echo "$(wc -l <squeue.calls) squeue calls in $ms ms" &&
	test "$(wc -l <squeue.calls)" -le $((2 * (ms / 200 + 1))) &&
	for i in $(seq 300); do test -z "$(squeue -h -o %i)" && break; sleep 0.1; done &&
	test -z "$(squeue -h -o %i)"
'
test_done
