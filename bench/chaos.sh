#!/usr/bin/env bash
# The chaos test of several schedulers on one PostgreSQL at full size
# (docs/engine.md, "Schedulers and leases"; t1203 is its shortened form in
# make check): three serves, each acting as its own host
# (SYNTHFLOW_HOST_ID) with flow.parallelism 2, share one data folder and
# database while one run of 2,000 tasks and 20 small runs of 10 go on.
# Every few seconds (3-8 s, random) a random serve is killed with -9 and
# started again a moment later; once, one is stopped (SIGSTOP) for 20 s,
# past its lease (10 s) and grace (5 s), then resumed: it must find itself
# fenced and stop, and is started again.
#
# Each task holds a per-instance flock for its whole life and records when
# it could not take it (two tries of one instance at once), and appends its
# start and end with its pid.  Afterwards: every run succeeded, every
# instance has exactly one successful try and it is its final one, no try
# is left without an end, no overlap, no deadlock error in any log, and
# the time from each kill until another serve held the killed one's runs
# (and none of its offered tries was left claimed by it) is under 30 s.
#
#   bench/chaos.sh                   full size (make bench-chaos)
#   BENCH_SCALE=0.1 bench/chaos.sh   2,000 and 20 times 0.1
# The machine's load is printed before and after.
. "$(dirname "$0")/lib.sh"

ntasks=$(size 2000)
nsmall=$(size 20)
pause=0.2

. tests/pg.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-chaos.XXXXXX")
pgdir=$(mktemp -d /tmp/sf-bench-chaos-pg.XXXXXX)
cleanup() {
	for n in 1 2 3; do
		[ -f "$work/s$n.pid" ] || continue
		kill -CONT "$(cat "$work/s$n.pid")" 2>/dev/null || true
		kill -9 "$(cat "$work/s$n.pid")" 2>/dev/null || true
	done
	pg_stop "$pgdir"
	rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
pg_start "$pgdir" >/dev/null
pg_createdb chaos
url=$(pg_url chaos)
q() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
d=$work/run-data
"$sf" init "$d" >/dev/null
printf 'flow:\n  store: "%s"\n  parallelism: 2\n' "$url" >"$d/synthflow.yaml"
mkdir -p "$d/src/b/dags" "$d/locks"
cat >"$d/tick.sh" <<'EOF'
key="$SF_RUN_ID.$SF_TASK_ID.$(basename "${SF_ITEM:-none}")"
exec 9>"$SF_DATA/locks/$key"
flock -n 9 || echo "$key $$" >>"$SF_DATA/overlaps"
flock "$SF_DATA/log.lock" sh -c 'echo "start $1 $2" >>"$SF_DATA/log"' - "$key" "$$"
sleep "$1"
flock "$SF_DATA/log.lock" sh -c 'echo "end $1 $2" >>"$SF_DATA/log"' - "$key" "$$"
EOF
cat >"$d/src/b/dags/fan.yaml" <<'EOF'
params:
  n: {type: integer, default: 10, minimum: 1}
  pause: {type: string, default: "0.2"}
tasks:
  make:
    run: mkdir -p {{ run.dir }}/in && cd {{ run.dir }}/in && seq {{ params.n }} | xargs touch
  work:
    needs: [make]
    foreach: "{{ run.dir }}/in/*"
    run: sh "$SF_DATA/tick.sh" {{ params.pause }}
  join: {needs: [work], run: "echo done"}
EOF
"$sf" --data "$d" vars list >/dev/null # the schema exists before the serves

# start N: serve N (host-N), its pid in s<N>.pid, its log s<N>.log
start() {
	SYNTHFLOW_HOST_ID=host-$1 "$sf" --data "$d" serve --port 0 >/dev/null 2>>"$work/s$1.log" &
	echo $! >"$work/s$1.pid"
	disown $! # killed on purpose: no job notice
	for _ in $(seq 300); do
		[ -n "$(epoch_of "$(cat "$work/s$1.pid")")" ] && return 0
		sleep 0.1
	done
	echo "bench: serve $1 did not take a lease" >&2
	cat "$work/s$1.log" >&2
	exit 1
}
epoch_of() { q "SELECT epoch FROM schedulers WHERE pid = $1"; }
unfinished() { q "SELECT count(*) FROM runs WHERE state IN ('queued', 'running')"; }
# what the serve of epoch $1 still holds: unfinished runs and offered tries it runs
held_by() {
	q "SELECT (SELECT count(*) FROM runs WHERE state IN ('queued', 'running')
		AND owner LIKE '%#$1') + (SELECT count(*) FROM offers WHERE state = 1
		AND runner LIKE '%#$1')"
}
# takeover EPOCH T0: waits (bounded) until nothing is held by EPOCH; appends the seconds
takeover() {
	for _ in $(seq 1200); do
		[ "$(held_by "$1")" = 0 ] && break
		sleep 0.1
	done
	awk -v a="$2" -v b="$(date +%s.%N)" -v e="$1" 'BEGIN { printf "%d %.1f\n", e, b - a }' \
		>>"$work/takeovers"
}

for n in 1 2 3; do start "$n"; done
t_start=$(date +%s.%N)
big=$("$sf" --data "$d" trigger fan -p n="$ntasks" -p pause="$pause")
for _ in $(seq "$nsmall"); do "$sf" --data "$d" trigger fan >/dev/null; done

kills=0
stopped=0
watchers=""
deadline=$(($(date +%s) + 3600))
while [ "$(unfinished)" != 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.1f", 3 + (r % 50) / 10 }')"
	[ "$(unfinished)" = 0 ] && break
	n=$((RANDOM % 3 + 1))
	p=$(cat "$work/s$n.pid")
	e=$(epoch_of "$p")
	[ -n "$e" ] || continue
	if [ "$stopped" = 0 ] && [ "$kills" -ge 3 ]; then
		# once: stopped past its lease and grace, then resumed: fenced, it stops
		kill -STOP "$p"
		t0=$(date +%s.%N)
		takeover "$e" "$t0" &
		watchers="$watchers $!"
		sleep 20
		kill -CONT "$p"
		for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then
			echo "bench: serve $n went on after its lease was taken over" >&2
			exit 1
		fi
		grep -q "was ended by another scheduler" "$work/s$n.log" ||
			{ echo "bench: serve $n did not say it was fenced" >&2; exit 1; }
		stopped=1
	else
		kill -9 "$p"
		t0=$(date +%s.%N)
		takeover "$e" "$t0" &
		watchers="$watchers $!"
		kills=$((kills + 1))
		sleep 1
	fi
	start "$n"
done
# shellcheck disable=SC2086
[ -z "$watchers" ] || wait $watchers
t_end=$(date +%s.%N)
[ "$(unfinished)" = 0 ] || { echo "bench: runs still unfinished after an hour" >&2; exit 1; }

fails=""
check() { [ "$(q "$2")" = "$3" ] || fails="$fails; $1"; }
check "a run did not succeed" "SELECT count(*) FROM runs WHERE state <> 'success'" 0
check "an instance did not succeed" "SELECT count(*) FROM tis WHERE state <> 'success'" 0
check "an instance has more or less than one successful try" \
	"SELECT count(*) FROM (SELECT run_id, task_id, idx FROM tries WHERE exit_code = 0
	 GROUP BY 1, 2, 3 HAVING count(*) <> 1) x" 0
check "an instance's final try is not its successful one" \
	"SELECT count(*) FROM tis i WHERE NOT EXISTS (SELECT 1 FROM tries t WHERE t.run_id = i.run_id
	 AND t.task_id = i.task_id AND t.idx = i.idx AND t.try = i.try AND t.exit_code = 0)" 0
check "a try has no end" "SELECT count(*) FROM tries WHERE ended_at = 0" 0
[ -e "$d/overlaps" ] && fails="$fails; two tries of one instance ran at once: $(wc -l <"$d/overlaps")"
grep -qi deadlock "$work"/s*.log && fails="$fails; a deadlock error in a serve's log"
slow=$(awk '$2 >= 30' "$work/takeovers" | wc -l)
[ "$slow" = 0 ] || fails="$fails; $slow takeover(s) took 30 s or more"

tries=$(q "SELECT count(*) FROM tries")
lost=$(q "SELECT count(*) FROM tries WHERE reason LIKE '%lost%' OR reason LIKE '%lease%'")
echo
echo "| tasks | runs | kill -9 | SIGSTOP | tries | lost tries (run again) | takeover min / median / max | wall |"
echo "|---|---|---|---|---|---|---|---|"
tk=$(sort -k2 -n "$work/takeovers" | awk '{ v[NR] = $2 } END { if (NR) printf "%.1f / %.1f / %.1f s", v[1], v[int((NR + 1) / 2)], v[NR]; else printf "-" }')
echo "| $((ntasks + 2 + nsmall * 12)) | $((nsmall + 1)) | $kills | $stopped | $tries | $lost | $tk | $(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.0f s", b - a }') |"
echo
echo "task starts logged: $(grep -c '^start ' "$d/log"); the big run: $big"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
if [ -n "$fails" ]; then
	echo "FAILED${fails}"
	exit 1
fi
echo "every check held"
