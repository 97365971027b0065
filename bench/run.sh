#!/usr/bin/env bash
# make bench: times synthflow against make, ninja and snakemake doing the
# same work on this machine, in this run, and prints Markdown tables with
# the ratios (bench/RESULTS.md keeps the figures of past runs).
#
#   bench/run.sh                    full size (about 10 minutes on 2 cores)
#   BENCH_SCALE=0.01 bench/run.sh   every size times 0.01 (at least 2)
#
# Environment: BENCH_SCALE (1), BENCH_REPEAT (3: best of, for (a) and (b)),
# SYNTHFLOW (build/synthflow), BENCH_KEEP=1 keeps the work folder.
#
# (a) fan-out: root -> 10,000 no-op tasks -> sink, at 2 parallel jobs
#     (make -j2, ninja -j2, synthflow with flow.parallelism 2; snakemake -j2
#     on 1,000 as it spends ~0.1 s per job).  Goal: synthflow <= 1.2x make.
# (b) latency: a chain of 1,000 tasks.  The gap between one task's exit and
#     the next one's start is measured outside the engine: each task is
#     bench/stamp.c, which writes CLOCK_MONOTONIC when it starts and exits
#     at once, so stamp(i+1) - stamp(i) is exit-to-start plus one exec, the
#     same for every tool.  Chains of `true` give the time per task, and
#     the engine's own started_at/ended_at gaps are printed too (they have
#     millisecond resolution).  Goal: median < 2 ms.
# (c) a foreach over 100,000 files running `true`: wall time and peak RSS
#     (GNU time), make -j2 for reference.  Goal: peak RSS < 300 MB.
. "$(dirname "$0")/lib.sh"

scripts/install-deps.sh bench

fanout=$(size 10000)
chain=$(size 1000)
foreach=$(size 100000)
snake=$(size 1000)

work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench.XXXXXX")
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
failed=0

cc -std=c17 -O2 -Wall -Wextra -Werror -o "$work/stamp" bench/stamp.c
python3 bench/gen.py "$work" "$work/stamp" "$fanout" "$chain" "$foreach" "$snake"

# timed NAME CMD...: runs CMD with GNU time; sets $wall (s), $cpu (user +
# system s, its children included) and $rss (MB); on failure prints why,
# counts it, and returns 1.
timed() {
	name=$1
	shift
	if ! /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
		echo "> $name failed: $*" >&2
		tail -n 5 "$work/$name.err" | sed 's/^/>   /' >&2
		failed=$((failed + 1))
		return 1
	fi
	read -r wall kb user sys <"$work/time"
	rss=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}

# best NAME SETUP CMD...: the least wall time and the least CPU time of
# $repeat runs, SETUP before each.
best() {
	name=$1 setup=$2
	shift 2
	bwall='' brss='' bcpu=''
	for _ in $(seq "$repeat"); do
		eval "$setup"
		timed "$name" "$@" || return 1
		if [ -z "$bwall" ] || awk -v a="$wall" -v b="$bwall" 'BEGIN { exit !(a < b) }'; then
			bwall=$wall brss=$rss
		fi
		if [ -z "$bcpu" ] || awk -v a="$cpu" -v b="$bcpu" 'BEGIN { exit !(a < b) }'; then
			bcpu=$cpu
		fi
	done
	wall=$bwall rss=$brss cpu=$bcpu
}

# data DAG: a fresh data folder holding only that DAG (loading the others
# would be timed too) at $work/data-DAG.  The previous one is moved aside,
# not deleted: ext4 is slow to hand out inodes for some seconds after many
# were freed, which would tax the run that follows.
ndata=0
data() {
	ndata=$((ndata + 1))
	d=$work/data-$1
	[ -e "$d" ] && mv "$d" "$work/old-data.$ndata"
	"$sf" init "$d" >/dev/null
	mkdir -p "$d/src/bench/dags"
	cp "$work/dags/$1.yaml" "$d/src/bench/dags/"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
per_task() { awk -v w="$1" -v n="$2" 'BEGIN { printf "%.3f", w * 1000 / n }'; }
row() { printf '| %s ' "$@"; echo '|'; }
# vs_make TOOL TASKS: a row from $wall $cpu $rss, against $make_wall $make_cpu
vs_make() {
	row "$1" "$2" "$wall" "$cpu" "$(per_task "$wall" "$2")" "$(ratio "$wall" "$make_wall")" \
		"$(ratio "$cpu" "$make_cpu")" "$rss"
}

echo "# SynthFlow benchmarks"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
	"$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r)"
echo "- tools: $("$sf" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")), $(make --version | head -n 1), ninja $(ninja --version)," \
	"snakemake $(snakemake --version)"
echo "- load average before: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews the times)"
echo "- scale: $scale (fan-out $fanout, chain $chain, foreach $foreach, snakemake $snake); best of $repeat"

echo
echo "## (a) fan-out of $fanout no-op tasks and a fan-in, 2 parallel jobs"
echo
row "tool" "tasks" "wall s" "CPU s" "ms/task" "wall vs make -j2" "CPU vs make -j2" "peak RSS MB"
row "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:"
n=$((fanout + 2))
make_wall='' make_cpu=''
if best make-fanout : make -s -j2 -f "$work/make/fanout.mk"; then
	make_wall=$wall make_cpu=$cpu
	vs_make "make -j2" "$n"
fi
if best ninja-fanout 'rm -f "$work/ninja/.ninja_log"' \
	ninja -C "$work/ninja" -f fanout.ninja -j2 --quiet; then
	vs_make "ninja -j2" "$n"
fi
if best sf-fanout 'data bench-fanout' "$sf" --data "$work/data-bench-fanout" test bench-fanout; then
	vs_make "synthflow test (foreach)" "$n"
fi
if best sf-fanout-tasks 'data bench-fanout-tasks' \
	"$sf" --data "$work/data-bench-fanout-tasks" test bench-fanout-tasks; then
	vs_make "synthflow test ($fanout tasks in YAML)" "$n"
fi
repeat_saved=$repeat
repeat=1
if best snakemake-fanout 'rm -rf "$work/snake/t" "$work/snake/sink" "$work/snake/root"' \
	snakemake -j2 --quiet -d "$work/snake" -s "$work/snake/Snakefile"; then
	# fewer tasks: compare the time per task
	per_fanout=$((fanout + 2))
	make_wall=$(awk -v w="$make_wall" -v a="$per_fanout" -v b="$((snake + 2))" 'BEGIN { print w * b / a }')
	make_cpu=$(awk -v w="$make_cpu" -v a="$per_fanout" -v b="$((snake + 2))" 'BEGIN { print w * b / a }')
	vs_make "snakemake -j2 (ratios per task)" $((snake + 2))
fi
repeat=$repeat_saved

echo
echo "## (b) scheduling latency: a chain of $chain tasks"
echo
row "tool" "task" "wall s" "ms/task" "median gap ms" "p99 gap ms"
row "---" "---" "---:" "---:" "---:" "---:"
if best make-chain 'rm -f "$work/stamps-make"' make -s -f "$work/make/chain.mk"; then
	read -r med p99 _ < <(python3 bench/stats.py stamps "$work/stamps-make")
	row "make" "stamp" "$wall" "$(per_task "$wall" "$chain")" "$med" "$p99"
fi
if best sf-chain-stamp 'data bench-chain-stamp; rm -f "$work/stamps-sf"' \
	"$sf" --data "$work/data-bench-chain-stamp" test bench-chain-stamp; then
	read -r med p99 _ < <(python3 bench/stats.py stamps "$work/stamps-sf")
	row "synthflow test" "stamp" "$wall" "$(per_task "$wall" "$chain")" "$med" "$p99"
fi
if best make-chain-true : make -s -f "$work/make/chain-true.mk"; then
	row "make" "true" "$wall" "$(per_task "$wall" "$chain")" "-" "-"
fi
if best sf-chain 'data bench-chain' "$sf" --data "$work/data-bench-chain" test --json bench-chain; then
	row "synthflow test" "true" "$wall" "$(per_task "$wall" "$chain")" "-" "-"
	read -r med p99 _ < <(python3 bench/stats.py run "$work/sf-chain.out")
	echo
	echo "The gap is stamp(i+1) - stamp(i) of tasks running bench/stamp.c (see the header of"
	echo "bench/run.sh).  The engine's own record of the \`true\` chain (started_at of a task"
	echo "minus ended_at of the one before, millisecond resolution): median $med ms, p99 $p99 ms."
fi

echo
echo "## (c) a foreach of $foreach no-op tasks, 2 parallel jobs"
echo
row "tool" "tasks" "wall s" "CPU s" "ms/task" "wall vs make -j2" "CPU vs make -j2" "peak RSS MB"
row "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:"
repeat=1
make_wall='' make_cpu=''
if best make-foreach : make -s -j2 -f "$work/make/foreach.mk"; then
	make_wall=$wall make_cpu=$cpu
	vs_make "make -j2" "$foreach"
fi
if best sf-foreach 'data bench-foreach' "$sf" --data "$work/data-bench-foreach" test bench-foreach; then
	vs_make "synthflow test" "$foreach"
	echo
	echo "store after the run: $(du -h "$work/data-bench-foreach/flow/synthflow.db"* | awk '{ printf "%s %s  ", $2, $1 }' | sed "s|$work/data-bench-foreach/||g")"
fi

echo
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
if [ "$failed" -gt 0 ]; then
	echo "$failed measurement(s) failed (see the messages above)"
	exit 1
fi
