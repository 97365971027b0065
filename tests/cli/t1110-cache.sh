#!/usr/bin/env bash
# The content cache (docs/replication.md, "Content cache"): tasks with
# cache: true are skipped when an earlier successful instance had the same
# key, their outputs restored; what changes the key re-runs exactly the
# instances it reaches.
. "$(dirname "$0")/../lib.sh"

# setup: a DAG whose tasks log each run of theirs to run-data/ran.log: a
# batched foreach over downloaded/in/*.txt (upper-cases each file into the
# run's folder) and a task joining them into uploadable/all.txt
setup() {
	synthflow init >/dev/null &&
	mkdir -p run-data/src/w/dags run-data/downloaded/in &&
	for i in 1 2 3 4; do echo "clip $i" >"run-data/downloaded/in/c$i.txt"; done &&
	cat >run-data/src/w/dags/c.yaml <<-\EOF
	id: c
	params:
	  suffix: {type: string, default: "!"}
	  unused: {type: integer, default: 1}
	defaults: {cache: true}
	tasks:
	  upper:
	    foreach: "downloaded/in/*.txt"
	    batch: 3
	    run: >-
	      i=0; tr "\0" "\n" <"$SF_ITEMS" | while IFS= read -r f; do
	      mkdir -p {{ run.dir }}/up && { tr a-z A-Z <"$f"; echo {{ params.suffix }}; } >{{ run.dir }}/up/"${f##*/}" &&
	      echo "upper ${f##*/}" >>{{ data }}/ran.log && printf "%d\tok\n" $i >>"$SF_RESULTS"; i=$((i+1)); done
	    outputs: ["{{ run.dir }}/up/{{ item.rel }}"]
	  join:
	    needs: [upper]
	    run: cat {{ run.dir }}/up/* >{{ data }}/uploadable/all.txt && echo join >>{{ data }}/ran.log
	    inputs: ["{{ run.dir }}/up"]
	    outputs: ["uploadable/all.txt"]
	EOF
}

# run_c [ARGS]: one run; what ran into ./ran (sorted), instances into ./states
run_c() {
	: >run-data/ran.log &&
	synthflow test c "$@" --json >run.json &&
	sort run-data/ran.log >ran &&
	jq -r '.tasks[] | "\(.task_id) \(.index // "-") \(.state) \(if .cached then "cached" else "ran" end)"' run.json >states
}

expect_success 'cache: true needs declared outputs; a bad value is refused (file:line:col)' '
	synthflow init >/dev/null && mkdir -p run-data/src/w/dags &&
	cat >run-data/src/w/dags/a.yaml <<-\EOF &&
	id: a
	tasks:
	  t:
	    run: "true"
	    cache: true
	  u:
	    run: "true"
	    cache: maybe
	    outputs: [x]
	EOF
	cat >run-data/src/w/dags/b.yaml <<-\EOF &&
	id: b
	defaults: {cache: true}
	tasks:
	  t:
	    run: "true"
	  u:
	    run: "true"
	    cache: false
	EOF
	test_exit 1 synthflow dags validate 2>err &&
	must_contain err "a.yaml:5:12: error: task '\''t'\'' has '\''cache: true'\'' but declares no '\''outputs'\''" &&
	must_contain err "a.yaml:8:12: error: '\''cache'\'' must be true or false, found '\''maybe'\''" &&
	must_contain err "b.yaml:4:3: error: task '\''t'\'' is cached by '\''defaults: {cache: true}'\'' (line 2) but declares no '\''outputs'\''" &&
	must_not_contain err "b.yaml:6"
'

expect_success 'an unchanged re-run restores every output and runs nothing' '
	setup &&
	run_c && first=$(jq -r .run_id run.json) &&
	must_equal ran <<-\EOF &&
	join
	upper c1.txt
	upper c2.txt
	upper c3.txt
	upper c4.txt
	EOF
	! grep -q cached states &&
	cp run-data/uploadable/all.txt all.first &&
	rm run-data/uploadable/all.txt &&
	run_c && second=$(jq -r .run_id run.json) &&
	test ! -s ran &&
	must_equal states <<-\EOF &&
	join - success cached
	upper 0 success cached
	upper 1 success cached
	upper 2 success cached
	upper 3 success cached
	EOF
	jq -e "[.tasks[].reason] | all(. == \"outputs restored from the cache (made by run $first)\")" run.json &&
	jq -e ".state == \"success\"" run.json &&
	cmp all.first run-data/uploadable/all.txt &&
	diff -r "run-data/generated/c/$first/up" "run-data/generated/c/$second/up" &&
	# the same in runs show and in provenance
	synthflow runs show "$second" --json >show &&
	jq -e "[.tasks[] | select(.cached == true)] | length == 5" show &&
	test "$(sqlite3 run-data/flow/synthflow.db "select count(*) from provenance where run_id = '\''$second'\'' and doc like '\''%\"cached\":true%'\''")" = 5 &&
	synthflow cache list >list &&
	must_contain list "^5 entries" && must_contain list "c.upper\[3\]" && must_contain list "c.join " &&
	synthflow cache list --json >list.json &&
	jq -e "length == 5 and all(.[]; .run_id == \"$first\" and .files == 1)" list.json
'

expect_success 'a changed input byte re-runs exactly its instance and what is downstream' '
	setup &&
	run_c && run_c && test ! -s ran &&
	# a new modification time alone changes nothing: keys are by content
	touch -d "2001-01-01" run-data/downloaded/in/c3.txt && run_c && test ! -s ran &&
	echo "clip 3 changed" >run-data/downloaded/in/c3.txt &&
	run_c &&
	must_equal ran <<-\EOF &&
	join
	upper c3.txt
	EOF
	must_equal states <<-\EOF &&
	join - success ran
	upper 0 success cached
	upper 1 success cached
	upper 2 success ran
	upper 3 success cached
	EOF
	must_contain run-data/uploadable/all.txt "CLIP 3 CHANGED" &&
	must_contain run-data/uploadable/all.txt "CLIP 4"
'

expect_success 'a param the command uses re-runs; one it does not use does not' '
	setup &&
	run_c && run_c -p unused=7 && test ! -s ran &&
	run_c -p suffix=? && test "$(wc -l <ran)" = 5 &&
	must_contain run-data/uploadable/all.txt "^?$" &&
	# both are in the cache now
	run_c && test ! -s ran && run_c -p suffix=? && test ! -s ran
'

expect_success 'a changed command or workspace lock re-runs the tasks it reaches' '
	setup &&
	run_c && run_c && test ! -s ran &&
	sed -i "s/echo join/echo join; echo changed >\/dev\/null; echo join/" run-data/src/w/dags/c.yaml &&
	run_c && must_equal ran <<-\EOF &&
	join
	EOF
	# inside a workspace the lock is part of every key
	mkdir -p run-data/src/w/container && echo "lock 1" >run-data/src/w/container/synthflow.lock &&
	SYNTHFLOW_WORKSPACE=w run_c && test "$(wc -l <ran)" = 5 &&
	SYNTHFLOW_WORKSPACE=w run_c && test ! -s ran &&
	echo "lock 2" >run-data/src/w/container/synthflow.lock &&
	SYNTHFLOW_WORKSPACE=w run_c && test "$(wc -l <ran)" = 5
'

expect_success 'cache gc removes unused entries and the files only they needed' '
	setup &&
	run_c &&
	echo "clip 1 changed" >run-data/downloaded/in/c1.txt && run_c &&
	synthflow cache gc >gc && must_contain gc "^removed 0 entries and 0 objects" &&
	test "$(ls run-data/flow/cache/entries/*/*.json | wc -l)" = 7 &&
	# entries last used before the newest run: upper[0] and join of the first run
	touch -d "2001-01-01" $(grep -l "\"index\": 0" run-data/flow/cache/entries/*/*.json | head -n 1) &&
	synthflow cache gc --older-than 30d >gc &&
	must_contain gc "^removed 1 entry and 1 object" &&
	test_exit 2 synthflow cache gc --older-than soon 2>err &&
	must_contain err "not a duration" &&
	synthflow cache gc --older-than 1ms >gc && must_contain gc "kept 0 entries and 0 objects" &&
	test -z "$(find run-data/flow/cache/objects -type f)" &&
	run_c && test "$(wc -l <ran)" = 5
'

test_done
