#!/usr/bin/env bash
# Validator gaps: a second YAML document, invalid UTF-8 and control characters
# at their real position, integers out of range, inputs/outputs that name
# flow/ or leave the data folder; and the files API never serves flow/ even
# when an output's folder comes from a param.  DAGs: tests/cli/data/security/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

DATA=$SRC_ROOT/tests/cli/data/security

expect_success 'each gap is reported at its file:line:col' '
	cp "$DATA"/gaps/*.yaml . &&
	test_exit 1 synthflow dags validate two-docs.yaml bad-utf8.yaml control.yaml huge-int.yaml \
		paths.yaml 2>err &&
	must_contain err "^two-docs.yaml:4:1: error: a second YAML document" &&
	must_contain err "^bad-utf8.yaml:3:16: error: invalid .*UTF-8" &&
	must_contain err "^control.yaml:3:15: error: control characters" &&
	must_contain err "^huge-int.yaml:4:14: error: .retries. is out of range.*99999999999999999999" &&
	must_contain err "^paths.yaml:4:14: error: .inputs. entry .{{ data }}/flow/y. names the engine" &&
	must_contain err "^paths.yaml:4:35: error: .inputs. entry .a/../../x. leaves its folder" &&
	must_contain err "^paths.yaml:4:48: error: .inputs. entry ./etc/passwd. is absolute" &&
	must_contain err "^paths.yaml:5:15: error: .outputs. entry .flow/secret. names the engine" &&
	must_contain err "^paths.yaml:5:30: error: .outputs. entry ../flow/x. names the engine" &&
	test "$(grep -c "^paths.yaml" err)" = 5
'

expect_success 'the files API never serves flow/, whatever the outputs expand to' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/t/dags && cp "$DATA/leak.yaml" run-data/src/t/dags/ &&
	web_start "$PWD/run-data" &&
	run=$(trigger leak "{\"params\": {\"where\": \"flow\"}}") &&
	wait_for "$WEB_WAIT" run_is "$run" success &&
	api GET "/api/v1/runs/$run/files" >files && expect_status 200 &&
	test "$(jq "[.files[] | select(.path | startswith(\"flow\"))] | length" files)" = 0 &&
	api GET "/api/v1/runs/$run/file?path=flow/secret" >got && expect_status 403 &&
	must_not_contain got "$WEB_TOKEN" &&
	web_stop "$PWD/run-data"
'

test_done
