#!/usr/bin/env bash
# The store's disk fills up while a run goes on: the error is printed once,
# its repeats are counted, and nothing of the run is lost once there is
# room again.  A tiny tmpfs in a private mount namespace holds the store;
# machines that do not allow that (no CAP_SYS_ADMIN) report a skip.
# DAG: tests/cli/data/store/diskfull.yaml.
. "$(dirname "$0")/../lib.sh"

unshare -m true 2>/dev/null || skip_all "unshare -m is not allowed here"

# Runs in the mount namespace: the store on a 1 MiB tmpfs, filled by the
# time task a ends, freed once b runs and the scheduler has retried.
cat >"$TRASH_BASE/diskfull.sh" <<'SCRIPT'
set -e
poll() { # SECONDS CMD...: until CMD succeeds
	n=$(($1 * 20)); shift
	until "$@" 2>/dev/null; do
		n=$((n - 1)); [ "$n" -gt 0 ] || { echo "timed out: $*" >&2; return 1; }
		sleep 0.05
	done
}
mount -t tmpfs -o size=1m tmpfs run-data/dbfs
synthflow test diskfull --json >out.json 2>err &
pid=$!
poll 60 test -e run-data/generated/diskfull/a.started
# Fill what is left (dd stops at ENOSPC), then let a end.
dd if=/dev/zero of=run-data/dbfs/fill bs=4k 2>/dev/null || true
touch run-data/generated/diskfull/filled
poll 60 grep -q "database or disk is full" err
# The scheduler retries every second: holding the disk full for 5 s (5x)
# lets it fail again, so there are repeats to count.
sleep 5
rm run-data/dbfs/fill
touch run-data/generated/diskfull/freed
wait $pid
sqlite3 run-data/dbfs/synthflow.db "SELECT task_id || ' ' || state FROM tis ORDER BY task_id" >tis
sqlite3 run-data/dbfs/synthflow.db "SELECT task_id || ' ' || try || ' ' || (ended_at > 0) || ' ' || exit_code FROM tries ORDER BY task_id" >tries
sqlite3 run-data/dbfs/synthflow.db "SELECT state FROM runs" >runs
SCRIPT

expect_success 'a full disk under the store: one error, then a count; nothing lost' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags run-data/dbfs &&
	cp "$TEST_ROOT/cli/data/store/diskfull.yaml" run-data/src/t/dags/ &&
	SYNTHFLOW_FLOW_STORE=sqlite:dbfs/synthflow.db unshare -m bash "$TRASH_BASE/diskfull.sh" &&
	cat err &&
	test "$(grep -c "database or disk is full" err)" = 2 &&
	test "$(grep -c "^synthflow: error: store .*: database or disk is full$" err)" = 1 &&
	grep -q "^synthflow: store .*: '\''database or disk is full'\'' [1-9][0-9]* more times\{0,1\}, then it was written again$" err &&
	test "$(jq -r .state out.json)" = success &&
	must_equal runs <<-\EOF_ &&
	success
	EOF_
	must_equal tis <<-\EOF_ &&
	a success
	b success
	c success
	EOF_
	must_equal tries <<-\EOF_
	a 1 1 0
	b 1 1 0
	c 1 1 0
	EOF_
'

test_done
