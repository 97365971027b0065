#!/usr/bin/env bash
# make bench-web: the web server's figures, printed as Markdown.
#
# (d) 1,000 runs of a 100-task DAG (the last task a 20-item foreach: 119
#     task instances a run, 119,000 in all) in the store: time to serve the
#     DAG page's data (GET /api/v1/dags/big + /grid?limit=25), and the time
#     the page takes to render in Debian's chromium.  Goals: < 100 ms, < 1 s.
# (e) wrk for 30 s on GET /api/v1/dags with 100 more DAGs (5 runs each):
#     requests per second, p99 latency, errors, and the server's RSS
#     before and after (it must not grow).
#
# Environment: SYNTHFLOW (build/synthflow), WEB_RUNS (1000), WRK_SECONDS (30),
# BENCH_KEEP=1 keeps the work folder.
. "$(dirname "$0")/lib.sh"
runs=${WEB_RUNS:-1000}
secs=${WRK_SECONDS:-30}
build=$(dirname "$sf")

scripts/install-deps.sh test >/dev/null
[ -d tests/e2e/node_modules/playwright-core ] ||
	npm install --prefix tests/e2e --no-audit --no-fund --loglevel=error
work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-web.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2046
cc -std=c17 -O2 -D_GNU_SOURCE -I src -o "$work/web-fill" bench/web-fill.c "$build/libsynthflow.a" \
	$(pkg-config --libs jansson sqlite3 libmicrohttpd yaml-0.1 libcrypto libpq sndfile soxr libebur128 libarchive) -lpthread -lm
"$sf" init "$work/data" >/dev/null
fill_start=$(date +%s.%N)
"$work/web-fill" "$work/data" "$runs" 100
fill=$(awk -v a="$fill_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

start_serve "$work/data"

# ms PATH: wall time of one request, in ms.
ms() { curl -s -o /dev/null -w '%{time_total}\n' -H "$auth" "$base$1" | awk '{ printf "%.1f\n", $1 * 1000 }'; }
# stats: median and max of numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[NR] }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }


grid_cold=$(ms "/api/v1/dags/big/grid?limit=25") # before the grid cache holds these runs
for _ in 1 2 3; do ms /api/v1/dags/big/grid >/dev/null; done
read -r dag_med dag_max < <(for _ in $(seq 20); do ms /api/v1/dags/big; done | stats)
read -r grid_med grid_max < <(for _ in $(seq 20); do ms "/api/v1/dags/big/grid?limit=25"; done | stats)
grid_bytes=$(curl -s -H "$auth" "$base/api/v1/dags/big/grid?limit=25" | wc -c)
both=$(awk -v a="$dag_med" -v b="$grid_med" 'BEGIN { printf "%.1f", a + b }')
render=$(node bench/web-render.js "$url" big 10)
render_med=$(echo "$render" | jq .median_ms | awk '{ printf "%.0f", $1 }')
render_max=$(echo "$render" | jq .max_ms | awk '{ printf "%.0f", $1 }')

rss_before=$(rss_kb)
wrk -t2 -c32 -d"${secs}s" --latency -H "$auth" "$base/api/v1/dags" >"$work/wrk.out"
rss_after=$(rss_kb)
# a second round: growth between rounds would be a leak, not warm-up
wrk -t2 -c32 -d"${secs}s" --latency -H "$auth" "$base/api/v1/dags" >"$work/wrk2.out"
rss_after2=$(rss_kb)
rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
total=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.out")
sockerr=$(awk '/Socket errors/ { print }' "$work/wrk.out")
dags_bytes=$(curl -s -H "$auth" "$base/api/v1/dags" | wc -c)
stop_serve

# 25 runs whose foreach has 10,000 items (250,000 instances): the grid counts
# them in one query, then keeps the finished runs' rows.
"$sf" init "$work/wide" >/dev/null
"$work/web-fill" "$work/wide" 25 0 10000
start_serve "$work/wide"
wide_cold=$(ms "/api/v1/dags/big/grid?limit=25")
read -r wide_med wide_max < <(for _ in $(seq 10); do ms "/api/v1/dags/big/grid?limit=25"; done | stats)
stop_serve

row() { printf '| %s ' "$@"; echo '|'; }
echo "## Web server (make bench-web; $(date -u "+%Y-%m-%d %H:%M UTC"), $(nproc) CPUs, $("$sf" --version))"
echo
echo "Store: $runs runs of a 100-task DAG (119 task instances each) + 100 DAGs x 5 runs," \
	"filled in ${fill} s through the store API (bench/web-fill.c)."
echo
row "measure" "median" "max" "goal"
row "---" "---" "---" "---"
row "GET /api/v1/dags/big (graph: tasks, edges, params)" "$dag_med ms" "$dag_max ms" ""
row "GET /api/v1/dags/big/grid?limit=25 ($grid_bytes bytes; first: $grid_cold ms)" "$grid_med ms" "$grid_max ms" ""
row "DAG page data (both)" "$both ms" "" "< 100 ms"
row "DAG page rendered in chromium (graph + grid + history)" "$render_med ms" "$render_max ms" "< 1000 ms"
row "grid of 25 runs with a 10,000-item foreach (first: $wide_cold ms)" "$wide_med ms" "$wide_max ms" ""
echo
row "wrk ${secs}s, 2 threads, 32 connections, GET /api/v1/dags (100 DAGs, $dags_bytes bytes)" "value"
row "---" "---"
row "requests/s" "$rps"
row "latency p50 / p99" "$p50 / $p99"
row "requests / non-2xx / socket errors" "$total / ${non2xx:-0} / ${sockerr:-none}"
row "server RSS before / after / after a 2nd round" "$((rss_before / 1024)) MB / $((rss_after / 1024)) MB / $((rss_after2 / 1024)) MB"
