#!/usr/bin/env bash
# make bench-audio: `synthflow audio clean` against the example's sox script
# and ffmpeg, the example DAG with each, and a no-op batched fan-out against
# make -j2; printed as Markdown.  Same clips, same machine, one run.
#
# Clips: the example's sample dataset (make-sample-dataset.sh: espeak-ng
# speech, 48 kHz 16-bit FLAC with silence around it and a 25 Hz hum), 24
# clips copied into enough folders to make BENCH_CLIPS (1000).
#
# (a) The clean chain (first channel, high-pass 40 Hz, low-pass 18 kHz,
#     resample to 22.05 kHz, trim at -45 dB, level, 16-bit FLAC) per clip, on
#     one core, over the clips not tagged "Very Noisy" (the sox script drops
#     those unread): `synthflow audio clean --jobs 1` on all of them in one
#     process; the example's scripts/clean-clip.sh once per clip (sox, four
#     processes and the soxi calls); one ffmpeg per clip (highpass, lowpass,
#     silenceremove, loudnorm, soxr resampling).  Goal: native >= 10x the sox
#     chain's clips per second.
# (b) The example DAG (examples/ppp-audio) end to end with `synthflow test`
#     on the same clips: as shipped (clean: foreach + batch: 100 running
#     synthflow audio clean) against the same DAG whose clean task runs
#     clean-clip.sh per clip.  Goal: batched >= 5x faster.
# (c) 10,000 items, each touched once: a DAG with foreach + batch: 100 (one
#     bash per 100 items) against make -j2 with one rule per file.  Goal:
#     the DAG in <= 0.2x make's time.
#
# Environment: SYNTHFLOW (build/synthflow), BENCH_CLIPS (1000), NOOP_ITEMS
# (10000), BENCH_KEEP=1 keeps the work folder.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sf=${SYNTHFLOW:-$root/build/synthflow}
nclips=${BENCH_CLIPS:-1000}
nnoop=${NOOP_ITEMS:-10000}

scripts/install-deps.sh test >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-audio.XXXXXX")
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# secs CMD...: wall time of CMD in seconds (its output discarded)
secs() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "bench-audio: failed: $*" >&2; exit 1; }
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }'
}
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

# ---- the clips ----
data=$work/data
"$sf" init "$data" >/dev/null
mkdir -p "$data/src" "$data/downloaded/bench"
cp -r examples/ppp-audio "$data/src/ppp-audio"
sh examples/ppp-audio/scripts/make-sample-dataset.sh "$work/spoken" 24 >/dev/null
find "$work/spoken" -name '*.flac' | sort >"$work/spoken.list"
i=0
while [ "$i" -lt "$nclips" ]; do
	part=$data/downloaded/bench/part$((i / 24))
	mkdir -p "$part"
	while IFS= read -r f && [ "$i" -lt "$nclips" ]; do
		cp "$f" "${f%.flac}.txt" "$part/" 2>/dev/null || cp "$f" "$part/"
		i=$((i + 1))
	done <"$work/spoken.list"
done

# ---- (a) the chain per clip, one core ----
run=$work/chain
mkdir -p "$run/source" "$run/clean"
cp -r "$data/downloaded/bench/." "$run/source/"
find "$run/source" -name '*.flac' ! -name '*_Very Noisy_*' | sort >"$work/clips"
n=$(wc -l <"$work/clips")
tr '\n' '\0' <"$work/clips" >"$work/clips0"
native=$(secs "$sf" audio clean --jobs 1 --items "$work/clips0" --base "$run/source" -o "$work/native" \
	--rate 22050 --rms-db -22 --peak-db -1 --highpass 40 --lowpass 18000 --trim-db -45)
native_all=$(secs "$sf" audio clean --jobs "$(nproc)" --items "$work/clips0" --base "$run/source" \
	-o "$work/native-all" --rate 22050 --rms-db -22 --peak-db -1 --highpass 40 --lowpass 18000 --trim-db -45)
sox_chain() {
	while IFS= read -r c; do
		sh examples/ppp-audio/scripts/clean-clip.sh "$c" "$run" 22050 -22 false bench
	done <"$work/clips"
}
sox=$(secs sox_chain)
ffmpeg_chain() {
	local k=0
	mkdir -p "$work/ffmpeg"
	while IFS= read -r c; do
		k=$((k + 1))
		ffmpeg -nostdin -v error -y -i "$c" -af "pan=mono|c0=c0,highpass=f=40,highpass=f=40,\
highpass=f=40,highpass=f=40,lowpass=f=18000,lowpass=f=18000,lowpass=f=18000,lowpass=f=18000,\
silenceremove=start_periods=1:start_threshold=-45dB:stop_periods=-1:stop_threshold=-45dB,\
loudnorm=I=-23:TP=-1,aresample=22050:resampler=soxr" -sample_fmt s16 "$work/ffmpeg/$k.flac"
	done <"$work/clips"
}
ffmpeg=$(secs ffmpeg_chain)
test "$(find "$work/native" -name '*.flac' | wc -l)" = "$n"
test "$(find "$run/clean" -name '*.flac' | wc -l)" -gt 0

# ---- (b) the example DAG, batched native against sox per clip ----
dags=$data/src/ppp-audio/dags
sed -e 's/^id: ppp-preprocess$/id: ppp-sox/' \
	-e '/^    batch: 100$/d' \
	-e 's|^      python3 src/ppp-audio/scripts/clean-batch.py {{ run.dir }}$|      sh src/ppp-audio/scripts/clean-clip.sh {{ item }} {{ run.dir }}|' \
	"$dags/ppp-preprocess.yaml" >"$dags/ppp-sox.yaml"
grep -q 'clean-clip.sh {{ item }}' "$dags/ppp-sox.yaml"
"$sf" --data "$data" dags validate >/dev/null
dag_native=$(secs "$sf" --data "$data" test ppp-preprocess -p dataset=bench)
dag_sox=$(secs "$sf" --data "$data" test ppp-sox -p dataset=bench)

# ---- (c) a no-op fan-out: batch: 100 against make -j2 ----
noop=$work/noop
"$sf" init "$noop" >/dev/null
mkdir -p "$noop/src/n/dags" "$noop/downloaded/items" "$work/make"
(cd "$noop/downloaded/items" && seq -f 'item%05g' 1 "$nnoop" | xargs touch)
cat >"$noop/src/n/dags/noop.yaml" <<'YAML'
id: noop
tasks:
  touch:
    foreach: "{{ data }}/downloaded/items/*"
    batch: 100
    run: >-
      bash -c 'i=0; while IFS= read -r -d "" f; do : >"$SF_RUN_DIR/${f##*/}.done";
      printf "%d\tok\n" $i; i=$((i + 1)); done <"$SF_ITEMS" >"$SF_RESULTS"'
YAML
noop_dag=$(secs "$sf" --data "$noop" test noop)
test "$(find "$noop/generated" -name '*.done' | wc -l)" = "$nnoop"
{
	printf 'all:'
	seq -f ' out/item%05g.done' 1 "$nnoop" | tr -d '\n'
	printf '\nout/%%.done: in/%%\n\t@touch $@\n'
} >"$work/make/Makefile"
mkdir -p "$work/make/out"
ln -s "$noop/downloaded/items" "$work/make/in"
noop_make=$(secs make -j2 -C "$work/make")
test "$(find "$work/make/out" -name '*.done' | wc -l)" = "$nnoop"

row() { printf '| %s ' "$@"; echo '|'; }
echo "## synthflow audio (make bench-audio; $(date -u "+%Y-%m-%d %H:%M UTC"), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $("$sf" --version))"
echo
row "(a) clean chain, $n clips, one core" "wall" "clips/s" "native / this" "goal"
row "---" "---" "---" "---" "---"
row "synthflow audio clean --jobs 1 (one process)" "$native s" "$(per_s "$n" "$native")" "1.0x" ""
row "examples/ppp-audio/scripts/clean-clip.sh per clip (sox)" "$sox s" "$(per_s "$n" "$sox")" "$(ratio "$sox" "$native")" ">= 10x"
row "ffmpeg per clip (highpass, lowpass, silenceremove, loudnorm, soxr)" "$ffmpeg s" "$(per_s "$n" "$ffmpeg")" "$(ratio "$ffmpeg" "$native")" ""
row "synthflow audio clean --jobs $(nproc)" "$native_all s" "$(per_s "$n" "$native_all")" "" ""
echo
row "(b) example DAG end to end, $nclips clips (synthflow test)" "wall" "batched / this" "goal"
row "---" "---" "---" "---"
row "ppp-preprocess as shipped (batch: 100, synthflow audio clean)" "$dag_native s" "1.0x" ""
row "the same with clean-clip.sh per clip (sox)" "$dag_sox s" "$(ratio "$dag_sox" "$dag_native")" ">= 5x"
echo
row "(c) $nnoop-item no-op fan-out" "wall" "this / make" "goal"
row "---" "---" "---" "---"
row "make -j2, one touch per file" "$noop_make s" "1.00" ""
row "synthflow test: foreach + batch: 100" "$noop_dag s" "$(awk -v a="$noop_dag" -v b="$noop_make" 'BEGIN { printf "%.2f", a / b }')" "<= 0.2"
