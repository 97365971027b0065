#!/usr/bin/env bash
# A folder with 100,000 files in downloaded/ (docs/events.md), created while
# serve watches (far more events than inotify's queue holds, so the queue
# overflows and a rescan takes over): the dataset folder that a dirs: true
# DAG takes is one arrival that sees every file, the few files another DAG
# takes run once each, nothing runs again after a restart, and the metrics
# say what happened.  The rescan of 100,000 files is bounded at 5 s, five
# times bench/files.sh's goal of 1 s.  Sanitizer builds (make check runs
# every CLI test again under ASan+UBSan) use 10,000 files and no time bound:
# the instrumentation makes the full size take many minutes there, and the
# paths are the same.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

N=100000
[ "${SF_SANITIZED:-0}" = 1 ] && N=10000

expect_success "$N files in one dataset folder: one folder run, 10 file runs, once; metrics" '
	files_init && trap stop_serve EXIT &&
	# the writer below may stall for seconds on a loaded machine: a quiet
	# period of 1 s would then see the folder half written (docs/events.md)
	files_sets_dag find "-type f " 5s &&
	export SYNTHFLOW_FLOW_RESCAN=3s &&
	start_serve &&
	python3 - run-data/downloaded/Big.clipper $N <<-PY &&
	import os, sys
	for d in range(10):
	    os.makedirs("%s/clips%d" % (sys.argv[1], d))
	n = int(sys.argv[2])
	for i in range(n):
	    ext = "wav" if i % (n // 10) == 0 else "flac"
	    with open("%s/clips%d/%06d.%s" % (sys.argv[1], i % 10, i, ext), "w") as f:
	        f.write("x")
	PY
	wait_runs sets 1 300 && wait_runs wav 10 120 &&
	run=$(synthflow runs list sets --json | jq -r ".runs[0].run_id") &&
	wait_for 120 test -s run-data/generated/sets/$run/n &&
	test "$(cat run-data/generated/sets/$run/n)" -eq $N &&
	synthflow files --json >f.json &&
	jq -e "length == 11 and all(.[]; .state == \"run\") and ([.[].run_id] | unique | length) == 11" f.json &&
	test "$(metric synthflow_files_seen_total)" -eq $((N + 1)) &&
	test "$(metric synthflow_files_pending)" -eq 0 &&
	test "$(metric synthflow_file_runs_created_total)" -eq 11 &&
	sleep 4 && rescan=$(metric synthflow_watcher_rescan_seconds) && echo "rescan: $rescan s" &&
	if [ "${SF_SANITIZED:-0}" != 1 ]; then awk -v r="$rescan" "BEGIN { exit !(r > 0 && r < 5) }"; fi &&
	hwm=$(awk "/^VmHWM/ { print \$2 }" /proc/$(cat run-data/serve.pid)/status) && echo "VmHWM: $hwm kB" &&
	test "$hwm" -lt 1048576 &&
	stop_serve && start_serve &&
	wait_for 120 metric_positive synthflow_watcher_rescan_seconds &&
	sleep 2 && test "$(runs_of sets)" -eq 1 && test "$(runs_of wav)" -eq 10 &&
	# files inside a dataset folder are not recorded one by one: seen anew, they start nothing
	test "$(metric synthflow_files_seen_total)" -eq $((N - 10))
'

test_done
