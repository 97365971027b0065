#!/usr/bin/env bash
# Batched fan-out (batch: N beside foreach): one process per N items, items in
# $SF_ITEMS (NUL-separated) and {{ items }}, outcomes per item from
# $SF_RESULTS, one row per item, only failed items retried, unreported items
# failed, timeout and log per batch, max_active counting batches, metrics
# split per item.
. "$(dirname "$0")/../lib.sh"

setup() {
	synthflow init d >/dev/null && mkdir -p d/src/b/dags d/downloaded/in &&
	for i in $(seq -w 1 25); do printf x >"d/downloaded/in/f $i.txt"; done &&
	printf x >"d/downloaded/in/tab	and
newline.txt"
}
dag() { cat >d/src/b/dags/b.yaml; }
show() { synthflow --data d runs show "$1" --json; }

expect_success 'outcomes per item: ok, failed with a reason, unreported; only failed items retried' '
	setup && dag <<-"YAML" &&
	id: b
	tasks:
	  each:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    batch: 10
	    retries: 1
	    retry_delay: 10ms
	    run: sh src/b/batch.sh {{ items }}
	YAML
	cat >d/src/b/batch.sh <<-"SH" &&
	echo "batch of $#: $(tr -cd "\0" <"$SF_ITEMS" | wc -c)"
	printf "%s\0" "$@" | cmp -s - "$SF_ITEMS" || echo "order differs"
	i=0
	for f in "$@"; do
	  case $f in
	  *"f 03"*) printf "%d\tfailed\tunreadable header\n" $i ;;
	  *"f 07"*) [ -e "$f.seen" ] && printf "%d\tok\n" $i; touch "$f.seen" ;;
	  *) printf "%d\tok\n" $i ;;
	  esac
	  i=$((i + 1))
	done >"$SF_RESULTS"
	echo "12	ok" >>"$SF_RESULTS"; echo "junk" >>"$SF_RESULTS"
	SH
	test_exit 1 synthflow --data d test b >out 2>err && run=$(head -n1 out) &&
	show "$run" >s &&
	test "$(jq "[.tasks[] | select(.task_id == \"each\")] | length" s)" = 26 &&
	test "$(jq -r "[.tasks[] | select(.state == \"failed\") | .reason] | join(\"|\")" s)" = "failed in its batch: unreadable header" &&
	jq -e ".tasks[] | select(.item | endswith(\"f 07.txt\")) | .state == \"success\" and .try == 2" s &&
	jq -e ".tasks[] | select(.item | endswith(\"f 03.txt\")) | .try == 2" s &&
	test "$(jq "[.tasks[] | select(.try == 1 and .state == \"success\")] | length" s)" = 24 &&
	ls d/flow/logs/b/$run/ >logs && test "$(grep -c . logs)" -le 6 &&
	cat d/flow/logs/b/$run/*/try-1.log >all &&
	must_contain all "batch of 10: 10" && must_contain all "batch of 6: 6" &&
	must_not_contain all "order differs" &&
	must_contain all "2 line(s) are not .INDEX<TAB>ok|failed\[<TAB>reason\]. with INDEX under 10"
'

expect_success 'a batch that dies without reporting fails its unreported items; timeout per batch' '
	setup && dag <<-"YAML" &&
	id: b
	tasks:
	  each:
	    foreach: "{{ data }}/downloaded/in/f 0*.txt"
	    batch: 4
	    timeout: 1s
	    run: sh -c '\''printf "0\tok\n" >"$SF_RESULTS"; case $1 in *"f 05"*) sleep 30;; *) exit 3;; esac'\'' sh {{ items }}
	YAML
	test_exit 1 synthflow --data d test b >out 2>err && run=$(head -n1 out) &&
	show "$run" >s &&
	test "$(jq "[.tasks[] | select(.state == \"success\" and .reason == null)] | length" s)" = 3 &&
	test "$(jq "[.tasks[] | select(.reason == \"its batch ended without reporting it (exit code 3)\")] | length" s)" = 3 &&
	test "$(jq "[.tasks[] | select(.state == \"failed\" and .reason == \"timed out after 1s\")] | length" s)" = 3
'

expect_success 'max_active and parallelism count batches, not items' '
	setup && dag <<-"YAML" &&
	id: b
	tasks:
	  each:
	    foreach: "{{ data }}/downloaded/in/f*.txt"
	    batch: 5
	    max_active: 2
	    run: sh -c '\''mkdir "$SF_DATA/active.$$"; n=$(ls -d "$SF_DATA"/active.* | wc -l); echo $n >>"$SF_DATA/peaks"; sleep 0.2; rmdir "$SF_DATA/active.$$"; i=0; for f; do printf "%d\tok\n" $i; i=$((i+1)); done >"$SF_RESULTS"'\'' sh {{ items }}
	YAML
	synthflow --data d test b >out 2>err &&
	test "$(wc -l <d/peaks)" = 5 && test "$(sort -n d/peaks | tail -n1)" -le 2 &&
	test "$(sort -n d/peaks | tail -n1)" = 2
'

expect_success 'metrics of a batch go to the instance each line names' '
	setup && dag <<-"YAML" &&
	id: b
	tasks:
	  each:
	    foreach: "{{ data }}/downloaded/in/f 1*.txt"
	    batch: 100
	    run: >-
	      sh -c '\''i=0; for f; do printf "{\"item\": \"%s\", \"n\": %d}\n" "$f" $i; printf "%d\tok\n" $i >>"$SF_RESULTS"; i=$((i+1)); done >"$SF_METRICS"'\'' sh {{ items }}
	YAML
	synthflow --data d test b >out 2>err && run=$(head -n1 out) &&
	show "$run" >s &&
	test "$(jq ".metrics | length" s)" = 10 &&
	jq -e "all(.metrics[]; .item == .metrics.item and .index == .metrics.n)" s
'

expect_success '{{ items }} inside quotes or glued to a word is refused by the validator' '
	setup && dag <<-"YAML" &&
	id: b
	tasks:
	  each:
	    foreach: "{{ data }}/downloaded/in/f 01.txt"
	    batch: 2
	    run: echo "{{ items }}" x{{ items }}
	YAML
	test_exit 1 synthflow --data d test b >out 2>err &&
	must_contain err "have errors and were skipped" &&
	test_exit 1 synthflow --data d dags validate >out 2>err &&
	must_contain err "b.yaml:6:16: error: .{{ items }}. must stand outside quotes" &&
	must_contain err "b.yaml:6:30: error: .{{ items }}. must be a word of its own" &&
	synthflow --data d runs list >runs &&
	must_contain runs "no runs yet"
'

test_done
