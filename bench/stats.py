#!/usr/bin/env python3
"""Gaps between consecutive tasks of a chain, for bench/run.sh.

    stats.py stamps FILE     lines "I NS" written by bench/stamp.c
    stats.py run FILE        a run's JSON (synthflow test --json)

Prints "MEDIAN_MS P99_MS N": the median and 99th percentile (nearest rank)
of the gaps, in milliseconds.  For stamps a gap is task i+1's start minus
task i's start (stamp exits right after stamping).  For a run it is task
i+1's started_at minus task i's ended_at, as the engine recorded them, in
whatever resolution its timestamps have; tasks are ordered by task_id.
"""

import json
import sys
from datetime import datetime


def percentile(sorted_vals, p):
    k = max(0, min(len(sorted_vals) - 1, -(-len(sorted_vals) * p // 100) - 1))
    return sorted_vals[int(k)]


def stamp_gaps(path):
    with open(path) as f:
        stamps = sorted((int(i), int(ns)) for i, ns in (line.split() for line in f))
    return [(b[1] - a[1]) / 1e6 for a, b in zip(stamps, stamps[1:])]


def when(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run_gaps(path):
    with open(path) as f:
        run = json.load(f)
    if run.get("state") != "success":
        sys.exit(f"stats: run {run.get('run_id')} ended {run.get('state')}")
    tasks = sorted(run["tasks"], key=lambda t: t["task_id"])
    return [(when(b["started_at"]) - when(a["ended_at"])) * 1e3
            for a, b in zip(tasks, tasks[1:])]


def main(argv):
    if len(argv) != 3 or argv[1] not in ("stamps", "run"):
        sys.exit(__doc__.split("\n\n")[1])
    gaps = sorted(stamp_gaps(argv[2]) if argv[1] == "stamps" else run_gaps(argv[2]))
    if not gaps:
        sys.exit("stats: fewer than two tasks")
    print(f"{percentile(gaps, 50):.3f} {percentile(gaps, 99):.3f} {len(gaps)}")


if __name__ == "__main__":
    main(sys.argv)
