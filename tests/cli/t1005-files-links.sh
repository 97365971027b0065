#!/usr/bin/env bash
# Symbolic links and downloaded/ (docs/events.md): links inside downloaded/
# are never followed, so loops of links cannot trap the watcher, and each is
# listed as not handled; downloaded/ itself replaced by a link while serve
# runs is followed, and files that were already handled are not run again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-web.sh"
. "$(dirname "$0")/lib-files.sh"

# loops D: links that lead back into D, to each other, to nowhere, outside.
loops() {
	ln -s . "$1/self.wav" && ln -s ../.. "$1/up" && ln -s "$PWD/$1" "$1/abs.wav" &&
	ln -s b.wav "$1/a.wav" && ln -s a.wav "$1/b.wav" && ln -s nowhere "$1/dangling.wav" &&
	ln -s .. "$1/Loop.clipper" && ln -s /etc/hostname "$1/host.wav" &&
	mkdir -p "$1/deep/er" && ln -s ../../deep "$1/deep/er/back" && echo 1 >"$1/deep/er/real.wav"
}

# start_serve_bound SRC DST [SRC DST ...]: serve in a mount namespace of its
# own in which each DST is a bind mount of SRC (nothing outside it sees them).
start_serve_bound() {
	pairs=$(printf "'%s' " "$@") &&
	mkdir -p bin &&
	cat >bin/synthflow <<-EOF &&
	#!/bin/sh
	exec unshare --mount --propagation private sh -c 'while [ "\$1" != -- ]; do mount --bind "\$1" "\$2" || exit 1; shift 2; done; shift; exec "\$0" "\$@"' "$(command -v synthflow)" $pairs-- "\$@"
	EOF
	chmod +x bin/synthflow && PATH=$PWD/bin:$PATH start_serve
}

expect_success 'links and loops of links: listed as links, never followed, no run; real files run once' '
	files_init && files_sets_dag && trap stop_serve EXIT &&
	loops run-data/downloaded && mkdir run-data/downloaded/Real.clipper &&
	echo x >run-data/downloaded/Real.clipper/1.flac &&
	start_serve &&
	wait_runs wav 1 && wait_runs sets 1 &&
	why="ignored (a symbolic link; links in downloaded/ are not followed)" &&
	for l in self.wav abs.wav a.wav b.wav dangling.wav host.wav; do
		wait_for 10 status_is $l "$why" wav || exit 1
	done &&
	wait_for 10 status_is Loop.clipper "$why" sets &&
	wait_for 10 status_is up "$why" && wait_for 10 status_is deep/er/back "$why" &&
	must_contain run-data/serve.err "self.wav. in downloaded/: a symbolic link" &&
	test "$(metric synthflow_watcher_rescan_seconds | cut -d. -f1)" -lt 5 &&
	mkdir run-data/downloaded/later && loops run-data/downloaded/later &&
	wait_runs wav 2 && wait_for 10 status_is later/self.wav "$why" &&
	wait_for 10 status_is later/deep/er/back "$why" &&
	stop_serve && start_serve && sleep 2.5 &&
	test "$(runs_of wav)" -eq 2 && test "$(runs_of sets)" -eq 1
'

expect_success 'the rescan alone (inotify off) walks past loops of links too' '
	files_init && trap stop_serve EXIT &&
	export SYNTHFLOW_FLOW_INOTIFY=false SYNTHFLOW_FLOW_RESCAN=200ms &&
	loops run-data/downloaded && start_serve &&
	wait_runs wav 1 && sleep 2 && test "$(runs_of wav)" -eq 1 &&
	test "$(metric synthflow_watcher_rescan_seconds | cut -d. -f1)" -lt 5
'

expect_success 'bind mount loops (folders that are a folder above them): listed, not walked, nothing runs twice' '
	unshare --mount --propagation private true 2>/dev/null ||
		test_skip "no mount namespace here (unshare needs CAP_SYS_ADMIN) to make a bind mount loop in"
	files_init && files_sets_dag && trap stop_serve EXIT &&
	export SYNTHFLOW_FLOW_RESCAN=300ms &&
	D=$PWD/run-data/downloaded &&
	mkdir -p $D/d/loop $D/Set.clipper/deep/up &&
	echo 1 >$D/d/a.wav && echo 2 >$D/Set.clipper/1.flac &&
	start_serve_bound $D $D/d/loop $D/Set.clipper $D/Set.clipper/deep/up &&
	wait_runs wav 1 && wait_runs sets 1 &&
	why="ignored (the same folder as one above it (a bind mount loop); not walked)" &&
	wait_for 10 status_is d/loop "$why" &&
	must_contain run-data/serve.err "d/loop. in downloaded/: the same folder as one above it" &&
	run=$(synthflow runs list sets --json | jq -r ".runs[0].run_id") &&
	# a loop made while serve runs (in its namespace): a mount is no inotify
	# event, so the next rescan meets it
	mkdir -p $D/new/loop && echo 3 >$D/new/b.wav && wait_runs wav 2 &&
	nsenter -t "$(cat run-data/serve.pid)" -m mount --bind $D $D/new/loop &&
	wait_for 10 status_is new/loop "$why" &&
	sleep 2 && test "$(runs_of wav)" -eq 2 && test "$(runs_of sets)" -eq 1 &&
	test "$(metric synthflow_watcher_rescan_seconds | cut -d. -f1)" -lt 5 &&
	test "$(synthflow files --json | jq "[.[] | select(.path | test(\"loop/|up/\"))] | length")" -eq 0
'

expect_success 'downloaded/ replaced by a link while serve runs: followed, nothing run twice' '
	files_init && trap stop_serve EXIT &&
	export SYNTHFLOW_FLOW_RESCAN=1s &&
	echo 1 >run-data/downloaded/a.wav && start_serve && wait_runs wav 1 &&
	run_a=$(file_status a.wav) &&
	mv run-data/downloaded moved && ln -s "$PWD/moved" run-data/downloaded &&
	wait_for 20 grep -q "run-data/downloaded. now leads to .$PWD/moved." run-data/serve.err &&
	echo 22 >moved/b.wav && wait_runs wav 2 &&
	test "$(file_status a.wav)" = "$run_a" &&
	mkdir other && echo 333 >other/c.wav &&
	ln -sfn "$PWD/other" run-data/downloaded &&
	wait_runs wav 3 && wait_for 20 grep -q "now leads to .$PWD/other." run-data/serve.err &&
	ln -sfn "$PWD/moved" run-data/downloaded &&
	wait_for 20 log_has 2 "now leads to .$PWD/moved." &&
	wait_for 10 status_is a.wav "$run_a" &&
	rm run-data/downloaded &&
	wait_for 20 grep -q "cannot read .*run-data/downloaded.*not picked up until it is back" run-data/serve.err &&
	echo 4444 >moved/d.wav && sleep 2 && test "$(runs_of wav)" -eq 3 &&
	ln -s "$PWD/moved" run-data/downloaded && wait_runs wav 4 &&
	sleep 2.5 && test "$(runs_of wav)" -eq 4 &&
	synthflow files wav --json | jq -e "[.[] | select(.state == \"run\") | .path] | sort == [\"a.wav\", \"b.wav\", \"c.wav\", \"d.wav\"]"
'

test_done
