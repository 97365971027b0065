#!/usr/bin/env bash
# Several `serve` processes on one PostgreSQL against one, and against
# SQLite, in the same run on this machine (docs/engine.md, "Schedulers and
# leases"), and a Markdown table with the ratios.  Each serve has
# flow.parallelism 2; a PostgreSQL 15 server is started as the tests do
# (tests/pg.sh).  A run is timed by the store: from its creation (trigger)
# to its end.
#
#   bench/pg-serves.sh                   full size
#   BENCH_SCALE=0.1 bench/pg-serves.sh   every size times 0.1 (at least 2)
#
# (a) one run of 10,000 no-op tasks (foreach): what a task costs.  Goal:
#     PostgreSQL with one serve within 1.5x of SQLite.
# (b) one run of 1,000 tasks that sleep 50 ms.
# (c) 8 runs at once of 125 tasks that sleep 50 ms each (1,000 tasks).
# Work is shared by run and by task instance: the serve that holds a run
# offers what its own parallelism has no room for to the other, so a second
# serve helps both (b), one big fan-out, and (c), several runs.  Goal: two
# serves faster than one on (b) and (c).  Best of BENCH_REPEAT (3) each.
# The machine's load is printed before and after: other work on it skews
# every figure.
. "$(dirname "$0")/lib.sh"

noop=$(size 10000)
slow=$(size 1000)
nruns=8
per=$(size 125)

. tests/pg.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-pgserves.XXXXXX")
pgdir=$(mktemp -d /tmp/sf-bench-pg.XXXXXX)
pids=""
cleanup() {
	[ -n "$pids" ] && kill $pids 2>/dev/null
	for p in $pids; do wait "$p" 2>/dev/null; done
	pg_stop "$pgdir"
	rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
pg_start "$pgdir" >/dev/null

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
mkdir -p "$work/items/noop" "$work/items/slow" "$work/items/small"
(cd "$work/items/noop" && seq "$noop" | xargs touch)
(cd "$work/items/slow" && seq "$slow" | xargs touch)
(cd "$work/items/small" && seq "$per" | xargs touch)

# data DIR: a data folder with the three DAGs
data() {
	"$sf" init "$1" >/dev/null
	mkdir -p "$1/src/b/dags"
	for w in noop slow small; do
		cmd="sleep 0.05"
		[ $w = noop ] && cmd=true
		cat >"$1/src/b/dags/fan-$w.yaml" <<EOF
tasks:
  fan: {foreach: "$work/items/$w/*", run: "$cmd"}
EOF
	done
}

# sql URL SQL: one value from the store (sqlite:PATH or a PostgreSQL URL)
sql() {
	case $1 in
	sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
	*) "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2" ;;
	esac
}

# once KIND SERVES DAG N: triggers N runs of DAG with SERVES serves on a new
# store; prints the seconds from the first run's creation to the last one's end
once() {
	kind=$1 serves=$2 dag=$3 n=$4
	d=$work/d-$kind-$serves-$RANDOM$RANDOM
	if [ "$kind" = sqlite ]; then
		data "$d"
		url=sqlite:$d/flow/synthflow.db
		store=sqlite:flow/synthflow.db
	else
		db=b_$(basename "$d" | tr -c 'a-z0-9\n' _)
		pg_createdb "$db"
		url=$(pg_url "$db")
		store=$url
		data "$d"
	fi
	printf 'flow:\n  store: "%s"\n  parallelism: 2\n' "$store" >"$d/synthflow.yaml"
	"$sf" --data "$d" vars list >/dev/null # the schema exists before the clock starts
	pids=""
	for i in $(seq "$serves"); do
		"$sf" --data "$d" serve --port 0 >/dev/null 2>"$d/serve-$i.log" &
		pids="$pids $!"
	done
	# every serve holds its lease and has beaten since the last one started
	# (so each knows how many share the store) before the runs come
	for i in $(seq 600); do
		[ "$(sql "$url" "SELECT count(*) FROM schedulers WHERE beat_at >
			(SELECT max(started_at) FROM schedulers)")" = "$serves" ] && break
		sleep 0.1
	done
	for i in $(seq "$n"); do "$sf" --data "$d" trigger "$dag" >/dev/null; done
	for i in $(seq 36000); do
		[ "$(sql "$url" "SELECT count(*) FROM runs WHERE state IN ('queued', 'running')")" = 0 ] && break
		sleep 0.1
	done
	[ "$(sql "$url" "SELECT count(*) FROM runs WHERE state = 'success'")" = "$n" ] ||
		{ echo "bench: runs of $dag did not all succeed ($kind, $serves serves)" >&2; cat "$d"/serve-*.log >&2; exit 1; }
	sql "$url" "SELECT (max(ended_at) - min(created_at)) / 1000.0 FROM runs"
	kill $pids
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	pids=""
	rm -rf "$d"
}

# best KIND SERVES DAG N: the best of $repeat
best() {
	b=""
	for r in $(seq "$repeat"); do
		t=$(once "$@")
		if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
	done
	printf '%.2f' "$b"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "| workload | SQLite, 1 serve | PostgreSQL, 1 serve | PostgreSQL, 2 serves | PG 1 / SQLite | PG 2 / PG 1 |"
echo "|---|---|---|---|---|---|"
row() {
	label=$1 dag=$2 n=$3
	a=$(best sqlite 1 "$dag" "$n")
	p1=$(best pg 1 "$dag" "$n")
	p2=$(best pg 2 "$dag" "$n")
	echo "| $label | $a s | $p1 s | $p2 s | $(ratio "$p1" "$a")x | $(ratio "$p2" "$p1")x |"
}
row "1 run, $noop no-op tasks" fan-noop 1
row "1 run, $slow tasks of 50 ms" fan-slow 1
row "$nruns runs at once, $per tasks of 50 ms each" fan-small "$nruns"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
