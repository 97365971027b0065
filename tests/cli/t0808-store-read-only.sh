#!/usr/bin/env bash
# Commands that only read the store (runs list and show, tasks logs, vars
# list and get, files) work where this user cannot write it: a data folder
# on a read-only mount, another user's folder (also while its serve writes),
# a folder with no store yet.  Commands that write say why they cannot.
# DAGs: tests/cli/data/store/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

# reads OUT: every read-only command's output in OUT.* (run id in OUT.run).
reads() {
	synthflow runs list --json >"$1.list" &&
	jq -r ".runs[0].run_id" "$1.list" >"$1.run" &&
	synthflow runs list >"$1.table" &&
	synthflow runs show "$(cat "$1.run")" --json >"$1.show" &&
	synthflow tasks logs "$(cat "$1.run")" a >"$1.log" &&
	synthflow vars list >"$1.vars" &&
	synthflow vars get k >"$1.var" &&
	synthflow files >"$1.files" 2>/dev/null
}

expect_success 'a read-only data folder: the reading commands work, writes say why' '
	if ! unshare -m true 2>/dev/null; then test_skip "unshare -m is not allowed here"; fi &&
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/store/twice.yaml" run-data/src/t/dags/ &&
	synthflow test twice >/dev/null &&
	synthflow vars set k v &&
	synthflow test twice >/dev/null &&
	reads rw &&
	ls -R run-data >before &&
	cat >ro.sh <<-\EOF_ &&
	mount --bind run-data run-data && mount -o remount,bind,ro run-data || exit 3
	touch run-data/flow/x 2>/dev/null && exit 4
	reads ro || exit 5
	synthflow runs cancel "$(cat rw.run)" 2>cancel.err && exit 6
	synthflow vars set k w 2>set.err && exit 7
	exit 0
	EOF_
	export -f reads &&
	unshare -m bash ro.sh &&
	for f in list table show log vars var files; do cmp rw.$f ro.$f || exit 1; done &&
	test "$(jq -r .state ro.show)" = success &&
	must_contain ro.log "a ran" &&
	must_contain cancel.err "cannot open store .* for writing; commands that only read it .*: Read-only file system" &&
	must_contain set.err "cannot open store .* for writing" &&
	ls -R run-data >after && cmp before after
'

expect_success 'no store yet on a read-only folder: no runs, no variables' '
	if ! unshare -m true 2>/dev/null; then test_skip "unshare -m is not allowed here"; fi &&
	synthflow init >/dev/null &&
	unshare -m sh -c "mount --bind run-data run-data && mount -o remount,bind,ro run-data &&
		synthflow runs list --json >list.json && synthflow vars list >vars.out &&
		synthflow runs show 20990101T000000-abcdef 2>show.err; echo \$? >show.rc" &&
	test "$(jq -r ".runs | length" list.json)" = 0 &&
	! test -s vars.out &&
	test "$(cat show.rc)" = 1 && must_contain show.err "20990101T000000-abcdef" &&
	! test -e run-data/flow/synthflow.db
'

expect_success 'another user reads the runs, also while a run writes them' '
	if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null; then test_skip "needs root and runuser"; fi &&
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/store/hold.yaml" run-data/src/t/dags/ &&
	chmod 755 "$TRASH_BASE" "$TRASH" || exit 1
	# Whatever fails below, the held task ends with the body.
	trap "mkdir -p run-data/generated/hold && touch run-data/generated/hold/release" EXIT
	as_nobody() { runuser -u nobody -- "$SYNTHFLOW_BUILD/synthflow" --data "$PWD/run-data" "$@"; }
	synthflow test hold >/dev/null 2>&1 &
	pid=$!
	wait_for 60 test -e run-data/generated/hold/a.started &&
	# A synthflow test holds the store open: its -wal and -shm are shared.
	test -e run-data/flow/synthflow.db-shm &&
	as_nobody runs list --json >live.json &&
	test "$(jq -r ".runs[0].state" live.json)" = running &&
	run=$(jq -r ".runs[0].run_id" live.json) &&
	wait_for 60 sh -c "runuser -u nobody -- \"$SYNTHFLOW_BUILD/synthflow\" --data \"$PWD/run-data\" tasks logs $run a | grep -q \"a holds\"" &&
	touch run-data/generated/hold/release &&
	wait $pid &&
	# Closed: no -wal, no -shm; the store is read as it is.
	! test -e run-data/flow/synthflow.db-shm &&
	as_nobody runs show "$run" --json >done.json &&
	test "$(jq -r .state done.json)" = success &&
	test "$(jq -r "[.tasks[] | select(.state == \"success\")] | length" done.json)" = 2 &&
	test_exit 1 as_nobody runs cancel "$run" 2>cancel.err &&
	must_contain cancel.err "for writing" &&
	test "$(stat -c %U run-data/flow/synthflow.db)" = root
'

test_done
