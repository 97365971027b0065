#!/usr/bin/env bash
# Workspaces without an engine: new, name and folder checks, the messages
# when no engine is installed or answering, usage errors.  (The real engine
# is exercised by tests/e2e/t0100-docker.sh.)
. "$(dirname "$0")/../lib.sh"

# A docker CLI that answers like one whose daemon is down (or forbidden).
fake_docker() {
	mkdir -p fakebin
	cat >fakebin/docker <<-EOS
	#!/bin/sh
	echo "$1" >&2
	exit 1
	EOS
	chmod +x fakebin/docker
}

expect_success 'new copies the template hooks and adds an example DAG' '
	synthflow init >/dev/null && cd run-data &&
	synthflow new clipper >out &&
	for h in packages.txt requirements.txt pre-install.sh post-install.sh pre-run.sh; do
		test -f src/clipper/container/$h || { echo "missing $h"; exit 1; }
	done &&
	test -x src/clipper/container/post-install.sh &&
	must_contain src/clipper/dags/example.yaml "id: clipper-example" &&
	must_contain out "synthflow build clipper" &&
	synthflow dags validate src/clipper/dags/example.yaml
'

expect_success 'new keeps a cloned repository and refuses existing hooks' '
	synthflow init >/dev/null && cd run-data &&
	mkdir -p src/repo/dags && echo "id: mine" >src/repo/dags/mine.yaml && echo code >src/repo/x.py &&
	synthflow new repo >/dev/null &&
	test ! -e src/repo/dags/example.yaml && must_contain src/repo/x.py code &&
	echo edited >>src/repo/container/packages.txt &&
	test_exit 1 synthflow new repo 2>err &&
	must_contain err "already has its hooks" &&
	must_contain src/repo/container/packages.txt edited
'

expect_success 'bad workspace names are refused with the reason' '
	synthflow init >/dev/null && cd run-data &&
	test_exit 1 synthflow new a/b 2>err && must_contain err "contains ./." &&
	test_exit 1 synthflow build .. 2>err && must_contain err "must not start with" &&
	test_exit 1 synthflow build ../../etc 2>err && must_contain err "contains ./." &&
	test_exit 1 synthflow run "a;b" 2>err && must_contain err "has the character" &&
	test_exit 1 synthflow new template 2>err && must_contain err "template" &&
	test ! -e ../etc && test ! -e src/a
'

expect_success 'build names what is missing: the folder, container/' '
	synthflow init >/dev/null && cd run-data &&
	test_exit 1 synthflow build nosuch 2>err &&
	must_contain err "no workspace .nosuch." && must_contain err "synthflow new nosuch" &&
	mkdir src/bare &&
	test_exit 1 synthflow build bare 2>err &&
	must_contain err "has no container/ folder" && must_contain err "cp -r"
'

expect_success 'a bad packages.txt line is reported at file:line before the engine' '
	synthflow init >/dev/null && cd run-data && synthflow new w >/dev/null &&
	printf "sox\n\ncurl; rm -rf /\n" >>src/w/container/packages.txt &&
	test_exit 1 env PATH="$SYNTHFLOW_BUILD:/usr/bin:/bin" synthflow build w 2>err &&
	must_contain err "packages.txt:[0-9]*: .curl;. is not a package name"
'

expect_success 'no docker installed: say what to install' '
	synthflow init >/dev/null && cd run-data && synthflow new w >/dev/null &&
	mkdir empty &&
	test_exit 1 env PATH="$SYNTHFLOW_BUILD:$TRASH/empty" "$SYNTHFLOW_BUILD/synthflow" build w 2>err &&
	must_contain err "apt-get install docker.io" &&
	test_exit 1 env PATH="$SYNTHFLOW_BUILD:$TRASH/empty" "$SYNTHFLOW_BUILD/synthflow" status 2>err &&
	must_contain err "docker. is not installed"
'

expect_success 'docker installed but not running: say how to start it' '
	synthflow init >/dev/null && cd run-data && synthflow new w >/dev/null &&
	fake_docker "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" &&
	for c in "build w" "run w" stop status shell rshell jupyter web; do
		test_exit 1 env PATH="$TRASH/run-data/fakebin:$PATH" synthflow $c 2>err </dev/null &&
		must_contain err "not running" && must_contain err "systemctl start docker" || exit 1
	done
'

expect_success 'permission denied on the socket: say how to get access' '
	synthflow init >/dev/null && cd run-data &&
	fake_docker "permission denied while trying to connect to the Docker daemon socket" &&
	test_exit 1 env PATH="$TRASH/run-data/fakebin:$PATH" synthflow status 2>err &&
	must_contain err "usermod -aG docker"
'

expect_success 'podman selected but missing' '
	synthflow init >/dev/null && cd run-data && mkdir empty &&
	test_exit 1 env SYNTHFLOW_WORKSPACE_ENGINE=podman PATH="$SYNTHFLOW_BUILD:$TRASH/run-data/empty" \
		"$SYNTHFLOW_BUILD/synthflow" status 2>err &&
	must_contain err "apt-get install podman"
'

expect_success 'run with nothing built says to build' '
	synthflow init >/dev/null && cd run-data &&
	test_exit 1 synthflow run 2>err && must_contain err "synthflow build NAME"
'

expect_success 'usage errors exit 2' '
	synthflow init >/dev/null && cd run-data &&
	test_exit 2 synthflow new 2>err && must_contain err "missing the workspace NAME" &&
	test_exit 2 synthflow new a b 2>err &&
	test_exit 2 synthflow build 2>err &&
	test_exit 2 synthflow build w --bogus 2>err && must_contain err "unknown option" &&
	test_exit 2 synthflow run w --gpus some 2>err && must_contain err "auto" &&
	test_exit 2 synthflow run w --gpus 2>err && must_contain err "needs a value" &&
	test_exit 2 synthflow stop now 2>err &&
	test_exit 2 synthflow status --bogus 2>err &&
	test_exit 2 synthflow rshell ls 2>err && must_contain err "after .--." &&
	test_exit 2 synthflow base --suite Bad 2>err && must_contain err "suite" &&
	test_exit 2 synthflow base --mirror 2>err
'

expect_success 'every workspace command has --help' '
	for c in new build run stop status shell rshell jupyter web base; do
		synthflow $c --help >out && must_contain out "^usage: synthflow $c" || exit 1
	done
'

test_done
