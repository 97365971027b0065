#!/usr/bin/env bash
# The PostgreSQL store against a real PostgreSQL 15 this script starts (as
# the postgres user, a Unix socket and a free loopback port with password
# authentication): libpq's URL and PG* conventions, passwords never shown,
# the change feed across processes, several serves on one database, and a database
# that goes away for a few seconds while a run goes on.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$TEST_ROOT/pg.sh"
# This script's bodies each use their own data folder and database, and
# stop the serve they start (trap web_stop_all EXIT: bodies are subshells).
TEST_STORE_SHARED=0

SECRET="sf-Pw-$$-$RANDOM"
PG=$(mktemp -d /tmp/sf-t1201-pg.XXXXXX)
PORT=$(free_port)
trap 'web_stop_all; pg_stop "$PG"; rm -rf "$PG" "$TRASH_BASE"' EXIT
printf '%s\n' "$SECRET" >"$PG.pw"
PG_PORT=$PORT
if ! PG_PWFILE=$PG.pw pg_start "$PG" >"$TRASH_BASE/pg.log" 2>&1; then
	cat "$TRASH_BASE/pg.log"
	echo "not ok 1 - PostgreSQL did not start"
	exit 1
fi
rm -f "$PG.pw"
SOCK=$PG_SOCKDIR

# newdb: creates the body's database, prints its name
newdb() {
	pg_createdb "t1201_$test_count" && echo "t1201_$test_count"
}

# A data folder whose synthflow.yaml names the store $1.
data_with_store() {
	synthflow init >/dev/null &&
	printf 'flow:\n  store: "%s"\n  parallelism: 2\n' "$1" >run-data/synthflow.yaml &&
	mkdir -p run-data/src/t/dags &&
	cat >run-data/src/t/dags/steps.yaml <<-'EOF'
	params:
	  n: {type: integer, default: 3, minimum: 1}
	  pause: {type: string, default: "0"}
	tasks:
	  first:
	    run: mkdir -p {{ run.dir }}/in && cd {{ run.dir }}/in && touch $(seq {{ params.n }})
	  many:
	    needs: [first]
	    foreach: "{{ run.dir }}/in/*"
	    run: sleep {{ params.pause }} && echo {{ item.name }}
	  last: {needs: [many], run: "echo done"}
	EOF
}

psql_q() {
	"$PG_BIN/psql" -X -q -A -t -h "$SOCK" -p "$PORT" -U postgres -d "$1" -c "$2"
}

run_is_cli() {
	[ "$(synthflow runs show "$1" --json 2>/dev/null | jq -r .state)" = "$2" ]
}

# ti_is DB RUN TASK STATE
ti_is() {
	[ "$(psql_q "$1" "SELECT state FROM tis WHERE run_id = '$2' AND task_id = '$3'")" = "$4" ]
}

expect_success 'a DAG runs on a PostgreSQL store (Unix socket) and the CLI reads it back' '
	db=$(newdb) &&
	data_with_store "$(pg_url "$db")" &&
	run=$(synthflow test steps) &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq -r .state r.json)" = success &&
	test "$(jq ".tasks | length" r.json)" = 5 &&
	synthflow vars set greeting hi && test "$(synthflow vars get greeting)" = hi &&
	test "$(psql_q "$db" "SELECT count(*) FROM tries WHERE run_id = '\''$run'\'' AND exit_code = 0")" = 5 &&
	test ! -e run-data/flow/synthflow.db
'

expect_success 'a password in the url works over TCP and is never shown; a wrong one is refused' '
	db=$(newdb) &&
	data_with_store "postgresql://postgres:$SECRET@127.0.0.1:$PORT/$db?sslmode=disable" &&
	synthflow vars set k v && test "$(synthflow vars get k)" = v &&
	run=$(synthflow test steps 2>err) && ! grep -F "$SECRET" err &&
	printf "flow:\n  store: \"postgresql://postgres:WRONG$SECRET@127.0.0.1:$PORT/$db\"\n" \
		>run-data/synthflow.yaml &&
	test_exit 1 synthflow vars get k 2>err &&
	cat err &&
	grep -q "password authentication failed" err &&
	grep -q "postgres:\*\*\*@127.0.0.1" err &&
	! grep -F "$SECRET" err
'

expect_success 'PGPASSFILE and PGSSLMODE are honoured (libpq conventions)' '
	db=$(newdb) &&
	data_with_store "postgresql://postgres@127.0.0.1:$PORT/$db" &&
	test_exit 1 env PGPASSFILE=/nonexistent synthflow vars list 2>err &&
	grep -q "no password supplied\|password authentication failed" err &&
	printf "127.0.0.1:%s:*:postgres:%s\n" "$PORT" "$SECRET" >pgpass && chmod 600 pgpass &&
	PGPASSFILE=$PWD/pgpass synthflow vars set a b &&
	# the test server has no TLS: sslmode=require from the environment must fail
	test_exit 1 env PGPASSFILE=$PWD/pgpass PGSSLMODE=require synthflow vars list 2>err &&
	grep -qi "ssl" err &&
	! grep -F "$SECRET" err
'

expect_success 'several serves share one database: both hold a lease, a run is done once' '
	db=$(newdb) &&
	url="$(pg_url "$db")" &&
	mkdir a b &&
	(cd a && data_with_store "$url") && (cd b && data_with_store "$url") &&
	trap web_stop_all EXIT && web_start "$PWD/a/run-data" && web_start "$PWD/b/run-data" &&
	synthflow --data a/run-data schedulers --json >l.json &&
	test "$(jq length l.json)" = 2 &&
	test ! -e a/run-data/flow/serve.lock && test ! -e b/run-data/flow/serve.lock &&
	export SYNTHFLOW_DATA=$PWD/a/run-data &&
	run=$(synthflow trigger steps) &&
	wait_for "$WEB_WAIT" run_is_cli "$run" success &&
	test "$(psql_q "$db" "SELECT count(*) FROM tries WHERE run_id = '\''$run'\''")" = 5
'

expect_success 'the event stream of serve shows a run made by another process' '
	db=$(newdb) &&
	data_with_store "$(pg_url "$db")" &&
	trap "kill \$stream 2>/dev/null; web_stop_all" EXIT && web_start "$PWD/run-data" &&
	{ curl -s -N -H "$WEB_AUTH" "$WEB_BASE/api/v1/events" >ev & stream=$!; } &&
	wait_for 20 grep -q "event: hello" ev &&
	run=$(synthflow test steps) &&
	wait_for 20 grep -qF "\"run_id\":\"$run\",\"dag_id\":\"steps\",\"state\":\"success\"}" ev ||
	{ cat ev; exit 1; }
'

expect_success 'the database going away for 3 s mid-run fails nothing' '
	db=$(newdb) &&
	data_with_store "$(pg_url "$db")" &&
	trap web_stop_all EXIT && web_start "$PWD/run-data" &&
	run=$(synthflow trigger steps -p n=12 -p pause=0.3) &&
	wait_for 30 ti_is "$db" "$run" first success &&
	pg_stop "$PG" fast &&
	sleep 3 &&
	pg_restart "$PG" 127.0.0.1 &&
	wait_for 60 run_is_cli "$run" success &&
	synthflow runs show "$run" --json >r.json &&
	test "$(jq "[.tasks[] | select(.state == \"success\" and .try == 1)] | length" r.json)" = 14 &&
	grep -q "connection lost" run-data/serve.err &&
	grep -q "connected again" run-data/serve.err
'

# The loop's iterations, from serve's /metrics (read once the store is back).
loops() {
	curl -sS --fail-with-body -H "$WEB_AUTH" "$WEB_BASE/metrics" >metrics.txt ||
		{ cat metrics.txt; tail -n 5 run-data/serve.err; return 1; } >&2
	awk '$1 == "synthflow_scheduler_loops_total" {print $2}' metrics.txt
}

# metrics_burst: 16 requests at once (spread over the web threads); their
# status codes, sorted (sort ends when the last curl closes the pipe).
metrics_burst() {
	for i in $(seq 16); do
		curl -s -o /dev/null -w "%{http_code}\n" -H "$WEB_AUTH" "$WEB_BASE/metrics" &
	done | sort
}

# Guarantee: while the store is away the scheduler sleeps between its
# retries (flush, lease, outbox: about once a second); counted from before
# the database stops to after it is back.  6 s covers an outbox
# look (every 5 s); its failure was once retried at once, a busy loop of
# tens of thousands of iterations in that time, even on a loaded machine.
expect_success 'serve sleeps while the database is away (no busy loop)' '
	db=$(newdb) &&
	data_with_store "$(pg_url "$db")" &&
	trap web_stop_all EXIT && web_start "$PWD/run-data" &&
	before=$(loops) && test -n "$before" &&
	pg_stop "$PG" fast || exit 1
	# requests while it is away put the web threads connections into back-off
	# (their answers, 500 while it is away, are not the point: kept out of the log)
	sleep 2 && metrics_burst >away.txt && sleep 2 && metrics_burst >>away.txt && sleep 2
	pg_restart "$PG" 127.0.0.1 || exit 1
	wait_for 60 sh -c "curl -sf -H \"$WEB_AUTH\" \"$WEB_BASE/metrics\" >/dev/null" &&
	# once one connection is through, the others try again at once: every
	# request answers, whichever thread (and connection) serves it
	metrics_burst >back.txt &&
	{ test "$(cat back.txt)" = "$(printf "200\n%.0s" $(seq 16))" ||
		{ echo "answers once the database was back:"; uniq -c back.txt; tail -n 5 run-data/serve.err; exit 1; }; } &&
	after=$(loops) && test -n "$after" &&
	echo "loop iterations in 6 s without the database: $((after - before))" &&
	test $((after - before)) -lt 2000
'

expect_success 'store copy moves a SQLite store into an empty PostgreSQL database, counts agree' '
	data_with_store "sqlite:flow/synthflow.db" &&
	run1=$(synthflow test steps -p n=4) &&
	run2=$(synthflow test steps -p n=2) &&
	synthflow vars set model "big one" &&
	synthflow tasks clear "$run2" many >/dev/null &&
	synthflow runs list --json >before.json &&
	synthflow runs show "$run1" --json >run1.json &&
	db=$(newdb) && url=$(pg_url "$db") &&
	synthflow store copy --to "$url" >out &&
	cat out &&
	grep -q "every count agrees" out &&
	grep -Eq "^runs +2 +2$" out &&
	grep -Eq "^tis +10 +10$" out &&
	grep -Eq "^vars +1 +1$" out &&
	grep -Eq "^requests +1 +1$" out &&
	printf "flow:\n  store: \"%s\"\n" "$url" >run-data/synthflow.yaml &&
	synthflow runs list --json >after.json &&
	diff before.json after.json &&
	synthflow runs show "$run1" --json | diff run1.json - &&
	test "$(synthflow vars get model)" = "big one" &&
	test "$(psql_q "$db" "SELECT count(*) FROM tries")" = \
		"$(sqlite3 run-data/flow/synthflow.db "SELECT count(*) FROM tries")" &&
	# the copy goes on: new runs, requests and change numbers after the copied ones
	seq0=$(psql_q "$db" "SELECT v FROM meta") && test "$seq0" -gt 2 &&
	run3=$(synthflow test steps) &&
	test "$(psql_q "$db" "SELECT min(seq) FROM tis WHERE run_id = '\''$run3'\''")" -gt "$seq0" &&
	synthflow tasks clear "$run3" first >/dev/null &&
	test "$(psql_q "$db" "SELECT count(*) FROM requests")" = 2
'

expect_success 'store copy refuses a database that is not empty, and a bad url, changing nothing' '
	db=$(newdb) && url=$(pg_url "$db") &&
	data_with_store "$url" &&
	synthflow test steps >/dev/null &&
	mkdir other && (cd other && data_with_store "sqlite:flow/synthflow.db" && synthflow test steps >/dev/null) &&
	before=$(psql_q "$db" "SELECT count(*) FROM runs") &&
	test_exit 1 synthflow --data other/run-data store copy --to "$url" >out 2>err &&
	cat err && grep -q "the target store is not empty: table .[a-z_]*. has [1-9][0-9]* rows" err &&
	test "$(psql_q "$db" "SELECT count(*) FROM runs")" = "$before" &&
	test_exit 1 synthflow --data other/run-data store copy \
		--to "postgresql://postgres:$SECRET@127.0.0.1:1/x" 2>err &&
	! grep -F "$SECRET" err && grep -q "postgres:\*\*\*@127.0.0.1:1" err &&
	test_exit 2 synthflow --data other/run-data store copy 2>err && grep -q "needs --to URL" err &&
	test_exit 2 synthflow --data other/run-data store move --to "$url"
'

test_done
