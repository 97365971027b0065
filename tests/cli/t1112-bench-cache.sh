#!/usr/bin/env bash
# bench/cache.sh (make bench-cache) at a tiny size, so the benchmark keeps
# working.  Nothing here looks at the times: only that each run was made
# and ran the instances it should.
. "$(dirname "$0")/../lib.sh"

expect_success 'bench/cache.sh measures the first, unchanged and one-clip runs at 3 clips (one clip re-runs its clean and the filelists)' '
	BENCH_CLIPS=3 BENCH_REPEAT=1 SYNTHFLOW="$SYNTHFLOW_BUILD/synthflow" \
		TMPDIR="$TRASH" "$SRC_ROOT/bench/cache.sh" >out 2>err &&
	must_contain out "3 clips of 1.5 s; best of 1" &&
	grep -q "^| first | 5 of 5 | [0-9.]* | 100.0 % |" out &&
	grep -q "^| unchanged | 0 of 5 | " out &&
	grep -q "^| one-clip | 2 of 5 | " out || { cat out err; exit 1; }
'

test_done
