#!/usr/bin/env bash
# The local executor's resources: `cpus` counted against flow.parallelism,
# `gpus` from a pool of devices (flow.gpu_devices here: this machine has no
# GPU; `nvidia-smi -L` is a stand-in script on PATH in one test), each try
# given its own devices in CUDA_VISIBLE_DEVICES, SF_CPUS and SF_GPUS, tries
# waiting until what they need is free, impossible requests failing the run
# before anything starts.
#
# Overlaps are caught by the tasks themselves: a try claims each of its
# devices (and as many CPU slots as it holds) with mkdir, which fails when
# another running try holds it; and by the tries' recorded intervals.
. "$(dirname "$0")/../lib.sh"

setup() {
	synthflow init d >/dev/null && mkdir -p d/src/r/dags d/downloaded/in &&
	for i in $(seq -w 1 "${1:-8}"); do printf x >"d/downloaded/in/f$i.txt"; done &&
	mkdir -p locks &&
	cat >claim.sh <<-"SH"
	# claim.sh: holds its devices and CPU slots for a moment; a clash is written to bad
	L=$TRASH/locks
	echo "$SF_TASK_ID ${CUDA_VISIBLE_DEVICES-unset} $SF_GPUS $SF_CPUS ${CUDA_DEVICE_ORDER-unset}" >>"$TRASH/seen"
	held=""
	for d in $(echo "${CUDA_VISIBLE_DEVICES-}" | tr , " "); do
		if [ "$SF_GPUS" -gt 0 ]; then
			mkdir "$L/gpu$d" 2>/dev/null && held="$held gpu$d" || echo "gpu $d taken ($SF_TASK_ID)" >>"$TRASH/bad"
		fi
	done
	n=0
	for s in $(seq 0 $((${SLOTS:-4} - 1))); do
		[ $n -lt "$SF_CPUS" ] || break
		mkdir "$L/cpu$s" 2>/dev/null && { held="$held cpu$s"; n=$((n + 1)); }
	done
	[ $n -eq "$SF_CPUS" ] || echo "only $n of $SF_CPUS cpu slots free ($SF_TASK_ID)" >>"$TRASH/bad"
	sleep 0.2
	for h in $held; do rmdir "$L/$h"; done
	# a batch (its items are the arguments) reports each of them
	i=0
	for f in "$@"; do printf "%d\tok\n" $i; i=$((i + 1)); done >"${SF_RESULTS:-/dev/null}"
	SH
}
dag() { cat >d/src/r/dags/r.yaml; }
show() { synthflow --data d runs show "$1" --json; }

# From `runs show --json`: the most cpus held at once by the recorded tries
# (a try holds its task's cpus from started_at to ended_at; the times are
# ISO 8601 in UTC, which sort as text; at equal times an end comes first).
max_cpus() {
	jq -r --argjson cpus "$2" '.tasks[] | select(.started_at != null) |
		"\(.started_at) \($cpus[.task_id])\n\(.ended_at) -\($cpus[.task_id])"' "$1" |
	sort -k1,1 -k2,2n | awk '{ c += $2; if (c > m) m = c } END { print m + 0 }'
}

expect_success 'gpus: every try gets its own devices, never shared, as many as it asked for' '
	setup 8 && dag <<-"YAML" &&
	id: r
	tasks:
	  one:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    resources: {gpus: 1}
	    run: sh {{ data }}/../claim.sh
	  two:
	    foreach: "{{ data }}/downloaded/in/f[1-4].txt"
	    resources: {gpus: 2}
	    run: sh {{ data }}/../claim.sh
	  cpu:
	    run: sh {{ data }}/../claim.sh
	YAML
	SYNTHFLOW_FLOW_GPU_DEVICES="0, 2,5" SYNTHFLOW_FLOW_PARALLELISM=16 SLOTS=16 \
		CUDA_VISIBLE_DEVICES=7 synthflow --data d test r >out 2>err &&
	run=$(head -n1 out) && show "$run" >s &&
	test "$(jq "[.tasks[] | select(.state == \"success\")] | length" s)" = 13 &&
	test ! -e bad &&
	test "$(grep -c "^one " seen)" = 8 && test "$(grep -c "^two " seen)" = 4 &&
	awk "\$1 == \"one\" && !(\$2 ~ /^(0|2|5)\$/ && \$3 == 1 && \$4 == 1 && \$5 == \"PCI_BUS_ID\") { exit 1 }" seen &&
	awk "\$1 == \"two\" && !(\$2 ~ /^(0|2|5),(0|2|5)\$/ && \$3 == 2 && \$4 == 1) { exit 1 }" seen &&
	awk "\$1 == \"two\" { split(\$2, d, \",\"); if (d[1] == d[2]) exit 1 }" seen &&
	grep "^two " seen | cut -d" " -f2 | tr , "\n" | sort -u >used && test "$(wc -l <used)" -ge 2 &&
	test "$(grep "^cpu " seen)" = "cpu 7 0 1 unset" &&
	must_not_contain err "does not act on"
'

expect_success 'cpus count against flow.parallelism: never more held at once, a task asking for all of them waits its turn' '
	setup 6 && dag <<-"YAML" &&
	id: r
	tasks:
	  small:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    run: sh {{ data }}/../claim.sh
	  pair:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    resources: {cpus: 2}
	    run: sh {{ data }}/../claim.sh
	  all:
	    needs: []
	    resources: {cpus: 4}
	    run: sh {{ data }}/../claim.sh
	  batched:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    batch: 3
	    resources: {cpus: 3}
	    run: sh {{ data }}/../claim.sh {{ items }}
	YAML
	SYNTHFLOW_FLOW_PARALLELISM=4 synthflow --data d test r >out 2>err &&
	run=$(head -n1 out) && show "$run" >s &&
	test "$(jq "[.tasks[] | select(.state == \"success\")] | length" s)" = 19 &&
	test ! -e bad &&
	awk "\$1 == \"pair\" && \$4 != 2 || \$1 == \"all\" && \$4 != 4 || \$1 == \"small\" && \$4 != 1 { exit 1 }" seen &&
	awk "\$2 != \"unset\" { exit 1 }" seen &&
	test "$(grep -c "^batched " seen)" = 2 &&
	jq "{tasks: (([.tasks[] | select(.task_id == \"batched\")] | group_by(.started_at) | map(.[0]))
		+ [.tasks[] | select(.task_id != \"batched\")])}" s >once &&
	test "$(max_cpus once "{\"small\": 1, \"pair\": 2, \"all\": 4, \"batched\": 3}")" -le 4
'

expect_success 'a try waiting for a gpu holds back later gpu tries only: cpu-only work goes on' '
	setup 1 && dag <<-"YAML" &&
	id: r
	tasks:
	  hold:
	    resources: {gpus: 1}
	    run: touch {{ data }}/../held; i=0; while [ ! -e {{ data }}/../go ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done; test -e {{ data }}/../go
	  gate:
	    run: i=0; while [ ! -e {{ data }}/../held ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	  queued:
	    needs: [gate]
	    resources: {gpus: 1}
	    run: "true"
	  after_queued:
	    needs: [gate]
	    run: "true"
	  free:
	    needs: [after_queued]
	    run: touch {{ data }}/../go
	YAML
	SYNTHFLOW_FLOW_GPU_DEVICES=0 SYNTHFLOW_FLOW_PARALLELISM=2 synthflow --data d test r >out 2>err &&
	run=$(head -n1 out) && show "$run" >s &&
	test "$(jq "[.tasks[] | select(.state == \"success\")] | length" s)" = 5 &&
	jq -r ".tasks[] | \"\(.started_at) \(.task_id)\"" s | sort | cut -d" " -f2 | tr "\n" " " >order &&
	test "$(cut -d" " -f3- order)" = "after_queued free queued "
'

expect_success 'a gpu comes back when its try times out or fails, and the next try gets it' '
	setup 1 && dag <<-"YAML" &&
	id: r
	tasks:
	  slow:
	    resources: {gpus: 1}
	    timeout: 300ms
	    run: sleep 30
	  flaky:
	    resources: {gpus: 1}
	    retries: 2
	    retry_delay: 10ms
	    run: test -e {{ data }}/../again || { touch {{ data }}/../again; exit 3; }
	  after:
	    needs: [slow]
	    trigger: all_done
	    resources: {gpus: 1}
	    run: echo "$CUDA_VISIBLE_DEVICES" >{{ data }}/../after
	YAML
	SYNTHFLOW_FLOW_GPU_DEVICES=3 synthflow --data d test r >out 2>err &&
	run=$(head -n1 out) && show "$run" >s &&
	jq -e ".tasks[] | select(.task_id == \"slow\") | .state == \"failed\"" s &&
	jq -e ".tasks[] | select(.task_id == \"flaky\") | .state == \"success\" and .try == 2" s &&
	jq -e ".tasks[] | select(.task_id == \"after\") | .state == \"success\"" s &&
	test "$(cat after)" = 3
'

expect_success 'asking for more than there is fails the run before anything starts' '
	setup 1 && dag <<-"YAML" &&
	id: r
	tasks:
	  first:
	    run: touch {{ data }}/../ran
	  big:
	    resources: {cpus: 5}
	    run: "true"
	YAML
	test_exit 1 env SYNTHFLOW_FLOW_PARALLELISM=4 synthflow --data d test r >out 2>err &&
	run=$(head -n1 out) && show "$run" >s &&
	jq -r .reason s >reason &&
	must_contain reason "task .big. asks for 5 cpus but flow.parallelism is 4" &&
	test ! -e ran &&
	dag <<-"YAML" &&
	id: r
	tasks:
	  first:
	    run: touch {{ data }}/../ran
	  train:
	    resources: {gpus: 3}
	    run: "true"
	YAML
	test_exit 1 env SYNTHFLOW_FLOW_GPU_DEVICES=0,1 synthflow --data d test r >out 2>err &&
	show "$(head -n1 out)" | jq -r .reason >reason &&
	must_contain reason "task .train. asks for 3 gpus but this machine.s pool holds 2 (flow.gpu_devices)" &&
	test_exit 1 env SYNTHFLOW_FLOW_GPU_DEVICES=none synthflow --data d test r >out 2>err &&
	show "$(head -n1 out)" | jq -r .reason >reason &&
	must_contain reason "asks for 3 gpus but this machine.s pool holds 0 (flow.gpu_devices)" &&
	test ! -e ran
'

expect_success 'without flow.gpu_devices the pool is what nvidia-smi -L lists (none without it)' '
	setup 1 && dag <<-"YAML" &&
	id: r
	tasks:
	  train:
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    resources: {gpus: 2}
	    run: echo "$CUDA_VISIBLE_DEVICES" >{{ data }}/../devs
	YAML
	mkdir bin && cat >bin/nvidia-smi <<-"SH" &&
	#!/bin/sh
	[ "$1" = -L ] || exit 2
	echo "GPU 0: NVIDIA GeForce RTX 3090 (UUID: GPU-1b2c)"
	echo "GPU 1: NVIDIA GeForce RTX 3090 (UUID: GPU-3d4e)"
	SH
	chmod +x bin/nvidia-smi &&
	PATH=$PWD/bin:$PATH synthflow --data d test r >out 2>err &&
	test "$(cat devs)" = "0,1" &&
	rm bin/nvidia-smi &&
	test_exit 1 env PATH="$PWD/bin:$(echo "$PATH" | tr : "\n" | while read -r p; do [ -x "$p/nvidia-smi" ] || printf "%s:" "$p"; done)" \
		synthflow --data d test r >out 2>err &&
	show "$(head -n1 out)" | jq -r .reason >reason &&
	must_contain reason "pool holds 0 (found with .nvidia-smi -L.)"
'

expect_success 'flow.gpu_devices is checked; slurm-only resources warn under the local executor' '
	setup 1 &&
	sed -i "s/^  # gpu_devices: .*/  gpu_devices: \"0,1,0\"/" d/synthflow.yaml &&
	test_exit 1 synthflow --data d dags list >out 2>err &&
	must_contain err "synthflow.yaml:19:16: error: .flow.gpu_devices.: expected device indices" &&
	test_exit 1 env SYNTHFLOW_FLOW_GPU_DEVICES=gpu0 synthflow --data d dags list >out 2>err &&
	must_contain err "expected device indices such as \"0,1\" (each once) or .none., got .gpu0." &&
	synthflow init e >/dev/null && mkdir -p e/src/r/dags && dag <<-"YAML" &&
	id: r
	tasks:
	  t:
	    resources: {cpus: 1, gpus: 1, mem: 4G, partition: gpu}
	    run: "true"
	YAML
	cp d/src/r/dags/r.yaml e/src/r/dags/ &&
	SYNTHFLOW_FLOW_GPU_DEVICES=0 synthflow --data e test r >out 2>err &&
	must_contain err "task .t.: the local executor does not act on mem, partition (only cpus and gpus)"
'

expect_success 'serve: a run cancelled while its tries wait for cpus and gpus ends cancelled, and the pool serves the next run' '
	synthflow init >/dev/null && mkdir -p run-data/src/r/dags run-data/downloaded/in &&
	for i in 1 2 3 4; do printf x >run-data/downloaded/in/f$i.txt; done &&
	cat >run-data/src/r/dags/hog.yaml <<-"YAML" &&
	id: hog
	tasks:
	  hog:
	    resources: {gpus: 1}
	    run: touch {{ data }}/hog.started; i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	  gate:
	    run: i=0; while [ ! -e {{ data }}/hog.started ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	  waiters:
	    needs: [gate]
	    foreach: "{{ data }}/downloaded/in/*.txt"
	    resources: {gpus: 1}
	    run: touch {{ data }}/waiter.started
	  wide:
	    needs: [gate]
	    resources: {cpus: 2}
	    run: touch {{ data }}/wide.started
	YAML
	cat >run-data/src/r/dags/next.yaml <<-"YAML" &&
	id: next
	tasks:
	  use:
	    resources: {gpus: 1, cpus: 2}
	    run: echo "$CUDA_VISIBLE_DEVICES $SF_CPUS" >{{ data }}/next.out
	YAML
	export SYNTHFLOW_FLOW_GPU_DEVICES=4 SYNTHFLOW_FLOW_PARALLELISM=2 &&
	{ synthflow serve 2>>serve.log & } && echo $! >serve.pid &&
	trap "kill \$(cat serve.pid) 2>/dev/null" EXIT &&
	for i in $(seq 100); do grep -q "scheduler running" serve.log && break; sleep 0.05; done &&
	run=$(synthflow trigger hog) &&
	for i in $(seq 200); do test -f run-data/hog.started && break; sleep 0.05; done &&
	test -f run-data/hog.started &&
	for i in $(seq 200); do synthflow runs show "$run" --json >s && jq -e ".tasks[] | select(.task_id == \"gate\") | .state == \"success\"" s >/dev/null && break; sleep 0.05; done &&
	test "$(jq "[.tasks[] | select(.state == \"queued\")] | length" s)" = 5 &&
	synthflow runs cancel "$run" >/dev/null &&
	for i in $(seq 200); do test "$(synthflow runs show "$run" --json | jq -r .state)" = cancelled && break; sleep 0.05; done &&
	synthflow runs show "$run" --json >s &&
	test "$(jq -r .state s)" = cancelled &&
	test "$(jq "[.tasks[] | select(.state == \"cancelled\")] | length" s)" = 6 &&
	test ! -e run-data/waiter.started && test ! -e run-data/wide.started &&
	synthflow trigger next --wait >/dev/null &&
	test "$(cat run-data/next.out)" = "4 2"
'

test_done
