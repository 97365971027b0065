#!/usr/bin/env bash
# The lock of a workspace whose base image comes from a registry: a Docker
# registry of the test's own (Debian's docker-registry, on a free loopback
# port; dockerd treats 127.0.0.0/8 registries as insecure, so no daemon
# setting is needed) holds a base image; 'lock' records its digest, read
# back here from the registry itself; the same image pushed under a second
# name first does not take its place; 'build --frozen' in a fresh data
# folder builds FROM NAME@sha256:..., pulled from the registry, also after
# the tag was moved to another image; a digest the registry does not hold
# stops the build naming the lock and the digest.  Then the fallback for a
# lock without digest whose base id this engine does not have: a base with
# the same 'synthflow base' suite label is used with a warning, another
# suite is refused saying how to make one.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/e2e/lib-lock.sh"

W="$TRASH_BASE/shared"
A="$W/a/run-data"
B="$W/b/run-data"
WS=reg$$
IMG=synthflow/$WS:latest
PORT=$(free_port)
REG=127.0.0.1:$PORT
REPO=$REG/sfbase$$
OTHER=$REG/aaa$$
SUITE=sfsuite$$
WEB=$(free_port)
JUP=$(free_port)
while [ "$JUP" = "$WEB" ]; do JUP=$(free_port); done

cleanup() {
	[ -f "$W/registry.pid" ] && kill "$(cat "$W/registry.pid")" 2>/dev/null
	if docker info >/dev/null 2>&1; then
		for d in "$A" "$B"; do
			ids=$(docker ps -aq --filter "label=synthflow.data=$d")
			[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		done
		# every name this test gave an image, by tag and by digest
		docker image ls --digests --format "{{.Repository}} {{.Tag}} {{.Digest}}" |
			while read -r r t d; do
				case $r in "$REPO" | "$OTHER" | "$SUITE" | synthflow/$WS) ;; *) continue ;; esac
				[ "$t" != "<none>" ] && docker rmi --no-prune "$r:$t" >/dev/null 2>&1
				[ "$d" != "<none>" ] && docker rmi --no-prune "$r@$d" >/dev/null 2>&1
			done
	fi
	rm -rf "$TRASH_BASE"
}
trap cleanup EXIT

need_docker
command -v docker-registry >/dev/null ||
	{ echo "not ok 1 - docker-registry is not installed (scripts/install-deps.sh installs it)"; exit 1; }
mkdir -p "$W/a" "$W/b" "$W/registry"

# The registry's digest of REPO:TAG, asked of the registry (not of docker).
registry_digest() {
	curl -sSf -I -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
		"http://$REG/v2/${1#$REG/}/manifests/$2" |
		tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

expect_success 'a registry of its own holds a base image, under two names' '
	synthflow base >/dev/null &&
	cat >"$W/registry/config.yml" <<-X &&
	version: 0.1
	log: {level: warn}
	storage: {filesystem: {rootdirectory: $W/registry/store}}
	http: {addr: "$REG"}
	X
	{ docker-registry serve "$W/registry/config.yml" >"$W/registry/log" 2>&1 & echo $! >"$W/registry.pid"; } &&
	for i in $(seq 200); do
		curl -sf "http://$REG/v2/" >/dev/null && break
		kill -0 "$(cat "$W/registry.pid")" || { cat "$W/registry/log"; exit 1; }
		sleep 0.1
	done &&
	curl -sSf "http://$REG/v2/" >/dev/null &&
	# an image of its own (labels on synthflow-base: other tests share the
	# engine), labelled as synthflow base labels what it makes
	printf "FROM synthflow-base:bookworm\nLABEL synthflow.test.t1107=$$ synthflow.base.suite=bookworm\n" |
		docker build -q -t "$REPO:bookworm" - >/dev/null &&
	docker tag "$REPO:bookworm" "$OTHER:x" &&
	docker push -q "$OTHER:x" >/dev/null && docker push -q "$REPO:bookworm" >/dev/null &&
	registry_digest "$REPO" bookworm >"$W/d1" && grep -q "^sha256:" "$W/d1" &&
	docker image inspect -f "{{range .RepoDigests}}{{println .}}{{end}}" "$REPO:bookworm" >names &&
	must_contain names "^$REPO@$(cat "$W/d1")\$" && must_contain names "^$OTHER@"
'
D1=$(cat "$W/d1" 2>/dev/null)

expect_success 'lock records the digest of the configured name, as the registry has it' '
	cd "$W/a" && synthflow init >/dev/null && cd run-data &&
	printf "workspace: {base_image: \"$REPO:bookworm\"}\nports: {web: $WEB, jupyter: $JUP}\n" >synthflow.yaml &&
	synthflow new $WS >/dev/null && c=src/$WS/container &&
	echo tree >$c/packages.txt &&
	synthflow lock $WS >out 2>err && must_contain out wrote &&
	l=$c/synthflow.lock &&
	must_contain $l "^base $REPO:bookworm\$" &&
	must_contain $l "^base-id $(docker image inspect -f "{{.Id}}" "$REPO:bookworm")\$" &&
	must_contain $l "^base-digest $REPO@$D1\$" && must_contain $l "^base-suite bookworm\$" &&
	must_contain $l "^apt tree "
'

expect_success 'the tag moves to another image: build --frozen still builds FROM the locked digest' '
	printf "FROM $REPO@$D1\nRUN echo moved >/sf-tag-moved\n" |
		docker build -q -t "$REPO:bookworm" - >/dev/null &&
	docker push -q "$REPO:bookworm" >/dev/null &&
	registry_digest "$REPO" bookworm >d2 && ! grep -qx "$D1" d2 &&
	# the engine forgets the locked image: only the registry has it now
	docker rmi "$OTHER:x" "$REPO@$D1" >/dev/null &&
	! docker image inspect "$REPO@$D1" >/dev/null 2>&1 &&
	cd "$W/b" && synthflow init >/dev/null && cd run-data &&
	cp "$A/synthflow.yaml" . && cp -r "$A/src/$WS" src/ &&
	docker rmi "$IMG" >/dev/null &&
	synthflow build $WS --frozen >out 2>err &&
	must_contain out "built $IMG" &&
	must_contain build-data/$WS/Dockerfile "^FROM $REPO@$D1\$" &&
	docker image inspect "$REPO@$D1" >/dev/null &&
	! docker run --rm --network none --entrypoint "" "$IMG" test -e /sf-tag-moved &&
	docker run --rm --network none --entrypoint "" "$REPO:bookworm" test -e /sf-tag-moved &&
	image_packages "$IMG" >have && lock_packages src/$WS/container/synthflow.lock >want &&
	diff want have
'

expect_success 'a digest the registry does not hold: the error names the lock and the digest' '
	cd "$B" && l=src/$WS/container/synthflow.lock && cp $l lock.good &&
	bad=sha256:$(printf %064d 0) &&
	sed -i "s|^base-digest .*|base-digest $REPO@$bad|" $l &&
	test_exit 1 synthflow build $WS --frozen >out 2>err &&
	must_contain err "error: $B/$l: cannot pull its base image $REPO@$bad" &&
	! grep -q "^building" err &&
	cp lock.good $l
'

expect_success 'no digest and an id this engine lacks: a base of the same suite, with a warning' '
	# the locked image under a name of its own, as a machine with no registry
	# has the image synthflow base made (the build reuses test 3'"'"'s layers)
	docker tag "$REPO@$D1" "$SUITE:bookworm" &&
	cd "$B" && l=src/$WS/container/synthflow.lock && cp $l lock.good &&
	gone=sha256:$(printf %064d 1) &&
	sed -i -e "/^base-digest /d" -e "/^base-suite /d" -e "s|^base-id .*|base-id $gone\nbase-suite bookworm|" \
		-e "s|^base .*|base $SUITE:bookworm|" $l &&
	base=$(docker image inspect -f "{{.Id}}" "$SUITE:bookworm") &&
	synthflow build $WS --frozen >out 2>err &&
	must_contain err "the lock.s base image $gone is not here; using .$SUITE:bookworm. (${base:0:19}), made by .synthflow base. from the same suite bookworm" &&
	must_contain build-data/$WS/Dockerfile "^FROM $base\$" &&
	image_packages "$IMG" >have && lock_packages $l >want && diff want have &&
	sed -i "s|^base-suite .*|base-suite trixie|" $l &&
	test_exit 1 synthflow build $WS --frozen >out 2>err &&
	must_contain err "its base image $gone is not here, and no .$SUITE:bookworm. of suite trixie is; make one with .sudo synthflow base --suite trixie" &&
	cp lock.good $l
'

test_done
