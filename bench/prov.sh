#!/usr/bin/env bash
# make bench-prov: what provenance costs (docs/replication.md).  The peer is
# the same engine with flow.provenance false (no document, no hashing), run
# alternately with it in one session, so both see the same machine.
#
#   bench/prov.sh                    full size (about 25 minutes on 2 idle cores)
#   BENCH_SCALE=0.01 bench/prov.sh   every size times 0.01 (at least 2)
#   BENCH_CLIPS=100 bench/prov.sh    (a) and (b) at full size, (c) on 100 clips
#                                    (cleaning 1,000 clips six times is most of the time)
#   BENCH_ONLY=c bench/prov.sh       (c) alone (about 17 minutes at full size)
#
# Environment: BENCH_SCALE (1), BENCH_CLIPS (1000 times the scale), BENCH_REPEAT (3: best of, each round runs
# both, the first one alternating), BENCH_ONLY (the parts to run, of "a b c"),
# SYNTHFLOW (build/synthflow), BENCH_KEEP=1 keeps the work folder.
#
# (a) root -> 10,000 no-op tasks -> sink (bench/gen.py's bench-fanout-tasks)
#     at 2 parallel jobs.  No task declares a file, so provenance is one
#     document per instance, built when its try ends and written with its
#     state.  Goal: under 2 % more wall and CPU time than without.
# (b) one foreach over 10,000 empty files running `true`: each item is
#     hashed by the pool.  Reported.
# (c) the example DAG (examples/ppp-audio) speaking and cleaning 1,000 clips:
#     each clip (a foreach item) and the uploadable/ folder are hashed.
#     Reported.
. "$(dirname "$0")/lib.sh"

fanout=$(size 10000)
clips=${BENCH_CLIPS:-$(size 1000)}
only=" ${BENCH_ONLY:-a b c} "
for p in $only; do
	case $p in a | b | c) ;; *) echo "bench/prov.sh: BENCH_ONLY: no part '$p' (the parts are a, b and c)" >&2; exit 2 ;; esac
done
# part P: whether part P runs
part() { case $only in *" $1 "*) return 0 ;; esac; return 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-prov.XXXXXX")
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# the fan-out and foreach of bench/gen.py (its chain and snakemake parts at their least)
if part a || part b; then python3 bench/gen.py "$work" /bin/true "$fanout" 2 2 2; fi

# data NAME DAG: a fresh data folder $work/NAME holding that DAG only; the
# example's workspace instead when DAG is ppp-preprocess.
data() {
	d=$work/$1
	[ -e "$d" ] && mv "$d" "$(mktemp -d "$work/old.XXXXXX")"
	"$sf" init "$d" >/dev/null
	if [ "$2" = ppp-preprocess ]; then
		cp -R examples/ppp-audio "$d/src/"
	else
		mkdir -p "$d/src/bench/dags"
		cp "$work/dags/$2.yaml" "$d/src/bench/dags/"
	fi
}

# once PROV NAME DAG [ARG...]: one timed `synthflow test` in a fresh folder
# with flow.provenance PROV; adds to $NAME-PROV.times "wall cpu" (s).
once() {
	prov=$1 name=$2 dag=$3
	shift 3
	data "$name-$prov" "$dag"
	if ! SYNTHFLOW_FLOW_PROVENANCE=$prov /usr/bin/time -f '%e %U %S' -o "$work/time" \
		"$sf" --data "$work/$name-$prov" test "$dag" "$@" >"$work/out" 2>&1; then
		echo "> $name (flow.provenance $prov) failed:" >&2
		tail -n 5 "$work/out" | sed 's/^/>   /' >&2
		exit 1
	fi
	awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/time" >>"$work/$name-$prov.times"
}

# measure NAME TITLE TASKS DAG [ARG...]: $repeat rounds of both, then a row
# with the least wall and the least CPU time of each and their ratios.
measure() {
	name=$1 title=$2 tasks=$3
	shift 3
	for r in $(seq "$repeat"); do
		if [ $((r % 2)) = 1 ]; then
			once false "$name" "$@" && once true "$name" "$@"
		else
			once true "$name" "$@" && once false "$name" "$@"
		fi
	done
	off_wall=$(least 1 "$work/$name-false.times") off_cpu=$(least 2 "$work/$name-false.times")
	on_wall=$(least 1 "$work/$name-true.times") on_cpu=$(least 2 "$work/$name-true.times")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$title" "$tasks" \
		"$off_wall" "$on_wall" "$(pct "$on_wall" "$off_wall")" \
		"$off_cpu" "$on_cpu" "$(pct "$on_cpu" "$off_cpu")"
}

least() { cut -d" " -f"$1" "$2" | sort -n | head -n 1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f %%", (a / b - 1) * 100; else print "-" }'; }

echo "# SynthFlow: the cost of provenance"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
	"$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r)"
echo "- synthflow: $("$sf" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")), flow.parallelism 2"
echo "- load average before: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews the times)"
echo "- scale: $scale (fan-out $fanout, clips $clips); best of $repeat for each; parts:$only"
echo
echo "| workload | tasks | wall s, off | wall s, on | wall | CPU s, off | CPU s, on | CPU |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
part a && measure fanout "(a) $fanout no-op tasks in YAML, nothing declared" $((fanout + 2)) bench-fanout-tasks
part b && measure foreach "(b) foreach over $fanout files (each item hashed)" $((fanout + 2)) bench-fanout
part c && measure example "(c) the example DAG, $clips clips (items and outputs hashed)" "$clips clips" \
	ppp-preprocess -p sample_clips="$clips"
echo
echo "(a)'s goal: under +2 % (wall and CPU).  CPU s is user + system time of"
echo "synthflow and every task it started."
