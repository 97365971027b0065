# Helpers for the web/API tests (t04xx): start a real `synthflow serve` on a
# free loopback port and talk to it with curl.  Source after ../lib.sh.
#
#   web_data DIR          a data folder with the test DAGs (tests/cli/data/web)
#   web_start DIR [ARGS]  starts serve; sets WEB_BASE, WEB_TOKEN, WEB_PID, WEB_AUTH
#   api METHOD PATH [CURL ARGS]   prints the body; the status goes to $TRASH/status
#   wait_for SECONDS CMD...       polls CMD every 0.1 s until it succeeds

WEB_PIDS=""
# The bodies share one data folder and its serve, so one store too.
TEST_STORE_SHARED=1

web_stop_all() {
	for p in $WEB_PIDS; do
		kill "$p" 2>/dev/null
	done
	wait
	WEB_PIDS=""
}

# web_stop DIR: SIGTERM, then serve's exit status (0 = clean, no leaks under ASan).
web_stop() {
	kill -TERM "$(cat "$1/serve.pid")" &&
	wait_for "$WEB_WAIT" test -s "$1/serve.status" &&
	return "$(cat "$1/serve.status")"
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
	WEB_PIDS="$WEB_PIDS $WEB_PID"
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
