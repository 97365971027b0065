#!/usr/bin/env bash
# The JSON API of docs/api.md against a real `synthflow serve`:
# every route, shapes, auth failures, bad input, unknown ids.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

DATA=$TRASH_BASE/run-data
web_data "$DATA"
web_start "$DATA" || { echo "not ok 1 - serve did not start"; exit 1; }

expect_success 'health needs no token and has the contract shape' '
	curl -s "$WEB_BASE/api/v1/health" >h &&
	jq -e "keys == [\"scheduler_tick_ms_ago\", \"status\", \"store\"] and .status == \"ok\"
		and .store == \"ok\" and .scheduler_tick_ms_ago >= 0
		and .scheduler_tick_ms_ago < 10000" h
'

expect_success 'serve printed the URL with the token from flow/secret (0600)' '
	test "$(stat -c %a "$DATA/flow/secret")" = 600 &&
	test "$WEB_TOKEN" = "$(cat "$DATA/flow/secret")" &&
	case $WEB_BASE in http://127.0.0.1:*) ;; *) exit 1 ;; esac
'

expect_success 'missing or wrong tokens get 401 with a JSON error' '
	for h in "X-None: 1" "Authorization: Bearer nope" "Authorization: Basic abc" \
		"Cookie: sf_token_1=$WEB_TOKEN"; do
		code=$(curl -s -o body -w "%{http_code}" -H "$h" "$WEB_BASE/api/v1/dags")
		test "$code" = 401 && jq -e .error body >/dev/null || { echo "$h: $code"; exit 1; }
	done &&
	curl -s -D hdr -o /dev/null "$WEB_BASE/metrics" && grep -q "^HTTP/1.1 401" hdr &&
	grep -qi "^WWW-Authenticate: Bearer" hdr &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$WEB_BASE/api/v1/dags?token=wrong")" = 401
'

expect_success 'GET /api/v1/dags lists every DAG with total' '
	api GET /api/v1/dags >out && expect_status 200 &&
	test "$(jq .total out)" = 4 &&
	test "$(jq -r "[.dags[].dag_id] | join(\",\")" out)" = "failing,hello,needs-file,slow" &&
	jq -e ".dags[1] | .description and (.paused == false) and (.recent_runs | type == \"array\")" out &&
	api GET "/api/v1/dags?limit=1&offset=1" >out && test "$(jq -r ".dags[0].dag_id" out)" = hello &&
	test "$(jq ".dags | length" out)" = 1 && test "$(jq .total out)" = 4
'

expect_success 'GET /api/v1/dags/{dag} has the params schema, tasks and edges' '
	api GET /api/v1/dags/hello >out && expect_status 200 &&
	test "$(jq -r .params.rate.type out)" = integer &&
	test "$(jq .params.rate.minimum out)" = 8000 &&
	test "$(jq -r ".params.split.values | join(\",\")" out)" = train,val &&
	test "$(jq -r "[.tasks[].task_id] | join(\",\")" out)" = greet,tone,each &&
	jq -e "any(.edges[]; . == [\"greet\",\"tone\"])" out
'

expect_success 'unknown DAG ids get 404 naming the id, with a suggestion' '
	api GET /api/v1/dags/helo >out && expect_status 404 &&
	jq -r .error out | grep -q "unknown DAG .helo. (did you mean .hello.?)" &&
	api GET /api/v1/dags/nothing-like-it/runs >out && expect_status 404 &&
	api POST /api/v1/dags/nope/runs >out && expect_status 404
'

expect_success 'trigger: 201 with run_id and state queued, then it succeeds' '
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" \
		-d "{\"params\":{\"name\":\"web\",\"rate\":16000}}" >out &&
	expect_status 201 && test "$(jq -r .state out)" = queued &&
	run=$(jq -r .run_id out) && test -n "$run" &&
	wait_for 30 run_is "$run" success &&
	api GET "/api/v1/runs/$run" >r && expect_status 200 &&
	test "$(jq -r .dag_id r)" = hello && test "$(jq .params.rate r)" = 16000 &&
	test "$(jq -r .params.split r)" = train &&
	jq -e ".created_at and .started_at and .ended_at" r &&
	jq -e "[.tasks[] | select(.task_id == \"greet\")][0] | .index == null and .try == 1 and .exit_code == 0 and .state == \"success\"" r &&
	test "$(jq "[.tasks[] | select(.task_id == \"each\")] | length" r)" = 2 &&
	echo "$run" >"$TRASH_BASE/hello-run"
'

expect_success 'an empty POST triggers with every default' '
	api POST /api/v1/dags/hello/runs >out && expect_status 201 &&
	run=$(jq -r .run_id out) && wait_for 30 run_is "$run" success &&
	test "$(curl -s -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$run" | jq -r .params.name)" = world
'

expect_success 'bad params get 400 with a message naming the param' '
	for body in "{\"params\":{\"rate\":5}}:rate" "{\"params\":{\"rate\":\"fast\"}}:rate" \
		"{\"params\":{\"split\":\"test\"}}:split" "{\"params\":{\"nmae\":\"x\"}}:nmae" \
		"{\"params\":{\"loud\":3}}:loud"; do
		api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" -d "${body%:*}" >out &&
		expect_status 400 && jq -r .error out | grep -q "${body##*:}" || { echo "$body"; exit 1; }
	done &&
	api POST /api/v1/dags/needs-file/runs >out && expect_status 400 &&
	jq -r .error out | grep -q "file" && test "$(jq -r .param out)" = file
'

expect_success 'bad bodies: wrong content type, malformed JSON, wrong shapes' '
	api POST /api/v1/dags/hello/runs -H "Content-Type: text/plain" -d "{}" >out &&
	expect_status 415 && jq -e .error out &&
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" -d "{\"params\":" >out &&
	expect_status 400 && jq -r .error out | grep -q "malformed JSON" &&
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" -d "[1,2]" >out &&
	expect_status 400 &&
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" -d "{\"params\":[1]}" >out &&
	expect_status 400 && jq -r .error out | grep -q "params" &&
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" -d "{\"parms\":{}}" >out &&
	expect_status 400 && jq -r .error out | grep -q "parms"
'

expect_success 'huge bodies get 413 and the server stays up' '
	head -c 3000000 /dev/zero | tr "\0" "a" >big &&
	api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" --data-binary @big >out &&
	expect_status 413 && jq -e .error out &&
	{ printf "{\"params\":{\"name\":\""; head -c 1100000 /dev/zero | tr "\0" "b"; printf "\"}}"; } >big2 &&
	{ api POST /api/v1/dags/hello/runs -H "Content-Type: application/json" \
		-H "Transfer-Encoding: chunked" --data-binary @big2 >out || true; } &&
	jq -r .error out | grep -q "larger than 1 MiB" &&
	curl -sf "$WEB_BASE/api/v1/health"
'

expect_success 'runs list: contract shape, limit/offset, state filter, bad params' '
	api GET "/api/v1/dags/hello/runs?limit=1" >out && expect_status 200 &&
	test "$(jq ".runs | length" out)" = 1 && test "$(jq .total out)" -ge 2 &&
	jq -e ".runs[0] | .run_id and .state and .dag_id == \"hello\"" out &&
	api GET "/api/v1/dags/hello/runs?state=success&offset=1" >out && expect_status 200 &&
	api GET "/api/v1/dags/hello/runs?limit=-1" >out && expect_status 400 &&
	jq -r .error out | grep -q limit &&
	api GET "/api/v1/dags/hello/runs?limit=abc" >out && expect_status 400 &&
	api GET "/api/v1/dags/hello/runs?state=bogus" >out && expect_status 400 &&
	# limit=0 is refused on every list (the stores read 0 as "every row")
	run=$(cat "$TRASH_BASE/hello-run") &&
	for p in "/api/v1/dags?" "/api/v1/dags/hello/runs?" "/api/v1/dags/hello/grid?" \
		"/api/v1/deliveries?" "/api/v1/runs/$run/metrics?"; do
		api GET "${p}limit=0" >out && expect_status 400 &&
		jq -r .error out | grep -q "query parameter .limit. must be an integer from 1 to" &&
		api GET "${p}limit=1" >out && expect_status 200 || { echo "$p"; exit 1; }
	done
'

expect_success 'unknown run ids get 404 on every run route' '
	for p in /api/v1/runs/nope /api/v1/runs/nope/tasks/greet/log /api/v1/runs/nope/files \
		/api/v1/runs/nope/tasks/greet/tries "/api/v1/runs/nope/file?path=x"; do
		api GET "$p" >out && expect_status 404 && jq -r .error out | grep -q "nope" || { echo "$p"; exit 1; }
	done &&
	api POST /api/v1/runs/nope/cancel >out && expect_status 404 &&
	api POST /api/v1/runs/nope/tasks/greet/clear >out && expect_status 404
'

expect_success 'task log: text/plain, tries, foreach index, ranges' '
	run=$(cat "$TRASH_BASE/hello-run") &&
	curl -s -D hdr -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$run/tasks/greet/log" >log &&
	grep -qi "^Content-Type: text/plain" hdr && grep -q "hello web" log &&
	api GET "/api/v1/runs/$run/tasks/greet/log?try=1" >log && expect_status 200 &&
	api GET "/api/v1/runs/$run/tasks/greet/log?try=7" >out && expect_status 404 &&
	api GET "/api/v1/runs/$run/tasks/greet/log?try=x" >out && expect_status 400 &&
	api GET "/api/v1/runs/$run/tasks/each/log" >out && expect_status 400 &&
	jq -r .error out | grep -q "index" &&
	api GET "/api/v1/runs/$run/tasks/each/log?index=1" >log && expect_status 200 &&
	grep -q "clip b.wav" log &&
	api GET "/api/v1/runs/$run/tasks/each/log?index=5" >out && expect_status 404 &&
	api GET "/api/v1/runs/$run/tasks/greet/log" -H "Range: bytes=0-4" >log && expect_status 206 &&
	test "$(cat log)" = hello &&
	api GET "/api/v1/runs/$run/tasks/nosuch/log" >out && expect_status 404 &&
	api GET "/api/v1/runs/$run/tasks/greet/tries" >out && expect_status 200 &&
	test "$(jq ".tries[0].try" out)" = 1
'

expect_success 'failing task: its state, exit code and log; the all_done leaf decides the run' '
	run=$(trigger failing) && wait_for 30 run_is "$run" success &&
	api GET "/api/v1/runs/$run" >r &&
	test "$(jq -r "[.tasks[] | select(.task_id == \"boom\")][0] | .state + \":\" + (.exit_code|tostring)" r)" = failed:3 &&
	test "$(jq -r "[.tasks[] | select(.task_id == \"cleanup\")][0].state" r)" = success &&
	api GET "/api/v1/runs/$run/tasks/boom/log" | grep -q "about to fail"
'

expect_success 'cancel: 202, the run ends cancelled, a second cancel is 409' '
	run=$(trigger slow) &&
	wait_for 30 sh -c "curl -s -H \"$WEB_AUTH\" $WEB_BASE/api/v1/runs/$run | jq -e \".tasks[] | select(.state == \\\"running\\\")\"" &&
	api POST "/api/v1/runs/$run/cancel" >out && expect_status 202 &&
	wait_for 30 run_is "$run" cancelled &&
	api POST "/api/v1/runs/$run/cancel" >out && expect_status 409 &&
	jq -r .error out | grep -q cancelled
'

expect_success 'clear: 202, the task runs again with a new try' '
	run=$(cat "$TRASH_BASE/hello-run") &&
	api POST "/api/v1/runs/$run/tasks/greet/clear" >out && expect_status 202 &&
	test "$(jq .downstream out)" = false &&
	wait_for 30 sh -c "curl -s -H \"$WEB_AUTH\" $WEB_BASE/api/v1/runs/$run/tasks/greet/tries | jq -e \".tries | length == 2 and .[1].exit_code == 0\"" &&
	api POST "/api/v1/runs/$run/tasks/nosuch/clear" >out && expect_status 404 &&
	api POST "/api/v1/runs/$run/tasks/greet/clear" -H "Content-Type: application/json" \
		-d "{\"downstream\":\"yes\"}" >out && expect_status 400
'

expect_success 'results: run folder files and declared outputs, typed, with ranges' '
	run=$(cat "$TRASH_BASE/hello-run") &&
	wait_for 30 run_is "$run" success &&
	api GET "/api/v1/runs/$run/files" >out && expect_status 200 &&
	test "$(jq -r .run_dir out)" = "generated/hello/$run" &&
	jq -e ".files[] | select(.path == \"generated/hello/$run/clips/a.wav\" and .type == \"audio/wav\")" out &&
	jq -e ".files[] | select(.path == \"uploadable/webtest/web-list.txt\" and .output == \"tone\")" out &&
	curl -s -D hdr -o a.wav -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$run/file?path=generated/hello/$run/clips/a.wav" &&
	grep -qi "^Content-Type: audio/wav" hdr && test "$(head -c 4 a.wav)" = RIFF &&
	api GET "/api/v1/runs/$run/file?path=generated/hello/$run/clips/a.wav" -H "Range: bytes=0-3" >out &&
	expect_status 206 && test "$(cat out)" = RIFF &&
	api GET "/api/v1/runs/$run/file?path=generated/hello/$run/clips/a.wav" -H "Range: bytes=99999999-" >out &&
	expect_status 416 &&
	api GET "/api/v1/runs/$run/file?path=uploadable/webtest/web-list.txt" >out && expect_status 200 &&
	test "$(cat out)" = list
'

expect_success 'traversal: no path outside the run and its outputs is served' '
	run=$(cat "$TRASH_BASE/hello-run") && rd="generated/hello/$run" &&
	for p in "$rd/../../../flow/secret" "$rd/%2e%2e/%2e%2e/%2e%2e/flow/secret" \
		"%2Fetc%2Fpasswd" "/etc/passwd" "$rd/clips/..%2F..%2F..%2F..%2Fflow%2Fsecret" \
		"flow/secret" "synthflow.yaml" "uploadable/webtest/world-list.txt"; do
		code=$(curl -s -o body -w "%{http_code}" -H "$WEB_AUTH" "$WEB_BASE/api/v1/runs/$run/file?path=$p")
		case $code in 403|404) ;; *) echo "$p: $code"; cat body; exit 1 ;; esac
		jq -e .error body >/dev/null || exit 1
		if grep -q "$WEB_TOKEN" body; then exit 1; fi
	done &&
	ln -s "$DATA/flow/secret" "$DATA/$rd/leak.txt" &&
	ln -s /etc "$DATA/$rd/etc" &&
	api GET "/api/v1/runs/$run/file?path=$rd/leak.txt" >out && expect_status 403 &&
	api GET "/api/v1/runs/$run/file?path=$rd/etc/passwd" >out && expect_status 403 &&
	api GET "/api/v1/runs/$run/files" >out && ! grep -q leak.txt out &&
	api GET "/api/v1/runs/$run/file" >out && expect_status 400 &&
	api GET "/api/v1/runs/..%2F..%2Fflow/files" >out && expect_status 404 &&
	api GET "/api/v1/runs/$run/tasks/..%2F..%2F..%2Fsecret/log" >out && expect_status 404
'

expect_success 'browser sign-in: ?token= sets HttpOnly SameSite=Strict cookies and strips the token' '
	curl -s -D hdr -o /dev/null "$WEB_BASE/?token=$WEB_TOKEN" &&
	grep -q "^HTTP/1.1 303" hdr && grep -qi "^Location: /\s*$" hdr &&
	grep -i "^Set-Cookie: sf_token_" hdr | grep -q "HttpOnly; SameSite=Strict" &&
	grep -i "^Set-Cookie: sf_csrf_" hdr | grep -q "SameSite=Strict" &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$WEB_BASE/?token=wrong")" = 401
'

expect_success 'cookie auth: reads work, writes need the CSRF header and our origin' '
	port=${WEB_BASE##*:} &&
	curl -s -c jar -o /dev/null "$WEB_BASE/?token=$WEB_TOKEN" &&
	csrf=$(awk -v n="sf_csrf_$port" "\$6 == n { print \$7 }" jar) && test -n "$csrf" &&
	test "$(curl -s -b jar -o /dev/null -w "%{http_code}" "$WEB_BASE/api/v1/dags")" = 200 &&
	test "$(curl -s -b jar -o body -w "%{http_code}" -X POST "$WEB_BASE/api/v1/dags/hello/runs")" = 403 &&
	jq -r .error body | grep -q "X-SynthFlow-CSRF" &&
	test "$(curl -s -b jar -o /dev/null -w "%{http_code}" -X POST -H "X-SynthFlow-CSRF: bad" "$WEB_BASE/api/v1/dags/hello/runs")" = 403 &&
	test "$(curl -s -b jar -o /dev/null -w "%{http_code}" -X POST -H "X-SynthFlow-CSRF: $csrf" -H "Origin: http://evil.example" "$WEB_BASE/api/v1/dags/hello/runs")" = 403 &&
	test "$(curl -s -b jar -o body -w "%{http_code}" -X POST -H "X-SynthFlow-CSRF: $csrf" -H "Origin: $WEB_BASE" "$WEB_BASE/api/v1/dags/hello/runs")" = 201
'

expect_success 'UI: embedded files with a strict CSP, ETags, no HTML for data' '
	curl -s -D hdr -o index.html "$WEB_BASE/" && grep -q "^HTTP/1.1 200" hdr &&
	grep -qi "^Content-Type: text/html" hdr &&
	grep -i "^Content-Security-Policy:" hdr | grep -q "default-src .none.; script-src .self." &&
	grep -qi "^X-Content-Type-Options: nosniff" hdr && grep -qi "^X-Frame-Options: DENY" hdr &&
	grep -q "app.js" index.html &&
	curl -s -D hdr -o /dev/null "$WEB_BASE/app.js" && grep -qi "^Content-Type: text/javascript" hdr &&
	etag=$(grep -i "^ETag:" hdr | cut -d" " -f2 | tr -d "\r") &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "If-None-Match: $etag" "$WEB_BASE/app.js")" = 304 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$WEB_BASE/nope.html")" = 404 &&
	! grep -q "innerHTML" "$SRC_ROOT/web/app.js"
'

expect_success 'unknown endpoints 404 and wrong methods 405, as JSON' '
	api GET /api/v1/nothing >out && expect_status 404 && jq -e .error out &&
	api DELETE /api/v1/dags/hello >out && expect_status 405 && jq -e .error out &&
	api GET /api/v1/runs/x/cancel >out && expect_status 405 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X POST "$WEB_BASE/")" = 405 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" --path-as-is "$WEB_BASE/api/v1/dags/%zz")" = 400
'

expect_success 'pause: the toggle is stored and listed' '
	api POST /api/v1/dags/slow/pause -H "Content-Type: application/json" -d "{\"paused\":true}" >out &&
	expect_status 200 && test "$(jq .paused out)" = true &&
	api GET /api/v1/dags >out && test "$(jq "[.dags[] | select(.dag_id == \"slow\")][0].paused" out)" = true &&
	api GET /api/v1/dags/slow >out && test "$(jq .paused out)" = true &&
	api POST /api/v1/dags/slow/pause -H "Content-Type: application/json" -d "{\"paused\":1}" >out &&
	expect_status 400 &&
	api POST /api/v1/dags/slow/pause -H "Content-Type: application/json" -d "{\"paused\":false}" >out &&
	test "$(jq .paused out)" = false
'

expect_success 'grid: runs x tasks, foreach cells as counts' '
	api GET "/api/v1/dags/hello/grid?limit=2" >out && expect_status 200 &&
	test "$(jq -r "[.tasks[].task_id] | join(\",\")" out)" = greet,tone,each &&
	test "$(jq ".runs | length" out)" = 2 && test "$(jq ".cells | length" out)" = 2 &&
	jq -e ".cells[] | .[2] | type == \"object\" or . == null" out &&
	api GET "/api/v1/dags/hello/grid?limit=100000" >out && expect_status 400
'

expect_success 'events: a state change arrives on the stream' '
	curl -s -N -H "$WEB_AUTH" "$WEB_BASE/api/v1/events" >events &
	pid=$! &&
	wait_for 10 grep -q "event: hello" events &&
	run=$(trigger hello "{\"params\":{\"name\":\"sse\"}}") &&
	wait_for 30 grep -q "\"run_id\":\"$run\",\"dag_id\":\"hello\",\"state\":\"success\"" events &&
	grep -q "^event: task" events &&
	kill $pid
'

expect_success 'metrics: Prometheus text with runs, tasks, durations, requests' '
	api GET /metrics >m && expect_status 200 &&
	grep -q "^# TYPE synthflow_runs gauge" m &&
	grep -Eq "^synthflow_runs\{state=\"success\"\} [1-9]" m &&
	grep -Eq "^synthflow_task_instances\{state=\"failed\"\} [1-9]" m &&
	grep -Eq "^synthflow_task_duration_seconds_count [1-9]" m &&
	grep -q "^synthflow_task_duration_seconds_bucket{le=\"+Inf\"}" m &&
	grep -Eq "^synthflow_http_requests_total\{method=\"GET\",route=\"/api/v1/dags\",code=\"2xx\"\} [1-9]" m &&
	grep -Eq "^synthflow_http_requests_total\{.*code=\"4xx\"\} [1-9]" m &&
	grep -q "^process_resident_memory_bytes" m &&
	grep -Eq "^synthflow_scheduler_loops_total [1-9]" m &&
	grep -q "^synthflow_scheduler_busy_seconds_total" m
'

expect_success 'serve listens on loopback only by default' '
	port=${WEB_BASE##*:} &&
	ss -Hltn "sport = :$port" >socks && test -s socks &&
	! grep -v "127.0.0.1:$port" socks
'

expect_success '--bind to a public address warns; a taken port is a clear error' '
	test_store_fresh # other data folders, other stores
	synthflow init other >/dev/null
	synthflow --data other serve --bind 0.0.0.0 --port 0 >o.out 2>o.err &
	pid=$!
	
	wait_for 20 grep -q "^http://" o.out &&
	grep -q "warning: the web server listens on .0.0.0.0." o.err &&
	kill $pid && wait $pid &&
	synthflow init third >/dev/null &&
	port=${WEB_BASE##*:} &&
	test_exit 1 synthflow --data third serve --port "$port" 2>err &&
	grep -q "cannot listen on 127.0.0.1 port $port" err &&
	test_exit 2 synthflow --data third serve --port 99999 &&
	test_exit 2 synthflow --data third serve extra
'

# docs/api.md lists the answers libmicrohttpd gives itself (HTML, before our
# handler); anything that reaches the handler is JSON.
expect_success 'protocol errors: libmicrohttpd'\''s own answers are the documented ones' '
	python3 - "${WEB_BASE##*:}" >out <<-\X &&
	import socket, sys
	def ask(raw):
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
	    s.sendall(raw)
	    data = b""
	    while True:
	        d = s.recv(65536)
	        if not d:
	            break
	        data += d
	    s.close()
	    return data.split(b"\r\n")[0].decode()
	print("colon:", ask(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"))
	print("version:", ask(b"GET /api/v1/health HTTP/2.0\r\nHost: x\r\n\r\n"))
	print("nohost:", ask(b"GET /api/v1/dags HTTP/1.1\r\nConnection: close\r\n\r\n"))
	X
	must_contain out "^colon: HTTP/1.1 400 " &&
	must_contain out "^version: HTTP/1.1 505 " &&
	must_contain out "^nohost: HTTP/1.1 400 "
'

expect_success 'serve stops cleanly on SIGTERM' '
	web_stop "$DATA" || { cat "$DATA/serve.err"; exit 1; }
'

test_done
