#!/usr/bin/env bash
# The test cluster itself (tests/slurm-lib.sh): a real single-node Slurm
# (slurmctld, slurmd and munged from Debian, in the foreground) that the
# Slurm executor's tests run on.  Checks what those tests rely on: jobs run
# and report their exit code, MaxArraySize is the small configured one,
# arrays run every element, and stopping leaves no daemon behind.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/slurm-lib.sh"
trap 'slurm_stop; rm -rf "$TRASH_BASE"' EXIT
slurm_start || exit 1

expect_success 'a batch job runs on the node and its exit code is kept' '
	j=$(sbatch --parsable -o "$TRASH/out" --wrap "echo on \$SLURM_JOB_NODELIST; exit 3") &&
	for i in $(seq 600); do
		s=$(scontrol show job "$j" | sed -n "s/.*JobState=\([A-Z_]*\).*/\1/p")
		case $s in PENDING | RUNNING | COMPLETING | CONFIGURING) sleep 0.1 ;; *) break ;; esac
	done &&
	test "$s" = FAILED &&
	scontrol show job "$j" | grep -q "ExitCode=3:0" &&
	grep -q "on sfnode" "$TRASH/out"
'

expect_success 'MaxArraySize is the configured one; larger arrays are refused' '
	scontrol show config | grep -E "^MaxArraySize +=" >cfg &&
	must_contain cfg "= $SLURM_MAX_ARRAY\$" &&
	test_exit 1 sbatch --parsable -o /dev/null --array=0-$SLURM_MAX_ARRAY --wrap true 2>err &&
	cat err
'

expect_success 'every element of a throttled array runs' '
	j=$(sbatch --parsable -o "$TRASH/a.%a" --array=0-4%2 \
		--wrap "echo \$SLURM_ARRAY_TASK_ID") &&
	for i in $(seq 900); do
		test -z "$(squeue -h -j "$j" -o %i)" && break
		sleep 0.1
	done &&
	test -z "$(squeue -h -j "$j" -o %i)" &&
	for k in 0 1 2 3 4; do
		test "$(cat "$TRASH/a.$k")" = "$k" || exit 1
	done
'

expect_success 'slurm_stop stops every daemon it started' '
	pids=$SLURM_PIDS &&
	( slurm_stop ) &&
	for p in $pids; do
		! kill -0 "$p" 2>/dev/null || { echo "pid $p still runs"; exit 1; }
	done
'
test_done
