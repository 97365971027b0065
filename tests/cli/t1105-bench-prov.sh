#!/usr/bin/env bash
# bench/prov.sh (make bench-prov) in a tiny size, so the benchmark keeps
# working.  Nothing here looks at the times: only that every measurement
# ran with provenance off and on and was reported.
. "$(dirname "$0")/../lib.sh"

expect_success 'bench/prov.sh measures all three workloads at BENCH_SCALE=0.003' '
	BENCH_SCALE=0.003 BENCH_REPEAT=1 SYNTHFLOW="$SYNTHFLOW_BUILD/synthflow" BENCH_KEEP=1 \
		TMPDIR="$TRASH" "$SRC_ROOT/bench/prov.sh" >out 2>err &&
	must_contain out "scale: 0.003 (fan-out 30, clips 3); best of 1" &&
	for r in "| (a) 30 no-op tasks in YAML, nothing declared | 32 |" \
		"| (b) foreach over 30 files (each item hashed) | 32 |" \
		"| (c) the example DAG, 3 clips (items and outputs hashed) | 3 clips |"; do
		grep -qF "$r" out || { echo "no row \"$r\""; cat out err; exit 1; }
	done &&
	# each workload ran once with provenance off and once on
	work=$(echo "$TRASH"/sf-bench-prov.*) &&
	for w in fanout foreach example; do
		test "$(wc -l <"$work/$w-false.times")" = 1 &&
		test "$(wc -l <"$work/$w-true.times")" = 1 || exit 1
	done &&
	test "$(sqlite3 "$work/example-false/flow/synthflow.db" "select count(*) from provenance")" = 0 &&
	test "$(sqlite3 "$work/example-true/flow/synthflow.db" "select count(*) from provenance")" -gt 3
'

test_done
