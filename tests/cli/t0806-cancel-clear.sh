#!/usr/bin/env bash
# Cancel, then clear (one after the other, and at once): the run always ends,
# and its state follows from its instances, with a reason when it failed.
# DAG: tests/cli/data/security/cancelclear.yaml.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

# ended_with_reason RUN: final; when failed, a reason and a failed instance.
ended_with_reason() {
	synthflow runs show "$1" --json >r.json &&
	state=$(jq -r .state r.json) &&
	case $state in
	failed)
		jq -e ".reason | length > 0" r.json >/dev/null &&
		jq -e "[.tasks[] | select(.state == \"failed\" or .state == \"upstream_failed\")] | length > 0" r.json >/dev/null ;;
	cancelled|success) true ;;
	*) echo "run $1 is $state" >&2; return 1 ;;
	esac
}

expect_success 'cancel, then clear --downstream: the run ends failed, saying why' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/security/cancelclear.yaml" run-data/src/t/dags/ &&
	web_start "$PWD/run-data" &&
	run=$(synthflow trigger cancelclear -p n=$((TEST_UNIQ + 1))) &&
	wait_for "$WEB_WAIT" pgrep -x -f "sleep $((TEST_UNIQ + 1))" &&
	synthflow runs cancel "$run" &&
	wait_for "$WEB_WAIT" run_is "$run" cancelled &&
	synthflow tasks clear "$run" t001 --downstream &&
	wait_for "$WEB_WAIT" sh -c "synthflow runs show $run --json | jq -e \".state == \\\"failed\\\"\"" &&
	ended_with_reason "$run" &&
	jq -r .reason r.json | grep -q "t001.*upstream_failed.*cancelled" &&
	web_stop "$PWD/run-data"
'

expect_success 'cancel and clear at once: the run still ends, never failed without why' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$TEST_ROOT/cli/data/security/cancelclear.yaml" run-data/src/t/dags/ &&
	web_start "$PWD/run-data" || exit 1
	for i in 1 2 3; do
		run=$(synthflow trigger cancelclear -p n=$((TEST_UNIQ + i + 1))) &&
		wait_for "$WEB_WAIT" pgrep -x -f "sleep $((TEST_UNIQ + i + 1))" || exit 1
		synthflow runs cancel "$run" >/dev/null &
		synthflow tasks clear "$run" t001 --downstream >/dev/null
		wait $! || true
		wait_for "$WEB_WAIT" ended_with_reason "$run" || exit 1
	done &&
	web_stop "$PWD/run-data"
'

test_done
