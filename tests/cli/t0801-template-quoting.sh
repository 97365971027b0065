#!/usr/bin/env bash
# Templates in commands: a value is inert wherever the template sits (bare,
# "...", '...', $( )), from `synthflow test`, from the web API and from
# hostile file names in downloaded/; the places no quoting makes safe are
# refused by `dags validate` with file:line:col.  DAGs: tests/cli/data/security/.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

DATA=$SRC_ROOT/tests/cli/data/security

setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	for d in "$@"; do cp "$DATA/$d.yaml" run-data/src/t/dags/; done
}

# Each payload would create a pwned* file in the cwd (the data folder's parent
# for a task) if any of it ran.
PAYLOADS=(
	'$(touch ../pwned1)'
	'`touch ../pwned2`'
	'"; touch ../pwned3; "'
	"'; touch ../pwned4; '"
	"'\\''\$(touch ../pwned5)'\\''"
	"x\" \$(touch ../pwned6) \"'\`touch ../pwned7\`'"
	$'line one\n$(touch ../pwned8)\nline three \\'
)
export PAYLOADS_FILE=$TRASH_BASE/payloads
for p in "${PAYLOADS[@]}"; do printf '%s\0' "$p"; done >"$PAYLOADS_FILE"

# check_outputs VALUE: every task of quoting.yaml wrote VALUE back exactly.
check_outputs() {
	printf '%s' "$1" | cmp - run-data/out-bare &&
	printf 'prefix %s' "$1" | cmp - run-data/out-dq &&
	printf 'value=%s' "$1" | cmp - run-data/out-sq &&
	printf '<%s>.' "$1" | cmp - run-data/out-sub &&
	! ls pwned* run-data/pwned* 2>/dev/null
}

expect_success 'synthflow test: hostile params are inert in every context' '
	setup quoting &&
	while IFS= read -r -d "" p; do
		synthflow test quoting -p "s=$p" >/dev/null &&
		check_outputs "$p" || exit 1
	done <"$PAYLOADS_FILE"
'

expect_success 'the web API: hostile params are inert in every context' '
	setup quoting &&
	web_start "$PWD/run-data" &&
	while IFS= read -r -d "" p; do
		run=$(trigger quoting "$(jq -n --arg s "$p" "{params: {s: \$s}}")") &&
		wait_for "$WEB_WAIT" run_is "$run" success &&
		check_outputs "$p" || exit 1
	done <"$PAYLOADS_FILE" &&
	web_stop "$PWD/run-data"
'

expect_success 'foreach over hostile file names in downloaded/: each name once, nothing runs' '
	setup names &&
	d=run-data/downloaded &&
	for n in "\$(touch ..\\pwned1)" "\`touch pwned2\`" "a\"b; touch pwned3" "a'"'"'b;touch pwned4" \
		"x\$(printf y)" "-n" "back\\slash" "new
line" "  spaces  " "\$IFS*?[x]" "EOF" "{{ item }}"; do
		printf x >"$d/$n" || exit 1
	done &&
	synthflow test names >/dev/null &&
	(cd "$d" && for f in *; do printf "processing %s\0" "$f"; done) | sort -z >want &&
	sort -z run-data/names >got &&
	cmp want got &&
	! ls pwned* run-data/pwned* run-data/downloaded/pwned* 2>/dev/null
'

expect_success 'dags validate refuses unsafe contexts and raw outside values, at file:line:col' '
	setup unsafe &&
	test_exit 1 synthflow dags validate 2>err &&
	f=$PWD/run-data/src/t/dags/unsafe.yaml &&
	must_contain err "^$f:4:24: error: .{{ params.s }}. is inside backticks.*write \$( ) instead" &&
	must_contain err "^$f:7:29: error: .{{ params.s }}. is inside backticks" &&
	must_contain err "^$f:11:16: error: .{{ params.s }}. is inside \$(( ))" &&
	must_contain err "^$f:15:7: error: .{{ params.s }}. is inside a here-document.*(v={{ params.s }})" &&
	must_contain err "^$f:18:15: error: .{{ params.s | raw }}. is refused: a string param" &&
	must_not_contain err "params.mode | raw" &&
	must_contain err "^$f:21:15: error: .{{ item.name | raw }}. is refused: its value comes from a file name" &&
	test "$(grep -c "^$f:.*: error: " err)" = 6 &&
	test_exit 1 synthflow test unsafe 2>err2 && must_contain err2 "have errors"
'

test_done
