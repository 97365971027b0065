#!/usr/bin/env bash
# The lock against a real Docker engine: 'synthflow lock' in data folder A
# (apt package, a pip package from a local wheel through --find-links: no
# Python index is reachable), 'build --frozen' of that lock in a fresh data
# folder B gives an image whose installed packages equal the lock's (read
# with dpkg-query and pip freeze, not with synthflow), 'status' compares the
# running image with the lock, the frozen build names a Debian version the
# mirror does not have and a pip version the wheels do not hold, and a run
# made inside the workspace is packed and replayed inside a workspace built
# --frozen from the bundle's lock in a third data folder, and packed with its
# image (--with-image), replayed in a fourth data folder after the engine
# lost that image: loaded from the bundle, nothing built; then by a second
# Docker engine of its own (its own storage, bridge and containerd: none of
# the image's layers, no base image, nothing built there before), as the
# engine of another machine would be; a pack with its image into a full disk,
# and of an image the engine lost.  The
# image builds are the cost: the test builds one workspace twice (A, then
# frozen in B) and reuses the layers for the failures.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/e2e/lib-lock.sh"

W="$TRASH_BASE/shared"
A="$W/a/run-data"
B="$W/b/run-data"
C="$W/c/run-data"
D="$W/d/run-data"
E="$W/e/run-data"
# The second engine (test 10): its socket, and the bridge it is given.
E2=$W/e2
E2_HOST=unix://$E2/docker.sock
E2_BRIDGE=sft$$
# A workspace (so image) name of this run's own: other checkouts share the engine.
WS=lock$$
IMG=synthflow/$WS:latest
WEB=$(free_port)
JUP=$(free_port)
while [ "$JUP" = "$WEB" ]; do JUP=$(free_port); done

cleanup() {
	if docker info >/dev/null 2>&1; then
		for d in "$B" "$C" "$D"; do
			ids=$(docker ps -aq --filter "label=synthflow.data=$d")
			[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		done
		docker rmi --no-prune "$IMG" >/dev/null 2>&1
	fi
	stop_engine2
	rm -rf "$TRASH_BASE"
}
trap cleanup EXIT

# start_engine2: a dockerd of its own under $E2 (storage, state, pid file,
# socket), on a bridge made for it and without touching the first engine's
# iptables rules (a published port works through docker-proxy).
start_engine2() {
	local n=7
	while ip -4 addr | grep -q "inet 10\.231\.$n\."; do n=$((n + 1)); done
	ip link add "$E2_BRIDGE" type bridge && ip addr add "10.231.$n.1/24" dev "$E2_BRIDGE" &&
		ip link set "$E2_BRIDGE" up || return 1
	mkdir -p "$E2"
	dockerd --data-root "$E2/root" --exec-root "$E2/x" --host "$E2_HOST" --pidfile "$E2/docker.pid" \
		--iptables=false --ip6tables=false --bridge "$E2_BRIDGE" >"$E2/dockerd.log" 2>&1 &
	echo $! >"$E2/dockerd.pid"
	for _ in $(seq 300); do
		DOCKER_HOST=$E2_HOST docker info >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$E2/dockerd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "the second engine did not start:" >&2
	tail -n 20 "$E2/dockerd.log" >&2
	return 1
}
stop_engine2() {
	local pid ids
	if [ -s "$E2/dockerd.pid" ]; then
		pid=$(cat "$E2/dockerd.pid")
		ids=$(DOCKER_HOST=$E2_HOST docker ps -aq 2>/dev/null)
		[ -n "$ids" ] && DOCKER_HOST=$E2_HOST docker rm -f $ids >/dev/null 2>&1
		kill "$pid" 2>/dev/null
		for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		rm -f "$E2/dockerd.pid"
	fi
	ip link show "$E2_BRIDGE" >/dev/null 2>&1 && ip link del "$E2_BRIDGE"
	return 0
}

# replay_image DIR ID: in a fresh data folder DIR/run-data, replay
# image.sfpack on the engine $DOCKER_HOST names: it loads image ID from the
# bundle, builds nothing, and the output is identical to B's.
replay_image() {
	cd "$1" && synthflow init >/dev/null && cp "$B/synthflow.yaml" run-data/ &&
	synthflow replay "$W/image.sfpack" --data "$1/run-data" >out 2>err &&
	must_contain err "loading the workspace image ${2:0:19} from the bundle" &&
	must_contain err "runs the bundle.s image ${2:0:19} as $IMG (nothing built)" &&
	! grep -q "^building" err && ! test -e "$1/run-data/build-data/$WS/Dockerfile" &&
	test "$(docker image inspect --format "{{.Id}}" "$IMG")" = "$2" &&
	must_contain out "uploadable/inside/v.txt .* identical" &&
	cmp "$B/uploadable/inside/v.txt" "$1/run-data/uploadable/inside/v.txt"
}

need_docker
mkdir -p "$W/a" "$W/b" "$W/c" "$W/d" "$W/e"

# A pure-Python wheel, written by the hook pre-install.sh into the image
# (the hooks are the only files a build copies in).
make_wheel() {
	python3 - "$1" <<-\X
	import base64, hashlib, io, sys, zipfile
	files = {
	    "sfdemo/__init__.py": b"VERSION = '1.0'\n",
	    "sfdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: sfdemo\nVersion: 1.0\n",
	    "sfdemo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: t1106\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	record = ""
	for name, data in files.items():
	    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
	    record += f"{name},sha256={digest},{len(data)}\n"
	record += "sfdemo-1.0.dist-info/RECORD,,\n"
	buf = io.BytesIO()
	with zipfile.ZipFile(buf, "w") as z:
	    for name, data in files.items():
	        z.writestr(name, data)
	    z.writestr("sfdemo-1.0.dist-info/RECORD", record)
	with open(sys.argv[1], "w") as f:
	    f.write("#!/bin/sh\nset -e\nmkdir -p /opt/wheels\n")
	    f.write("base64 -d >/opt/wheels/sfdemo-1.0-py3-none-any.whl <<'W'\n")
	    f.write(base64.encodebytes(buf.getvalue()).decode())
	    f.write("W\n")
	X
}

expect_success 'the base image (synthflow base, or the one t0100 made)' '
	synthflow base >out && must_equal out <<-X
	synthflow-base:bookworm
	X
'

expect_success 'lock builds the workspace and writes its lock' '
	cd "$W/a" && synthflow init >/dev/null && cd run-data &&
	printf "workspace: {base_image: \"synthflow-base:bookworm\"}\nports: {web: $WEB, jupyter: $JUP}\n" >synthflow.yaml &&
	synthflow new $WS >/dev/null && c=src/$WS/container &&
	echo tree >$c/packages.txt &&
	make_wheel $c/pre-install.sh &&
	printf -- "--no-index\n--find-links /opt/wheels\nsfdemo==1.0\n" >$c/requirements.txt &&
	synthflow lock $WS >out 2>err &&
	must_contain out "wrote $A/src/$WS/container/synthflow.lock" &&
	l=$c/synthflow.lock &&
	must_contain $l "^format 1\$" && must_contain $l "^synthflow " &&
	must_contain $l "^engine docker " &&
	must_contain $l "^base synthflow-base:bookworm\$" &&
	must_contain $l "^base-id $(docker image inspect -f "{{.Id}}" synthflow-base:bookworm)\$" &&
	must_contain $l "^base-suite bookworm\$" && must_contain $l "^base-mirror http" &&
	must_contain $l "^apt tree " && must_contain $l "^apt python3-pip " &&
	must_contain $l "^pip sfdemo==1.0\$" &&
	for h in pre-install.sh packages.txt requirements.txt post-install.sh pre-run.sh; do
		must_contain $l "^hook $h $(sha256sum <$c/$h | cut -d" " -f1)\$" || exit 1
	done &&
	image_packages "$IMG" >have && lock_packages $l >want && diff want have
'

expect_success 'a hook changed after the lock: build warns, build --frozen refuses' '
	cd "$A" && c=src/$WS/container &&
	echo "echo changed >/post-marker" >>$c/post-install.sh &&
	synthflow build $WS >out 2>err &&
	must_contain err "synthflow.lock. is older than the hooks (post-install.sh changed" &&
	test_exit 1 synthflow build $WS --frozen 2>err &&
	must_contain err "older than the hooks (post-install.sh changed" &&
	must_contain err "synthflow lock $WS" &&
	synthflow lock $WS >out 2>err && must_contain out wrote &&
	must_contain $c/synthflow.lock "^hook post-install.sh $(sha256sum <$c/post-install.sh | cut -d" " -f1)\$" &&
	synthflow build $WS >out 2>err && must_contain out "up to date" &&
	must_not_contain err "older than the hooks"
'

expect_success 'build --frozen in a fresh data folder: the image has exactly the lock'"'"'s packages' '
	cd "$W/b" && synthflow init >/dev/null && cd run-data &&
	cp "$A/synthflow.yaml" . && cp -r "$A/src/$WS" src/ &&
	docker rmi "$IMG" >/dev/null &&
	synthflow build $WS --frozen >out 2>err &&
	must_contain out "built $IMG" &&
	must_contain build-data/$WS/Dockerfile "sf-apt-frozen" &&
	must_contain build-data/$WS/Dockerfile "FROM sha256:" &&
	image_packages "$IMG" >have && lock_packages src/$WS/container/synthflow.lock >want &&
	diff want have && grep -q "^pip sfdemo==1.0\$" have &&
	synthflow build $WS --frozen >out && must_contain out "up to date"
'

expect_success 'status: the running image matches its lock, then the lock differs' '
	cd "$B" && synthflow run $WS --detach >out 2>err &&
	synthflow status >st && must_contain st "lock       the image matches $B/src/$WS/container/synthflow.lock" &&
	synthflow status --json >st.json && jq -e ".lock.matches == true" st.json &&
	l=src/$WS/container/synthflow.lock && cp $l lock.good &&
	sed -i "s/^apt tree .*/apt tree 0.0-nope/" $l &&
	synthflow status >st && must_contain st "differs from $B/$l in 1 package:" &&
	must_contain st "apt tree: 0.0-nope in the lock, .* in the image" &&
	synthflow status --json >st.json && jq -e ".lock.matches == false and (.lock.differences | length) == 1" st.json &&
	cp lock.good $l && synthflow stop >/dev/null
'

expect_success 'build --frozen names a Debian version the mirror does not have' '
	cd "$B" && l=src/$WS/container/synthflow.lock && cp $l lock.good &&
	sed -i "s/^apt tree .*/apt tree 9.9.9-nope/" $l &&
	test_exit 1 synthflow build $WS --frozen >out 2>err &&
	must_contain err "error: $B/$l: cannot have tree=9.9.9-nope: not in the mirror" &&
	must_contain err "the frozen build of .$WS. failed" &&
	cp lock.good $l
'

expect_success 'build --frozen names a pip version the wheels do not hold' '
	cd "$B" && l=src/$WS/container/synthflow.lock && cp $l lock.good &&
	sed -i "s/^pip sfdemo==1.0\$/pip sfdemo==9.9/" $l &&
	test_exit 1 synthflow build $WS --frozen >out 2>err &&
	must_contain err "error: $B/$l: cannot have sfdemo==9.9: pip finds no such version" &&
	cp lock.good $l
'

expect_success 'a run made inside the workspace replays inside it, from the bundle'"'"'s lock' '
	cd "$B" && s=src/$WS &&
	cat >$s/dags/inside.yaml <<-\X &&
	id: inside
	tasks:
	  versions:
	    run: mkdir -p {{ data }}/uploadable/inside && tree --version >{{ data }}/uploadable/inside/v.txt && python3 -c "import sfdemo; print(sfdemo.VERSION)" >>{{ data }}/uploadable/inside/v.txt
	    outputs: [uploadable/inside/v.txt]
	X
	git -C $s init -q && git -C $s add -A &&
	git -C $s -c user.email=t@example.org -c user.name=t commit -q -m workspace &&
	synthflow run $WS --detach >/dev/null 2>&1 &&
	synthflow shell -- synthflow test inside --json >r.json && synthflow stop >/dev/null &&
	jq -e ".state == \"success\"" r.json && must_contain uploadable/inside/v.txt "^1.0\$" &&
	synthflow pack "$(jq -r .run_id r.json)" -o "$W/inside.sfpack" >/dev/null &&
	cd "$W/c" && synthflow init >/dev/null && cp "$B/synthflow.yaml" run-data/ &&
	synthflow replay "$W/inside.sfpack" --data "$C" >out 2>err &&
	must_contain err "replaying inside workspace .$WS." &&
	must_contain out "uploadable/inside/v.txt .* identical" &&
	must_contain "$C/build-data/$WS/Dockerfile" sf-apt-frozen &&
	cmp "$B/uploadable/inside/v.txt" "$C/uploadable/inside/v.txt" &&
	test -z "$(docker ps -aq --filter "label=synthflow.data=$C")"
'

expect_success 'pack --with-image: a replay loads the image from the bundle and builds nothing' '
	cd "$B" && run=$(jq -r .run_id r.json) &&
	id=$(docker image inspect --format "{{.Id}}" "$IMG") &&
	synthflow runs show "$run" --json | jq -e ".provenance.host.workspace.image_id == \"$id\"" >/dev/null &&
	synthflow pack "$run" --with-image -o "$W/image.sfpack" >out 2>err &&
	must_contain out "the workspace image" &&
	synthflow verify "$W/image.sfpack" &&
	tar --zstd -xOf "$W/image.sfpack" sfpack.json | jq -e ".image.id == \"$id\" and .image.file == \"image/image.tar\"" >/dev/null &&
	tar --zstd -xOf "$W/image.sfpack" manifest.sha256 | grep -q "  image/image.tar\$" &&
	! ls "$W"/image.sfpack.tmp.* 2>/dev/null &&
	# the bundle is smaller than the image it holds (compressed)
	test "$(stat -c %s "$W/image.sfpack")" -lt "$(tar --zstd -xOf "$W/image.sfpack" sfpack.json | jq .image.size)" &&
	# the engine loses the image: only the bundle has it now
	docker rmi -f "$id" >/dev/null && ! docker image inspect "$id" >/dev/null 2>&1 &&
	replay_image "$W/d" "$id" &&
	test -z "$(ls "$D/flow" | grep "image.tar")" &&
	test -z "$(docker ps -aq --filter "label=synthflow.data=$D")"
'

expect_success 'another machine: a second engine with none of its layers replays the bundle with its image' '
	id=$(tar --zstd -xOf "$W/image.sfpack" sfpack.json | jq -r .image.id) &&
	start_engine2 && export DOCKER_HOST=$E2_HOST &&
	test -z "$(docker images -aq)" &&
	replay_image "$W/e" "$id" &&
	! docker image inspect synthflow-base:bookworm >/dev/null 2>&1 &&
	test -z "$(docker ps -aq)" &&
	# the first engine saw nothing of it
	test -z "$(DOCKER_HOST= docker ps -aq --filter "label=synthflow.data=$E")" &&
	stop_engine2
'

expect_success 'pack --with-image into a full disk names the file and why, and leaves nothing; a lost image is named' '
	cd "$B" && run=$(jq -r .run_id r.json) &&
	id=$(tar --zstd -xOf "$W/image.sfpack" sfpack.json | jq -r .image.id) &&
	{ unshare -m true 2>/dev/null || test_skip "unshare -m is not allowed here"; } &&
	mkdir full && unshare -m bash -c "
		mount -t tmpfs -o size=4m tmpfs full
		synthflow pack $run --with-image -o full/i.sfpack 2>err && echo 0 >rc || echo \$? >rc
		ls -A full >left" &&
	cat err && test "$(cat rc)" = 1 &&
	must_contain err "^synthflow: error: cannot save image ${id:0:19}, which run .$run. ran in, to .full/i.sfpack.tmp.*image.tar.: .*no space left on device" &&
	must_equal left </dev/null &&
	docker rmi -f "$id" >/dev/null &&
	test_exit 1 synthflow pack "$run" --with-image -o gone.sfpack 2>err &&
	must_contain err "^synthflow: error: cannot pack image ${id:0:19}, which run .$run. ran in: the engine no longer has it (the workspace was built again since" &&
	! ls gone.sfpack* 2>/dev/null
'

test_done
