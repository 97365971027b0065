#!/usr/bin/env bash
# pack, verify, replay (docs/replication.md): folder A runs the example DAG
# and packs the run; verify passes; a fresh folder B replays it and every
# output is identical.  Bad bundles (made from the good one by an
# independent tar writer, data/replication/rebundle.py) fail verify with
# one line naming the file, and replay writes nothing from them.
. "$(dirname "$0")/../lib.sh"

REBUNDLE="$TEST_ROOT/cli/data/replication/rebundle.py"
A="$TRASH_BASE/A"
BUNDLE="$TRASH_BASE/a.sfpack"

# exits_with CODE CMD...: CMD's stderr in ./err, shown when CMD does not exit
# with CODE (a sanitizer's report lands there too)
exits_with() {
	code=$1
	shift
	test_exit "$code" "$@" 2>err || { cat err >&2; return 1; }
}

# The example in folder A with its workspace committed to git, run once, packed once.
packed() {
	[ -s "$BUNDLE" ] && return 0
	mkdir -p "$A" && (cd "$A" && synthflow init >/dev/null) &&
	cp -R "$SRC_ROOT/examples/ppp-audio" "$A/run-data/src/" &&
	git -C "$A/run-data/src/ppp-audio" init -q &&
	git -C "$A/run-data/src/ppp-audio" add -A &&
	git -C "$A/run-data/src/ppp-audio" -c user.email=t@t -c user.name=t commit -qm example &&
	synthflow --data "$A/run-data" vars set colour blue >/dev/null &&
	synthflow --data "$A/run-data" test ppp-preprocess -p sample_clips=3 --json >"$TRASH_BASE/a.json" &&
	run=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"run_id\"])" "$TRASH_BASE/a.json") &&
	echo "$run" >"$TRASH_BASE/a.run" &&
	synthflow --data "$A/run-data" pack "$run" -o "$BUNDLE"
}

expect_success 'A runs and packs the example; verify passes; B replays it identically' '
	packed &&
	run=$(cat "$TRASH_BASE/a.run") &&
	synthflow verify "$BUNDLE" >out &&
	must_contain out "sound: run $run of .ppp-preprocess., [0-9]* outputs" &&
	# every declared output: those in the run folder (each step is cached, so
	# each declares what it writes) and uploadable/ (7 files)
	n=$(sed -n "s/.*, \([0-9]*\) outputs$/\1/p" out) &&
	test "$(tar --zstd -tf "$BUNDLE" | grep -c "^outputs/uploadable/.*[^/]$")" = 7 &&
	test "$(tar --zstd -tf "$BUNDLE" | grep -c "^outputs/.*[^/]$")" = "$n" &&
	synthflow replay "$BUNDLE" --data "$TRASH/B" >report &&
	must_contain report "$n identical, 0 different, 0 missing, 0 extra" &&
	must_contain report "^uploadable/espeak-sample/filelist_train.txt  *[0-9]*  identical$" &&
	test "$(grep -c " identical$" report)" = "$n" &&
	synthflow --data "$TRASH/B" runs list --json >runs.json &&
	new=$(python3 -c "import json; print(json.load(open(\"runs.json\"))[\"runs\"][0][\"run_id\"])") &&
	synthflow --data "$TRASH/B" runs show "$new" --json >show.json &&
	python3 - "$run" <<-\PY &&
	import json, sys
	run = json.load(open("show.json"))
	assert run["replay_of"] == sys.argv[1], run["replay_of"]
	assert run["provenance"]["trigger"] == "replay"
	assert run["provenance"]["replay"]["identical"] is True
	assert run["vars"] == {"colour": "blue"}, run["vars"]
	PY
	cmp "$A/run-data/uploadable/espeak-sample/filelist_train.txt" "$TRASH/B/uploadable/espeak-sample/filelist_train.txt" &&
	# --json, and replaying again in the same folder reuses it; the run has
	# the variables of the bundle, not those of the folder
	synthflow --data "$TRASH/B" vars set colour red >/dev/null &&
	synthflow replay "$BUNDLE" --data "$TRASH/B" --json >report.json &&
	python3 -c "
import json
r = json.load(open(\"report.json\"))
assert r[\"identical\"] is True and len(r[\"files\"]) == $n, r
assert all(f[\"result\"] == \"identical\" and f[\"size\"] == f[\"expected_size\"] for f in r[\"files\"])
print(r[\"run_id\"])
" >again &&
	synthflow --data "$TRASH/B" runs show "$(cat again)" --json >show.json &&
	python3 -c "
import json
run = json.load(open(\"show.json\"))
assert run[\"vars\"] == {\"colour\": \"blue\"} and run[\"provenance\"][\"vars\"] == {\"colour\": \"blue\"}, run
"
'

expect_success 'a changed output is reported different and replay exits 1' '
	packed &&
	synthflow replay "$BUNDLE" --data "$TRASH/B" >/dev/null &&
	sed -i "s/clips: {len(train) + len(val)}/clip count: {len(train) + len(val)}/" "$TRASH/B/src/ppp-audio/scripts/make-filelists.py" &&
	test_exit 1 synthflow replay "$BUNDLE" --data "$TRASH/B" >report &&
	must_contain report "^uploadable/espeak-sample/README.txt .* different$" &&
	must_contain report "[0-9]* identical, 1 different, 0 missing, 0 extra"
'

# verify_fails BUNDLE PATTERN: exit 1, and a line naming the file
verify_fails() {
	exits_with 1 synthflow verify "$1" &&
	must_contain err "$2"
}

expect_success 'one byte changed in the bundle: verify names the file; replay writes nothing' '
	packed &&
	python3 "$REBUNDLE" "$BUNDLE" bad.sfpack flip-byte outputs/uploadable/espeak-sample/filelist_train.txt &&
	verify_fails bad.sfpack "^bad.sfpack: outputs/uploadable/espeak-sample/filelist_train.txt: its sha256 differs from manifest.sha256" &&
	exits_with 1 synthflow replay bad.sfpack --data "$TRASH/C" &&
	must_contain err "nothing was replayed" &&
	test ! -e "$TRASH/C" &&
	# a byte flipped in the compressed stream
	cp "$BUNDLE" flipped.sfpack &&
	size=$(stat -c %s flipped.sfpack) &&
	printf "\\001" | dd of=flipped.sfpack bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null &&
	exits_with 1 synthflow verify flipped.sfpack &&
	must_contain err "^flipped.sfpack: outputs/"
'

expect_success 'a filelist holding an absolute path of folder A fails verify, naming it' '
	packed &&
	python3 "$REBUNDLE" "$BUNDLE" abs.sfpack append outputs/uploadable/espeak-sample/filelist_train.txt \
		"$A/run-data/uploadable/espeak-sample/clips/x.flac|Hello|Twilight
" &&
	verify_fails abs.sfpack "^abs.sfpack: outputs/uploadable/espeak-sample/filelist_train.txt:[0-9]*: holds the absolute path .$A/run-data/uploadable/espeak-sample/clips/x.flac." &&
	python3 "$REBUNDLE" "$BUNDLE" data.sfpack append outputs/uploadable/espeak-sample/filelist_validation.txt \
		"/data/uploadable/espeak-sample/clips/y.flac|Hi|Rarity
" &&
	verify_fails data.sfpack "filelist_validation.txt:[0-9]*: holds the absolute path ./data/uploadable"
'

expect_success 'bad bundles: traversal, outside symlink, newer format, truncated, not a bundle' '
	packed &&
	python3 "$REBUNDLE" "$BUNDLE" dots.sfpack add "../evil.txt" "x" &&
	verify_fails dots.sfpack "^dots.sfpack: .../evil.txt.: a path leaving the bundle" &&
	python3 "$REBUNDLE" "$BUNDLE" link.sfpack symlink outputs/uploadable/espeak-sample/link ../../../../etc/passwd &&
	verify_fails link.sfpack "^link.sfpack: outputs/uploadable/espeak-sample/link: a symlink to .../../../../etc/passwd., outside uploadable/" &&
	python3 "$REBUNDLE" "$BUNDLE" new.sfpack format 99 &&
	verify_fails new.sfpack "^new.sfpack: made by a newer synthflow (.*bundle format 99; this one reads format 1)" &&
	head -c $(($(stat -c %s "$BUNDLE") / 2)) "$BUNDLE" >cut.sfpack &&
	verify_fails cut.sfpack "^cut.sfpack: .*damaged or truncated" &&
	echo "not a bundle" >plain.sfpack &&
	verify_fails plain.sfpack "plain.sfpack. is not a SynthFlow bundle" &&
	for b in dots link new cut plain; do
		exits_with 1 synthflow replay $b.sfpack --data "$TRASH/R-$b" &&
		test ! -e "$TRASH/R-$b" || exit 1
	done &&
	test ! -e "$TRASH/evil.txt" && test ! -e "$TRASH_BASE/evil.txt"
'

expect_success 'pack refuses a workspace without git history, and an output a later run changed' '
	synthflow init >/dev/null &&
	cp -R "$SRC_ROOT/examples/ppp-audio" run-data/src/ &&
	synthflow test ppp-preprocess -p sample_clips=2 --json >one.json &&
	one=$(python3 -c "import json; print(json.load(open(\"one.json\"))[\"run_id\"])") &&
	exits_with 1 synthflow pack "$one" -o one.sfpack &&
	must_contain err "workspace .*run-data/src/ppp-audio. has no git history" &&
	test ! -e one.sfpack &&
	git -C run-data/src/ppp-audio init -q && git -C run-data/src/ppp-audio add -A &&
	git -C run-data/src/ppp-audio -c user.email=t@t -c user.name=t commit -qm x &&
	synthflow test ppp-preprocess -p sample_clips=2 -p level_db=-20 --json >two.json &&
	two=$(python3 -c "import json; print(json.load(open(\"two.json\"))[\"run_id\"])") &&
	exits_with 1 synthflow pack "$one" -o one.sfpack &&
	must_contain err "uploadable/espeak-sample/.* was changed by run .$two. after run .$one. wrote it" &&
	test ! -e one.sfpack && ! ls one.sfpack.tmp* 2>/dev/null &&
	echo "# local change" >>run-data/src/ppp-audio/README.md &&
	synthflow pack "$two" -o two.sfpack 2>err &&
	must_contain err "uncommitted changes" &&
	synthflow verify two.sfpack
'

test_done
