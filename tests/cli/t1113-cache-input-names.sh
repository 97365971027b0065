#!/usr/bin/env bash
# input_names (docs/dags.md, docs/replication.md "Content cache"): a cached
# task that only links the files of a folder has the names below it in its
# key, not their bytes.  A changed file re-runs only the instances that read
# it (through the link); a new or removed file re-runs the linking task; a
# linked file is packed with --with-inputs as the file the link points to;
# pack --with-image refuses a run that has no workspace image to carry.
. "$(dirname "$0")/../lib.sh"

# setup: downloaded/ds/ with three files; task `link` links each into the
# run (relative links), task `use` copies each linked file upper-cased; both
# log each run of theirs to run-data/ran.log
setup() {
	synthflow init >/dev/null &&
	mkdir -p run-data/src/w/dags run-data/downloaded/ds/sub &&
	git -C run-data/src/w init -q && git -C run-data/src/w config user.email t@t &&
	git -C run-data/src/w config user.name t &&
	echo one >run-data/downloaded/ds/a.txt && echo two >run-data/downloaded/ds/b.txt &&
	echo three >run-data/downloaded/ds/sub/c.txt &&
	cat >run-data/src/w/dags/n.yaml <<-\EOF &&
	id: n
	defaults: {cache: true}
	tasks:
	  link:
	    run: >-
	      rm -rf {{ run.dir }}/links && mkdir -p {{ run.dir }}/links &&
	      for f in {{ data }}/downloaded/ds/*.txt {{ data }}/downloaded/ds/sub/*.txt; do
	      test -e "$f" || continue;
	      ln -s "$(realpath --relative-to={{ run.dir }}/links "$f")" {{ run.dir }}/links/"${f##*/}"; done &&
	      echo link >>{{ data }}/ran.log
	    input_names: ["downloaded/ds"]
	    outputs: ["{{ run.dir }}/links"]
	  use:
	    needs: [link]
	    foreach: "{{ run.dir }}/links/*.txt"
	    run: >-
	      mkdir -p {{ run.dir }}/up && tr a-z A-Z <{{ item }} >{{ run.dir }}/up/{{ item.name }} &&
	      echo "use {{ item.name }}" >>{{ data }}/ran.log
	    outputs: ["{{ run.dir }}/up/{{ item.name }}"]
	EOF
	git -C run-data/src/w add -A && git -C run-data/src/w commit -qm dag
}

# run_n: one run; what ran into ./ran (sorted)
run_n() {
	: >run-data/ran.log &&
	synthflow test n --json >run.json &&
	jq -e ".state == \"success\"" run.json >/dev/null &&
	sort run-data/ran.log >ran
}

expect_success 'input_names: paths like inputs (file:line:col), shown by dags show' '
	synthflow init >/dev/null && mkdir -p run-data/src/w/dags &&
	cat >run-data/src/w/dags/a.yaml <<-\EOF &&
	id: a
	tasks:
	  t:
	    run: "true"
	    input_names: [/etc, "x/../../y"]
	  u:
	    run: "true"
	    input_names: "downloaded/x"
	EOF
	test_exit 1 synthflow dags validate 2>err &&
	must_contain err "a.yaml:5:19: error: '\''input_names'\'' entry '\''/etc'\'' is absolute" &&
	must_contain err "a.yaml:5:25: error: '\''input_names'\'' entry '\''x/../../y'\'' leaves its folder" &&
	must_contain err "a.yaml:8:18: error: '\''input_names'\''" &&
	setup && rm run-data/src/w/dags/a.yaml &&
	synthflow dags show n >out &&
	must_contain out "input names: downloaded/ds" &&
	synthflow dags show n --json | jq -e ".tasks[] | select(.task_id == \"link\") | .input_names == [\"downloaded/ds\"]" >/dev/null
'

expect_success 'a changed file re-runs only its reader; a new or removed name re-runs the linker' '
	setup &&
	run_n &&
	must_equal ran <<-\EOF &&
	link
	use a.txt
	use b.txt
	use c.txt
	EOF
	run_n && test ! -s ran &&
	echo TWO >run-data/downloaded/ds/b.txt &&
	run_n &&
	must_equal ran <<-\EOF &&
	use b.txt
	EOF
	run=$(jq -r .run_id run.json) &&
	test "$(cat run-data/generated/n/$run/up/b.txt)" = TWO &&
	test "$(cat run-data/generated/n/$run/up/a.txt)" = ONE &&
	# the restored links point into this data folder, relative
	test "$(readlink run-data/generated/n/$run/links/c.txt)" = ../../../../downloaded/ds/sub/c.txt &&
	echo three >run-data/downloaded/ds/sub/d.txt &&
	run_n &&
	must_equal ran <<-\EOF &&
	link
	use d.txt
	EOF
	rm run-data/downloaded/ds/a.txt &&
	run_n &&
	must_equal ran <<-\EOF &&
	link
	EOF
	test "$(jq "[.tasks[] | select(.task_id == \"use\")] | length" run.json)" = 3 &&
	# a folder that is not there is a key of its own; its arrival runs the linker
	mv run-data/downloaded/ds run-data/downloaded/gone &&
	run_n &&
	must_equal ran <<-\EOF &&
	link
	EOF
	# back as it was two runs ago: that key is known, nothing runs
	mv run-data/downloaded/gone run-data/downloaded/ds &&
	run_n && test ! -s ran &&
	run=$(jq -r .run_id run.json) &&
	test "$(cat run-data/generated/n/$run/up/d.txt)" = THREE
'

expect_success 'pack --with-inputs carries the files the links point to' '
	setup &&
	run_n && run=$(jq -r .run_id run.json) &&
	synthflow runs show "$run" --json >show.json &&
	jq -e "[.tasks[] | select(.task_id == \"use\") | .provenance.item.target] | sort == [\"downloaded/ds/a.txt\", \"downloaded/ds/b.txt\", \"downloaded/ds/sub/c.txt\"]" show.json >/dev/null &&
	synthflow pack "$run" -o n.sfpack --with-inputs >out &&
	synthflow verify n.sfpack &&
	tar --zstd -xOf n.sfpack sfpack.json >meta.json &&
	jq -e "[.inputs[].path] | sort == [\"downloaded/ds/a.txt\", \"downloaded/ds/b.txt\", \"downloaded/ds/sub/c.txt\"]" meta.json >/dev/null &&
	# the links of the run are carried as the files they point to
	tar --zstd -tvf n.sfpack >list &&
	grep " outputs/generated/n/$run/links/c.txt$" list >line && ! grep -q "^l" line &&
	mkdir B && synthflow replay n.sfpack --data "$PWD/B" >rep &&
	must_contain rep "identical" &&
	# --with-image (tests/e2e/t1106): a run on the host has no image to carry
	test_exit 1 synthflow pack "$run" --with-image -o i.sfpack 2>err &&
	must_contain err "run .$run. was not made inside a workspace, so it has no image to pack" &&
	# nor has one whose container did not say which image it is
	SYNTHFLOW_WORKSPACE=w synthflow test n --json >ws.json &&
	test_exit 1 synthflow pack "$(jq -r .run_id ws.json)" --with-image -o i.sfpack 2>err &&
	must_contain err "does not record the id of its workspace image" &&
	! ls i.sfpack* 2>/dev/null
'

test_done
