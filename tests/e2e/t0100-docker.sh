#!/usr/bin/env bash
# Workspaces against a real Docker engine: base image with debootstrap,
# build from hooks, run, the user's UID and file ownership, read-only
# downloaded/, loopback-only ports, shell/rshell/jupyter/web, skip and
# layer-cache behaviour, failures that leave nothing behind, and stop.
# Starts dockerd when none answers and stops it again at the end.
. "$(dirname "$0")/../lib.sh"

W="$TRASH_BASE/shared"
DATA="$W/run-data"
# A name, image and ports of this run's own: several checkouts may run this
# test at once on one engine (CI runs one).
WS=e2e$$
IMG=synthflow/$WS:latest
WEB=$(free_port)
JUP=$(free_port)
while [ "$JUP" = "$WEB" ]; do JUP=$(free_port); done
TIMES="$TEST_OUT_BASE/t0100-docker.times"
: >"$TIMES"
dockerd_pid=

cleanup() {
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
		ids=$(docker ps -aq --filter "label=synthflow.data=$DATA")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		# the layers stay behind as the next run's build cache
		docker rmi --no-prune "$IMG" >/dev/null 2>&1
	fi
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$TRASH_BASE"
}
trap cleanup EXIT

# Bounded poll: wait_for SECONDS CMD...
wait_for() {
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

engine_down() { ! curl -fsS -m 2 "http://127.0.0.1:$WEB/api/v1/health"; }

elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

if ! docker info >/dev/null 2>&1; then
	dockerd >"$TEST_OUT_BASE/t0100-dockerd.log" 2>&1 &
	dockerd_pid=$!
	wait_for 60 docker info || { echo "not ok 1 - dockerd did not start (see t0100-dockerd.log)"; exit 1; }
fi
mkdir -p "$W"
# Hooks that differ on every run, so they really run even where an earlier run left layers.
RUN_ID=$$-$(date +%s%N)
want_uid=$(id -u)
[ "$want_uid" -eq 0 ] && want_uid=1000
no_containers() { [ -z "$(docker ps -aq --filter "label=synthflow.data=$DATA")" ]; }

expect_success 'synthflow base builds (or reuses) a debootstrap image' '
	t0=$(date +%s%N) &&
	synthflow base >out &&
	must_equal out <<-X &&
	synthflow-base:bookworm
	X
	echo "base: $(elapsed_ms $t0) ms" >>"$TIMES" &&
	docker image inspect synthflow-base:bookworm >/dev/null
'

expect_success 'new and build from hooks (apt package, pip requirement, hooks)' '
	cd "$W" && synthflow init >/dev/null && cd run-data &&
	printf "workspace: {base_image: \"synthflow-base:bookworm\"}\nports: {web: $WEB, jupyter: $JUP}\n" >synthflow.yaml &&
	synthflow new $WS >/dev/null &&
	c=src/$WS/container &&
	printf "# small on purpose: CI builds this\ntree\njupyter-notebook  # for synthflow jupyter\n" >$c/packages.txt &&
	printf "# already there from apt: pip must accept it offline\ntornado\n# run $RUN_ID\n" \
		>$c/requirements.txt &&
	printf "#!/bin/sh\necho post-install-marker $RUN_ID >/post-install-marker\n" >$c/post-install.sh &&
	chmod -x $c/post-install.sh &&
	printf "#!/bin/sh\nid -u >/tmp/pre-run-uid\n" >$c/pre-run.sh &&
	t0=$(date +%s%N) &&
	synthflow build $WS >out 2>err &&
	echo "image build: $(elapsed_ms $t0) ms" >>"$TIMES" &&
	must_contain out "built $IMG" &&
	must_contain err "running hook post-install.sh" &&
	must_contain err "running hook requirements.txt" &&
	must_contain build-data/$WS/Dockerfile "sf-apt\", \"tree\", \"jupyter-notebook\"" &&
	must_contain build-data/$WS/build.log "running hook post-install.sh" &&
	test ! -x $c/post-install.sh
'

# Guarantee: nothing is built (the engine is asked for image ids only).  A
# skip takes about 0.1 s on a quiet machine; 5 s (the 5x rule, and far from
# the minutes a real build takes) keeps a loaded machine from failing it.
expect_success 'a second build with nothing changed is skipped (no build, under 5 s)' '
	cd "$DATA" &&
	t0=$(date +%s%N) && synthflow build $WS >out && ms=$(elapsed_ms $t0) &&
	echo "skipped build: $ms ms" >>"$TIMES" &&
	must_contain out "up to date" && test "$ms" -lt 5000
'

expect_success 'a failing hook fails the build, naming it and showing its output' '
	cd "$DATA" && c=src/$WS/container && cp $c/post-install.sh post-install.good &&
	printf "#!/bin/sh\necho boom-from-the-hook\nexit 3\n" >$c/post-install.sh &&
	test_exit 1 synthflow build $WS 2>err &&
	must_contain err "hook .post-install.sh. exited with status 3" &&
	must_contain err "boom-from-the-hook" &&
	cp post-install.good $c/post-install.sh &&
	synthflow build $WS >out && must_contain out "up to date"
'

# The layers up to the engine's, from the bottom of docker history (image
# ids: the legacy builder's), and every layer's content digest (any builder).
lower_layers() {
	docker history --no-trunc --format "{{.ID}} {{.CreatedBy}}" $IMG |
		tac | sed "/sf-engine-install/q"
}
layer_digests() {
	docker image inspect -f "{{range .RootFS.Layers}}{{println .}}{{end}}" $IMG |
		sed "/^\$/d"
}

expect_success 'a post-install change rebuilds only the layers after it' '
	cd "$DATA" && lower_layers >before && must_contain before sf-engine-install &&
	layer_digests >digests-before &&
	echo "echo changed >>/post-install-marker" >>src/$WS/container/post-install.sh &&
	t0=$(date +%s%N) && synthflow build $WS >out 2>err &&
	echo "post-install rebuild: $(elapsed_ms $t0) ms" >>"$TIMES" &&
	must_contain err "running hook post-install.sh" &&
	must_not_contain err "running hook packages.txt" &&
	must_not_contain err "running hook requirements.txt" &&
	lower_layers >after && diff before after &&
	layer_digests >digests-after && n=$(wc -l <digests-after) &&
	same=$(paste -d" " digests-before digests-after | awk "\$1 != \$2 { exit } { c++ } END { print c + 0 }") &&
	echo "$same of $n layers kept" &&
	test "$same" -lt "$n" && test "$same" -ge $((n - 5))
'

# A DAG that writes where the example does: its run folder in generated/
# and a folder of uploadable/ that each run replaces.
write_share_dag() {
	cat >src/$WS/dags/share.yaml <<-\X
	id: share
	tasks:
	  write:
	    run: mkdir -p {{ run.dir }}/out && echo {{ run.id }} >{{ run.dir }}/out/f && rm -rf {{ data }}/uploadable/share && mkdir -p {{ data }}/uploadable/share && cp {{ run.dir }}/out/f {{ data }}/uploadable/share/
	X
}

expect_success 'a DAG run on the host before the workspace starts (as make demo does)' '
	cd "$DATA" && write_share_dag &&
	synthflow test share --json >out.json &&
	test "$(jq -r .state out.json)" = success &&
	test -d generated/share && test -d uploadable/share &&
	test "$(stat -c %u generated/share)" = "$(id -u)"
'

expect_success 'run --detach: the engine answers, user UID, /data, read-only downloaded/' '
	cd "$DATA" && echo data >downloaded/d.txt &&
	find . -path ./build-data -prune -o -printf "%U:%G %p\n" | LC_ALL=C sort -k2 >"$W/owners-before" &&
	t0=$(date +%s%N) && synthflow run $WS --detach >out 2>err &&
	echo "run --detach: $(elapsed_ms $t0) ms" >>"$TIMES" &&
	must_contain out "http://127.0.0.1:$WEB/?token=" &&
	curl -fsS http://127.0.0.1:$WEB/api/v1/health >h && must_contain h "ok" &&
	test "$(synthflow shell -- id -u)" = "$want_uid" &&
	test "$(synthflow shell -- pwd)" = /data/src/$WS &&
	test "$(synthflow shell -- hostname)" = synthflow &&
	synthflow shell -- touch /data/generated/from-container &&
	test "$(stat -c %u generated/from-container)" = "$want_uid" &&
	test_exit 1 synthflow shell -- touch /data/downloaded/nope 2>/dev/null &&
	test_exit 1 synthflow rshell -- touch /data/downloaded/nope 2>/dev/null &&
	test ! -e downloaded/nope &&
	test "$(synthflow shell -- cat /data/downloaded/d.txt)" = data &&
	test "$(synthflow rshell -- id -u)" = 0 &&
	test "$(synthflow rshell -- cat /tmp/pre-run-uid)" = 0 &&
	synthflow shell -- cat /post-install-marker >m && must_contain m changed &&
	synthflow shell -- tree --version >/dev/null
'

expect_success 'ports are published on 127.0.0.1 only' '
	docker port synthflow-$WS >ports &&
	must_contain ports "127.0.0.1:$WEB" && must_contain ports "127.0.0.1:$JUP" &&
	must_not_contain ports "0.0.0.0" && must_not_contain ports "::" &&
	ss -ltnH >ss && must_contain ss "127.0.0.1:$WEB " &&
	must_not_contain ss "0.0.0.0:$WEB " && must_not_contain ss "\*:$WEB " &&
	must_not_contain ss "0.0.0.0:$JUP " && must_not_contain ss "\[::\]:$JUP "
'

expect_success 'web prints the UI URL with its token, and the API accepts it' '
	cd "$DATA" && synthflow web >url &&
	must_contain url "^http://127.0.0.1:$WEB/?token=" &&
	token=$(sed "s/.*token=//" url) &&
	curl -fsS -H "Authorization: Bearer $token" http://127.0.0.1:$WEB/api/v1/dags >dags &&
	must_contain dags "$WS-example"
'

# The workspace user writes into the folders the host run made (as root on
# CI: grants on what already existed), and the host then runs over what the
# workspace made.
expect_success 'the same DAG through the container API succeeds, then on the host again' '
	cd "$DATA" && token=$(synthflow web | sed "s/.*token=//") &&
	curl -fsS -H "Authorization: Bearer $token" -H "Content-Type: application/json" -d "{}" \
		http://127.0.0.1:$WEB/api/v1/dags/share/runs >trig &&
	run=$(jq -r .run_id trig) &&
	run_ended() {
		curl -fsS -H "Authorization: Bearer $token" http://127.0.0.1:$WEB/api/v1/runs/$run >r.json &&
			jq -e ".state == \"success\" or .state == \"failed\"" r.json
	} &&
	wait_for 60 run_ended &&
	jq -e ".state == \"success\"" r.json || { cat r.json; false; } &&
	test "$(cat uploadable/share/f)" = "$run" &&
	test "$(stat -c %u generated/share/$run)" = "$want_uid" &&
	synthflow test share --json >host.json &&
	test "$(jq -r .state host.json)" = success &&
	test "$(cat uploadable/share/f)" = "$(jq -r .run_id host.json)"
'

expect_success 'web starts the engine again after it stopped' '
	cd "$DATA" &&
	cat >generated/kill-serve.sh <<-\X &&
	for p in /proc/[0-9]*; do
		cmd=$(tr "\0" " " <"$p/cmdline" 2>/dev/null) || continue
		case $cmd in "synthflow serve"*) kill "${p#/proc/}" || true ;; esac
	done
	X
	synthflow rshell -- sh /data/generated/kill-serve.sh &&
	wait_for 10 engine_down &&
	synthflow web >url 2>err && must_contain err "starting it" &&
	curl -fsS http://127.0.0.1:$WEB/api/v1/health
'

expect_success 'jupyter starts from the image and answers with its token' '
	cd "$DATA" && t0=$(date +%s%N) && synthflow jupyter >url &&
	echo "jupyter start: $(elapsed_ms $t0) ms" >>"$TIMES" &&
	must_contain url "^http://127.0.0.1:$JUP/?token=" &&
	curl -fsS -o /dev/null "$(cat url)" &&
	token=$(sed "s/.*token=//" url) &&
	curl -fsS -o /dev/null -H "Authorization: token $token" http://127.0.0.1:$JUP/api/contents &&
	test "$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$JUP/api/contents)" = 403 &&
	synthflow jupyter >again && diff url again
'

expect_success 'status shows the image, state, ports, GPUs and health' '
	cd "$DATA" && synthflow status >st &&
	must_contain st "synthflow-$WS (running)" && must_contain st "$IMG" &&
	must_contain st "127.0.0.1:$WEB" && must_contain st "gpus" && must_contain st healthy &&
	synthflow status --json | jq -e ".state == \"running\" and .engine == \"healthy\" and .ports.web == $WEB"
'

expect_success 'a second run is refused while the workspace runs' '
	cd "$DATA" && test_exit 1 synthflow run $WS --detach 2>err && must_contain err "already running" &&
	synthflow shell -- true
'

expect_success 'stop leaves nothing running; run-data kept, nothing re-owned' '
	cd "$DATA" && synthflow stop >out && must_contain out "stopped synthflow-$WS" && no_containers &&
	test -f generated/from-container && test -f downloaded/d.txt &&
	find . -path ./build-data -prune -o -printf "%U:%G %p\n" | LC_ALL=C sort -k2 >owners-after &&
	LC_ALL=C join -j 2 "$W/owners-before" owners-after | awk "\$2 != \$3 { print; bad = 1 } END { exit bad }" &&
	synthflow status >st && must_contain st "no workspace container"
'

expect_success 'a port in use: clear error, no container left behind' '
	cd "$DATA"
	python3 -m http.server --bind 127.0.0.1 $WEB >/dev/null 2>&1 &
	pid=$!
	ok=0
	if wait_for 20 curl -s -o /dev/null http://127.0.0.1:$WEB/ &&
		test_exit 1 synthflow run $WS --detach 2>err; then
		ok=1
	fi
	kill $pid
	wait $pid 2>/dev/null || true
	[ $ok = 1 ] && must_contain err "port $WEB on 127.0.0.1 is already in use" && no_containers
'

expect_success 'a failing pre-run.sh: the error names it, no container left behind' '
	cd "$DATA" && c=src/$WS/container && cp $c/pre-run.sh pre-run.good &&
	printf "#!/bin/sh\necho prerun-broke\nexit 4\n" >$c/pre-run.sh &&
	synthflow build $WS >/dev/null 2>&1 &&
	test_exit 1 synthflow run $WS --detach 2>err &&
	must_contain err "pre-run.sh failed" && must_contain err prerun-broke && no_containers &&
	cp pre-run.good $c/pre-run.sh && synthflow build $WS >/dev/null 2>&1
'

expect_success 'run without --detach opens a shell and stops with it' '
	cd "$DATA" &&
	echo "id -u >/data/generated/attached" | synthflow run >out 2>err &&
	test "$(cat generated/attached)" = "$want_uid" && must_contain err "stopping workspace" &&
	no_containers
'

test_done
