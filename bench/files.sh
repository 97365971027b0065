#!/usr/bin/env bash
# make bench-files: files arriving in downloaded/ (docs/events.md) with a
# real `synthflow serve`, real inotify and real files.
#
#   bench/files.sh                      full size (1,000 and 100,000 files)
#   BENCH_SCALE=0.02 bench/files.sh     both sizes times 0.02 (t1009 runs it so)
#
# Environment: BENCH_SCALE (1), BENCH_QUIET_MS (100), BENCH_RESCANS (10),
# SYNTHFLOW (build/synthflow), BENCH_KEEP=1 keeps the work folder.
#
# (a) Arrival latency, 1,000 files: from the moment a file is complete
#     (renamed into downloaded/, which sets its ctime) to its run
#     being recorded (the run's created_at: the arrival and the queued run are
#     one transaction) and to its run starting (started_at), minus the quiet
#     period (BENCH_QUIET_MS, kept small so that it does not dominate; the
#     watcher cannot act before it ends, so it is subtracted).  Paced: one
#     file every 20 ms, so each arrives on its own; burst: all of them moved
#     into downloaded/ at once.  Median and p99.  The DAG allows every run at
#     once (max_active_runs) so run start is the scheduler's pick-up, not a
#     queue.  The peer is the floor: a bare inotify reader (Python, ctypes)
#     timing the same paced files from the rename to its IN_MOVED_TO event.
#     Goal: from a file's arrival to its run's start, under 50 ms plus the
#     quiet period (median and p99 of the paced files).
# (b) 100,000 files (100 folders) that no DAG takes, already there when
#     serve starts: the time until every one is recorded, then the full
#     rescan (synthflow_watcher_rescan_seconds, flow.rescan 2s, median and
#     best of BENCH_RESCANS samples 2 s apart) against find(1) walking and
#     stat-ing the same tree right after each sample (so both meet the same
#     load), wall time and CPU time (synthflow_watcher_rescan_cpu_seconds
#     against find's user + sys), and serve's memory (VmRSS, VmHWM) against
#     serve with an empty downloaded/.  Goal: a rescan of 100,000 files
#     under 1 s.
. "$(dirname "$0")/lib.sh"
files=$(size 1000)
big=$(size 100000)
quiet=${BENCH_QUIET_MS:-100}
export SYNTHFLOW_WEB_PORT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-files.XXXXXX")
serve_pid=""
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# data NAME: a fresh data folder with the DAG `lat` taking *.f.
data() {
	d=$work/$1
	"$sf" init "$d" >/dev/null
	mkdir -p "$d/src/bench/dags"
	cat >"$d/src/bench/dags/lat.yaml" <<-YAML
	params:
	  f: {type: string}
	max_active_runs: $((files + 10))
	on_file: {glob: "*.f", quiet: ${quiet}ms, params: {f: "{{ file.rel }}"}}
	tasks:
	  a: {run: "true"}
	YAML
}

# serve_start NAME [ENV...]: serve on data folder NAME; sets serve_pid, url, auth.
serve_start() {
	d=$work/$1
	shift
	env "$@" "$sf" --data "$d" serve --port 0 >"$d/serve.out" 2>"$d/serve.err" &
	serve_pid=$!
	for _ in $(seq 600); do
		grep -q '^http://' "$d/serve.out" 2>/dev/null && break
		sleep 0.1
	done
	u=$(grep -m1 '^http://' "$d/serve.out") || { cat "$d/serve.err" >&2; exit 1; }
	url=${u%%/\?token=*}
	auth="Authorization: Bearer ${u##*token=}"
}
serve_stop() {
	kill "$serve_pid" && wait "$serve_pid" || true
	serve_pid=""
}
metric() { curl -sf -H "$auth" "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# wait_runs NAME N STATE_FIELD: until N runs of lat have STATE_FIELD set (600 s at most).
wait_runs() {
	for _ in $(seq 6000); do
		n=$("$sf" --data "$work/$1" runs list lat --limit 0 --json |
			jq "[.runs[] | select(.$3 != null)] | length")
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "bench: only $n of $2 runs have $3" >&2
	exit 1
}

# latencies NAME: "created started" ms per run, quiet period subtracted.
latencies() {
	"$sf" --data "$work/$1" runs list lat --limit 0 --json >"$work/$1.runs.json"
	python3 - "$work/$1.runs.json" "$work/$1/downloaded" "$quiet" <<-'PY'
	import json, os, sys
	from datetime import datetime, timezone
	runs, dl, quiet = json.load(open(sys.argv[1]))["runs"], sys.argv[2], float(sys.argv[3])
	def ms(t):
	    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000
	for r in runs:
	    st = os.stat(os.path.join(dl, r["params"]["f"]))
	    m = max(st.st_mtime_ns, st.st_ctime_ns) / 1e6  # written, or moved in (rename sets ctime)
	    print("%.1f %.1f" % (ms(r["created_at"]) - m - quiet, ms(r["started_at"]) - m - quiet))
	PY
}

# stats COLUMN FILE: "median p99" of a column of numbers.
stats() {
	cut -d" " -f"$1" "$2" | sort -n | awk '{ v[NR] = $1 } END {
		if (!NR) { print "- | -"; exit }
		p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
		printf "%.0f ms | %.0f ms\n", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[p] }'
}
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

# ---- (a) latency ----
data paced
serve_start paced
# written under a hidden name and renamed into place, as a downloader does:
# a file created empty and written a moment later is, on a loaded machine,
# sometimes unchanged for longer than a 100 ms quiet period (and then two
# arrivals, the empty file and the written one, as docs/events.md says)
python3 - "$work/paced/downloaded" "$files" <<-'PY'
import os, sys, time
dl, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    tmp = os.path.join(dl, ".%d.part" % i)
    with open(tmp, "w") as f:
        f.write("x")
    os.rename(tmp, os.path.join(dl, "%d.f" % i))
    time.sleep(0.02)
PY
wait_runs paced "$files" started_at
lag=$(metric synthflow_watcher_lag_seconds)
serve_stop
latencies paced >"$work/paced.lat"

data burst
mkdir "$work/stage"
for i in $(seq "$files"); do printf x >"$work/stage/$i.f"; done
serve_start burst
mv "$work/stage"/*.f "$work/burst/downloaded/"
wait_runs burst "$files" started_at
serve_stop
latencies burst >"$work/burst.lat"

# the peer: the kernel's notification alone, for paced files like the above
mkdir "$work/peer"
python3 - "$work/peer" "$files" >"$work/peer.lat" <<-'PY'
import ctypes, os, struct, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
folder, n = sys.argv[1].encode(), int(sys.argv[2])
fd = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(fd, folder, 0x80)  # IN_MOVED_TO
for i in range(n):
    p, tmp = os.path.join(folder, b"%d.f" % i), os.path.join(folder, b".%d.part" % i)
    with open(tmp, "wb") as f:
        f.write(b"x")
    os.rename(tmp, p)
    m = os.stat(p).st_ctime_ns
    while True:
        try:
            buf = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.0005)
            continue
        break
    print("%.2f" % ((time.time_ns() - m) / 1e6))
    time.sleep(0.02)
PY

# ---- (b) 100,000 files ----
data empty
serve_start empty
sleep 3
rss0=$(awk '/^VmRSS/ { print $2 }' /proc/$serve_pid/status)
serve_stop

data big
python3 - "$work/big/downloaded" "$big" <<-'PY'
import os, sys
dl, n = sys.argv[1], int(sys.argv[2])
per = max(1, n // 100)
for i in range(n):
    d = os.path.join(dl, "d%03d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "clip%06d.wav" % i), "wb") as f:
        f.write(b"RIFF")
PY
t0=$(date +%s.%N)
serve_start big SYNTHFLOW_FLOW_RESCAN=2s
for _ in $(seq 6000); do
	n=$("$sf" --data "$work/big" files --json | jq '[.[] | select(.state == "arrived")] | length')
	[ "$n" -ge "$big" ] && break
	sleep 0.5
done
first_s=$(since "$t0")
# each sample: serve's last rescan, then find over the same tree at once, so
# both meet the same load (the other engineers' builds come and go)
load0=$(cut -d" " -f1 /proc/loadavg)
: >"$work/rescans"
TIMEFORMAT='%R %U %S'
for _ in $(seq "${BENCH_RESCANS:-10}"); do
	sleep 2
	r=$(metric synthflow_watcher_rescan_seconds)
	c=$(metric synthflow_watcher_rescan_cpu_seconds)
	f=$({ time find "$work/big/downloaded" -printf '%s %T@ %i\n' >/dev/null; } 2>&1)
	echo "$r $c $f" >>"$work/rescans"
done
load1=$(cut -d" " -f1 /proc/loadavg)
rss=$(awk '/^VmRSS/ { print $2 }' /proc/$serve_pid/status)
hwm=$(awk '/^VmHWM/ { print $2 }' /proc/$serve_pid/status)
serve_stop
# "rescan wall, rescan CPU, find wall, find CPU (user + sys)" per sample
awk '{ printf "%s %s %s %.3f\n", $1, $2, $3, $4 + $5 }' "$work/rescans" >"$work/samples"
col() { cut -d" " -f"$1" "$work/samples" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rescan_med=$(col 1)
rescan_min=$(cut -d" " -f1 "$work/samples" | sort -n | head -n 1)
cpu_med=$(col 2)
find_med=$(col 3)
find_cpu=$(col 4)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }

echo "## Files in downloaded/ (make bench-files; $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d" " -f1 /proc/loadavg), synthflow $("$sf" --version | awk '{ print $NF }') at $(git rev-parse --short HEAD 2>/dev/null || echo "?"))"
echo
echo "| (a) $files files, quiet period ${quiet} ms subtracted | median | p99 | goal |"
echo "| --- | ---: | ---: | --- |"
echo "| paced (one per 20 ms): file complete -> run recorded | $(stats 1 "$work/paced.lat") |  |"
echo "| paced: file complete -> run started | $(stats 2 "$work/paced.lat") | < 50 ms |"
echo "| burst (all moved in at once): file complete -> run recorded | $(stats 1 "$work/burst.lat") |  |"
echo "| burst: file complete -> run started | $(stats 2 "$work/burst.lat") |  |"
echo "| peer: bare inotify reader (Python), paced: file complete -> event read | $(stats 1 "$work/peer.lat") |  |"
echo
echo "synthflow_watcher_lag_seconds after the paced files: $lag"
echo
echo "| (b) $big files in 100 folders, no DAG takes them | value | peer | ratio | goal |"
echo "| --- | ---: | ---: | ---: | --- |"
printf '| full rescan, wall (median of %s; best %s s) vs find -printf size, mtime, inode right after it | %s s | %s s | %s | < 1 s |\n' \
	"$(wc -l <"$work/samples")" "$rescan_min" "$rescan_med" "$find_med" "$(ratio "$rescan_med" "$find_med")"
printf '| full rescan, CPU time (synthflow_watcher_rescan_cpu_seconds) vs find user + sys | %s s | %s s | %s |  |\n' \
	"$cpu_med" "$find_cpu" "$(ratio "$cpu_med" "$find_cpu")"
printf '| serve start until every file is recorded (5 s default quiet period included) | %.1f s |  |  |  |\n' "$first_s"
printf '| serve VmRSS after the rescans vs serve with an empty downloaded/ | %d MiB | %d MiB | %s |  |\n' \
	$((rss / 1024)) $((rss0 / 1024)) "$(awk -v a="$rss" -v b="$rss0" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')"
printf '| serve VmHWM (peak) | %d MiB |  |  |  |\n' $((hwm / 1024))
echo
echo "Load average while sampling the rescans: $load0 at the first, $load1 at the last."
