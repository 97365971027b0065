#!/usr/bin/env bash
# Request/response cases (tests/cli/data/web/cases/*.case) against a real
# serve: one test per file.  Keys, one per line ('#' starts a comment):
#   request: METHOD PATH       sent as is (no path normalisation)
#   header: NAME: VALUE        any number of them
#   body: TEXT                 the request body
#   auth: none                 no bearer token (the default sends it)
#   status: CODE               the expected HTTP status
#   contains: TEXT             the body must contain TEXT (fixed string)
#   equals: TEXT               the body must be exactly TEXT
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

DATA=$TRASH_BASE/run-data
web_data "$DATA"
web_start "$DATA" || { echo "not ok 1 - serve did not start"; exit 1; }

run_case() {
	file=$1
	args=(-s --path-as-is -o body -w '%{http_code}')
	auth=1 method= path= want= contains= equals=
	while IFS= read -r line; do
		case $line in
		'#'* | '') continue ;;
		esac
		key=${line%%: *}
		value=${line#*: }
		case $key in
		request) method=${value%% *} path=${value#* } ;;
		header) args+=(-H "$value") ;;
		body) args+=(--data-binary "$value") ;;
		auth) [ "$value" = none ] && auth=0 ;;
		status) want=$value ;;
		contains) contains=$value ;;
		equals) equals=$value ;;
		*) echo "$file: unknown key '$key'" >&2; return 1 ;;
		esac
	done <"$file"
	[ $auth = 1 ] && args+=(-H "$WEB_AUTH")
	got=$(curl "${args[@]}" -X "$method" "$WEB_BASE$path")
	if [ "$got" != "$want" ]; then
		echo "$method $path: expected HTTP $want, got $got:" >&2
		cat body >&2
		return 1
	fi
	if [ -n "$contains" ] && ! grep -qF -- "$contains" body; then
		echo "$method $path: the body lacks '$contains':" >&2
		cat body >&2
		return 1
	fi
	if [ -n "$equals" ] && [ "$(cat body)" != "$equals" ]; then
		echo "$method $path: the body is not '$equals':" >&2
		cat body >&2
		return 1
	fi
	# every API error is {"error": "..."}
	case $got:$path in
	[45]*:/api/* | [45]*:/metrics*)
		jq -e '.error | type == "string"' body >/dev/null || { echo "not a JSON error" >&2; return 1; } ;;
	esac
}

for c in "$TEST_ROOT"/cli/data/web/cases/*.case; do
	expect_success "$(basename "$c" .case)" "run_case '$c'"
done

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

test_done
