#!/usr/bin/env bash
# Every process of a try dies with it: on timeout and cancel (also those that
# left the process group with setsid), at the end of `test` and `serve`, and
# before a run recovered after a crash starts anything again (also children
# whose task's main process died).  With cgroups where the machine has them,
# and without (SF_NO_CGROUPS=1: the environment marker and the subreaper).
# DAGs: tests/cli/data/security/.  Each test uses its own sleep durations,
# $(n K) (TEST_UNIQ + K, see lib.sh: unique on this machine, so another
# checkout's suite running beside this one is never mistaken for ours), to
# find its processes by command line.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

DATA=$SRC_ROOT/tests/cli/data/security

n() { echo $((TEST_UNIQ + $1)); }

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
	synthflow test escape -p n=$(n 1) --json >out.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"slow\") | .state" out.json)" = failed &&
	test "$(jq -r ".tasks[] | select(.task_id == \"check\") | .state" out.json)" = success &&
	none_running $(n 1) &&
	SF_NO_CGROUPS=1 synthflow test escape -p n=$(n 2) --json >out2.json &&
	test "$(jq -r ".tasks[] | select(.task_id == \"check\") | .state" out2.json)" = success &&
	none_running $(n 2)
'

expect_success 'the end of synthflow test kills a daemon a task left behind' '
	setup daemon &&
	synthflow test daemon -p n=$(n 3) >/dev/null &&
	none_running $(n 3) &&
	SF_NO_CGROUPS=1 synthflow test daemon -p n=$(n 4) >/dev/null &&
	none_running $(n 4)
'

expect_success 'cancel: every process of the try is gone when the run is cancelled' '
	setup hang daemon &&
	web_start "$PWD/run-data" &&
	run=$(trigger hang "{\"params\": {\"n\": $(n 5)}}") &&
	wait_for "$WEB_WAIT" is_running $(n 5) &&
	wait_for "$WEB_WAIT" is_running $(n 5)1 &&
	api POST "/api/v1/runs/$run/cancel" >/dev/null && expect_status 202 &&
	wait_for "$WEB_WAIT" run_is "$run" cancelled &&
	none_running $(n 5) && none_running $(n 5)1 &&
	run=$(trigger daemon "{\"params\": {\"n\": $(n 6)}}") &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	test -n "$(running $(n 6))" &&
	web_stop "$PWD/run-data" &&
	none_running $(n 6)
'

expect_success 'crash: children of a dead task process are killed before the run goes on' '
	setup orphans &&
	web_start "$PWD/run-data" &&
	run=$(trigger orphans "{\"params\": {\"n\": $(n 7)}}") &&
	wait_for "$WEB_WAIT" is_running $(n 7) &&
	wait_for "$WEB_WAIT" is_running $(n 7)1 &&
	old="$(running $(n 7)) $(running $(n 7)1)" &&
	main=$(awk "{print \$4}" "/proc/$(running $(n 7))/stat") &&
	kill -9 "$WEB_PID" &&
	wait_for "$WEB_WAIT" test -s run-data/serve.status &&
	kill -9 "$main" &&
	for p in $old; do ! gone "$p" || exit 1; done &&
	web_start "$PWD/run-data" &&
	wait_for "$WEB_WAIT" is_running $(n 7) &&
	for p in $old; do gone "$p" || exit 1; done &&
	test "$(running $(n 7) | wc -l)" = 1 &&
	api POST "/api/v1/runs/$run/cancel" >/dev/null &&
	wait_for "$WEB_WAIT" run_is "$run" cancelled &&
	web_stop "$PWD/run-data" &&
	none_running $(n 7) && none_running $(n 7)1
'

test_done
