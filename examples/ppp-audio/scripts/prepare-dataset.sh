#!/bin/sh
# First task of ppp-preprocess: lays out the run's input clips.
#
#   prepare-dataset.sh DOWNLOADED_DIR DATASET RUN_DIR N_SAMPLE_CLIPS
#
# The dataset is DOWNLOADED_DIR/DATASET.  Tasks get downloaded/ read-only
# and nothing may write there, so when that folder does not exist a sample
# dataset is spoken into RUN_DIR/sample/DATASET instead (a run's own
# generated/ area, removed with the run).
#
# Then RUN_DIR/source/ mirrors the dataset's folders with one entry per
# clip, which the next task's foreach walks:
#   - .flac clips are relative symbolic links to the originals: no copy of a
#     dataset of many gigabytes, valid in any data folder (a replay, a
#     workspace's /data), and what this task writes depends only on the
#     names in the dataset, not on the clips' bytes, so the content cache
#     does not run it again when one clip changes (the DAG declares the
#     dataset as `input_names`; each clip's content is the key of its own
#     clean instance);
#   - .wav and .ogg clips are converted to FLAC there (CookieTTS also makes
#     a FLAC of every WAV before processing): the DAG declares them as
#     `inputs`, by content;
#   - a transcript .txt beside a clip (Clipper's layout) is linked too.
# Re-running (a retry) starts RUN_DIR/source/ afresh.
set -eu

if [ $# -ne 4 ]; then
	echo "usage: prepare-dataset.sh DOWNLOADED_DIR DATASET RUN_DIR N_SAMPLE_CLIPS" >&2
	exit 2
fi
downloaded=$1
dataset=$2
run_dir=$3
nsample=$4
here=$(cd "$(dirname "$0")" && pwd)

# DATASET is one folder name: it is also the output folder in uploadable/.
case $dataset in
'' | . | .. | .* | */*)
	echo "prepare-dataset: dataset '$dataset' must be a plain folder name (no '/', not starting with '.')" >&2
	exit 1
	;;
esac

src=$downloaded/$dataset
if [ -d "$src" ]; then
	echo "prepare-dataset: using $src"
else
	echo "prepare-dataset: $src does not exist: speaking a sample dataset of $nsample clips instead"
	src=$run_dir/sample/$dataset
	rm -rf "$src"
	sh "$here/make-sample-dataset.sh" "$src" "$nsample"
fi
src=$(cd "$src" && pwd)

rm -rf "$run_dir/source"
mkdir -p "$run_dir/source"
# the dataset as seen from source/ (both are real folders by now)
back=$(realpath --relative-to="$run_dir/source" "$src")
# -exec ... {} + hands over names as arguments: safe for any character.
find -L "$src" -type f \( -name '*.flac' -o -name '*.wav' -o -name '*.ogg' \) -exec sh -c '
	set -e
	src=$1 dst=$2 back=$3
	shift 3
	for f in "$@"; do
		rel=${f#"$src"/}
		stem=${rel%.*}
		mkdir -p "$dst/$(dirname "$rel")"
		# from the link'"'"'s folder up to source/ (one .. per folder), then to the dataset
		to=$back r=$rel
		while case $r in */*) true ;; *) false ;; esac; do
			to=../$to r=${r#*/}
		done
		case $f in
		*.flac) ln -s "$to/$rel" "$dst/$rel" ;;
		*)
			# a FLAC of the same clip is already there (and is linked)
			[ -e "${f%.*}.flac" ] && continue
			sox -R "$f" "$dst/$stem.flac"
			;;
		esac
		if [ -f "${f%.*}.txt" ]; then
			ln -sf "$to/$stem.txt" "$dst/$stem.txt"
		fi
	done
' sh "$src" "$run_dir/source" "$back" {} +

n=$(find "$run_dir/source" -name '*.flac' | wc -l)
if [ "$n" -eq 0 ]; then
	echo "prepare-dataset: no .flac, .wav or .ogg clips in $src" >&2
	exit 1
fi
echo "prepare-dataset: $n clips in $run_dir/source"
