#!/usr/bin/env bash
# synthflow.yaml from the key table (src/core/config.c): the file init writes,
# file:line:col errors for bad values and unknown keys, environment overrides,
# and no warning for the slurm keys, which the Slurm executor acts on.
. "$(dirname "$0")/../lib.sh"

expect_success 'init writes every key commented out, and the file loads as is' '
	synthflow init >/dev/null &&
	for k in "# engine: docker" "# gpus: auto" "# web: 8881" "# parallelism: 0" \
		"# poll: 5s" "# bind: 127.0.0.1" "# port: 8881"; do
		must_contain run-data/synthflow.yaml "^  $k" || exit 1
	done &&
	must_contain run-data/synthflow.yaml "^slurm: .*# the Slurm executor" &&
	must_not_contain run-data/synthflow.yaml "not acted on yet" &&
	synthflow runs list >out 2>err && must_contain out "no runs yet" && test ! -s err
'

expect_success 'bad values and unknown names are errors at file:line:col' '
	synthflow init >/dev/null &&
	printf "web:\n  port: 99999\n  bnd: x\nflow:\n  executor: slurmm\n  parallelism: -1\nslurm:\n  poll: 10ms\n  fs_grace: soon\nwrkspace: {}\n" >run-data/synthflow.yaml &&
	test_exit 1 synthflow runs list 2>err &&
	must_contain err "synthflow.yaml:2:9: error: .web.port.: expected an integer from 0 to 65535, got .99999." &&
	must_contain err "synthflow.yaml:3:3: error: unknown key .bnd. in .web. (did you mean .bind.?)" &&
	must_contain err "synthflow.yaml:5:13: error: .flow.executor.: expected .local. or .slurm., got .slurmm." &&
	must_contain err "synthflow.yaml:6:16: error: .flow.parallelism.: expected an integer of at least 0, got .-1." &&
	must_contain err "synthflow.yaml:8:9: error: .slurm.poll.: expected a duration of at least 100ms, got .10ms." &&
	must_contain err "synthflow.yaml:9:13: error: .slurm.fs_grace.: expected a duration such as 500ms" &&
	must_contain err "synthflow.yaml:10:1: error: unknown section .wrkspace. (did you mean .workspace.?)"
'

expect_success 'durations as in DAG files; the slurm keys are acted on (no warning)' '
	synthflow init >/dev/null &&
	printf "slurm:\n  poll: 1500ms\n" >run-data/synthflow.yaml &&
	synthflow runs list >out 2>err &&
	test ! -s err
'

expect_success 'SYNTHFLOW_<SECTION>_<KEY> overrides the file, checked the same way' '
	synthflow init >/dev/null &&
	printf "workspace:\n  engine: podman\n" >run-data/synthflow.yaml &&
	SYNTHFLOW_WORKSPACE_ENGINE=dockr test_exit 1 synthflow runs list 2>err &&
	must_contain err "SYNTHFLOW_WORKSPACE_ENGINE: expected .docker. or .podman., got .dockr." &&
	SYNTHFLOW_PORTS_WEB=0 test_exit 1 synthflow runs list 2>err &&
	must_contain err "SYNTHFLOW_PORTS_WEB: expected an integer from 1 to 65535, got .0." &&
	SYNTHFLOW_SLURM_FS_GRACE=2m synthflow runs list >out 2>err &&
	test ! -s err
'

test_done
