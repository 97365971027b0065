#!/usr/bin/env bash
# The bad-DAG corpus: each tests/cli/data/bad-dags/NAME.yaml must fail
# validation with the diagnostic line in NAME.expect (file:line:col: error:
# message, as a substring of one stderr line), and exit 1.  Good DAGs beside
# bad ones are still listed.
. "$(dirname "$0")/../lib.sh"

BAD=$TEST_ROOT/cli/data/bad-dags
GOOD=$TEST_ROOT/cli/data/good-dags

for yaml in "$BAD"/*.yaml; do
	name=$(basename "$yaml" .yaml)
	expect_success "bad DAG $name" '
		cp "$BAD/$name.yaml" . &&
		test_exit 1 synthflow dags validate "$name.yaml" >out 2>err &&
		want=$(cat "$BAD/$name.expect") &&
		test -n "$want" &&
		if ! grep -qF -- "$want" err; then
			echo "expected: $want"; echo "got:"; cat err; exit 1
		fi &&
		must_contain out "^0 DAG(s) valid" &&
		grep -v "^synthflow: error: 1 DAG file(s) invalid\$" err >diags &&
		if grep -Ev "^$name\.yaml:[0-9]+:[0-9]+: (error|warning): ." diags; then
			echo "lines above are not gcc-style diagnostics"; exit 1
		fi
	'
done

expect_success 'every bad case has an expectation and vice versa' '
	for e in "$BAD"/*.expect; do test -f "${e%.expect}.yaml" || { echo "orphan $e"; exit 1; }; done &&
	for y in "$BAD"/*.yaml; do test -s "${y%.yaml}.expect" || { echo "no expect for $y"; exit 1; }; done &&
	test "$(ls "$BAD"/*.yaml | wc -l)" -ge 30
'

expect_success 'good DAGs validate' '
	synthflow dags validate "$GOOD"/*.yaml >out 2>err &&
	n=$(ls "$GOOD"/*.yaml | wc -l) &&
	must_contain out "^$n DAG(s) valid"
'

expect_success 'good DAGs beside the whole bad corpus are still listed' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/good/dags run-data/src/bad/dags &&
	cp "$GOOD"/*.yaml run-data/src/good/dags/ &&
	cp "$BAD"/*.yaml run-data/src/bad/dags/ &&
	test_exit 1 synthflow dags list >out 2>err &&
	for y in "$GOOD"/*.yaml; do
		id=$(sed -n "s/^id: *\([^ ]*\).*/\1/p" "$y"); id=${id:-$(basename "$y" .yaml)}
		must_contain out "^$id " || exit 1
	done &&
	test "$(grep -c "^[^ ]" out)" -eq "$(($(ls "$GOOD"/*.yaml | wc -l) + 1))" &&
	for y in "$BAD"/*.yaml; do
		must_contain err "bad/dags/$(basename "$y"):" || exit 1
	done &&
	must_contain err "$(ls "$BAD"/*.yaml | wc -l) DAG file(s) with errors"
'

test_done
