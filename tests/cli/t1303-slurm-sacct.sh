#!/usr/bin/env bash
# The Slurm executor's sacct path, on a real single-node cluster whose
# controller forgets ended jobs after 2 s (MinJobAge): a try whose job left
# the queue while serve was stopped, without writing its exit-code file, is
# looked up with ONE sacct call by its key.  This cluster keeps no
# accounting (no slurmdbd here), so the real sacct says so, is not asked
# again, and exit-code files decide; Slurm's own verdict from accounting
# (here OUT_OF_MEMORY) is checked with a stand-in sacct that prints what
# sacct 22.05 prints for such a job.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/slurm-lib.sh"
trap 'slurm_stop; rm -rf "$TRASH_BASE"' EXIT
SLURM_MIN_JOB_AGE=2 slurm_start || exit 1

# The try's job kills its own batch script (so no exit-code file is written)
# once serve is gone and the test says go; a second try succeeds.
setup() {
	synthflow init >/dev/null && mkdir -p run-data/src/t/dags bin &&
	cat >run-data/src/t/dags/t.yaml <<-"YAML"
	id: t
	executor: slurm
	tasks:
	  job:
	    run: if [ -e {{ data }}/first ]; then exit 0; fi; touch {{ data }}/first; i=0; while [ ! -e {{ data }}/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; kill -9 $PPID
	YAML
	export SYNTHFLOW_SLURM_POLL=200ms SYNTHFLOW_SLURM_FS_GRACE=1s
}

# serve with the stand-in programs of bin/ first (serve_start: tests/lib.sh)
start_serve() { serve_start PATH="$PWD/bin:$PATH"; }

# left_queue RUN: serve stops while the job runs, the job kills its batch
# script, and the controller forgets it (bounded: 60 s).
left_queue() {
	for i in $(seq 300); do test -e run-data/first && break; sleep 0.1; done &&
	test -e run-data/first && serve_stop && touch run-data/go &&
	for i in $(seq 600); do
		squeue --noheader --states=all --me --format=%j | grep -q "^sf-" || return 0
		sleep 0.1
	done
	echo "the job is still in the queue" >&2
	return 1
}

expect_success 'no accounting: one sacct call, then exit-code files decide (the lost try runs again)' '
	setup && trap serve_stop EXIT &&
	real=$(command -v sacct) &&
	printf "#!/bin/sh\necho \"\$*\" >>%s/sacct.calls\nexec %s \"\$@\"\n" "$PWD" "$real" >bin/sacct &&
	chmod +x bin/sacct &&
	start_serve && run=$(synthflow trigger t) &&
	left_queue && start_serve && wait_state "$run" success 60 &&
	test "$(wc -l <sacct.calls)" = 1 &&
	must_contain sacct.calls "--name=sf-[0-9a-f]*-$run:job:-1:1" &&
	must_contain serve.log "the cluster keeps no accounting (sacct: Slurm accounting storage is disabled)" &&
	synthflow runs show "$run" --json >s &&
	test "$(jq -r ".tasks[0].state" s)" = success
'

expect_success 'accounting says OUT_OF_MEMORY: the try fails with that reason at once' '
	setup && trap serve_stop EXIT &&
	cat >bin/sacct <<-"SH" &&
	#!/bin/sh
	# what sacct 22.05 prints (--parsable2 --noheader) for a job the kernel killed for memory
	for a in "$@"; do
		case $a in --name=*) echo "4242|OUT_OF_MEMORY|0:125|${a#--name=}" ;; esac
	done
	SH
	chmod +x bin/sacct &&
	start_serve && run=$(synthflow trigger t) &&
	left_queue && start_serve && wait_state "$run" failed 60 &&
	synthflow runs show "$run" --json >s &&
	test "$(jq -r ".tasks[0].reason" s)" = "out of memory" &&
	test "$(jq -r ".tasks[0].try" s)" = 1
'

test_done
