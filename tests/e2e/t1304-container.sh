#!/usr/bin/env bash
# container: WORKSPACE against a real Docker engine and a real single-node
# Slurm (tests/slurm-lib.sh): a task runs in the workspace's image (built
# here with 'synthflow build'), locally through the engine and on Slurm
# through the node's docker, with the command, environment, folder, user,
# log and exit code a plain task gets; a timeout stops its container on
# both executors; what is missing (the image, an engine, any runtime on
# the node, a serve inside another workspace) is said in the try; the
# local gpu pool's devices reach the engine as --gpus device=N.
# (apptainer and singularity, which Debian 12 does not package, are run
# as stand-ins by tests/unit/test-slurm.c.)
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/slurm-lib.sh"

W="$TRASH_BASE/shared"
DATA="$W/run-data"
# A workspace (so image) name of this run's own: other checkouts share the engine.
WS=ctr$$
IMG=synthflow/$WS:latest

cleanup() {
	if docker info >/dev/null 2>&1; then
		ids=$(docker ps -aq --filter "ancestor=$IMG")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		docker rmi --no-prune "$IMG" >/dev/null 2>&1
	fi
	slurm_stop
	rm -rf "$TRASH_BASE"
}
trap cleanup EXIT

need_docker
# A cancelled job with a docker container removes it in its SIGTERM trap
# (docs/slurm.md): Slurm's default grace before SIGKILL, not the 2 s the
# other tests use, since an engine call can take seconds on a loaded machine.
SLURM_KILL_WAIT=30 slurm_start || exit 1
export SYNTHFLOW_DATA=$DATA SYNTHFLOW_SLURM_POLL=200ms SYNTHFLOW_SLURM_FS_GRACE=5s

# the containers of this test's image still there (running or not)
left() { docker ps -aq --filter "ancestor=$IMG"; }
none_left() { test -z "$(left)"; }
# field JSON TASK KEY: an instance's value in 'synthflow test --json' output
field() { jq -r ".tasks[] | select(.task_id == \"$2\") | .$3" "$1"; }

expect_success 'the workspace image (synthflow base, then build)' '
	mkdir -p "$W" && cd "$W" && synthflow init >/dev/null &&
	synthflow new $WS >/dev/null &&
	printf "workspace: {base_image: \"synthflow-base:bookworm\"}\n" >run-data/synthflow.yaml &&
	synthflow base >/dev/null &&
	synthflow build $WS >build.out 2>&1 || { tail -n 20 build.out; exit 1; }
	docker image inspect "$IMG" >/dev/null &&
	mkdir -p run-data/src/$WS/dags &&
	cat >run-data/src/$WS/dags/ct.yaml <<-EOF
	params: {code: {type: integer, default: 0}}
	tasks:
	  inside:
	    container: $WS
	    env: {GREETING: "it'"'"'s {{ task.id }}"}
	    run: |
	      test -d /opt/synthflow || { echo "not in the image"; exit 9; }
	      mkdir -p {{ run.dir }}
	      echo "\$(id -u):\$(id -g)|\$PWD|\$GREETING|\$SF_SYNTHFLOW|\${SF_TRY_KEY:+key}" >{{ run.dir }}/seen
	      echo "log line from inside"
	      exit {{ params.code }}
	EOF
	cat >run-data/src/$WS/dags/sleeper.yaml <<-EOF
	tasks:
	  nap: {container: $WS, timeout: 2s, run: "sleep 300"}
	EOF
	cat >run-data/src/$WS/dags/missing.yaml <<-EOF
	tasks:
	  m: {container: nosuch$$, run: "true"}
	EOF
	cat >run-data/src/$WS/dags/gpu.yaml <<-EOF
	tasks:
	  g1: {container: $WS, resources: {gpus: 1}, run: "true"}
	  g2: {container: $WS, resources: {gpus: 1}, run: "true"}
	EOF
	synthflow dags validate >/dev/null
'

# same EXECUTOR: the ct DAG runs in the image with what a plain task gets
same() {
	SYNTHFLOW_FLOW_EXECUTOR=$1 synthflow test ct --json >ok.json &&
	test "$(jq -r .state ok.json)" = success &&
	run=$(jq -r .run_id ok.json) &&
	echo "$(id -u):$(id -g)|$DATA|it's inside|/usr/local/bin/synthflow|key" >want &&
	diff -u want "$DATA/generated/ct/$run/seen" &&
	synthflow tasks logs "$run" inside >log && must_contain log "^log line from inside$" &&
	test_exit 1 env SYNTHFLOW_FLOW_EXECUTOR=$1 synthflow test ct -p code=3 --json >bad.json &&
	test "$(field bad.json inside exit_code)" = 3 &&
	test "$(field bad.json inside state)" = failed &&
	none_left
}

expect_success 'locally: the task runs in the image through the engine' '
	same local
'

expect_success 'on Slurm: the job runs it through the node'"'"'s docker' '
	same slurm &&
	run=$(jq -r .run_id ok.json) &&
	script=$(find "$DATA/flow/logs/ct/$run" -name "try-1.sbatch") &&
	must_contain "$script" "^sf_container()" &&
	must_contain "$script" "sf_container; } </dev/null"
'

expect_success 'a timeout stops the container (local and Slurm)' '
	test_exit 1 env SYNTHFLOW_FLOW_EXECUTOR=local synthflow test sleeper --json >l.json &&
	test "$(field l.json nap reason)" = "timed out after 2s" &&
	none_left &&
	test_exit 1 env SYNTHFLOW_FLOW_EXECUTOR=slurm synthflow test sleeper --json >s.json &&
	test "$(field s.json nap reason)" = "timed out after 2s" &&
	: "the job removes it in its SIGTERM trap: bounded wait (30 s) for it to go" &&
	for _ in $(seq 300); do none_left && break; sleep 0.1; done &&
	{ none_left || { docker ps -a --filter "ancestor=$IMG"; exit 1; }; }
'

expect_success 'what is missing is said: the image, the engine, another workspace' '
	test_exit 1 synthflow test missing --json >m.json &&
	must_contain m.json "whose image .synthflow/nosuch$$:latest. is not in docker: build it with .synthflow build nosuch$$." &&
	test_exit 1 env SYNTHFLOW_WORKSPACE_ENGINE=podman PATH=/usr/bin:/bin:$(dirname "$(command -v synthflow)") \
		synthflow test ct --json >p.json &&
	must_contain p.json "through .podman. (workspace.engine), which is not installed on this machine" &&
	test_exit 1 env SYNTHFLOW_WORKSPACE=other synthflow test ct --json >o.json &&
	must_contain o.json "runs inside workspace .other., where no container engine is reachable" &&
	test "$(field o.json inside try)" = 1 &&
	: "inside its own workspace a serve runs the task as it is (here: not in the image, exit 9)" &&
	test_exit 1 env SYNTHFLOW_WORKSPACE=$WS synthflow test ct --json >i.json &&
	test "$(field i.json inside exit_code)" = 9
'

expect_success 'on a node: no image there, no runtime at all' '
	test_exit 1 env SYNTHFLOW_FLOW_EXECUTOR=slurm synthflow test missing --json >m.json &&
	test "$(field m.json m exit_code)" = 125 &&
	synthflow tasks logs "$(jq -r .run_id m.json)" m >log &&
	must_contain log "the image .synthflow/nosuch$$:latest. of workspace .nosuch$$. is not on node .* (docker): load it there" &&
	: "a PATH without any container runtime, which the job inherits (sbatch --export=ALL)" &&
	mkdir bare &&
	for f in /usr/bin/* /usr/local/bin/*; do
		case ${f##*/} in docker* | podman | apptainer | singularity) ;; *) ln -sf "$f" bare/ ;; esac
	done &&
	ln -sf "$(command -v synthflow)" bare/ &&
	test_exit 1 env SYNTHFLOW_FLOW_EXECUTOR=slurm PATH=$PWD/bare:/usr/sbin:/sbin synthflow test ct --json >n.json &&
	test "$(field n.json inside exit_code)" = 127 &&
	synthflow tasks logs "$(jq -r .run_id n.json)" inside >log &&
	must_contain log "workspace .$WS. (container:) needs apptainer, singularity, docker or podman on node .*: none of them is on PATH"
'

expect_success 'the local gpu pool gives each container its own device (--gpus device=N)' '
	mkdir fake &&
	cat >fake/docker <<-EOF &&
	#!/bin/sh
	# records a run (the devices it got) and succeeds; anything else goes to docker
	if [ "\$1" = run ]; then printf "%s\n" "\$@" >"$PWD/args.\$\$"; exit 0; fi
	exec $(command -v docker) "\$@"
	EOF
	chmod +x fake/docker &&
	PATH=$PWD/fake:$PATH SYNTHFLOW_FLOW_GPU_DEVICES=3,5 synthflow test gpu --json >g.json &&
	test "$(jq -r .state g.json)" = success &&
	cat args.* | grep -A1 "^--gpus$" | grep -v -- "^--" | sort >got &&
	printf "\"device=3\"\n\"device=5\"\n" >want && diff -u want got &&
	! grep -h "CUDA" args.*
'

test_done
