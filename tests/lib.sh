# Shell test helpers, in the manner of git's t/test-lib.sh.
#
#   . "$(dirname "$0")/../lib.sh"
#   expect_success 'init is idempotent' '
#       synthflow init && synthflow init
#   '
#   test_done
#
# Each test body runs in a subshell inside a fresh scratch directory ($TRASH,
# also the cwd), with `synthflow` from the build under test first on PATH.
# Output is TAP ("ok N - name" / "not ok N - name"); the body's output is
# shown only when it fails (or always with TEST_VERBOSE=1).  A body that
# cannot check what it is about on this machine calls test_skip REASON and
# is reported as "ok N - name # SKIP REASON", which tests/run.sh counts as
# skipped, never as passed.

set -u
TEST_NAME=$(basename "$0" .sh)
TEST_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC_ROOT=$(cd "$TEST_ROOT/.." && pwd)
: "${SYNTHFLOW_BUILD:=$SRC_ROOT/build}"
PATH="$SYNTHFLOW_BUILD:$PATH"
export PATH SRC_ROOT TEST_ROOT
unset SYNTHFLOW_DATA
# Every synthflow environment override would change what tests see.
for v in $(env | sed -n 's/^\(SYNTHFLOW_[A-Z_]*\)=.*/\1/p'); do
	[ "$v" = SYNTHFLOW_BUILD ] || unset "$v"
done
# With SF_TEST_PG (the socket folder of a PostgreSQL server started by
# tests/pg.sh, as tests/run.sh's cli-pg suite does) the same tests run with
# a PostgreSQL store (SYNTHFLOW_FLOW_STORE) instead of the SQLite file of
# their data folder: one database per test script, and a fresh one per test
# body (as each body has its own data folder) unless the script shares one
# data folder between bodies (TEST_STORE_SHARED=1, the web tests).
if [ -n "${SF_TEST_PG:-}" ]; then
	. "$TEST_ROOT/pg.sh"
	PG_SOCKDIR=$SF_TEST_PG PG_PORT=5432
fi
# Every `serve` a test starts listens on a free port, never on the default
# 8881 that another test (or the user's own serve) may hold.
export SYNTHFLOW_WEB_PORT=0

# For tests that find their processes by command line (pgrep -f "sleep N"):
# a multiple of 10 that no other test script running on this machine now
# uses (this script's pid, and random digits for scripts in other pid
# namespaces, such as a container or another checkout's suite); a test adds
# 0-9 to it.
TEST_UNIQ=$(( (100000000 + ($$ % 1000000) * 100 + RANDOM % 100) * 10 ))

TEST_OUT_BASE=${TEST_OUT:-$SYNTHFLOW_BUILD/test-output}
mkdir -p "$TEST_OUT_BASE"
TRASH_BASE=$(mktemp -d "${TMPDIR:-/tmp}/sf-$TEST_NAME.XXXXXX")
test_count=0
test_failed=0
test_skipped=0
trap 'rm -rf "$TRASH_BASE"' EXIT

run_body() {
	# $1 = expected status class (success|failure), $2 = name, $3 = body
	test_count=$((test_count + 1))
	TRASH="$TRASH_BASE/$test_count"
	mkdir -p "$TRASH"
	log="$TRASH_BASE/$test_count.log"
	(cd "$TRASH" && TRASH="$TRASH" && export TRASH && test_store_setup && set -e && eval "$3") \
		>"$log" 2>&1
	status=$?
	# What a body started and did not stop (a helper library defines it).
	if [ "$(type -t test_body_done)" = function ]; then
		test_body_done >>"$log" 2>&1
	fi
	if [ $status -eq 77 ] && [ -f "$TRASH/.skip" ]; then
		echo "ok $test_count - $2 # SKIP $(cat "$TRASH/.skip")"
		test_skipped=$((test_skipped + 1))
	elif { [ "$1" = success ] && [ $status -eq 0 ]; } || { [ "$1" = failure ] && [ $status -ne 0 ]; }; then
		echo "ok $test_count - $2"
		[ "${TEST_VERBOSE:-0}" = 1 ] && sed 's/^/#   /' "$log"
	else
		echo "not ok $test_count - $2 (exit $status)"
		sed 's/^/#   /' "$log" | tail -n 60
		test_failed=$((test_failed + 1))
	fi
	return 0
}

# test_store_fresh: a new empty PostgreSQL store for what follows (no-op on SQLite).
test_store_fresh() {
	[ -n "${SF_TEST_PG:-}" ] || return 0
	test_store_dbs=$((${test_store_dbs:-0} + 1))
	db=$(echo "sf_${TEST_NAME}_$$_${test_count}_$test_store_dbs" | tr -c 'a-zA-Z0-9_\n' _)
	pg_createdb "$db" || return 1
	SYNTHFLOW_FLOW_STORE=$(pg_url "$db")
	export SYNTHFLOW_FLOW_STORE
}

test_store_setup() {
	[ "${TEST_STORE_SHARED:-0}" = 1 ] || test_store_fresh
}

# store_sql SQL: one query on the test's store (run-data's SQLite file, or its
# PostgreSQL database), rows printed as '|'-separated fields.
store_sql() {
	if [ -n "${SYNTHFLOW_FLOW_STORE:-}" ]; then
		"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$SYNTHFLOW_FLOW_STORE" -c "$1"
	else
		sqlite3 run-data/flow/synthflow.db "$1"
	fi
}

# free_port: a loopback TCP port free at the moment (the kernel picks it).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve_start [VAR=VALUE...]: `synthflow serve` in the background, with
# VAR=VALUE added to its environment (PATH=$PWD/bin:$PATH puts stand-in
# programs first); its pid in serve.pid, its stderr appended to serve.log.
# Returns once it logs "scheduler running"; fails with the log when it exits
# first or takes over 20 s (a start takes well under a second).  Stop it with
# serve_stop, e.g. from the body's EXIT trap.
serve_start() {
	env "$@" synthflow serve 2>>serve.log &
	echo $! >serve.pid
	for i in $(seq 400); do
		alive=0
		kill -0 "$(cat serve.pid)" 2>/dev/null && alive=1
		grep -q "scheduler running" serve.log 2>/dev/null && return 0
		[ $alive = 1 ] || break # it ended without starting
		sleep 0.05
	done
	echo "serve did not start" >&2
	cat serve.log >&2
	return 1
}

# serve_stop: SIGTERM to the serve in serve.pid, and up to 5 s for it to end.
serve_stop() {
	[ -f serve.pid ] || return 0
	kill "$(cat serve.pid)" 2>/dev/null || true
	for i in $(seq 100); do kill -0 "$(cat serve.pid)" 2>/dev/null || break; sleep 0.05; done
	rm -f serve.pid
}

# wait_state RUN STATE [SECONDS]: polls until the run is in STATE (default
# 10 s at most; fails showing the run).
wait_state() {
	for i in $(seq $((${3:-10} * 10))); do
		test "$(synthflow runs show "$1" --json | jq -r .state)" = "$2" && return 0
		sleep 0.1
	done
	synthflow runs show "$1" >&2
	return 1
}

# The script's own store, for what it starts outside test bodies.
test_store_fresh || { echo "not ok 1 - cannot create a PostgreSQL database"; exit 1; }

expect_success() { run_body success "$1" "$2"; }
# test_skip REASON: inside a body, ends it as skipped (say why).
test_skip() {
	echo "$*" >"$TRASH/.skip"
	exit 77
}
# skip_all REASON: before any test, when the whole script cannot run here
# (TAP "1..0 # SKIP"); exits.
skip_all() {
	echo "1..0 # SKIP $*"
	echo "# $TEST_NAME: 0 passed, 0 failed, 1 skipped ($*)"
	exit 0
}
# need_docker: before any test, for a script that needs a Docker engine:
# skips it where none answers, except under `make check`, which starts one
# (SF_TEST_DOCKER=required): there a missing engine is a failure.
need_docker() {
	command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && return 0
	if [ "${SF_TEST_DOCKER:-}" = required ]; then
		echo "not ok 1 - no Docker engine answers (make check started one: see build.dockerd.log)"
		echo "# $TEST_NAME: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	skip_all "no Docker engine answers here"
}
# The body as a whole must fail (use sparingly: prefer checking exit codes).
expect_failure() { run_body failure "$1" "$2"; }

# test_exit CODE CMD...: runs CMD and fails unless it exits with CODE.
test_exit() {
	want=$1
	shift
	set +e
	"$@"
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		echo "expected exit $want, got $got: $*" >&2
		return 1
	fi
}

# grep that explains itself when the pattern is missing.
must_contain() {
	if ! grep -q -e "$2" "$1"; then
		echo "'$1' does not contain '$2'; it holds:" >&2
		sed 's/^/| /' "$1" >&2
		return 1
	fi
}

must_not_contain() {
	if grep -q -e "$2" "$1"; then
		echo "'$1' unexpectedly contains '$2':" >&2
		sed 's/^/| /' "$1" >&2
		return 1
	fi
}

# Compares a file with expected text given on stdin.
must_equal() {
	cat >"$TRASH_BASE/expected.$$"
	if ! diff -u "$TRASH_BASE/expected.$$" "$1" >&2; then
		return 1
	fi
}

test_done() {
	echo "1..$test_count"
	echo "# $TEST_NAME: $((test_count - test_failed - test_skipped)) passed, $test_failed failed, $test_skipped skipped"
	[ "$test_failed" -eq 0 ]
}
