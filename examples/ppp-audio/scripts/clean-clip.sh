#!/bin/sh
# One instance of ppp-preprocess's foreach: cleans one clip the way
# CookieTTS's preprocessing does.
#
#   clean-clip.sh CLIP RUN_DIR SAMPLE_RATE LEVEL_DB DROP_NOISY DEFAULT_SPEAKER
#
# CLIP is RUN_DIR/source/<path>.flac.  The result goes to
# RUN_DIR/clean/<path>.flac (trailing full stops of the name removed, as
# CookieTTS does) with RUN_DIR/clean/<path>.meta beside it: the speaker on
# the first line, the transcript on the second.
#
# Steps: drop "Very Noisy" clips (and "Noisy" ones when DROP_NOISY is
# true), take the first channel, high-pass 40 Hz, low-pass 18 kHz (skipped
# when the clip's own Nyquist frequency is lower), resample to SAMPLE_RATE,
# trim leading and trailing silence (45 dB under the peak, CookieTTS uses
# 46), then set the RMS level to LEVEL_DB dBFS without letting the peak
# pass -1 dBFS.  The filters are steep windowed-sinc ones: sox's 2-pole
# highpass would leave most of a 25 Hz hum (CookieTTS uses order 9).
#
# A clip dropped or empty after trimming exits 0 and writes nothing.
set -eu

if [ $# -ne 6 ]; then
	echo "usage: clean-clip.sh CLIP RUN_DIR SAMPLE_RATE LEVEL_DB DROP_NOISY DEFAULT_SPEAKER" >&2
	exit 2
fi
clip=$1
run_dir=${2%/}
rate=$3
level=$4
drop_noisy=$5
speaker=$6

rel=${clip#"$run_dir/source/"}
if [ "$rel" = "$clip" ]; then
	echo "clean-clip: '$clip' is not under $run_dir/source/" >&2
	exit 1
fi
name=$(basename "$rel")
stem=${name%.*}

# Clipper's name: HH_MM_SS_Character_Emotion_Noise_Transcript.  The
# transcript keeps its underscores, which stand for '?' (read(1) with
# IFS=_ would drop a trailing one, hence the loop).
rest=$stem
hh='' mm='' ss='' char='' emotion='' noise=''
for field in hh mm ss char emotion noise; do
	case $rest in
	*_*) ;;
	*) hh='' noise='' && break ;;
	esac
	eval "$field=\${rest%%_*}"
	rest=${rest#*_}
done
text=$rest
case $hh$mm$ss in
'' | *[!0-9]*) noise='' text='' ;; # not a Clipper name: defaults
*) [ -n "$char" ] && speaker=$char ;;
esac
case $noise in
'Very Noisy')
	echo "clean-clip: dropped (Very Noisy): $rel"
	exit 0
	;;
Noisy)
	if [ "$drop_noisy" = true ]; then
		echo "clean-clip: dropped (Noisy): $rel"
		exit 0
	fi
	;;
esac

# The exact transcript is in the .txt beside the clip (Clipper's layout);
# without one, the name's transcript with '_' read back as '?'.
txt=$run_dir/source/${rel%.*}.txt
if [ -f "$txt" ]; then
	text=$(tr '\r\n' '  ' <"$txt")
else
	text=$(printf '%s' "$text" | tr '_' '?')
fi
# '|' separates the filelists' fields
text=$(printf '%s' "$text" | tr '|' '/' | sed 's/^ *//; s/ *$//')

out_stem=$(printf '%s' "${rel%.*}" | sed 's/\.*$//')
out=$run_dir/clean/$out_stem.flac
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$run_dir/clean/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

in_rate=$(soxi -r "$clip")
lowpass="sinc -18000"
[ "$in_rate" -le 36000 ] && lowpass=
# shellcheck disable=SC2086
sox -R -V1 "$clip" -b 16 "$tmp/trimmed.flac" remix 1 sinc -t 10 40 $lowpass rate -v "$rate" \
	norm -1 silence 1 0.02 -45d reverse silence 1 0.02 -45d reverse

if [ "$(soxi -s "$tmp/trimmed.flac")" -eq 0 ]; then
	echo "clean-clip: dropped (only silence): $rel"
	exit 0
fi

# stats prints "RMS lev dB  -18.37" and "Pk lev dB  -1.00"
gain=$(sox "$tmp/trimmed.flac" -n stats 2>&1 | awk -v want="$level" '
	/^RMS lev dB/ { rms = $4 }
	/^Pk lev dB/ { pk = $4 }
	END {
		g = want - rms
		if (pk + g > -1) g = -1 - pk
		printf "%.2f", g
	}')
sox -R -V1 "$tmp/trimmed.flac" -b 16 "$tmp/out.flac" gain "$gain"
printf '%s\n%s\n' "$speaker" "$text" >"$tmp/out.meta"
mv "$tmp/out.flac" "$out"
mv "$tmp/out.meta" "${out%.flac}.meta"
echo "clean-clip: $rel -> clean/$out_stem.flac" \
	"($(soxi -D "$clip")s -> $(soxi -D "$out")s at $rate Hz, gain $gain dB, speaker '$speaker', emotion '$emotion')"
