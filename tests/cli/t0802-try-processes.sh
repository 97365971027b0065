#!/usr/bin/env bash
# Every process of a try dies with it: on timeout and cancel (also those that
# left the process group with setsid), at the end of `test` and `serve`, and
# before a run recovered after a crash starts anything again (also children
# whose task's main process died).  With cgroups where the machine has them,
# and without (SF_NO_CGROUPS=1: the environment marker and the subreaper).
# DAGs: tests/cli/data/security/.  Each test uses its own sleep durations
# (83xx) to find its processes by command line.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

DATA=$SRC_ROOT/tests/cli/data/security

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	for d in "$@"; do cp "$DATA/$d.yaml" run-data/src/t/dags/; done
}

# running N: the pids of live (not zombie) processes running 'sleep N'.
running() {
	for p in $(pgrep -x -f "sleep $1"); do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"
	done
}

# is_running N: some live process runs 'sleep N' (for wait_for, which must
# re-check it on every poll, not a pid list read once before polling).
is_running() { test -n "$(running "$1")"; }

# gone PID: no such process any more, or only its zombie.
gone() {
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

none_running() {
	left=$(running "$1")
	[ -z "$left" ] || { echo "still running: sleep $1 (pid $left)" >&2; ps -o pid,ppid,pgid,sid,stat,args -p "$left" >&2; return 1; }
}

expect_success 'timeout: a setsid descendant dies with the try (cgroup, or marker when none)' '
	setup escape &&
	synthflow test escape -p n=8311 --json >out.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"slow\") | .state" out.json)" = failed &&
	test "$(jq -r ".tasks[] | select(.task_id == \"check\") | .state" out.json)" = success &&
	none_running 8311 &&
	SF_NO_CGROUPS=1 synthflow test escape -p n=8312 --json >out2.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"check\") | .state" out2.json)" = success &&
	none_running 8312
'

expect_success 'the end of synthflow test kills a daemon a task left behind' '
	setup daemon &&
	synthflow test daemon -p n=8313 >/dev/null &&
	none_running 8313 &&
	SF_NO_CGROUPS=1 synthflow test daemon -p n=8314 >/dev/null &&
	none_running 8314
'

expect_success 'cancel: every process of the try is gone when the run is cancelled' '
	setup hang daemon &&
	web_start "$PWD/run-data" &&
	run=$(trigger hang "{\"params\": {\"n\": 8315}}") &&
	wait_for "$WEB_WAIT" is_running 8315 &&
	wait_for "$WEB_WAIT" is_running 83151 &&
	api POST "/api/v1/runs/$run/cancel" >/dev/null && expect_status 202 &&
	wait_for "$WEB_WAIT" run_is "$run" cancelled &&
	none_running 8315 && none_running 83151 &&
	run=$(trigger daemon "{\"params\": {\"n\": 8316}}") &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	test -n "$(running 8316)" &&
	web_stop "$PWD/run-data" &&
	none_running 8316
'

expect_success 'crash: children of a dead task process are killed before the run goes on' '
	setup orphans &&
	web_start "$PWD/run-data" &&
	run=$(trigger orphans "{\"params\": {\"n\": 8317}}") &&
	wait_for "$WEB_WAIT" is_running 8317 &&
	wait_for "$WEB_WAIT" is_running 83171 &&
	old="$(running 8317) $(running 83171)" &&
	main=$(awk "{print \$4}" "/proc/$(running 8317)/stat") &&
	kill -9 "$WEB_PID" &&
	wait_for "$WEB_WAIT" test -s run-data/serve.status &&
	kill -9 "$main" &&
	for p in $old; do ! gone "$p" || exit 1; done &&
	web_start "$PWD/run-data" &&
	wait_for "$WEB_WAIT" is_running 8317 &&
	for p in $old; do gone "$p" || exit 1; done &&
	test "$(running 8317 | wc -l)" = 1 &&
	api POST "/api/v1/runs/$run/cancel" >/dev/null &&
	wait_for "$WEB_WAIT" run_is "$run" cancelled &&
	web_stop "$PWD/run-data" &&
	none_running 8317 && none_running 83171
'

test_done
