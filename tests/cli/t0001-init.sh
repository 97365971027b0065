#!/usr/bin/env bash
# synthflow init, --help, --version, usage errors, and finding the data folder.
. "$(dirname "$0")/../lib.sh"

expect_success 'init creates the data folder layout' '
	synthflow init >out &&
	for d in flow flow/logs downloaded uploadable generated src/template/container; do
		test -d run-data/$d || { echo "missing $d"; exit 1; }
	done &&
	test -f run-data/synthflow.yaml &&
	for h in packages.txt requirements.txt pre-install.sh post-install.sh pre-run.sh; do
		test -f run-data/src/template/container/$h || { echo "missing $h"; exit 1; }
	done &&
	test -x run-data/src/template/container/post-install.sh &&
	must_contain run-data/src/template/container/pre-run.sh "as root"
'

expect_success 'init twice changes nothing and keeps user edits' '
	synthflow init >/dev/null &&
	echo "sox" >>run-data/src/template/container/packages.txt &&
	echo "ports: {web: 9000}" >run-data/synthflow.yaml &&
	find run-data -exec stat -c "%n %s %Y" {} + | sort >before &&
	synthflow init >out &&
	must_contain out "nothing changed" &&
	find run-data -exec stat -c "%n %s %Y" {} + | sort >after &&
	diff before after &&
	must_contain run-data/synthflow.yaml "9000"
'

expect_success 'init DIR and --data DIR' '
	synthflow init other/place >/dev/null && test -d other/place/flow &&
	synthflow --data third init >/dev/null && test -d third/src/template
'

expect_success 'init default config parses' '
	synthflow init >/dev/null && cd run-data/src &&
	SYNTHFLOW_DATA= synthflow init >/dev/null
'

expect_success '--version and --help' '
	synthflow --version >out && must_contain out "^synthflow [0-9]" &&
	synthflow --help >out && must_contain out "init" &&
	synthflow init --help >out && must_contain out "usage: synthflow init" &&
	synthflow help init >out && must_contain out "usage: synthflow init"
'

expect_success 'usage errors exit 2' '
	test_exit 2 synthflow 2>err &&
	test_exit 2 synthflow no-such-command 2>err && must_contain err "unknown command" &&
	test_exit 2 synthflow init a b 2>err && must_contain err "too many arguments" &&
	test_exit 2 synthflow --bogus 2>err
'

test_done
