#!/usr/bin/env bash
# The command framework (src/cmd/cmd.c): every command reports the same
# mistakes in the same words, with exit status 2, from its entry alone.
. "$(dirname "$0")/../lib.sh"

expect_success 'an unknown option names the command and suggests the closest one' '
	synthflow init >/dev/null &&
	test_exit 2 synthflow dags list --jsn 2>err &&
	must_contain err "unknown option .--jsn. for .dags list. (did you mean .--json.?)" &&
	must_contain err "^usage: synthflow dags" &&
	test_exit 2 synthflow trigger x --wiat 2>err &&
	must_contain err "unknown option .--wiat. for .trigger. (did you mean .--wait.?)" &&
	test_exit 2 synthflow build w --zzzzzzzz 2>err &&
	must_contain err "unknown option .--zzzzzzzz. for .build.$" &&
	test_exit 2 synthflow status --json=yes 2>err && must_contain err "option .--json. takes no value"
'

expect_success 'a missing value, an integer out of range, a value not among the choices' '
	synthflow init >/dev/null &&
	test_exit 2 synthflow test x --task 2>err && must_contain err "option .--task. needs a value" &&
	test_exit 2 synthflow serve --port 65536 2>err &&
	must_contain err "option .--port. needs an integer from 0 to 65535, not .65536." &&
	test_exit 2 synthflow runs list --limit=-1 2>err &&
	must_contain err "option .--limit. needs an integer of at least 0, not .-1." &&
	test_exit 2 synthflow tasks logs r t --try 1x 2>err &&
	must_contain err "option .--try. needs an integer from 1 to" &&
	test_exit 2 synthflow run --gpus=some 2>err &&
	must_contain err "option .--gpus. must be auto, all or none, not .some."
'

expect_success 'operands are counted against the entry' '
	synthflow init >/dev/null &&
	test_exit 2 synthflow trigger 2>err && must_contain err "missing the DAG id" &&
	test_exit 2 synthflow tasks logs r 2>err && must_contain err "missing the task id" &&
	test_exit 2 synthflow runs show a b 2>err && must_contain err "too many arguments" &&
	test_exit 2 synthflow web now 2>err && must_contain err "unexpected argument .now."
'

expect_success 'subcommands: missing, mistyped, unknown' '
	synthflow init >/dev/null &&
	test_exit 2 synthflow vars 2>err && must_contain err "missing subcommand (list, get, set, unset or history)" &&
	test_exit 2 synthflow tasks lgos 2>err && must_contain err "unknown subcommand .tasks lgos. (did you mean .logs.?)" &&
	test_exit 2 synthflow runs zzzzzz 2>err && must_contain err "unknown subcommand .runs zzzzzz. (list, show, cancel or diff)"
'

expect_success 'option spellings: --name=value, -pVALUE, options after operands, -- ends options' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/w/dags &&
	printf "id: echo\nparams:\n  a: {type: string, default: x}\ntasks:\n  t:\n    run: echo {{ params.a }}\n" >run-data/src/w/dags/echo.yaml &&
	synthflow test echo --param=a=1 >out && run=$(head -n1 out) &&
	synthflow runs show "$run" --json >j && jq -e ".params.a == \"1\"" j &&
	synthflow test -pa=2 echo >out && run=$(head -n1 out) &&
	synthflow runs show --json -- "$run" >j && jq -e ".params.a == \"2\"" j &&
	synthflow vars set k -1 && synthflow vars get k >out && printf "%s\n" -1 | must_equal out
'

test_done
