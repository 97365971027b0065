#!/usr/bin/env bash
# The datasets of uploadable/ in a real 'synthflow serve': the list, a
# folder's metrics.jsonl filtered, sorted and paged on the server (read again
# when the file changes; the newest one read as serve starts), its files
# served read-only, and what is refused:
# '..', absolute paths, symlinks out of the dataset, hidden or missing
# folders, a bad line (named file:line:col).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"

SIG="python3 $TEST_ROOT/cli/audio-signals.py"
DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
UP=$DATA/uploadable
mkdir -p "$UP/Set A/clips/s1" "$UP/plain" "$UP/.Set A.new.1" "$UP/bad" "$TRASH_BASE/outside"
$SIG tone "$UP/Set A/clips/s1/00_00_01_Fluttershy_Happy__Hi.wav" 22050 0.5 440 -20
cat >"$UP/Set A/metrics.jsonl" <<'JSONL'
{"item": "clips/s1/00_00_01_Fluttershy_Happy__Hi.wav", "output": "clips/s1/00_00_01_Fluttershy_Happy__Hi.wav", "character": "Fluttershy", "lufs": -31.5, "duration": 0.5, "split": "train"}

{"item": "clips/s1/00_00_02_Rarity_Sad__Oh.flac", "character": "Rarity", "lufs": -20, "duration": 9, "split": "validation"}
  {"item": "clips/s1/00_00_03_Fluttershy_Sad__Hm.flac", "character": "Fluttershy", "lufs": -35, "duration": 8.5, "split": "train"}
{"character": "Spike", "lufs": -40}
JSONL
echo secret >"$TRASH_BASE/outside/secret.txt"
ln -s "$TRASH_BASE/outside/secret.txt" "$UP/Set A/leak.txt"
ln -s "$TRASH_BASE/outside" "$UP/elsewhere"
printf '%s\n' '{"a": 1}' '{"a": 2,}' >"$UP/bad/metrics.jsonl"
echo '{"hidden": 1}' >"$UP/.Set A.new.1/metrics.jsonl"

web_start "$DATA" || { echo "not ok 1 - serve did not start"; exit 1; }
A=Set%20A

expect_success 'GET /api/v1/datasets lists the folders of uploadable/ (not hidden ones, not symlinks out)' '
	api GET /api/v1/datasets >l && expect_status 200 &&
	test "$(jq -c "[.datasets[] | [.name, .metrics]]" l)" = "[[\"Set A\",true],[\"bad\",true],[\"plain\",false]]"
'

expect_success 'a dataset'"'"'s metrics: lines as rows, filtered, sorted and paged on the server' '
	api GET "/api/v1/datasets/$A/metrics" >all && expect_status 200 &&
	test "$(jq -r .dataset all)" = "Set A" && test "$(jq .total all)" = 4 &&
	test "$(jq -c "[.items[].line]" all)" = "[1,3,4,5]" &&
	test "$(jq -r .items[3].item all)" = null &&
	api GET "/api/v1/datasets/$A/metrics?filter=character=Fluttershy,lufs<-30,duration>8" >f && expect_status 200 &&
	test "$(jq .total f)" = 1 && jq -e ".items[0].item | endswith(\"Hm.flac\")" f &&
	api GET "/api/v1/datasets/$A/metrics?sort=-lufs&limit=2&offset=1" >s && expect_status 200 &&
	test "$(jq .total s)" = 4 && test "$(jq -c "[.items[].metrics.lufs]" s)" = "[-31.5,-35]" &&
	api GET "/api/v1/datasets/$A/metrics?filter=item~rarity" >i && test "$(jq .total i)" = 1 &&
	api GET "/api/v1/datasets/$A/metrics?filter=split=train&sort=item" >t &&
	test "$(jq -c "[.items[].line]" t)" = "[1,4]"
'

expect_success 'a changed metrics file is read again' '
	echo "{\"character\": \"Twilight\", \"lufs\": -50}" >>"$UP/Set A/metrics.jsonl" &&
	api GET "/api/v1/datasets/$A/metrics?sort=lufs&limit=1" >c && expect_status 200 &&
	test "$(jq .total c)" = 5 && test "$(jq -r .items[0].metrics.character c)" = Twilight
'

expect_success 'bad lines, filters and names are refused with the reason' '
	api GET /api/v1/datasets/bad/metrics >b && expect_status 422 &&
	jq -r .error b | grep -q "^uploadable/bad/metrics.jsonl:2:9: .* expected near" &&
	api GET "/api/v1/datasets/$A/metrics?filter=lufs" >b && expect_status 400 &&
	jq -r .error b | grep -q "has no operator" &&
	api GET /api/v1/datasets/plain/metrics >b && expect_status 404 &&
	test "$(jq -r .error b)" = "dataset has no metrics.jsonl" &&
	api GET /api/v1/datasets/nope/metrics >b && expect_status 404 &&
	api GET "/api/v1/datasets/.Set%20A.new.1/metrics" >b && expect_status 404 &&
	api GET /api/v1/datasets/../metrics >b && test "$(cat "$TRASH/status")" != 200 &&
	api GET /api/v1/datasets/%2E%2E/metrics >b && expect_status 404 &&
	api GET /api/v1/datasets/elsewhere/metrics >b && expect_status 403
'

expect_success 'every line is checked as JSON: what jansson refuses is 422 at its line, the rest is read' '
	n=0 &&
	while IFS= read -r bad; do
		n=$((n + 1)) &&
		mkdir -p "$UP/strict$n" &&
		printf "%s\n%s\n" "{\"ok\": 1}" "$bad" >"$UP/strict$n/metrics.jsonl" &&
		api GET "/api/v1/datasets/strict$n/metrics" >b &&
		{ expect_status 422 || { echo "line: $bad"; exit 1; }; } &&
		jq -r .error b | grep -q "^uploadable/strict$n/metrics.jsonl:2:[0-9]*: " ||
			{ echo "line: $bad"; cat b; exit 1; }
	done <<-\EOF &&
	{"a": 1-2}
	{"a": 01}
	{"a": 1.}
	{"a": .5}
	{"a": 1e}
	{"a": +1}
	{"a": 99999999999999999999}
	{"a": 1e999}
	{"a": 1, "a": 2}
	{"a": 1} x
	{"a": tru}
	{"a" 1}
	[1]
	EOF
	mkdir -p "$UP/strictc" "$UP/strictu" "$UP/good" &&
	printf "{\"a\": \"x\ty\"}\n" >"$UP/strictc/metrics.jsonl" &&
	printf "{\"a\": \"\355\240\200\"}\n" >"$UP/strictu/metrics.jsonl" &&
	api GET /api/v1/datasets/strictc/metrics >b && expect_status 422 &&
	api GET /api/v1/datasets/strictu/metrics >b && expect_status 422 &&
	printf "{\"a\": -0.5e+3, \"b\": \"\303\251\360\237\220\264\", \"c\": 0, \"d\": [1, {\"e\": null}], \"f\": false}  \n{}\n{\"item\": \"x\\\\u0079\", \"a\": 12E-1}\n" >"$UP/good/metrics.jsonl" &&
	api GET "/api/v1/datasets/good/metrics?sort=a" >g && expect_status 200 &&
	test "$(jq -c "[.items[] | [.line, .item, .metrics.a]]" g)" = "[[1,null,-500],[3,\"xy\",1.2],[2,null,null]]" &&
	api GET "/api/v1/datasets/good/metrics?filter=b~%C3%A9" >g && test "$(jq .total g)" = 1 &&
	api GET "/api/v1/datasets/good/metrics?filter=item=xy" >g && test "$(jq .total g)" = 1
'

expect_success 'a dataset'"'"'s files are served; paths out of it are refused' '
	f=clips/s1/00_00_01_Fluttershy_Happy__Hi.wav &&
	curl -sf -H "$WEB_AUTH" -D h -o got "$WEB_BASE/api/v1/datasets/$A/file?path=$f" &&
	cmp got "$UP/Set A/$f" && grep -qi "^content-type: audio/wav" h &&
	curl -sf -H "$WEB_AUTH" -H "Range: bytes=0-3" -o head4 "$WEB_BASE/api/v1/datasets/$A/file?path=$f" &&
	test "$(cat head4)" = RIFF &&
	api GET "/api/v1/datasets/$A/file?path=leak.txt" >b && expect_status 403 &&
	api GET "/api/v1/datasets/$A/file?path=..%2Fbad%2Fmetrics.jsonl" >b && expect_status 403 &&
	api GET "/api/v1/datasets/$A/file?path=%2Fetc%2Fpasswd" >b && expect_status 403 &&
	api GET "/api/v1/datasets/$A/file?path=clips" >b && expect_status 404 &&
	api GET "/api/v1/datasets/$A/file" >b && expect_status 400 &&
	curl -s -o /dev/null -w "%{http_code}" "$WEB_BASE/api/v1/datasets/$A/file?path=$f" >code &&
	test "$(cat code)" = 401
'

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

expect_success 'serve reads the newest metrics file of uploadable/ into memory as it starts' '
	mkdir -p "$UP/newest" &&
	printf "%s\n" "{\"item\": \"a.wav\", \"n\": 1}" "" "{\"n\": 2}" >"$UP/newest/metrics.jsonl" &&
	web_start "$DATA" &&
	wait_for 60 grep -q "dataset view: .uploadable/newest/metrics.jsonl. read into memory (2 lines, [0-9]* ms)" "$DATA/serve.err" &&
	api GET "/api/v1/datasets/newest/metrics?sort=-n" >n && expect_status 200 &&
	test "$(jq -c "[.items[].line]" n)" = "[3,1]" &&
	web_stop "$DATA"
'

test_done
