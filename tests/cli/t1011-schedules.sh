#!/usr/bin/env bash
# Schedules (docs/dags.md "Schedules"): cron in a DAG's time zone, the DST
# policy (cronie's) in Berlin and New York, catch-up after downtime or a
# pause, exactly one run per scheduled time across kill -9, and `dags next`
# printing what serve then fires.  DST and catch-up cases use the test clock
# SYNTHFLOW_NOW; the last case is real time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

# dag NAME YAML-LINES...: a DAG of one quick task with the given top-level lines.
dag() { quick_dag t "$@"; }

# setup: a data folder; a serve the body leaves behind is killed when it ends.
setup() {
	synthflow init >/dev/null
	trap 'kill -9 $(cat run-data/serve.pid 2>/dev/null) 2>/dev/null || true' EXIT
}
stop_all() { web_stop run-data; }
test_cmp() { diff -u "$1" "$2"; }

# serve_at ISO: serve with the test clock starting at ISO.
serve_at() { SYNTHFLOW_NOW=$1 web_start run-data; }
kill9() {
	kill -9 "$(cat run-data/serve.pid)" && wait_for "$WEB_WAIT" test -s run-data/serve.status
	rm -f run-data/serve.pid
}

# For wait_for, which runs its command at each try: a $(...) in its
# arguments would be counted once, before the first.
fires_are() { test "$(store_sql "SELECT count(*) FROM schedule_fires")" = "$1"; }
has_runs() { test "$(runs_of "$1")" -ge "$2"; }

# scheduled DAG: its runs' scheduled_for, oldest first, one per line.
scheduled() {
	synthflow runs list "$1" --limit 0 --json |
		jq -r '[.runs[] | select(.trigger == "schedule") | .scheduled_for] | sort | .[]'
}

utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z; }

# A real-time serve for the last case, started first so its wait overlaps the others.
RT=$TRASH_BASE/realtime RT_STORE=${SYNTHFLOW_FLOW_STORE:-}
RT_STARTED=$(date +%s)
mkdir -p "$RT" && cd "$RT" && synthflow init >/dev/null && dag minutely 'schedule: "* * * * *"' &&
	web_start run-data >/dev/null 2>&1
cd "$TRASH_BASE" || exit 1

expect_success 'dags next: the DST policy in Berlin and New York' '
	setup &&
	dag gap "schedule: \"*/15 2 * * *\"" "timezone: Europe/Berlin" &&
	dag named "schedule: \"30 2 * * *\"" "timezone: Europe/Berlin" &&
	dag hourly "schedule: \"30 * * * *\"" "timezone: Europe/Berlin" &&
	dag ny "schedule: \"30 2 * * *\"" "timezone: America/New_York" &&
	dag nyh "schedule: \"0 * * * *\"" "timezone: America/New_York" &&
	dag ny1 "schedule: \"30 1 * * *\"" "timezone: America/New_York" &&
	dag ny30 "schedule: \"*/30 * * * *\"" "timezone: America/New_York" &&
	dag local "schedule: \"30 2 * * *\"" &&
	synthflow dags next gap --after 2027-03-27T12:00:00Z -n 3 >out &&
	printf "%s\n" 2027-03-28T03:00:00+02:00 2027-03-29T02:00:00+02:00 2027-03-29T02:15:00+02:00 >want &&
	test_cmp want out &&
	synthflow dags next named --after 2027-10-30T12:00:00Z -n 2 >out &&
	printf "%s\n" 2027-10-31T02:30:00+02:00 2027-11-01T02:30:00+01:00 >want && test_cmp want out &&
	synthflow dags next hourly --after 2027-10-31T00:00:00Z -n 3 >out &&
	printf "%s\n" 2027-10-31T02:30:00+02:00 2027-10-31T02:30:00+01:00 2027-10-31T03:30:00+01:00 >want &&
	test_cmp want out &&
	synthflow dags next hourly --after 2027-03-28T00:00:00Z -n 3 >out &&
	printf "%s\n" 2027-03-28T01:30:00+01:00 2027-03-28T03:30:00+02:00 2027-03-28T04:30:00+02:00 >want &&
	test_cmp want out &&
	synthflow dags next ny --after 2027-03-13T12:00:00Z -n 2 >out &&
	printf "%s\n" 2027-03-14T03:00:00-04:00 2027-03-15T02:30:00-04:00 >want && test_cmp want out &&
	synthflow dags next nyh --after 2027-03-14T05:30:00Z -n 3 >out &&
	printf "%s\n" 2027-03-14T01:00:00-05:00 2027-03-14T03:00:00-04:00 2027-03-14T04:00:00-04:00 >want &&
	test_cmp want out &&
	synthflow dags next ny1 --after 2027-11-06T12:00:00Z -n 2 >out &&
	printf "%s\n" 2027-11-07T01:30:00-04:00 2027-11-08T01:30:00-05:00 >want && test_cmp want out &&
	synthflow dags next ny30 --after 2027-11-07T05:00:00Z -n 4 >out &&
	printf "%s\n" 2027-11-07T01:30:00-04:00 2027-11-07T01:00:00-05:00 2027-11-07T01:30:00-05:00 \
		2027-11-07T02:00:00-05:00 >want && test_cmp want out &&
	# no timezone: the local zone, from TZ as a name or a POSIX rule
	TZ=America/New_York synthflow dags next local --after 2027-03-13T12:00:00Z -n 1 >out &&
	echo 2027-03-14T03:00:00-04:00 >want && test_cmp want out &&
	TZ=CET-1CEST,M3.5.0,M10.5.0/3 synthflow dags next local --after 2027-03-27T12:00:00Z -n 1 >out &&
	echo 2027-03-28T03:00:00+02:00 >want && test_cmp want out &&
	# the default is five, from now (the test clock when set)
	SYNTHFLOW_NOW=2027-01-01T00:00:00Z synthflow dags next ny >out &&
	test "$(wc -l <out)" = 5 && test "$(head -1 out)" = 2027-01-01T02:30:00-05:00 &&
	SYNTHFLOW_NOW=2027-01-01T00:00:00Z synthflow dags list >out &&
	must_contain out "^ny  .*30 2 \* \* \*  *2027-01-01T02:30:00-05:00" &&
	SYNTHFLOW_NOW=2027-01-01T00:00:00Z synthflow dags list --json >out &&
	test "$(jq -r ".dags[] | select(.dag_id == \"gap\") | .next_run" out)" = 2027-01-01T02:00:00+01:00
'

expect_success 'bad schedule settings and dags next arguments are clear errors' '
	setup &&
	printf "schedule: \"@daily\"\ntimezone: Europe/Berlinn\ntasks:\n  a: {run: \"true\"}\n" >tz.yaml &&
	test_exit 1 synthflow dags validate tz.yaml 2>err &&
	must_contain err "^tz.yaml:2:11: error: .timezone.: unknown time zone .Europe/Berlinn." &&
	printf "schedule: \"@daily\"\ntimezone: ../../etc/passwd\ntasks:\n  a: {run: \"true\"}\n" >dots.yaml &&
	test_exit 1 synthflow dags validate dots.yaml 2>err &&
	must_contain err "^dots.yaml:2:11: error: .timezone.: .../../etc/passwd. is not a time zone name" &&
	printf "timezone: UTC\ncatchup: true\ntasks:\n  a: {run: \"true\"}\n" >alone.yaml &&
	test_exit 1 synthflow dags validate alone.yaml 2>err &&
	must_contain err "^alone.yaml:1:11: error: .timezone. needs .schedule." &&
	must_contain err "^alone.yaml:2:10: error: .catchup. needs .schedule." &&
	printf "schedule: \"@daily\"\ncatchup: yes please\nmax_catchup: 0\ntasks:\n  a: {run: \"true\"}\n" >c.yaml &&
	test_exit 1 synthflow dags validate c.yaml 2>err &&
	must_contain err "^c.yaml:2:10: error: .catchup. must be true or false" &&
	must_contain err "^c.yaml:3:14: error: .max_catchup. must be at least 1" &&
	printf "schedule: \"@daily\"\nparams:\n  x: {type: string}\ntasks:\n  a: {run: \"true\"}\n" >req.yaml &&
	synthflow dags validate req.yaml 2>err &&
	must_contain err "^req.yaml:1:11: warning: required param .x. has no default, so the schedule starts no runs" &&
	dag plain &&
	test_exit 1 synthflow dags next plain 2>err &&
	must_contain err "DAG .plain. has no schedule" &&
	dag d "schedule: \"@daily\"" &&
	test_exit 1 synthflow dags next d --after tomorrow 2>err &&
	must_contain err "after .tomorrow. is not an ISO-8601 time" &&
	test_exit 1 synthflow dags next d --after 2027-01-01T00:00:00 2>err &&
	test_exit 2 synthflow dags next d -n 0 2>err &&
	SYNTHFLOW_NOW=soon test_exit 1 synthflow dags next d 2>err &&
	must_contain err "SYNTHFLOW_NOW .soon. is not an ISO-8601 time"
'

expect_success 'serve (test clock): Berlin spring gap fires once at 03:00 CEST, as dags next said' '
	setup &&
	dag gap "schedule: \"*/15 2 * * *\"" "timezone: Europe/Berlin" "catchup: true" &&
	dag zz "schedule: \"*/5 * * * *\"" "timezone: UTC" &&
	SYNTHFLOW_NOW=2027-03-28T00:59:57Z synthflow dags next gap -n 1 >next &&
	serve_at 2027-03-28T00:59:57Z &&
	wait_runs gap 1 && wait_runs zz 1 &&
	test "$(scheduled gap)" = "$(utc "$(cat next)")" &&
	test "$(scheduled gap)" = 2027-03-28T01:00:00.000Z &&
	kill9 &&
	# after the whole gap, with catch-up: nothing more (zz proves serve looked)
	serve_at 2027-03-28T01:30:00.500Z &&
	wait_runs zz 2 &&
	test "$(runs_of gap)" = 1 &&
	stop_all
'

expect_success 'serve (test clock): New York autumn repeated hour: named 01:00 once, hourly twice' '
	setup &&
	dag named "schedule: \"0 1 * * *\"" "timezone: America/New_York" "catchup: true" &&
	dag hourly "schedule: \"0 * * * *\"" "timezone: America/New_York" &&
	dag zz "schedule: \"*/5 * * * *\"" "timezone: UTC" &&
	SYNTHFLOW_NOW=2027-11-07T04:59:57Z synthflow dags next hourly -n 2 >next &&
	serve_at 2027-11-07T04:59:57Z &&
	wait_runs named 1 && wait_runs hourly 1 && wait_runs zz 1 &&
	test "$(scheduled named)" = 2027-11-07T05:00:00.000Z &&
	kill9 &&
	serve_at 2027-11-07T06:00:00.500Z &&
	wait_runs hourly 2 && wait_runs zz 2 &&
	test "$(runs_of named)" = 1 &&
	scheduled hourly >got &&
	for t in $(cat next); do utc "$t"; done >want &&
	test_cmp want got &&
	stop_all
'

expect_success 'catch-up after downtime: newest only, or the newest max_catchup oldest first' '
	setup &&
	dag off "schedule: \"0 * * * *\"" "timezone: UTC" &&
	dag three "schedule: \"0 * * * *\"" "timezone: UTC" "catchup: true" "max_catchup: 3" &&
	dag all "schedule: \"0 * * * *\"" "timezone: UTC" "catchup: true" &&
	dag zz "schedule: \"* * * * *\"" "timezone: UTC" &&
	serve_at 2027-01-01T00:00:30Z &&
	wait_for "$WEB_WAIT" fires_are 4 &&
	kill9 &&
	test "$(synthflow runs list --limit 0 --json | jq .total)" = 0 &&
	serve_at 2027-01-01T05:00:30Z &&
	wait_runs off 1 && wait_runs three 3 && wait_runs all 5 && wait_runs zz 1 &&
	test "$(scheduled off)" = 2027-01-01T05:00:00.000Z &&
	test "$(scheduled three | tr "\n" " ")" = "2027-01-01T03:00:00.000Z 2027-01-01T04:00:00.000Z 2027-01-01T05:00:00.000Z " &&
	test "$(scheduled all | head -1)" = 2027-01-01T01:00:00.000Z &&
	must_contain run-data/serve.err "DAG .three. missed scheduled times before the 3 it runs now" &&
	kill9 &&
	# the same times again (a restart right after): nothing fires twice
	serve_at 2027-01-01T05:00:30Z &&
	kill9 &&
	serve_at 2027-01-01T05:01:00.500Z &&
	wait_runs zz 2 &&
	test "$(runs_of off)" = 1 && test "$(runs_of three)" = 3 && test "$(runs_of all)" = 5 &&
	stop_all
'

expect_success 'pause stops the schedule; unpause fires the newest missed time; triggers say who' '
	setup &&
	dag p "schedule: \"0 * * * *\"" "timezone: UTC" &&
	dag zz "schedule: \"* * * * *\"" "timezone: UTC" &&
	serve_at 2027-01-01T00:00:30Z &&
	wait_for "$WEB_WAIT" fires_are 2 &&
	synthflow dags pause p &&
	kill9 &&
	serve_at 2027-01-01T03:00:30Z &&
	wait_runs zz 1 &&
	test "$(runs_of p)" = 0 &&
	synthflow trigger p >trig && wait_runs p 1 &&
	api POST /api/v1/dags/p/runs -H "Content-Type: application/json" -d "{}" >api.json &&
	expect_status 201 && wait_runs p 2 &&
	synthflow dags unpause p &&
	wait_runs p 3 &&
	test "$(scheduled p)" = 2027-01-01T03:00:00.000Z &&
	synthflow runs list p --limit 0 --json >runs.json &&
	test "$(jq -r "[.runs[].trigger] | sort | join(\" \")" runs.json)" = "api manual schedule" &&
	test "$(jq -r "[.runs[] | select(.trigger != \"schedule\") | .scheduled_for] | unique | .[]" runs.json)" = null &&
	synthflow runs show "$(jq -r .run_id api.json)" --json >show.json &&
	jq -e ".trigger == \"api\" and .scheduled_for == null" show.json &&
	api GET /api/v1/dags >dags.json &&
	jq -e ".dags[] | select(.dag_id == \"p\") | .next_run == \"2027-01-01T04:00:00+00:00\"" dags.json &&
	api GET /api/v1/dags/p >dag.json &&
	jq -e ".next_run == \"2027-01-01T04:00:00+00:00\" and .timezone == \"UTC\" and .catchup == false" dag.json &&
	stop_all
'

expect_success 'kill -9 while 120 missed times fire: each exactly once' '
	setup &&
	dag m "schedule: \"* * * * *\"" "timezone: UTC" "catchup: true" "max_catchup: 1000" &&
	serve_at 2027-01-01T00:00:00.500Z &&
	wait_for "$WEB_WAIT" fires_are 1 &&
	kill9 &&
	for d in 0.2 0.4 0.6 0.8; do
		serve_at 2027-01-01T02:00:01Z && sleep $d && kill9 || exit 1
	done &&
	serve_at 2027-01-01T02:00:01Z &&
	wait_runs m 120 &&
	test "$(scheduled m | sort -u | wc -l)" = 120 &&
	test "$(store_sql "SELECT count(*) FROM schedule_fires WHERE run_id IS NOT NULL")" = 120 &&
	test "$(store_sql "SELECT count(*) FROM schedule_fires f JOIN runs r ON r.run_id = f.run_id AND r.scheduled_for = f.at")" = 120 &&
	stop_all
'

expect_success 'real time: a "* * * * *" schedule fires under serve at the minute' '
	cd "$RT" &&
	if [ -n "$RT_STORE" ]; then SYNTHFLOW_FLOW_STORE=$RT_STORE; fi &&
	# started before the other cases; the first minute boundary after it is at most 60 s later
	wait_for $((75 + WEB_WAIT)) has_runs minutely 1 &&
	synthflow runs list minutely --limit 0 --json >runs.json &&
	jq -e "[.runs[] | .trigger == \"schedule\" and (.scheduled_for | test(\":00.000Z$\"))] | all" runs.json &&
	test "$(jq "[.runs[].scheduled_for] | unique | length" runs.json)" = "$(jq ".runs | length" runs.json)" &&
	first=$(jq -r "[.runs[].scheduled_for] | sort | .[0]" runs.json) &&
	test "$(date -d "$first" +%s)" -ge "$RT_STARTED" &&
	test "$(date -d "$first" +%s)" -le "$((RT_STARTED + 61))" &&
	web_stop run-data
'

test_done
