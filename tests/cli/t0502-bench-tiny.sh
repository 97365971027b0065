#!/usr/bin/env bash
# bench/run.sh in a tiny size, so the benchmarks keep working.  Nothing here
# looks at the times: only that every measurement ran and was reported.
. "$(dirname "$0")/../lib.sh"

expect_success 'bench/run.sh runs every measurement at BENCH_SCALE=0.003' '
	BENCH_SCALE=0.003 BENCH_REPEAT=1 SYNTHFLOW="$SYNTHFLOW_BUILD/synthflow" \
		"$SRC_ROOT/bench/run.sh" >out 2>err &&
	must_contain out "fan-out 30, chain 3, foreach 300, snakemake 3" &&
	for r in "| make -j2 | 32 |" "| ninja -j2 | 32 |" "| synthflow test (foreach) | 32 |" \
		"| synthflow test (30 tasks in YAML) | 32 |" "| snakemake -j2 (ratios per task) | 5 |" \
		"| make | stamp |" "| synthflow test | stamp |" "| make | true |" "| synthflow test | true |" \
		"| make -j2 | 300 |" "| synthflow test | 300 |"; do
		grep -qF "$r" out || { echo "no row \"$r\""; cat out err; exit 1; }
	done &&
	must_not_contain out "failed"
'

expect_success 'the chain gaps are computed from stamps and from a run record' '
	printf "1 3000000\n0 1000000\n2 4000000\n" >stamps &&
	python3 "$SRC_ROOT/bench/stats.py" stamps stamps >out &&
	echo "1.000 2.000 2" | must_equal out &&
	cat >run.json <<-EOF &&
	{"run_id": "r", "state": "success", "tasks": [
	 {"task_id": "t00001", "started_at": "2026-11-29T01:00:00.010Z", "ended_at": "2026-11-29T01:00:00.020Z"},
	 {"task_id": "t00000", "started_at": "2026-11-29T01:00:00.000Z", "ended_at": "2026-11-29T01:00:00.007Z"}]}
	EOF
	python3 "$SRC_ROOT/bench/stats.py" run run.json >out &&
	echo "3.000 3.000 1" | must_equal out
'

test_done
