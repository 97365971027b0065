#!/usr/bin/env bash
# A store file that is not a SQLite database (a copy gone wrong, a disk
# error): every command that opens it names the file and the cause, exits 1,
# and leaves the file as it was.  Under ASan the failed open must also free
# what it kept (the error it reported once): it leaked, and LeakSanitizer
# aborted the command.
. "$(dirname "$0")/../lib.sh"

expect_success 'a store that is not a database: named, exit 1, the file unchanged' '
	synthflow init >/dev/null &&
	mkdir -p run-data/flow run-data/src/t/dags &&
	printf "tasks:\n  a: {run: \"true\"}\n" >run-data/src/t/dags/d.yaml &&
	head -c 8192 /dev/urandom >run-data/flow/synthflow.db &&
	sum=$(sha256sum run-data/flow/synthflow.db) &&
	for cmd in "vars set k v" "vars list" "runs list" "test d"; do
		test_exit 1 synthflow $cmd >out 2>err &&
		grep -q "store .*run-data/flow/synthflow.db.*file is not a database" err ||
		{ echo "synthflow $cmd:"; cat err; exit 1; }
	done &&
	test "$(sha256sum run-data/flow/synthflow.db)" = "$sum" &&
	test ! -e run-data/flow/synthflow.db-wal
'

test_done
