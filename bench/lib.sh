# The settings every bench script shares; sourced as
#   . "$(dirname "$0")/lib.sh"
# It runs from the repository's root and sets root, sf (the synthflow under
# test: $SYNTHFLOW, else build/synthflow), scale ($BENCH_SCALE, 1), repeat
# ($BENCH_REPEAT, 3: best of), exports flow.parallelism 2, and defines size.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sf=${SYNTHFLOW:-$root/build/synthflow}
scale=${BENCH_SCALE:-1}
repeat=${BENCH_REPEAT:-3}
export SYNTHFLOW_FLOW_PARALLELISM=2

# size N: N times the scale, rounded, at least 2.
size() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s + 0.5); if (v < 2) v = 2; print v }'; }
