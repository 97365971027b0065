#!/usr/bin/env bash
# A foreach of N items (default 1,000) on a real single-node Slurm cluster
# (tests/slurm-lib.sh, started here and stopped at the end), in one run:
#   raw      sbatch --array of a script doing the same work, split at
#            MaxArraySize like synthflow does, polled with squeue every
#            500 ms until every element has left the queue (the floor)
#   slurm    synthflow test with flow.executor slurm (slurm.poll 500ms):
#            every try also writes its log and exit-code file and is
#            recorded in the store
#   local    synthflow test with the local executor (flow.parallelism =
#            the node's CPUs, as many as Slurm runs at once)
# Each element runs `true`.  Prints one table with each time's ratio to raw.
#   bench/slurm.sh [N]
set -eu
N=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNTHFLOW_BUILD:-$root/build}
PATH=$build:$PATH
. "$root/tests/slurm-lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-slurm.XXXXXX")
trap 'slurm_stop; rm -rf "$work"' EXIT
slurm_start
cd "$work"
max=$(scontrol show config | sed -n 's/^MaxArraySize *= *//p')

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
queue_empty() {
	while [ -n "$(squeue -h -o %i)" ]; do sleep 0.5; done
}

# raw: the same number of arrays, the same work per element
printf '#!/bin/sh\ntrue\n' >job.sh
t=$(now)
left=$N
while [ "$left" -gt 0 ]; do
	k=$((left < max ? left : max))
	sbatch --parsable --output=/dev/null --array=0-$((k - 1)) job.sh >/dev/null
	left=$((left - k))
done
queue_empty
raw=$(since "$t")

synthflow init >/dev/null
mkdir -p run-data/src/b/dags run-data/items
i=0
while [ $i -lt "$N" ]; do : >run-data/items/f$i; i=$((i + 1)); done
cat >run-data/src/b/dags/each.yaml <<EOY
tasks:
  each:
    foreach: "{{ data }}/items/f*"
    run: "true"
EOY
export SYNTHFLOW_SLURM_POLL=500ms
t=$(now)
SYNTHFLOW_FLOW_EXECUTOR=slurm synthflow test each >/dev/null
slurm=$(since "$t")
t=$(now)
SYNTHFLOW_FLOW_EXECUTOR=local SYNTHFLOW_FLOW_PARALLELISM=$(nproc) synthflow test each >/dev/null
local_s=$(since "$t")

echo "foreach of $N items running 'true' on a single-node Slurm ($(nproc) CPUs, MaxArraySize $max)"
echo
echo "| variant | wall s | ratio to raw sbatch --array |"
echo "|---|---|---|"
printf '| raw sbatch --array (%d arrays) | %.1f | 1.00 |\n' $(((N + max - 1) / max)) "$raw"
printf '| synthflow, slurm executor | %.1f | %.2f |\n' "$slurm" "$(echo "$slurm / $raw" | bc -l)"
printf '| synthflow, local executor | %.1f | %.2f |\n' "$local_s" "$(echo "$local_s / $raw" | bc -l)"
