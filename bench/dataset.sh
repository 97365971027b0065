#!/usr/bin/env bash
# make bench-dataset: the dataset view with 100,000 clips' metrics, printed
# as Markdown.  Goal (issue 14): first render and each filter under 200 ms in
# chromium.
#
# - The API (GET /api/v1/runs/RUN/metrics, 50 rows as the page asks): the first page, a
#   filter, a sort, a filter+sort; median and max of 10, once serve holds
#   the finished run in memory (web/mcache.c).  "read" is the first filter
#   after serve started: it waits for the run to be read into memory.
# - The peer: the same filter and sort as SQL over the same store file with
#   the sqlite3 shell (json_extract on every line: what serve does for a run
#   still running, and did for every run before), median of 5.
# - Chromium (tests/e2e/dataset.js, which also checks the answers): times
#   measured in the page from the request to the frame after the rows are in
#   the document.  Cold: serve just started, the filter typed right after the
#   first render (it may wait for the run to be read); warm: the view opened
#   again in the same page, from the DAG list.
#
# Environment: SYNTHFLOW (build/synthflow), BENCH_KEEP=1 keeps the work folder.
. "$(dirname "$0")/lib.sh"

scripts/install-deps.sh test >/dev/null
[ -d tests/e2e/node_modules/playwright-core ] ||
	npm install --prefix tests/e2e --no-audit --no-fund --loglevel=error >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-dataset.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

data=$work/data
"$sf" init "$data" >/dev/null
mkdir -p "$data/src/ds/dags"
cp tests/e2e/dataset-gen.py "$data/src/ds/gen.py"
printf '%s\n' "id: ds" "tasks:" "  clean:" "    run: python3 src/ds/gen.py {{ run.dir }}" >"$data/src/ds/dags/ds.yaml"
run=$("$sf" --data "$data" test ds | head -n1)
want=$(python3 -c "print(sum(1 for i in range(0, 100000, 4) if 1 + (i // 4) % 12 > 8 and -16 - (i // 48) % 30 < -30))")

start_serve "$data"

filter='character%3DFluttershy%2Clufs%3C-30%2Cduration%3E8'
# ms QUERY: wall time of one metrics request, in ms.
ms() {
	curl -s -o /dev/null -w '%{time_total}\n' -H "$auth" "$base/api/v1/runs/$run/metrics?limit=50&$1" |
		awk '{ printf "%.1f\n", $1 * 1000 }'
}
# stats: median and max of numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[NR] }'; }
first_page=$(ms "offset=0")
read_ms=$(ms "filter=$filter")
read -r page_med page_max < <(for _ in $(seq 10); do ms "offset=0"; done | stats)
read -r filt_med filt_max < <(for _ in $(seq 10); do ms "filter=$filter"; done | stats)
read -r sort_med sort_max < <(for _ in $(seq 10); do ms "sort=-lufs&offset=50000"; done | stats)
read -r both_med both_max < <(for _ in $(seq 10); do ms "filter=$filter&sort=duration"; done | stats)

# sql SQL: wall time of the sqlite3 shell answering it over the store file, in ms.
sql() {
	local t0 t1
	t0=$(date +%s%N)
	sqlite3 "$data/flow/synthflow.db" "$1" >/dev/null
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 100000))" | awk '{ printf "%.1f\n", $1 / 10 }'
}
where="run_id = '$run' AND json_extract(data, '\$.character') = 'Fluttershy'
	AND json_extract(data, '\$.lufs') < -30 AND json_extract(data, '\$.duration') > 8"
read -r peer_filt _ < <(for _ in $(seq 5); do
	sql "SELECT data, count(*) OVER () FROM metrics WHERE $where ORDER BY task_id, idx, line LIMIT 50"
done | stats)
read -r peer_sort _ < <(for _ in $(seq 5); do
	sql "SELECT data FROM metrics WHERE run_id = '$run' ORDER BY json_extract(data, '\$.lufs') DESC LIMIT 50 OFFSET 50000"
done | stats)

# browser: runs dataset.js once (it measures cold, then warm), prints
# "cold_first cold_filter cold_sort warm_first warm_filter warm_sort" in ms
browser() {
	node tests/e2e/dataset.js "$url" "$run" "$work" "$want" >"$work/browser.out" 2>&1 ||
		{ cat "$work/browser.out" >&2; exit 1; }
	for k in "cold first render" "cold filter" "cold sort" "warm first render" "warm filter" "warm sort"; do
		awk -v k="$k:" 'index($0, k) == 1 { for (i = 1; i <= NF; i++) if ($i == "ms") { printf "%.0f ", $(i - 1); break } }' "$work/browser.out"
	done
	echo
}
stop_serve || true
start_serve "$data"
read -r cold_first cold_filter cold_sort warm_first warm_filter warm_sort < <(browser)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0fx", a / (b > 0 ? b : 0.1) }'; }
row() { printf '| %s ' "$@"; echo '|'; }
echo "## Dataset view, 100,000 clips (make bench-dataset; $(date -u "+%Y-%m-%d %H:%M UTC"), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $("$sf" --version))"
echo
row "API, 50 rows (a request of the page)" "median" "max" "sqlite3 json_extract (peer)" "peer / serve"
row "---" "---" "---" "---" "---"
row "first page (first ever: $first_page ms)" "$page_med ms" "$page_max ms" "" ""
row "filter character=Fluttershy,lufs<-30,duration>8 (first, reading the run: $read_ms ms)" "$filt_med ms" "$filt_max ms" "$peer_filt ms" "$(ratio "$peer_filt" "$filt_med")"
row "sort -lufs, offset 50,000" "$sort_med ms" "$sort_max ms" "$peer_sort ms" "$(ratio "$peer_sort" "$sort_med")"
row "filter + sort by duration" "$both_med ms" "$both_max ms" "" ""
echo
row "chromium (request to the frame with the rows)" "cold" "warm" "goal"
row "---" "---" "---" "---"
row "first render" "$cold_first ms" "$warm_first ms" "< 200 ms"
row "filter" "$cold_filter ms" "$warm_filter ms" "< 200 ms"
row "sort by LUFS" "$cold_sort ms" "$warm_sort ms" ""
echo
echo "Where the time went (answer: the request until its rows are parsed; rows: putting them in the document; frame: until the next frame):"
echo
sed -n 's/^\(cold\|warm\) /- \1 /p' "$work/browser.out"
