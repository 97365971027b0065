#!/usr/bin/env bash
# bench/files.sh in a tiny size, so the benchmark keeps working.  Nothing
# here looks at the times: only that every measurement ran and was reported.
. "$(dirname "$0")/../lib.sh"

expect_success 'bench/files.sh reports every row at BENCH_SCALE=0.02' '
	BENCH_SCALE=0.02 BENCH_RESCANS=2 SYNTHFLOW="$SYNTHFLOW_BUILD/synthflow" \
		"$SRC_ROOT/bench/files.sh" >out 2>err || { cat out err; exit 1; }
	cat out &&
	must_contain out "^| (a) 20 files, quiet period 100 ms subtracted |" &&
	must_contain out "^| (b) 2000 files in 100 folders, no DAG takes them |" &&
	for r in "paced (one per 20 ms): file complete -> run recorded" "paced: file complete -> run started" \
		"burst (all moved in at once): file complete -> run recorded" "burst: file complete -> run started" \
		"peer: bare inotify reader" "full rescan, wall (median of 2;" "full rescan, CPU time" \
		"serve start until every file is recorded" "serve VmRSS after the rescans" "serve VmHWM"; do
		grep -F "$r" out | grep -q "| [0-9.]* \(ms\|s\|MiB\) |" || { echo "no row \"$r\" with a figure"; exit 1; }
	done &&
	must_not_contain out "| - | - |"
'

test_done
