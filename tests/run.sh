#!/usr/bin/env bash
# Runs the test suites against one build directory and prints a count.
#   tests/run.sh BUILD_DIR [unit] [cli] [e2e]   (default: unit cli)
# Writes "PASSED FAILED" to BUILD_DIR/test-counts for the caller to add up.
set -u
build=$(cd "${1:?build dir}" && pwd)
shift
suites=${*:-unit cli}
root=$(cd "$(dirname "$0")/.." && pwd)
export SYNTHFLOW_BUILD=$build TEST_OUT=$build/test-output
mkdir -p "$TEST_OUT"
passed=0
failed=0

count_tap() {
	# $1 = TAP log
	p=$(grep -c '^ok ' "$1")
	f=$(grep -c '^not ok ' "$1")
	passed=$((passed + p))
	failed=$((failed + f))
}

run_unit() {
	for exe in "$build"/tests/unit/test-*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		log="$TEST_OUT/$(basename "$exe").log"
		# cmocka's TAP output gives one line per test case.
		(cd "$root" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$exe") >"$log" 2>&1
		status=$?
		p=$(grep -c '^ok ' "$log")
		f=$(grep -c '^not ok ' "$log")
		if [ $status -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed or timed out before reporting
		fi
		echo "unit $(basename "$exe"): $p passed, $f failed"
		[ "$f" -gt 0 ] && sed 's/^/    /' "$log" | tail -n 40
		passed=$((passed + p))
		failed=$((failed + f))
	done
}

run_shell_dir() {
	# $1 = suite name, $2 = directory of t*.sh
	for t in "$root/tests/$2"/t[0-9]*.sh; do
		[ -f "$t" ] || continue
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
	*) echo "unknown suite '$s'" >&2; exit 2 ;;
	esac
done
echo "$passed $failed" >"$build/test-counts"
echo "$(basename "$build"): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
