#!/usr/bin/env bash
# synthflow_runs_created_total{trigger} in /metrics (docs/api.md): every way a
# run is created counts under its trigger, also runs created by other
# processes than serve (test, trigger, vars set, replay).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

setup() {
	synthflow init >/dev/null
	quick_dag ws d && wav_dag ws &&
	quick_dag ws v "params:" "  variable: {type: string}" 'on_variable: "k*"' &&
	quick_dag ws s 'schedule: "0 * * * *"' "timezone: UTC" &&
	# a bundle names its source by commit
	git -C run-data/src/ws init -q && git -C run-data/src/ws add -A &&
		git -C run-data/src/ws -c user.email=t@example.com -c user.name=t commit -qm dags
}

stop_serve() { web_stop_if run-data; }
# total [DAG]: runs in the store
total() { synthflow --data run-data runs list "$@" --limit 0 --json | jq .total; }
# has_total DAG N: DAG has N runs (for wait_for: counted again at each try)
has_total() { [ "$(total "$1")" = "$2" ]; }
# created TRIGGER: the metric's value
created() {
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" |
		sed -n "s/^synthflow_runs_created_total{trigger=\"$1\"} //p"
}
same() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'" >&2; return 1; }; }

expect_success 'manual, api, schedule, file, variable and replay runs are counted once each' '
	setup && trap stop_serve EXIT &&
	run=$(synthflow --data run-data test d) &&
	(cd run-data && synthflow pack "$run" -o x.sfpack && synthflow replay x.sfpack --data .) >/dev/null &&
	# the schedule fires at 01:00, two seconds after serve starts
	SYNTHFLOW_NOW=2027-01-01T00:59:58Z web_start run-data &&
	synthflow --data run-data trigger d >/dev/null &&
	trigger d >/dev/null &&
	synthflow --data run-data vars set k1 x 2>/dev/null &&
	echo a >run-data/downloaded/a.wav &&
	wait_for 60 has_total wav 1 && wait_for 60 has_total s 1 &&
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" | grep "^synthflow_runs_created_total" &&
	same "$(created manual) $(created api) $(created schedule)" "2 1 1" &&
	same "$(created file) $(created variable) $(created replay)" "1 1 1" &&
	same "$(total) $(total d) $(total v)" "7 4 1" &&
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" |
		grep -q "^# TYPE synthflow_runs_created_total counter$"
'

test_done
