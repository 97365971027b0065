#!/bin/sh
# Speaks a small Clipper-style dataset with espeak-ng, for trying the DAG
# when downloaded/ holds no dataset.
#
#   make-sample-dataset.sh OUT_DIR N_CLIPS
#
# Writes N_CLIPS clips under OUT_DIR/Sliced Dialogue/s01e0{1,2}/, named the
# way Clipper names the clips of the Pony Preservation Project's dataset:
#
#   HH_MM_SS_Character_Emotion_Noise_Transcript.flac
#
# Noise is empty (clean), "Noisy" or "Very Noisy".  In the Transcript part
# of the name '?' becomes '_' (Windows forbids '?' in file names; CookieTTS
# reads '_' there back as '?'), the other characters Windows forbids
# (" * : < > | \ /) are dropped, and the final full stop is kept, which
# gives names such as "..._Hello there..flac".  As in Clipper's dataset,
# the exact transcript is in a .txt file of the same name beside the clip.
#
# Clips are 48 kHz 16-bit mono FLAC (like Clipper's), with leading and
# trailing silence and a 25 Hz hum (for the trim and the high-pass to
# remove), and white noise mixed in for Noisy and Very Noisy ones.  The
# output depends only on N_CLIPS: sox runs with -R (fixed seeds), and
# espeak-ng is deterministic as long as nothing reseeds the C library's
# rand(), which its voices' breath noise draws from.  Something does:
# espeak-ng opens an audio output even with -w, and the PulseAudio client
# library, when it finds no runtime folder, makes a randomly named one in
# /tmp after seeding rand() from /dev/urandom.  That happens on a user's
# first run (no ~/.config/pulse yet), in a fresh container, or after /tmp
# was cleaned, so those runs spoke different bytes.  espeak-ng therefore
# gets a runtime folder of its own (XDG_RUNTIME_DIR): nothing is seeded.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: make-sample-dataset.sh OUT_DIR N_CLIPS" >&2
	exit 2
fi
out=$1
n=$2
case $n in
'' | *[!0-9]*) echo "make-sample-dataset: N_CLIPS must be a number, not '$n'" >&2; exit 2 ;;
esac
for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null || {
		echo "make-sample-dataset: '$tool' is not installed (see container/packages.txt)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/runtime"

# character|emotion|noise|espeak-ng voice and options|transcript
cat >"$tmp/lines" <<'EOF'
Twilight|Neutral||-v en-us+f3 -p 60 -s 165|Hello there. Are you ready for the lesson?
Rarity|Happy||-v en-gb+f4 -p 65 -s 155|Oh, darling, it's simply marvelous!
Applejack|Neutral|Noisy|-v en-us+f2 -p 45 -s 150|Well, I reckon we ought to get movin'.
Fluttershy|Whispering||-v en-gb+f5 -p 75 -s 130 -a 70|Um... if it's okay with you, I'd like to help.
Rainbow|Shouting|Very Noisy|-v en-us+f1 -p 50 -s 190|Watch this: back in ten seconds flat!
Pinkie|Happy||-v en-us+f4 -p 85 -s 200|Who wants cake? I made three kinds: chocolate, lemon, and "mystery"!
Spike|Annoyed|Noisy|-v en-us+m3 -p 70 -s 170|Why do I always have to carry the books?
Mrs. Cake|Neutral||-v en-gb+f2 -p 55 -s 160|The shop opens at nine o'clock sharp.
Twilight|Anxious|Very Noisy|-v en-us+f3 -p 60 -s 175|Where did I put that checklist?
Celestia|Neutral||-v en-gb+f1 -p 35 -s 140|You have done well, my student.
Rarity|Sad|Noisy|-v en-gb+f4 -p 60 -s 140|My poor dress... it's ruined.
Applejack|Happy||-v en-us+f2 -p 45 -s 160|Y'all did a mighty fine job today!
EOF
nlines=$(wc -l <"$tmp/lines")

# Clipper's file name for a transcript (see the header).
name_transcript() {
	printf '%s' "$1" | tr '?' '_' | tr -d '"*:<>|\\/'
}

i=0
while [ "$i" -lt "$n" ]; do
	line=$(sed -n "$((i % nlines + 1))p" "$tmp/lines")
	IFS='|' read -r char emotion noise voice text <<EOF
$line
EOF
	# a new "episode" halfway, so the dataset has more than one folder
	ep=1
	[ "$i" -ge $(((n + 1) / 2)) ] && ep=2
	dir="$out/Sliced Dialogue/s01e0$ep"
	mkdir -p "$dir"
	t=$((5 + 7 * i))
	stamp=$(printf '%02d_%02d_%02d' $((t / 3600)) $((t / 60 % 60)) $((t % 60)))
	base="${stamp}_${char}_${emotion}_${noise}_$(name_transcript "$text")"

	# $voice holds several espeak-ng options: split on purpose.
	# shellcheck disable=SC2086
	XDG_RUNTIME_DIR="$tmp/runtime" PULSE_RUNTIME_PATH="$tmp/runtime/pulse" \
		espeak-ng $voice -w "$tmp/speech.wav" "$text"
	sox -R "$tmp/speech.wav" -r 48000 -b 16 -c 1 "$tmp/padded.wav" pad 0.$((3 + i % 5)) 0.6
	len=$(soxi -D "$tmp/padded.wav")
	case $noise in
	'') vol=0 ;;
	Noisy) vol=0.02 ;;
	*) vol=0.12 ;;
	esac
	sox -R -n -r 48000 -b 16 -c 1 "$tmp/hum.wav" synth "$len" sine 25 vol 0.04
	sox -R -n -r 48000 -b 16 -c 1 "$tmp/noise.wav" synth "$len" whitenoise vol "$vol"
	# -v 1 each: sox -m would otherwise scale every input by 1/3
	sox -R -m -v 1 "$tmp/padded.wav" -v 1 "$tmp/hum.wav" -v 1 "$tmp/noise.wav" -b 16 "$tmp/clip.flac"
	mv "$tmp/clip.flac" "$dir/$base.flac"
	printf '%s\n' "$text" >"$dir/$base.txt"
	i=$((i + 1))
done
echo "make-sample-dataset: $n clips in $out"
