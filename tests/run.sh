#!/usr/bin/env bash
# Runs the test suites against one build directory and prints a count.
#   tests/run.sh BUILD_DIR [unit] [cli] [e2e] [unit-pg] [cli-pg]   (default: unit cli)
# unit-pg and cli-pg run the store's unit tests and the CLI tests that use
# the store (PG_CLI_TESTS) again with a PostgreSQL store: a server started
# here (tests/pg.sh) and stopped at the end.
# Writes "PASSED FAILED SKIPPED" to BUILD_DIR/test-counts for the caller to
# add up.  A TAP "ok ... # SKIP" (a check this machine cannot make) and a
# script's "1..0 # SKIP" count as skipped, never as passed.
set -u
build=$(cd "${1:?build dir}" && pwd)
shift
suites=${*:-unit cli}
root=$(cd "$(dirname "$0")/.." && pwd)
export SYNTHFLOW_BUILD=$build TEST_OUT=$build/test-output
mkdir -p "$TEST_OUT"
passed=0
failed=0
skipped=0

count_tap() {
	# $1 = TAP log; sets p, f and s for this log and adds them up
	# (cmocka writes its skips as "not ok N # SKIP", which TAP counts as a skip)
	ok_skip=$(grep -ci '^ok [^#]*# *skip' "$1")
	notok_skip=$(grep -ci '^not ok [^#]*# *skip' "$1")
	s=$((ok_skip + notok_skip + $(grep -ci '^1\.\.0 *# *skip' "$1")))
	p=$(($(grep -c '^ok ' "$1") - ok_skip))
	f=$(($(grep -c '^not ok ' "$1") - notok_skip))
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# The CLI tests whose results depend on the store backend (t0402, a thousand
# event streams, exercises the web server far more than the store: it is
# left out to keep make check's time down).
PG_CLI_TESTS="t0201 t0202 t0203 t0401 t0403 t1030 t1101 t1104 t1202 t1402"
# callbacks: the outbox rows and their claims are store work
PG_CLI_TESTS="$PG_CLI_TESTS t1020"
# event scripts (outbox rows, claims, redelivery) and file names (escaped keys, C collation)
PG_CLI_TESTS="$PG_CLI_TESTS t1006 t1021 t1022 t1023 t1024 t1025 t1026 t1027"
# a refused trigger reads the limits a serve of a shared store published (no serve.lock there)
PG_CLI_TESTS="$PG_CLI_TESTS t1305"

pg_dir=""
pg_up() {
	[ -n "$pg_dir" ] && return 0
	. "$root/tests/pg.sh"
	pg_dir=$(mktemp -d /tmp/sf-pg.XXXXXX)
	trap 'pg_stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
	if ! pg_start "$pg_dir" >"$TEST_OUT/pg-start.log" 2>&1; then
		echo "cannot start PostgreSQL for the -pg suites:"
		sed 's/^/    /' "$TEST_OUT/pg-start.log"
		return 1
	fi
}

run_unit() {
	# $1 = suite name, $2 = glob of test programs
	ran=""
	for exe in "$build"/tests/unit/${2:-test-*}; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		log="$TEST_OUT/${1:-unit}-$(basename "$exe").log"
		# cmocka's TAP output gives one line per test case.
		(cd "$root" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$exe") >"$log" 2>&1
		status=$?
		before_f=$failed
		count_tap "$log"
		if [ $status -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed or timed out before reporting
			failed=$((before_f + 1))
		fi
		echo "${1:-unit} $(basename "$exe"): $p passed, $f failed, $s skipped"
		[ "$f" -gt 0 ] && sed 's/^/    /' "$log" | tail -n 40
		ran=1
	done
	if [ -z "$ran" ]; then
		# asked for and absent: the build was configured without cmocka
		echo "unit: no test programs in $build (cmocka was not found when it was configured:"
		echo "  scripts/install-deps.sh test, then meson configure $build -Dunit_tests=enabled)"
		failed=$((failed + 1))
	fi
}

run_shell_dir() {
	# $1 = suite name, $2 = directory of t*.sh, $3 = only these numbers (tNNNN ...)
	for t in "$root/tests/$2"/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		if [ -n "${3:-}" ]; then
			case " $3 " in *" $(basename "$t" | cut -d- -f1) "*) ;; *) continue ;; esac
		fi
		log="$TEST_OUT/$1-$(basename "$t" .sh).log"
		timeout "${TEST_TIMEOUT:-900}" bash "$t" >"$log" 2>&1
		status=$?
		before_f=$failed
		count_tap "$log"
		if [ $status -ne 0 ] && [ "$failed" -eq "$before_f" ]; then
			failed=$((failed + 1)) # the script died (or timed out) outside a test
			echo "$1 $(basename "$t"): died with status $status"
		fi
		tail -n 1 "$log" | sed "s/^# /$1 /"
		grep -A 60 '^not ok ' "$log" | head -n 120 | sed 's/^/    /'
	done
}

for s in $suites; do
	case $s in
	unit) run_unit ;;
	cli) run_shell_dir cli cli ;;
	e2e) run_shell_dir e2e e2e ;;
	unit-pg | cli-pg)
		if ! pg_up; then
			failed=$((failed + 1))
			continue
		fi
		if [ "$s" = unit-pg ]; then
			SF_TEST_PG=$pg_dir run_unit unit-pg test-store
		else
			SF_TEST_PG=$pg_dir run_shell_dir cli-pg cli "$PG_CLI_TESTS"
		fi
		;;
	*) echo "unknown suite '$s'" >&2; exit 2 ;;
	esac
done
echo "$passed $failed $skipped" >"$build/test-counts"
echo "$(basename "$build"): $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
