#!/usr/bin/env bash
# The store backends against each other, in the same run on this machine:
# `synthflow test` of a fan-out (root -> N tasks -> sink) with a SQLite store
# and with a PostgreSQL 15 store (a server this script starts, as the tests
# do: tests/pg.sh), and a Markdown table with the ratios.
#
#   bench/store.sh                   full size (10,000 no-op tasks; 1,000 of 50 ms)
#   BENCH_SCALE=0.1 bench/store.sh   every size times 0.1 (at least 2)
#
# (a) 10,000 no-op tasks (foreach), flow.parallelism 2: what a task costs the
#     scheduler and its store.  Goal: PostgreSQL within 1.5x of SQLite.
# (b) 1,000 tasks that sleep 50 ms, flow.parallelism 2: the store's share
#     when tasks take time.
# Best of BENCH_REPEAT (3) runs each.  Several serves on one database:
# bench/pg-serves.sh (make bench-pg).
. "$(dirname "$0")/lib.sh"

noop=$(size 10000)
slow=$(size 1000)

. tests/pg.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-store.XXXXXX")
pgdir=$(mktemp -d /tmp/sf-bench-pg.XXXXXX)
trap 'pg_stop "$pgdir"; rm -rf "$work" "$pgdir"' EXIT
pg_start "$pgdir"

"$sf" init "$work/run-data" >/dev/null
mkdir -p "$work/run-data/src/b/dags" "$work/items/noop" "$work/items/slow"
(cd "$work/items/noop" && seq "$noop" | xargs touch)
(cd "$work/items/slow" && seq "$slow" | xargs touch)
for w in noop slow; do
	cmd=true
	[ $w = slow ] && cmd="sleep 0.05"
	cat >"$work/run-data/src/b/dags/fan-$w.yaml" <<EOF
tasks:
  root: {run: "true"}
  fan: {needs: [root], foreach: "$work/items/$w/*", run: "$cmd"}
  sink: {needs: [fan], run: "true"}
EOF
done

# best STORE DAG: the best wall time (s) of $repeat runs, each on a new store.
best() {
	b=""
	for i in $(seq "$repeat"); do
		if [ "$1" = sqlite ]; then
			rm -f "$work/run-data/flow/synthflow.db"*
			url="sqlite:flow/synthflow.db"
		else
			db="bench_$2_$i"
			pg_createdb "$db"
			url=$(pg_url "$db")
		fi
		# the schema exists before the clock starts: the run is timed, not the migration
		SYNTHFLOW_FLOW_STORE=$url "$sf" --data "$work/run-data" vars list >/dev/null
		s=$(date +%s.%N)
		SYNTHFLOW_FLOW_STORE=$url "$sf" --data "$work/run-data" test "$2" >/dev/null 2>"$work/err" ||
			{ cat "$work/err" >&2; exit 1; }
		e=$(date +%s.%N)
		t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')
		if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
	done
	echo "$b"
}

echo "| workload | SQLite, 1 scheduler | PostgreSQL 15, 1 scheduler | ratio PG/SQLite |"
echo "|---|---|---|---|"
for w in noop slow; do
	n=$noop label="no-op tasks"
	[ $w = slow ] && n=$slow label="tasks of 50 ms"
	a=$(best sqlite "fan-$w")
	p=$(best pg "fan-$w")
	r=$(awk -v a="$a" -v p="$p" 'BEGIN { printf "%.2f", p / a }')
	echo "| fan-out, $n $label (parallelism 2) | ${a} s | ${p} s | ${r}x |"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
