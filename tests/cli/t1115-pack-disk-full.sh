#!/usr/bin/env bash
# A disk that fills during pack and during replay (docs/replication.md):
# a small tmpfs, in a private mount namespace, holds the bundle or the
# replay's data folder.  Each failure names the file it could not write and
# the reason, leaves no partial file behind, and changes nothing of the run
# it packs or replays; once there is room, the same command succeeds.
# Machines that do not allow the mount (no CAP_SYS_ADMIN) report a skip.
. "$(dirname "$0")/../lib.sh"

unshare -m true 2>/dev/null || skip_all "unshare -m is not allowed here"

A="$TRASH_BASE/A/run-data"
BUNDLE="$TRASH_BASE/good.sfpack"

# Folder A: a DAG that reads a 2 MB input and writes a 3 MB output, both
# incompressible (and the output the same in every run), in a workspace
# committed to git with a 600 kB file; run once, packed with its input.
setup() {
	[ -s "$TRASH_BASE/run" ] && return 0
	mkdir -p "$TRASH_BASE/A" && (cd "$TRASH_BASE/A" && synthflow init >/dev/null) &&
	mkdir -p "$A/src/df/dags" &&
	head -c 2000000 /dev/urandom >"$A/downloaded/in.bin" &&
	head -c 600000 /dev/urandom >"$A/src/df/blob.bin" &&
	cat >"$A/src/df/dags/df.yaml" <<-\X &&
	id: df
	tasks:
	  big:
	    run: mkdir -p {{ data }}/uploadable/df && python3 -c "import random, sys; random.seed(1); sys.stdout.buffer.write(random.randbytes(3000000))" >{{ data }}/uploadable/df/big.bin && sha256sum <{{ data }}/downloaded/in.bin | cut -c1-64 >{{ data }}/uploadable/df/in.sum
	    inputs: [downloaded/in.bin]
	    outputs: [uploadable/df/big.bin, uploadable/df/in.sum]
	X
	git -C "$A/src/df" init -q && git -C "$A/src/df" add -A &&
	git -C "$A/src/df" -c user.email=t@t -c user.name=t commit -qm df &&
	synthflow --data "$A" test df --json >"$TRASH_BASE/r.json" &&
	jq -r .run_id "$TRASH_BASE/r.json" >"$TRASH_BASE/run" &&
	synthflow --data "$A" pack "$(cat "$TRASH_BASE/run")" --with-inputs -o "$BUNDLE" >/dev/null
}

# What pack and replay must leave alone in folder A: its store and its files.
state_of_a() {
	sqlite3 "$A/flow/synthflow.db" .dump &&
	(cd "$A" && find downloaded uploadable generated src -type f | LC_ALL=C sort | xargs sha256sum)
}

# in_ns SCRIPT: runs SCRIPT (bash) in a private mount namespace, in the cwd.
in_ns() { unshare -m bash -c "set -e; export PATH='$PATH'; $1"; }

expect_success 'pack into a full disk: the error names the bundle and why; nothing is left; the run is unchanged' '
	setup && run=$(cat "$TRASH_BASE/run") &&
	state_of_a >before && mkdir mnt &&
	in_ns "
		mount -t tmpfs -o size=1m tmpfs mnt
		test_exit() { \"\$@\" && return 1; test \$? = 1; }
		test_exit synthflow --data \"$A\" pack $run -o mnt/x.sfpack 2>err
		ls -A mnt >left
		mount -o remount,size=8m mnt
		synthflow --data \"$A\" pack $run -o mnt/x.sfpack >out
		synthflow verify mnt/x.sfpack >verify
		ls -A mnt >left2
	" &&
	cat err &&
	must_contain err "^synthflow: error: writing bundle .mnt/x.sfpack. (at outputs/uploadable/df/big.bin): .*No space left on device\$" &&
	test "$(wc -l <err)" = 1 &&
	must_equal left </dev/null &&
	state_of_a >after && diff before after &&
	must_contain out "^mnt/x.sfpack: run $run, 2 outputs\$" &&
	must_contain verify "^mnt/x.sfpack: sound: run $run of .df., 2 outputs$" &&
	must_equal left2 <<-\X
	x.sfpack
	X
'

expect_success 'replay into a full disk: the workspace source, then an input, then the run'"'"'s output; then it fits' '
	setup && run=$(cat "$TRASH_BASE/run") &&
	state_of_a >before && sha256sum <"$BUNDLE" >bundle.before && mkdir mnt &&
	in_ns "
		replay() { synthflow replay \"$BUNDLE\" --data mnt/rd >\$1.out 2>\$1.err && echo 0 >\$1.rc || echo \$? >\$1.rc; }
		mount -t tmpfs -o size=400k tmpfs mnt
		replay source; test -d mnt/rd/src/df && echo yes >source.left || :
		synthflow --data mnt/rd runs list --json >source.runs
		mount -o remount,size=1800k mnt
		replay input; ls -A mnt/rd/downloaded >input.left
		synthflow --data mnt/rd runs list --json >input.runs
		mount -o remount,size=4500k mnt
		replay output
		mount -o remount,size=12m mnt
		replay fits
		synthflow --data mnt/rd runs list --json >fits.runs
	" &&
	head -n 20 *.err &&
	# the workspace source: named, and no half-unpacked src/df to be taken for the bundle'"'"'s later
	test "$(cat source.rc)" = 1 && test ! -e source.left &&
	must_contain source.err "^synthflow: error: cannot write .$TRASH/mnt/rd/src/df/blob.bin. (from workspace/source.tar): .*No space left on device\$" &&
	jq -e ".runs == []" source.runs &&
	# an input: named, no partial file
	test "$(cat input.rc)" = 1 && must_equal input.left </dev/null &&
	must_contain input.err "^synthflow: error: writing .$TRASH/mnt/rd/downloaded/in.bin.: No space left on device\$" &&
	jq -e ".runs == []" input.runs &&
	# the run fills it: the store says so, and no report claims anything
	test "$(cat output.rc)" = 1 && must_equal output.out </dev/null &&
	must_contain output.err "store .$TRASH/mnt/rd/flow/synthflow.db.: .*database or disk is full" &&
	must_contain output.err "could not be recorded to its end (see above): no report is made" &&
	# with room, the same folder replays it: every output identical
	test "$(cat fits.rc)" = 0 &&
	must_contain fits.out "2 identical, 0 different, 0 missing, 0 extra" &&
	jq -e "[.runs[] | select(.state == \"success\")] | length == 1" fits.runs &&
	state_of_a >after && diff before after &&
	sha256sum <"$BUNDLE" | diff bundle.before -
'

test_done
