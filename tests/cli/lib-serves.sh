# Sourced by the tests of several serves on one PostgreSQL (t1203-t1207),
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

# fan_data N PAUSE: serves_data, and a DAG 'fan' (make, a foreach 'work' of
# params.n items, default N, each sleeping params.pause, default PAUSE,
# join).  Each try of 'work' holds a per-instance flock for its whole life
# (a second try of the same instance that finds it held says so in
# overlaps), and appends "KEY HOST PID" to starts and "KEY HOST" to ends
# (HOST: the serve's SYNTHFLOW_HOST_ID; KEY: RUN.TASK.ITEM, make's
# RUN.make.0).
fan_data() {
	serves_data &&
	mkdir -p run-data/locks &&
	cat >run-data/tick.sh <<-'EOF' &&
	key="$SF_RUN_ID.$SF_TASK_ID.$(basename "${SF_ITEM:-none}")"
	exec 9>"$SF_DATA/locks/$key"
	flock -n 9 || echo "$key $$" >>"$SF_DATA/overlaps"
	echo "$key ${SYNTHFLOW_HOST_ID:-} $$" >>"$SF_DATA/starts"
	sleep "$1"
	echo "$key ${SYNTHFLOW_HOST_ID:-}" >>"$SF_DATA/ends"
	EOF
	cat >run-data/src/t/dags/fan.yaml <<-EOF
	params:
	  n: {type: integer, default: $1, minimum: 1}
	  pause: {type: string, default: "$2"}
	tasks:
	  make:
	    run: mkdir -p {{ run.dir }}/in && cd {{ run.dir }}/in && touch \$(seq {{ params.n }}) && echo "\$SF_RUN_ID.make.0 \${SYNTHFLOW_HOST_ID:-} \$\$" >>"\$SF_DATA/starts"
	  work:
	    needs: [make]
	    foreach: "{{ run.dir }}/in/*"
	    run: sh "\$SF_DATA/tick.sh" {{ params.pause }}
	  join: {needs: [work], run: "echo done"}
	EOF
}
