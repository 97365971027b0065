#!/usr/bin/env bash
# synthflow audio clean|stats on generated signals, measured independently:
# the level at the tone's frequency by a least-squares fit (audio-signals.py,
# Python's standard library), loudness by ffmpeg's ebur128 filter.
. "$(dirname "$0")/../lib.sh"

SIG="python3 $TEST_ROOT/cli/audio-signals.py"

# lufs FILE: integrated loudness as ffmpeg measures it
lufs() {
	ffmpeg -nostats -hide_banner -i "$1" -af ebur128 -f null - 2>&1 |
		awk '/Integrated loudness/ { f = 1 } f && $1 == "I:" { print $2; exit }'
}
# within A B TOL: |A - B| <= TOL
within() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' ||
		{ echo "$1 is not within $3 of $2" >&2; return 1; }
}
# json FILE KEY: a value of the one JSON object in FILE
json() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join(v) if isinstance(v, list) else v)' "$1" "$2"; }

expect_success 'a 1 kHz sine resampled 48 kHz -> 22.05 kHz keeps its frequency and level' '
	$SIG tone sine.wav 48000 3 1000 -6 &&
	synthflow audio clean sine.wav -o out --format wav --trim-db 0 --loudness off >log 2>err &&
	must_contain log "sine.wav -> out/sine.wav" &&
	must_contain err "low-pass 18000 Hz skipped" &&
	set -- $($SIG level out/sine.wav 1000) &&
	within "$1" -6 0.1 && test "$2" = 22050 && test "$3" = 66150 &&
	# FLAC output decodes to the same
	synthflow audio clean sine.wav -o flac --trim-db 0 --loudness off &&
	ffmpeg -v error -i flac/sine.flac dec.wav && set -- $($SIG level dec.wav 1000) &&
	within "$1" -6 0.1
'

expect_success 'a 20 Hz tone is at least 30 dB down after the 40 Hz high-pass; 440 Hz passes' '
	$SIG tone hum.wav 48000 3 20 -6 &&
	synthflow audio clean hum.wav -o out --format wav --trim-db 0 --loudness off &&
	set -- $($SIG level out/hum.wav 20) &&
	awk -v l="$1" "BEGIN { exit !(l <= -36) }" &&
	$SIG tone a.wav 48000 3 440 -6 &&
	synthflow audio clean a.wav -o out --format wav --trim-db 0 --loudness off &&
	set -- $($SIG level out/a.wav 440) && within "$1" -6 0.1
'

# The output starts one pad before the sound and ends one pad after the
# input's sound ended (the high-pass's ringing after the sudden stop lies
# inside that pad, so the end is checked through the duration).
expect_success 'leading and trailing silence is trimmed to within 10 ms of the pad' '
	$SIG tone pad.wav 44100 1.2 440 -12 0.8 1.3 2 &&
	synthflow audio clean pad.wav -o out --format wav --loudness off &&
	set -- $($SIG edges out/pad.wav -45) && within "$1" 0.05 0.01 && within "$3" 1.3 0.01 &&
	synthflow audio clean pad.wav -o out2 --format wav --loudness off --trim-pad 200ms &&
	set -- $($SIG edges out2/pad.wav -45) && within "$1" 0.2 0.01 && within "$3" 1.6 0.01 &&
	synthflow audio clean pad.wav -o out3 --format wav --loudness off --highpass 0 &&
	set -- $($SIG edges out3/pad.wav -45) && within "$1" 0.05 0.01 && within "$2" 1.25 0.01
'

expect_success 'integrated loudness of the output is the target, measured by ffmpeg ebur128' '
	$SIG tone t.wav 48000 3 440 -20 0.3 0.3 &&
	synthflow audio clean t.wav -o a && within "$(lufs a/t.flac)" -23 0.5 &&
	synthflow audio clean t.wav -o b --loudness -30LUFS && within "$(lufs b/t.flac)" -30 0.5 &&
	synthflow audio clean t.wav -o c --loudness -16 --json >c.json &&
	within "$(lufs c/t.flac)" -16 0.5 && within "$(json c.json lufs)" -16 0.1 &&
	test "$(json c.json flags)" = lowpass-skipped
'

expect_success 'the peak limit wins over the loudness target; short clips are levelled by RMS' '
	$SIG tone loud.wav 22050 2 440 -3 &&
	synthflow audio clean loud.wav -o out --lowpass 0 --loudness -5 --peak-db -2 --json >j &&
	test "$(json j flags)" = peak-limited && within "$(json j peak_db)" -2 0.01 &&
	awk -v l="$(lufs out/loud.flac)" "BEGIN { exit !(l < -5.5) }" &&
	$SIG tone short.wav 22050 0.3 440 -30 &&
	synthflow audio clean short.wav -o out --lowpass 0 --rms-db -20 --trim-db 0 --json >s &&
	test "$(json s flags)" = "" && within "$(json s rms_db)" -20 0.05 &&
	synthflow audio clean short.wav -o out --lowpass 0 --loudness -23 --trim-db 0 --json >s &&
	test "$(json s flags)" = rms-levelled && within "$(json s rms_db)" -23 0.05 &&
	test "$(json s lufs)" = None
'

expect_success 'stats: duration, rate, channels, levels, loudness, silence per clip' '
	$SIG tone st.wav 16000 2 440 -6 0.5 0.25 2 &&
	synthflow audio stats st.wav --json >j &&
	test "$(json j duration)" = 2.75 && test "$(json j rate)" = 16000 &&
	test "$(json j channels)" = 2 && within "$(json j peak_db)" -6 0.01 &&
	within "$(json j silence_lead)" 0.5 0.002 && within "$(json j silence_trail)" 0.25 0.002 &&
	within "$(json j lufs)" "$(lufs st.wav)" 0.1 && test "$(json j clipped)" = 0 &&
	# the thumbnail: 48 slices of 57 ms, silent over the lead and trail, the
	# tone at -6 dB (half of full scale: 31 or 32 of 63, f or g) between
	w=$(json j wave) && test ${#w} = 48 && case $w in AAAAAAAA*AAAA) ;; *) false ;; esac &&
	test -z "$(printf %s "$w" | cut -c11-43 | tr -d fg)" &&
	$SIG tone full.wav 16000 1 440 3 && synthflow audio stats full.wav --json >f &&
	test "$(json f clipped)" -gt 1000 &&
	synthflow audio stats st.wav >text && must_contain text "st.wav: 2.750 s, 16000 Hz, 2 ch"
'

expect_success 'a failing clip is reported by name; the others are written; exit 1' '
	$SIG tone good.wav 22050 1 440 -20 &&
	echo "not audio" >bad.wav && $SIG tone silent.wav 22050 1 440 -200 &&
	$SIG tone empty.wav 22050 0 440 -20 &&
	SF_METRICS=$PWD/m.jsonl test_exit 1 synthflow audio clean bad.wav good.wav silent.wav empty.wav missing.wav -o out >log 2>err &&
	must_contain err "error: .bad.wav.: unreadable or unsupported format" &&
	must_contain err "error: .silent.wav.: silent" &&
	must_contain err "error: .empty.wav.: " &&
	must_contain err "error: .missing.wav.: " &&
	test -s out/good.flac && test "$(ls out)" = good.flac &&
	test "$(wc -l <m.jsonl)" = 5 &&
	must_contain m.jsonl "\"item\":\"bad.wav\",\"error\":" &&
	must_contain m.jsonl "\"item\":\"good.wav\",\"output\":\"out/good.flac\"" &&
	test_exit 1 synthflow audio stats bad.wav good.wav >log 2>err && must_contain log good.wav
'

expect_success 'outputs keep their relative paths and names; byte-identical across runs and --jobs' '
	mkdir -p in/a in/b/c && $SIG tone in/a/x.wav 48000 1.5 300 -10 0.2 0.2 &&
	$SIG tone in/b/x.wav 44100 1.5 500 -20 0.1 0.3 2 &&
	$SIG tone "in/b/c/00_01_02_Twilight Sparkle_Happy__Hi there..wav" 16000 0.5 700 -30 &&
	$SIG tone in/b/c/d.wav 22050 2 200 -5 &&
	synthflow audio clean in/a/x.wav in/b/x.wav in/b/c/*.wav -o o1 --jobs 1 >l1 &&
	synthflow audio clean in/b/c/d.wav in/b/c/0*.wav in/b/x.wav in/a/x.wav -o o4 --jobs 4 &&
	synthflow audio clean in/a/x.wav in/b/x.wav in/b/c/*.wav -o o1b --jobs 3 >l2 &&
	(cd o1 && find . -type f | sort) >list &&
	test "$(cat list)" = "$(printf "%s\n" "./a/x.flac" "./b/c/00_01_02_Twilight Sparkle_Happy__Hi there..flac" ./b/c/d.flac ./b/x.flac)" &&
	diff -r o1 o4 && diff -r o1 o1b && sed s/o1b/o1/ l2 | diff l1 - &&
	synthflow audio clean in/a/x.wav -o w1 --format wav --bits 24 --jobs 1 &&
	synthflow audio clean in/a/x.wav -o w2 --format wav --bits 24 --jobs 2 && cmp w1/x.wav w2/x.wav &&
	# --base: a batch of clips keeps the paths relative to the dataset
	synthflow audio clean in/b/c/d.wav --base in -o o5 && cmp o5/b/c/d.flac o1/b/c/d.flac &&
	test_exit 1 synthflow audio clean in/b/c/d.wav --base in/a -o o6 2>err && must_contain err "not under the base folder" &&
	printf "%s\0%s\0" in/a/x.wav in/b/c/d.wav >items && synthflow audio clean --items items --base in -o o7 &&
	cmp o7/a/x.flac o1/a/x.flac && cmp o7/b/c/d.flac o1/b/c/d.flac
'

expect_success 'usage errors exit 2 and name the option' '
	$SIG tone g.wav 22050 1 440 -20 &&
	test_exit 2 synthflow audio clean g.wav 2>err && must_contain err "needs an output folder" &&
	test_exit 2 synthflow audio clean g.wav -o o --bits 32f 2>err && must_contain err "needs --format wav" &&
	test_exit 2 synthflow audio clean g.wav -o o --rate fast 2>err &&
	must_contain err "option .--rate. needs an integer from 1000 to 768000 (Hz) or keep, not .fast." &&
	test_exit 2 synthflow audio clean g.wav -o o --loudness=-80LUFS 2>err &&
	must_contain err "option .--loudness. needs a number from -70 to 0 (LUFS) or off, not .-80LUFS." &&
	test_exit 2 synthflow audio clean g.wav -o o --trim-pad 11s 2>err &&
	must_contain err "option .--trim-pad. needs a duration from 0ms to 10s" &&
	test_exit 2 synthflow audio clean g.wav -o o --peak-db 2>err && must_contain err "option .--peak-db. needs a value" &&
	test_exit 2 synthflow audio clean g.wav -o o --bits 8 2>err && must_contain err "option .--bits. must be 16, 24 or 32f" &&
	test_exit 2 synthflow audio stats g.wav -j 0 2>err && must_contain err "option .-j. needs an integer from 1 to 1024" &&
	test_exit 2 synthflow audio stats g.wav -o o 2>err && must_contain err "unknown option .-o. for .audio stats." &&
	test_exit 2 synthflow audio stats g.wav --jsn 2>err && must_contain err "did you mean .--json." &&
	test_exit 2 synthflow audio mix g.wav 2>err && must_contain err "unknown subcommand" &&
	test_exit 2 synthflow audio stats 2>err && must_contain err "no input files" &&
	test ! -e o &&
	# units may follow the numbers; the last value of an option counts
	synthflow audio clean g.wav -o u1 --rate 16000Hz --peak-db -3dB --loudness -20lufs &&
	synthflow audio clean g.wav -o u2 --rate keep --rate=16000 --peak-db=-3 --loudness -20 &&
	cmp u1/g.flac u2/g.flac && synthflow audio stats --json u1/g.flac >s && must_contain s "\"rate\":16000"
'

test_done
