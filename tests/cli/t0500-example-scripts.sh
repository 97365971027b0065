#!/usr/bin/env bash
# The ppp-audio example's scripts on their own (no engine): the spoken
# sample dataset, laying out a run's clips, cleaning one clip, filelists.
. "$(dirname "$0")/../lib.sh"

S=$SRC_ROOT/examples/ppp-audio/scripts

# flac_stat FILE: "RATE SAMPLES RMS_DB" of an audio file
flac_stat() {
	printf '%s %s %s\n' "$(soxi -r "$1")" "$(soxi -s "$1")" \
		"$(sox "$1" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }')"
}

expect_success 'the sample dataset follows Clipper names, with transcripts, and is reproducible' '
	sh "$S/make-sample-dataset.sh" one 12 >out &&
	must_contain out "12 clips" &&
	find one -name "*.flac" | wc -l | grep -qx 12 &&
	find one -name "*.txt" | wc -l | grep -qx 12 &&
	find one -name "*.flac" -exec basename {} \; | sort >names &&
	# HH_MM_SS_Character_Emotion_Noise_Transcript.flac
	! grep -Ev "^[0-9]{2}_[0-9]{2}_[0-9]{2}_[^_]+_[^_]+_(|Noisy|Very Noisy)_.+\.flac$" names &&
	grep -q "_Very Noisy_" names && grep -q "_Noisy_" names && grep -q "^[0-9_]*_[^_]*_[^_]*__" names &&
	test "$(cut -d_ -f4 names | sort -u | wc -l)" -ge 5 &&
	must_contain names "_Mrs. Cake_" &&
	# "?" becomes "_", the final full stop stays, ":" and quotes go
	must_contain names "Are you ready for the lesson_\.flac" &&
	must_contain names "movin'\''\.\.flac" &&
	must_not_contain names "[?:\"]" &&
	f=$(find one -name "*lesson_.flac") &&
	test "$(cat "${f%.flac}.txt")" = "Hello there. Are you ready for the lesson?" &&
	test "$(soxi -r "$f")" = 48000 &&
	# each run as a user on a first run (a HOME with no ~/.config/pulse):
	# that reseeded espeak-ng'\''s rand() and spoke different bytes
	mkdir home1 home2 &&
	HOME=$PWD/home1 sh "$S/make-sample-dataset.sh" two 12 >/dev/null &&
	HOME=$PWD/home2 sh "$S/make-sample-dataset.sh" three 12 >/dev/null &&
	diff -r one two && diff -r one three
'

expect_success 'prepare-dataset speaks a sample into the run folder when downloaded/ has none' '
	mkdir -p data/downloaded "run dir" &&
	sh "$S/prepare-dataset.sh" data/downloaded mine "$PWD/run dir" 6 >out &&
	must_contain out "speaking a sample dataset of 6 clips" &&
	test -z "$(ls data/downloaded)" &&
	test "$(find "run dir/sample/mine" -name "*.flac" | wc -l)" = 6 &&
	test "$(find "run dir/source" -name "*.flac" | wc -l)" = 6 &&
	test "$(find "run dir/source" -name "*.txt" | wc -l)" = 6
'

expect_success 'prepare-dataset links a downloaded dataset, converts WAV, writes nothing there' '
	d="data/downloaded/My Set" &&
	mkdir -p "$d/ep 1" "$d/ep 2" run &&
	sox -n -r 44100 "$d/ep 1/00_00_01_Pinkie_Happy__Party time!.flac" synth 0.5 sine 440 &&
	echo "Party time!" >"$d/ep 1/00_00_01_Pinkie_Happy__Party time!.txt" &&
	sox -n -r 16000 "$d/ep 2/plain name.wav" synth 0.5 sine 300 &&
	sox -n -r 16000 "$d/ep 2/both.wav" synth 0.5 sine 300 &&
	sox -n -r 16000 "$d/ep 2/both.flac" synth 0.5 sine 300 &&
	echo "not audio" >"$d/notes.md" &&
	find data -exec stat -c "%n %s %Y" {} + | sort >before &&
	sh "$S/prepare-dataset.sh" data/downloaded "My Set" "$PWD/run" 6 >out &&
	must_contain out "using data/downloaded/My Set" &&
	must_contain out "3 clips" &&
	# relative links, valid wherever the data folder is (a workspace, a replay)
	test "$(readlink "run/source/ep 1/00_00_01_Pinkie_Happy__Party time!.flac")" = \
		"../../../data/downloaded/My Set/ep 1/00_00_01_Pinkie_Happy__Party time!.flac" &&
	test "$(readlink "run/source/ep 1/00_00_01_Pinkie_Happy__Party time!.txt")" = \
		"../../../data/downloaded/My Set/ep 1/00_00_01_Pinkie_Happy__Party time!.txt" &&
	cmp "run/source/ep 1/00_00_01_Pinkie_Happy__Party time!.flac" "$d/ep 1/00_00_01_Pinkie_Happy__Party time!.flac" &&
	test -f "run/source/ep 2/plain name.flac" && ! test -L "run/source/ep 2/plain name.flac" &&
	test "$(readlink "run/source/ep 2/both.flac")" = "../../../data/downloaded/My Set/ep 2/both.flac" &&
	mv run moved && cmp "moved/source/ep 2/both.flac" "$d/ep 2/both.flac" && mv moved run &&
	! test -e run/source/notes.md &&
	find data -exec stat -c "%n %s %Y" {} + | sort >after &&
	diff before after
'

expect_success 'prepare-dataset refuses a dataset name that is a path, and an empty dataset' '
	mkdir -p data/downloaded/empty run &&
	test_exit 1 sh "$S/prepare-dataset.sh" data/downloaded ../x "$PWD/run" 6 2>err &&
	must_contain err "plain folder name" &&
	test_exit 1 sh "$S/prepare-dataset.sh" data/downloaded empty "$PWD/run" 6 2>err &&
	must_contain err "no .flac, .wav or .ogg clips"
'

expect_success 'clean-clip: filters, resamples, trims silence, sets the level; drops Very Noisy' '
	sh "$S/make-sample-dataset.sh" ds 12 >/dev/null &&
	mkdir run && ln -s "$PWD/ds" run/source &&
	clip=$(find ds -name "*_Twilight_Neutral__*.flac") &&
	rel=${clip#ds/} &&
	sh "$S/clean-clip.sh" "$PWD/run/source/$rel" "$PWD/run" 16000 -20 false ds >out &&
	out="run/clean/${rel%.flac}.flac" &&
	test -f "$out" &&
	read -r rate n rms <<-EOF &&
	$(flac_stat "$out")
	EOF
	test "$rate" = 16000 &&
	awk -v r="$rms" "BEGIN { exit !(r > -20.2 && r < -19.8) }" &&
	# the sample pads 0.3 s or more of silence (and hum) on each side
	awk -v a="$(soxi -D "$clip")" -v b="$(soxi -D "$out")" "BEGIN { exit !(a - b > 0.5) }" &&
	printf "Twilight\nHello there. Are you ready for the lesson?\n" | must_equal "${out%.flac}.meta" &&
	vn=$(find ds -name "*_Very Noisy_*.flac" | head -n 1) &&
	sh "$S/clean-clip.sh" "$PWD/run/source/${vn#ds/}" "$PWD/run" 16000 -20 false ds >out &&
	must_contain out "dropped (Very Noisy)" &&
	test "$(find run/clean -name "*Very Noisy*" | wc -l)" = 0
'

expect_success 'clean-clip: Noisy kept unless drop_noisy; names without a .txt or not Clipper-style' '
	sh "$S/make-sample-dataset.sh" ds 12 >/dev/null &&
	mkdir run && ln -s "$PWD/ds" run/source &&
	noisy=$(find ds -name "*_Spike_Annoyed_Noisy_*.flac") &&
	sh "$S/clean-clip.sh" "$PWD/run/source/${noisy#ds/}" "$PWD/run" 22050 -22 true ds >out &&
	must_contain out "dropped (Noisy)" &&
	sh "$S/clean-clip.sh" "$PWD/run/source/${noisy#ds/}" "$PWD/run" 22050 -22 false ds >out &&
	meta=$(find run/clean -name "*_Spike_*.meta") &&
	printf "Spike\nWhy do I always have to carry the books?\n" | must_equal "$meta" &&
	rm "${noisy%.flac}.txt" && rm -r run/clean &&
	sh "$S/clean-clip.sh" "$PWD/run/source/${noisy#ds/}" "$PWD/run" 22050 -22 false ds >out &&
	meta=$(find run/clean -name "*_Spike_*.meta") &&
	printf "Spike\nWhy do I always have to carry the books?\n" | must_equal "$meta" &&
	mkdir other && sox -n -r 48000 other/take7.flac synth 1 sine 200 &&
	ln -s "$PWD/other" run2 && mkdir r2 && ln -s "$PWD/other" r2/source &&
	sh "$S/clean-clip.sh" "$PWD/r2/source/take7.flac" "$PWD/r2" 22050 -22 false "My Set" >out &&
	printf "My Set\n\n" | must_equal r2/clean/take7.meta
'

expect_success 'clean-clip: a clip of silence only is dropped' '
	mkdir -p run/source && sox -n -r 48000 "run/source/00_00_01_Spike_Neutral__Hm.flac" trim 0 1 &&
	sh "$S/clean-clip.sh" "$PWD/run/source/00_00_01_Spike_Neutral__Hm.flac" "$PWD/run" 22050 -22 false ds >out &&
	must_contain out "dropped (only silence)"
'

# clean DIR: a fake clean/ folder of N clips for make-filelists
fake_clean() {
	i=0
	while [ "$i" -lt "$2" ]; do
		mkdir -p "$1/ep $((i % 2))"
		sox -n -r 22050 "$1/ep $((i % 2))/00_00_0${i}_Rarity_Sad__Clip $i?.flac" synth 0.2 sine 300
		printf "Rarity\nClip number %s? Yes.\n" "$i" >"$1/ep $((i % 2))/00_00_0${i}_Rarity_Sad__Clip $i?.meta"
		i=$((i + 1))
	done
}

expect_success 'make-filelists writes a self-contained uploadable folder with a deterministic split' '
	fake_clean clean 8 &&
	python3 "$S/make-filelists.py" clean up/set 75 sample_rate=22050 >out &&
	must_contain out "training and .* validation clips" &&
	cat up/set/filelist_train.txt up/set/filelist_validation.txt | sort >all &&
	test "$(wc -l <all)" = 8 &&
	test -s up/set/filelist_train.txt && test -s up/set/filelist_validation.txt &&
	! grep -v "^clips/ep [01]/00_00_0[0-7]_Rarity_Sad__Clip [0-7]?\.flac|Clip number [0-7]? Yes\.|Rarity$" all &&
	(cd up/set && cut -d"|" -f1 filelist_*.txt | while IFS= read -r p; do test -f "$p" || exit 1; done) &&
	! grep -r "$PWD" up/set &&
	must_contain up/set/README.txt "sample_rate=22050" &&
	cp up/set/filelist_train.txt first &&
	python3 "$S/make-filelists.py" clean up/set 75 >/dev/null &&
	diff first up/set/filelist_train.txt &&
	test -z "$(ls -A up | grep -v "^set$")"
'

expect_success 'make-filelists: 100 puts everything in training; the old folder is replaced' '
	fake_clean clean 3 &&
	mkdir -p up/set && echo stale >up/set/old.txt &&
	python3 "$S/make-filelists.py" clean up/set 100 >/dev/null &&
	test "$(wc -l <up/set/filelist_train.txt)" = 3 &&
	! test -s up/set/filelist_validation.txt &&
	! test -e up/set/old.txt &&
	test_exit 1 python3 "$S/make-filelists.py" clean up/set 101 2>err &&
	must_contain err "between 0 and 100" &&
	mkdir empty && test_exit 1 python3 "$S/make-filelists.py" empty up/x 50 2>err &&
	must_contain err "no cleaned clips" && ! test -e up/x
'

test_done
