#!/usr/bin/env bash
# Event streams under load, and clients that go away mid-response: the
# server keeps answering and forgets the clients that left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
DATA=$TRASH_BASE/run-data
web_data "$DATA"
cat >"$DATA/src/webtest/dags/chatty.yaml" <<'EOF'
description: Prints a big log
tasks:
  talk:
    run: head -c 8000000 /dev/zero | tr '\0' 'x'
EOF
web_start "$DATA" || { echo "not ok 1 - serve did not start"; exit 1; }

streams() {
	curl -s -H "$WEB_AUTH" "$WEB_BASE/metrics" | sed -n 's/^synthflow_event_streams //p'
}

streams_are() {
	[ "$(streams)" = "$1" ]
}

# Time of one request in ms.
ms() {
	curl -s -o /dev/null -w '%{time_total}' -H "$WEB_AUTH" "$WEB_BASE$1" | awk '{ printf "%d", $1 * 1000 }'
}

N=1000
[ "${SF_SANITIZED:-0}" = 1 ] && N=300

expect_success "$N idle event streams: the server stays responsive and reaches them all" '
	python3 "$TEST_ROOT/cli/sse-clients.py" "$WEB_BASE" "$WEB_TOKEN" $N ready done >clients.out 2>&1 &
	pid=$!
	wait_for 60 test -e ready || { cat clients.out; exit 1; }
	test "$(streams)" -ge $N &&
	t=$(ms /api/v1/dags) && echo "GET /api/v1/dags with $N streams open: ${t} ms" &&
	test "$t" -lt 1000 &&
	t=$(ms /api/v1/health) && test "$t" -lt 1000 &&
	run=$(trigger hello) && wait_for 60 run_is "$run" success &&
	sleep 0.5 && touch done && wait $pid &&
	cat clients.out && grep -q "connected=$N got_run_event=$N" clients.out
'

expect_success 'streams of clients that left are closed at the next event' '
	run=$(trigger hello) && wait_for 60 run_is "$run" success &&
	wait_for 30 streams_are 0
'

expect_success 'a client killed mid-stream does not hurt the server' '
	curl -s -N -H "$WEB_AUTH" "$WEB_BASE/api/v1/events" >ev &
	pid=$!
	wait_for 10 grep -q "event: hello" ev &&
	kill -9 $pid && { wait $pid 2>/dev/null || true; } &&
	run=$(trigger hello) && wait_for 60 run_is "$run" success &&
	curl -sf "$WEB_BASE/api/v1/health" >/dev/null &&
	wait_for 30 streams_are 0
'

expect_success 'a client leaving in the middle of a big log download' '
	run=$(trigger chatty) && wait_for 60 run_is "$run" success &&
	for i in 1 2 3 4 5; do
		curl -s -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$run/tasks/talk/log" | head -c 1000 >/dev/null
	done &&
	api GET "/api/v1/runs/$run/tasks/talk/log" -H "Range: bytes=7999990-" >tail &&
	expect_status 206 && test "$(wc -c <tail)" = 10 &&
	curl -sf "$WEB_BASE/api/v1/health" >/dev/null
'

expect_success 'connections that never finish their request do not block others' '
	for i in $(seq 50); do
		(
			exec 3<>"/dev/tcp/127.0.0.1/${WEB_BASE##*:}"
			printf "POST /api/v1/dags/hello/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{" >&3
			sleep 5
		) &
	done
	sleep 0.5 &&
	t=$(ms /api/v1/health) && test "$t" -lt 1000
'

expect_success 'serve stops cleanly with streams open' '
	curl -s -N -H "$WEB_AUTH" "$WEB_BASE/api/v1/events" >ev2 &
	wait_for 10 grep -q "event: hello" ev2 &&
	web_stop "$DATA" || { cat "$DATA/serve.err"; exit 1; }
'

test_done
