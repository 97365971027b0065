#!/usr/bin/env bash
# The variables API behind the UI's Variables page (docs/api.md): list, set,
# unset and history, recorded with the source api (bearer token) or ui
# (cookie + CSRF), and on_variable runs started through it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
mkdir -p "$DATA/src/t/dags"
cat >"$DATA/src/t/dags/onvar.yaml" <<'YAML'
params:
  variable: {type: string}
on_variable: "lr"
tasks:
  a: {run: "true"}
YAML
# code METHOD PATH [CURL ARGS]: the status; the body is in $TRASH/body
code() { api "$@" >/dev/null && cat "$TRASH/status"; }

web_start "$DATA" || { echo "not ok 1 - serve did not start"; exit 1; }

expect_success 'PUT, GET, DELETE with the bearer token are recorded as api' '
	test "$(code PUT /api/v1/variables/lr -H "Content-Type: application/json" -d "{\"value\": \"0.1\"}")" = 200 &&
	jq -e ".changed == true and .change.source == \"api\" and .change.old == null and .change.new == \"0.1\" and (.change.runs | length) == 1 and .change.runs[0].dag_id == \"onvar\"" $TRASH/body &&
	test "$(code PUT /api/v1/variables/lr -H "Content-Type: application/json" -d "{\"value\": \"0.1\"}")" = 200 &&
	jq -e ".changed == false" $TRASH/body &&
	test "$(code GET /api/v1/variables)" = 200 && jq -e ".variables == {\"lr\": \"0.1\"}" $TRASH/body &&
	test "$(synthflow --data "$DATA" vars get lr)" = 0.1 &&
	test "$(code DELETE /api/v1/variables/lr)" = 200 && jq -e ".change.new == null" $TRASH/body &&
	test "$(code DELETE /api/v1/variables/lr)" = 404 &&
	test "$(code GET /api/v1/variables/lr/history)" = 200 &&
	jq -e ".key == \"lr\" and (.history | map(.source)) == [\"api\", \"api\"] and (.history | map(.runs | length)) == [1, 1]" $TRASH/body &&
	test "$(synthflow --data "$DATA" runs list onvar --limit 0 --json | jq .total)" -eq 2
'

expect_success 'bad requests are refused and change nothing' '
	test "$(code PUT "/api/v1/variables/bad%20key" -H "Content-Type: application/json" -d "{\"value\": \"x\"}")" = 400 &&
	jq -r .error $TRASH/body | grep -q "bad variable name" &&
	test "$(code PUT /api/v1/variables/k -H "Content-Type: application/json" -d "{\"value\": 3}")" = 400 &&
	test "$(code PUT /api/v1/variables/k -H "Content-Type: application/json" -d "{\"value\": \"x\", \"extra\": 1}")" = 400 &&
	test "$(code PUT /api/v1/variables/k -H "Content-Type: application/json" -d "not json")" = 400 &&
	test "$(code GET /api/v1/variables)" = 200 && jq -e ".variables == {}" $TRASH/body &&
	test "$(code GET /api/v1/variables/k/history)" = 200 && jq -e ".history == []" $TRASH/body
'

expect_success 'the web UI (cookie and CSRF header) is recorded as ui; the CLI as cli' '
	port=${WEB_BASE##*:} &&
	curl -s -c jar -o /dev/null "$WEB_BASE/?token=$WEB_TOKEN" &&
	csrf=$(awk -v n="sf_csrf_$port" "\$6 == n { print \$7 }" jar) && test -n "$csrf" &&
	test "$(curl -s -b jar -o body -w "%{http_code}" -X PUT -H "Content-Type: application/json" -d "{\"value\": \"a\"}" "$WEB_BASE/api/v1/variables/ui_key")" = 403 &&
	test "$(curl -s -b jar -o body -w "%{http_code}" -X PUT -H "X-SynthFlow-CSRF: $csrf" -H "Origin: $WEB_BASE" -H "Content-Type: application/json" -d "{\"value\": \"a\"}" "$WEB_BASE/api/v1/variables/ui_key")" = 200 &&
	synthflow --data "$DATA" vars set ui_key b &&
	synthflow --data "$DATA" vars history ui_key --json | jq -e "map(.source) == [\"ui\", \"cli\"]"
'

expect_success 'the UI has a Variables page' '
	curl -s "$WEB_BASE/index.html" | grep -q "#/variables" &&
	curl -s "$WEB_BASE/app.js" | grep -q "/api/v1/variables/"
'

web_stop "$DATA"
test_done
