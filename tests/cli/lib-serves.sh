# Sourced by the tests of several serves on one PostgreSQL (t1203-t1206),
# after lib.sh and lib-web.sh: a PostgreSQL of the script's own (stopped when
# it exits), WAIT (bounded polls, longer under sanitizers), psql as q, and
# serves_data for each body's data folder on a fresh database, and start,
# leases and lease_of for the serves of run-data.
. "$TEST_ROOT/pg.sh"
# Each body has its own data folder and database.
TEST_STORE_SHARED=0

PG=$(mktemp -d "/tmp/sf-${TEST_NAME%%-*}-pg.XXXXXX")
trap 'pg_stop "$PG"; rm -rf "$PG" "$TRASH_BASE"' EXIT
if ! pg_start "$PG" >"$TRASH_BASE/pg.log" 2>&1; then
	cat "$TRASH_BASE/pg.log"
	echo "not ok 1 - PostgreSQL did not start"
	exit 1
fi
WAIT=60
[ "${SF_SANITIZED:-0}" = 1 ] && WAIT=180

# serves_data: a fresh database for this body (its url in URL) and a data
# folder whose store it is, with parallelism 2 and run-data/src/t/dags.
serves_data() {
	pg_createdb "${TEST_NAME%%-*}_$test_count" &&
	URL=$(pg_url "${TEST_NAME%%-*}_$test_count") &&
	synthflow init >/dev/null &&
	printf 'flow:\n  store: "%s"\n  parallelism: 2\n' "$URL" >run-data/synthflow.yaml &&
	mkdir -p run-data/src/t/dags
}

# q SQL: one query on the body's database.
q() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$URL" -c "$1"; }

# start NAME [VAR=VALUE...]: a serve of run-data, its pid in NAME.pid, its log NAME.log
start() {
	name=$1
	shift
	env "$@" synthflow --data run-data serve --port 0 >"$name.out" 2>>"$name.log" &
	echo $! >"$name.pid"
	wait_for "$WAIT" lease_of "$(cat "$name.pid")"
}

leases() { synthflow --data run-data schedulers --json; }
lease_of() { leases | jq -e ".[] | select(.pid == $1) | .epoch" >/dev/null; }
