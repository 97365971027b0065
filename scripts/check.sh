#!/usr/bin/env bash
# make check: installs what is missing, builds, runs every suite on the
# development build (the store's suites on SQLite and on PostgreSQL), runs
# unit+CLI (and the store's unit tests on PostgreSQL) again under
# AddressSanitizer and UndefinedBehaviorSanitizer (beside the first, see
# asan_suite), runs each fuzzer briefly, and prints one
# closing line "N passed, N failed, N skipped" (a skip is a check this
# machine cannot make, e.g. unshare not allowed; each one says why in its
# log).  It starts the servers the tests need when none runs: a Docker
# engine here, PostgreSQL (tests/run.sh) and Slurm (their tests).
#   scripts/check.sh [all|fuzz|--under-load [N]]
# --under-load: the proof of stability, run by hand (not part of CI's
# budget): `make check` N times in a row (default 3) while two processes
# burn a CPU each, stopping at the first run that is not green.  Each run's
# closing line, with its start time and duration, goes to stdout and to
# build/under-load.log; exit status 0 only when all N were green.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-all}

if [ "$mode" = --under-load ]; then
	runs=${2:-3}
	mkdir -p build
	log=build/under-load.log
	burners=""
	for _ in 1 2; do
		sh -c 'while :; do :; done' &
		burners="$burners $!"
	done
	# The burners never outlive this script, also when it is stopped: they
	# ignore Ctrl-C (background jobs of a script do), so they are killed
	# here, after the run under way has ended.
	# shellcheck disable=SC2064,SC2086
	trap "kill $burners 2>/dev/null" EXIT
	# shellcheck disable=SC2064,SC2086
	for sig in INT TERM HUP; do
		trap "echo 'stopped by SIG$sig' | tee -a $log; exit 1" $sig
	done
	echo "== $(date -u +%FT%TZ): make check x$runs beside two busy CPU loops (pids$burners), $(nproc) CPUs" |
		tee -a "$log"
	for i in $(seq "$runs"); do
		t0=$(date +%s)
		start=$(date -u +%FT%TZ)
		scripts/check.sh all >"build/under-load-$i.out" 2>&1
		status=$?
		echo "run $i/$runs at $start: $(tail -n 1 "build/under-load-$i.out") ($(($(date +%s) - t0)) s; build/under-load-$i.out)" |
			tee -a "$log"
		[ $status -eq 0 ] || exit 1
	done
	exit 0
fi
total_p=0
total_f=0
total_s=0

add_counts() {
	# $1 = file holding "PASSED FAILED SKIPPED"
	if [ -f "$1" ]; then
		read -r p f s <"$1"
		total_p=$((total_p + p))
		total_f=$((total_f + f))
		total_s=$((total_s + ${s:-0}))
	else
		total_f=$((total_f + 1))
	fi
}

step() { printf '\n== %s\n' "$*"; }

scripts/install-deps.sh all || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

configure() {
	# $1 = dir, rest = meson options; set up when missing.  A build that
	# make demo set up before cmocka was installed has no unit tests:
	# enabling them makes ninja configure it again, now finding cmocka.
	dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dunit_tests=enabled "$@" >"$dir.setup.log" 2>&1 ||
			{ tail -n 40 "$dir.setup.log"; return 1; }
	elif ! grep -q '"name": "unit_tests", "value": "enabled"' "$dir/meson-info/intro-buildoptions.json" 2>/dev/null; then
		meson configure "$dir" -Dunit_tests=enabled >"$dir.setup.log" 2>&1 ||
			{ tail -n 40 "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" >"$dir.log" 2>&1 || { tail -n 40 "$dir.log"; return 1; }
}

run_fuzzers() {
	step "fuzzers (${FUZZ_SECONDS:-20}s each)"
	if ! CC=clang configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false; then
		total_f=$((total_f + 1))
		return
	fi
	for fz in build-fuzz/tests/fuzz/fuzz-*; do
		[ -f "$fz" ] && [ -x "$fz" ] || continue
		name=$(basename "$fz")
		corpus="$root/tests/fuzz/corpus/${name#fuzz-}"
		work=$(mktemp -d)
		cp -r "$corpus"/. "$work"/ 2>/dev/null
		if "$fz" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=0 "$work" >"build-fuzz/$name.log" 2>&1; then
			echo "ok - $name"
			total_p=$((total_p + 1))
		else
			echo "not ok - $name (see build-fuzz/$name.log)"
			tail -n 30 "build-fuzz/$name.log"
			total_f=$((total_f + 1))
		fi
		rm -rf "$work"
	done
}

if [ "$mode" = fuzz ]; then
	run_fuzzers
	echo "$total_p passed, $total_f failed, $total_s skipped"
	[ "$total_f" -eq 0 ]
	exit
fi

# The e2e suite needs a Docker engine (workspaces, the fresh-machine demo in
# a clean container): one is started when none answers, as on a fresh CI
# machine, and stopped at the end.  Its tests then fail, not skip, when it
# does not answer (SF_TEST_DOCKER=required, tests/lib.sh need_docker).
dockerd_pid=
start_dockerd() {
	docker info >/dev/null 2>&1 && return 0
	dockerd >build.dockerd.log 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 600); do
		docker info >/dev/null 2>&1 && return 0
		kill -0 "$dockerd_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 build.dockerd.log
	return 1
}
stop_dockerd() {
	[ -n "$dockerd_pid" ] || return 0
	kill "$dockerd_pid" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
}
trap stop_dockerd EXIT
step "Docker engine"
if start_dockerd; then
	echo "ok - a Docker engine answers${dockerd_pid:+ (started here, pid $dockerd_pid)}"
	export SF_TEST_DOCKER=required
else
	echo "not ok - dockerd did not start (see build.dockerd.log)"
	total_f=$((total_f + 1))
fi

# The sanitized suite runs beside the development one: both mostly wait on
# the processes, servers and timers they test, so together they take little
# more than the longer one.  The suites were written for this: each test
# picks free ports, its own data folder, PostgreSQL socket folder, Slurm
# cluster and a TEST_UNIQ for the processes it looks for, because several
# checkouts' suites share a developer's machine anyway.  Its output is
# shown after the development suite's, so the log reads in order.
asan_suite() {
	# (no build-asan/test-counts when it does not build: counted as a failure)
	configure build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug &&
		SF_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			tests/run.sh build-asan unit cli unit-pg
}

step "build"
rm -f build-asan/test-counts
asan_started=false
if configure build; then
	asan_suite >build-asan.tests.log 2>&1 &
	asan_pid=$!
	asan_started=true
	step "tests: development build (the sanitized build's tests run beside it)"
	# unit-pg, cli-pg: the store's tests again on a PostgreSQL the suite starts
	tests/run.sh build unit cli e2e unit-pg cli-pg
	add_counts build/test-counts
else
	total_f=$((total_f + 1))
fi

step "tests: AddressSanitizer + UndefinedBehaviorSanitizer build"
if $asan_started; then
	wait "$asan_pid"
	cat build-asan.tests.log
else
	asan_suite
fi
add_counts build-asan/test-counts

run_fuzzers

echo
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
