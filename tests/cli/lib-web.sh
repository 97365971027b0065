# Helpers for the web/API tests (t04xx): start a real `synthflow serve` on a
# free loopback port and talk to it with curl.  Source after ../lib.sh.
#
#   web_data DIR          a data folder with the test DAGs (tests/cli/data/web)
#   web_start DIR [ARGS]  starts serve; sets WEB_BASE, WEB_TOKEN, WEB_PID, WEB_AUTH
#   api METHOD PATH [CURL ARGS]   prints the body; the status goes to $TRASH/status
#   wait_for SECONDS CMD...       polls CMD every 0.1 s until it succeeds

# The bodies share one data folder and its serve, so one store too.
TEST_STORE_SHARED=1

# Every serve started is listed in this file, "PID START WHERE" (START: the
# process's start time, so a pid reused since is never killed; WHERE:
# "script", or "body" inside a test body).  Bodies are subshells: a
# variable set there would be lost with them, and with it the serve of a
# body that failed before its web_stop.
WEB_PIDS_FILE=$TRASH_BASE/web-serves

proc_start_time() {
	awk '{print $22}' "/proc/$1/stat" 2>/dev/null
}

# serve_alive PID START: that very process still runs (not only its zombie).
serve_alive() {
	st=$(awk '{print $3 " " $22}' "/proc/$1/stat" 2>/dev/null)
	[ "${st#* }" = "$2" ] && [ "${st%% *}" != Z ]
}

# web_stop_started [WHERE]: SIGTERM to every listed serve (only those
# started in WHERE, when given) still running, and waits for them to end
# (SIGKILL after 30 s); they are then off the list.
web_stop_started() {
	[ -f "$WEB_PIDS_FILE" ] || return 0
	left=""
	while read -r pid start where; do
		if [ -n "${1:-}" ] && [ "$where" != "$1" ]; then
			echo "$pid $start $where" >>"$WEB_PIDS_FILE.keep"
		elif serve_alive "$pid" "$start"; then
			kill -TERM "$pid" 2>/dev/null && left="$left $pid:$start"
		fi
	done <"$WEB_PIDS_FILE"
	mv -f "$WEB_PIDS_FILE.keep" "$WEB_PIDS_FILE" 2>/dev/null || rm -f "$WEB_PIDS_FILE"
	for ps in $left; do
		n=300
		while serve_alive "${ps%%:*}" "${ps#*:}" && [ "$n" -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		[ "$n" -gt 0 ] || kill -KILL "${ps%%:*}" 2>/dev/null
	done
	return 0
}

web_stop_all() {
	web_stop_started
	wait
}

# lib.sh calls this after each body: the serves a body started end with it.
test_body_done() {
	web_stop_started body
}

# web_stop DIR: SIGTERM, then serve's exit status (0 = clean, no leaks under ASan).
web_stop() {
	kill -TERM "$(cat "$1/serve.pid")" &&
	wait_for "$WEB_WAIT" test -s "$1/serve.status" &&
	return "$(cat "$1/serve.status")"
}
# web_stop_if DIR: web_stop when a serve was started there and not stopped
# yet (for traps and the end of a body); its status.
web_stop_if() {
	[ -f "$1/serve.pid" ] || return 0
	web_stop "$1"
	status=$?
	rm -f "$1/serve.pid"
	return $status
}
trap 'web_stop_all; rm -rf "$TRASH_BASE"' EXIT

wait_for() {
	secs=$1
	shift
	tries=$((secs * 10))
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "timed out after ${secs}s waiting for: $*" >&2
	return 1
}

web_data() {
	synthflow init "$1" >/dev/null
	mkdir -p "$1/src/webtest/dags"
	cp "$TEST_ROOT"/cli/data/web/*.yaml "$1/src/webtest/dags/"
}

# Sanitizer builds start and answer more slowly.
WEB_WAIT=20
[ "${SF_SANITIZED:-0}" = 1 ] && WEB_WAIT=60

# serve's exit status lands in DIR/serve.status (tests are not its parent).
web_start() {
	dir=$1
	shift
	rm -f "$dir/serve.status" "$dir/serve.pid"
	(
		synthflow --data "$dir" serve --port 0 "$@" >"$dir/serve.out" 2>"$dir/serve.err" &
		echo $! >"$dir/serve.pid"
		wait $!
		echo $? >"$dir/serve.status"
	) &
	wait_for "$WEB_WAIT" test -s "$dir/serve.pid" || return 1
	WEB_PID=$(cat "$dir/serve.pid")
	where=body
	[ "$BASHPID" = "$$" ] && where=script
	echo "$WEB_PID $(proc_start_time "$WEB_PID") $where" >>"$WEB_PIDS_FILE"
	wait_for "$WEB_WAIT" grep -q '^http://' "$dir/serve.out" || { cat "$dir/serve.err" >&2; return 1; }
	url=$(grep -m1 '^http://' "$dir/serve.out")
	WEB_BASE=${url%%/\?token=*}
	WEB_TOKEN=${url##*token=}
	WEB_AUTH="Authorization: Bearer $WEB_TOKEN"
	export WEB_BASE WEB_TOKEN WEB_AUTH WEB_PID
	wait_for "$WEB_WAIT" curl -sf "$WEB_BASE/api/v1/health"
}

api() {
	method=$1
	path=$2
	shift 2
	curl -s -o "$TRASH/body" -w '%{http_code}' -X "$method" -H "$WEB_AUTH" "$@" \
		"$WEB_BASE$path" >"$TRASH/status"
	cat "$TRASH/body"
}

# expect_status CODE: the status of the last api call.
expect_status() {
	got=$(cat "$TRASH/status")
	if [ "$got" != "$1" ]; then
		echo "expected HTTP $1, got $got:" >&2
		cat "$TRASH/body" >&2
		return 1
	fi
}

# run_state RUN: the run's state, from the API.
run_state() {
	curl -s -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$1" | jq -r .state
}

run_is() {
	[ "$(run_state "$1")" = "$2" ]
}

trigger() {
	# trigger DAG [JSON BODY]: prints the new run id
	body='{}'
	[ $# -ge 2 ] && body=$2
	curl -sf -X POST -H "$WEB_AUTH" -H 'Content-Type: application/json' \
		-d "$body" "$WEB_BASE/api/v1/dags/$1/runs" | jq -r .run_id
}
