# The settings every bench script shares; sourced as
#   . "$(dirname "$0")/lib.sh"
# It runs from the repository's root and sets root, sf (the synthflow under
# test: $SYNTHFLOW, else build/synthflow), scale ($BENCH_SCALE, 1), repeat
# ($BENCH_REPEAT, 3: best of), exports flow.parallelism 2, and defines size,
# start_serve and stop_serve.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sf=${SYNTHFLOW:-$root/build/synthflow}
scale=${BENCH_SCALE:-1}
repeat=${BENCH_REPEAT:-3}
export SYNTHFLOW_FLOW_PARALLELISM=2

# size N: N times the scale, rounded, at least 2.
size() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s + 0.5); if (v < 2) v = 2; print v }'; }

# start_serve DATA: synthflow serve over DATA on a free port, its output in
# DATA.serve.out and DATA.serve.err; once it answers, sets pid, url (with
# the token), base and auth (the header for curl).
start_serve() {
	"$sf" --data "$1" serve --port 0 >"$1.serve.out" 2>"$1.serve.err" &
	pid=$!
	for _ in $(seq 100); do grep -q '^http://' "$1.serve.out" && break; sleep 0.1; done
	url=$(grep -m1 '^http://' "$1.serve.out")
	base=${url%%/\?token=*}
	auth="Authorization: Bearer ${url##*token=}"
	for _ in $(seq 100); do curl -sf "$base/api/v1/health" >/dev/null && break; sleep 0.1; done
}
stop_serve() { kill "$pid" && wait "$pid"; pid=; }
