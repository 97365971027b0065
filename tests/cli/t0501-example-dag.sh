#!/usr/bin/env bash
# The ppp-audio example's DAG run end to end with `synthflow test` on tiny
# datasets: the spoken sample, and a dataset in downloaded/.
. "$(dirname "$0")/../lib.sh"

# setup: a data folder with the example workspace in it
setup() {
	synthflow init >/dev/null &&
	cp -R "$SRC_ROOT/examples/ppp-audio" run-data/src/
}

# states RUN_JSON: "task index state" lines of a run, sorted
states() {
	python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))
print("run", run["state"])
for t in sorted(run["tasks"], key=lambda t: (t["task_id"], t["index"] or 0)):
    print(t["task_id"], "-" if t["index"] is None else t["index"], t["state"])
' "$1"
}

# check_uploadable DIR: every filelist line names a clip inside DIR
check_uploadable() {
	(cd "$1" && cut -d"|" -f1 filelist_train.txt filelist_validation.txt |
		while IFS= read -r p; do
			case $p in clips/*) ;; *) echo "not under clips/: $p"; exit 1 ;; esac
			test -f "$p" || { echo "missing: $p"; exit 1; }
		done) &&
	! grep -rq "$TRASH" "$1"
}

expect_success 'the example DAG is valid' '
	setup && synthflow dags validate >out && must_contain out "1 DAG(s) valid"
'

expect_success 'ppp-preprocess speaks a sample, cleans each clip, writes filelists' '
	setup &&
	synthflow test ppp-preprocess -p sample_clips=6 --json >run.json &&
	states run.json >states &&
	must_equal states <<-EOF &&
	run success
	clean 0 success
	clean 1 success
	clean 2 success
	clean 3 success
	clean 4 success
	clean 5 success
	filelists - success
	prepare - success
	EOF
	up=run-data/uploadable/espeak-sample &&
	check_uploadable "$up" &&
	# six clips, one of them Very Noisy
	test "$(cat "$up"/filelist_*.txt | wc -l)" = 5 &&
	! grep -q "Very Noisy" "$up"/filelist_*.txt &&
	must_contain "$up/filelist_train.txt" "^clips/Sliced Dialogue/s01e01/00_00_05_Twilight_Neutral__Hello there. Are you ready for the lesson_.flac|Hello there. Are you ready for the lesson?|Twilight$" &&
	test -s "$up/filelist_validation.txt" &&
	f=$(find "$up/clips" -name "*.flac" | head -n 1) && test "$(soxi -r "$f")" = 22050 &&
	test -z "$(ls -A run-data/downloaded)" &&
	run_id=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	test -d "run-data/generated/ppp-preprocess/$run_id/sample/espeak-sample" &&
	test -d "run-data/flow/logs/ppp-preprocess/$run_id" &&
	# the six clips were cleaned by one process, and each has its numbers
	test "$(ls "run-data/flow/logs/ppp-preprocess/$run_id" | grep -c "^clean")" = 1 &&
	synthflow runs show "$run_id" --json >show &&
	test "$(jq "[.metrics[] | select(.task_id == \"clean\")] | length" show)" = 6 &&
	test "$(jq "[.metrics[] | select(.metrics.dropped == \"Very Noisy\")] | length" show)" = 1 &&
	jq -e "[.metrics[] | select(.metrics.output) | .metrics] | length == 5 and
		all(.[]; .rate == 22050 and .peak_db <= -1 and .character != \"\" and .transcript != \"\")" show &&
	# the dataset view'"'"'s metrics.jsonl: the listed clips, paths inside the folder
	jq -s -e "length == 5 and all(.[]; (.item | startswith(\"clips/\")) and .output == .item and
		(.split == \"train\" or .split == \"validation\") and .rate == 22050 and (.wave | length) == 48)" "$up/metrics.jsonl" &&
	test "$(jq -r ".output + \"|\" + .transcript + \"|\" + .speaker" "$up/metrics.jsonl" | sort)" = \
		"$(sort "$up"/filelist_*.txt)" &&
	! grep -q "$PWD" "$up/metrics.jsonl"
'

expect_success 'bad params are refused before anything runs' '
	setup &&
	set +e && synthflow test ppp-preprocess -p sample_rate=100 >out 2>err; status=$? && set -e &&
	test "$status" -ne 0 && must_contain err "sample_rate" &&
	set +e && synthflow test ppp-preprocess -p train_percent=lots >out 2>err; status=$? && set -e &&
	test "$status" -ne 0 && must_contain err "train_percent" &&
	test -z "$(ls -A run-data/generated)" && test -z "$(ls -A run-data/uploadable)"
'

expect_success 'a dataset in downloaded/ is used as it is, and runs give the same output' '
	setup &&
	sh run-data/src/ppp-audio/scripts/make-sample-dataset.sh "run-data/downloaded/My Set" 6 >/dev/null &&
	sox -n -r 44100 "run-data/downloaded/My Set/00_00_09_Spike_Happy__Got it; what'\''s next.wav" synth 1 sine 300 &&
	find run-data/downloaded -exec stat -c "%n %s %Y" {} + | sort >before &&
	synthflow test ppp-preprocess -p "dataset=My Set" -p sample_rate=16000 -p drop_noisy=true >out &&
	up="run-data/uploadable/My Set" &&
	check_uploadable "$up" &&
	# 6 spoken clips: 1 Very Noisy and 1 Noisy dropped; plus the WAV
	test "$(cat "$up"/filelist_*.txt | wc -l)" = 5 &&
	cat "$up"/filelist_*.txt >all &&
	must_contain all "^clips/00_00_09_Spike_Happy__Got it; what'\''s next.flac|Got it; what'\''s next|Spike$" &&
	f=$(find "$up/clips" -name "*.flac" | head -n 1) && test "$(soxi -r "$f")" = 16000 &&
	find run-data/downloaded -exec stat -c "%n %s %Y" {} + | sort >after &&
	diff before after &&
	cp -R "$up" first &&
	synthflow test ppp-preprocess -p "dataset=My Set" -p sample_rate=16000 -p drop_noisy=true >out &&
	diff -r first "$up"
'

test_done
