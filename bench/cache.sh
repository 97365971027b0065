#!/usr/bin/env bash
# make bench-cache: what the content cache saves on the example DAG
# (examples/ppp-audio, docs/replication.md "Content cache").  The peer is
# the same engine and DAG running everything: the first run of a dataset
# (empty cache), against re-running it unchanged (every task restored) and
# after one clip changed (that clip's clean instance and the filelists
# run).  Goal: the unchanged re-run under 10 % of the first run's time.
#
#   bench/cache.sh                   200 clips of generated tones
#   BENCH_CLIPS=24 bench/cache.sh    fewer
#
# Environment: BENCH_CLIPS (200), BENCH_REPEAT (3: best of, each in a fresh
# data folder), SYNTHFLOW (build/synthflow), BENCH_KEEP=1 keeps the work
# folder.
. "$(dirname "$0")/lib.sh"
clips=${BENCH_CLIPS:-200}

work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-cache.XXXXXX")
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# the dataset once: Clipper-style FLAC clips of 1.5 s tones, each with its transcript
set_dir=$work/Set
mkdir -p "$set_dir"
for i in $(seq "$clips"); do
	name=$(printf '00_%02d_%02d_Twilight_Neutral__Clip %d' $((i / 60)) $((i % 60)) "$i")
	python3 tests/cli/audio-signals.py tone "$work/t.wav" 44100 1.5 $((200 + i)) -12 0.3 0.3
	sox "$work/t.wav" "$set_dir/$name.flac"
	echo "Clip number $i." >"$set_dir/$name.txt"
done
rm -f "$work/t.wav"

# timed NAME: one run of the example on Set in $work/data; "wall cpu" (s) to NAME.times
timed() {
	if ! /usr/bin/time -f '%e %U %S' -o "$work/time" \
		"$sf" --data "$work/data" test ppp-preprocess -p dataset=Set --json >"$work/run.json" 2>"$work/err"; then
		echo "> the $1 run failed:" >&2
		tail -n 5 "$work/err" | sed 's/^/>   /' >&2
		exit 1
	fi
	awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/time" >>"$work/$1.times"
	jq -r '[.tasks[] | select(.cached | not)] | length' "$work/run.json" >"$work/$1.ran"
}

for r in $(seq "$repeat"); do
	rm -rf "$work/data"
	"$sf" init "$work/data" >/dev/null
	cp -R examples/ppp-audio "$work/data/src/"
	cp -R "$set_dir" "$work/data/downloaded/Set"
	timed first
	timed unchanged
	# one clip changed: a different tone
	c=$(find "$work/data/downloaded/Set" -name '*.flac' | sort | head -n 1)
	python3 tests/cli/audio-signals.py tone "$work/t.wav" 44100 1.5 997 -12 0.3 0.3
	sox "$work/t.wav" "$work/t.flac" && mv "$work/t.flac" "$c" && rm "$work/t.wav"
	timed one-clip
done

least() { cut -d" " -f"$1" "$2" | sort -n | head -n 1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", a / b * 100; else print "-" }'; }
first_wall=$(least 1 "$work/first.times") first_cpu=$(least 2 "$work/first.times")

echo "# SynthFlow: the content cache on the example DAG"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
	"$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r)," \
	"$(stat -f -c %T "$work") file system"
echo "- synthflow: $("$sf" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")), flow.parallelism 2"
echo "- load average before: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews the times)"
echo "- $clips clips of 1.5 s; best of $repeat for each (each round in a fresh data folder)"
echo
echo "| run | instances run | wall s | of the first | CPU s | of the first |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in first unchanged one-clip; do
	wall=$(least 1 "$work/$name.times") cpu=$(least 2 "$work/$name.times")
	printf '| %s | %s of %s | %s | %s | %s | %s |\n' "$name" "$(cat "$work/$name.ran")" $((clips + 2)) \
		"$wall" "$(pct "$wall" "$first_wall")" "$cpu" "$(pct "$cpu" "$first_cpu")"
done
echo
echo "Goal: the unchanged re-run under 10 % of the first run's wall time."
echo "CPU s is user + system time of synthflow and every task it started."
