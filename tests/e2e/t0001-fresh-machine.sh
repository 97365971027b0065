#!/usr/bin/env bash
# The README's first command on a fresh Debian 12: a clean container made
# from `synthflow base` (the project's debootstrap image: nothing but apt),
# the source tree copied in, `make demo` as root.  It must install what it
# needs (no test packages: cmocka is optional), build, run the example DAG
# to success and start the web UI, which must answer.  There is no Docker
# engine inside, so the demo ends with the UI on the host side of the
# container (its serve_ui step).
. "$(dirname "$0")/../lib.sh"

need_docker

# A name of this run's own: several checkouts may share one engine.
C=sf-fresh-$$
TIMES="$TEST_OUT_BASE/t0001-fresh-machine.times"
: >"$TIMES"

cleanup() {
	docker rm -f "$C" >/dev/null 2>&1
	rm -rf "$TRASH_BASE"
}
trap cleanup EXIT

elapsed_s() { echo $((($(date +%s) - $1))); }

expect_success 'a clean container from synthflow base, with the source tree copied in' '
	base=$(synthflow base) &&
	docker run -d --name "$C" "$base" sleep infinity >/dev/null &&
	# what a fresh clone holds: no builds, no demo data, no node_modules
	tar -C "$SRC_ROOT" -c --exclude=./build --exclude="./build-*" --exclude=./demo \
		--exclude=node_modules --exclude=.git . |
		docker exec -i "$C" sh -c "mkdir /src && tar -x -C /src" &&
	test_exit 1 docker exec "$C" sh -c "command -v make || command -v gcc || dpkg -s libcmocka-dev"
'

expect_success 'make demo as root installs what it needs, builds and runs the example' '
	t0=$(date +%s) &&
	docker exec "$C" sh -c "apt-get update -qq && apt-get install -y -qq make >/dev/null" &&
	docker exec "$C" sh -c "cd /src && make demo" >"$TRASH_BASE/demo.out" 2>&1 || { tail -n 60 "$TRASH_BASE/demo.out"; false; } &&
	echo "make demo on a fresh machine: $(elapsed_s $t0) s" >>"$TIMES" &&
	must_contain "$TRASH_BASE/demo.out" "== done: run " &&
	must_contain "$TRASH_BASE/demo.out" "open the web UI:     http://127.0.0.1:8881/?token=" &&
	# no test package came along: the unit tests were simply not built
	test_exit 1 docker exec "$C" dpkg -s libcmocka-dev >/dev/null 2>&1 &&
	run=$(docker exec "$C" head -n 1 /src/demo/last-run.txt) &&
	docker exec "$C" /src/build/synthflow --data /src/demo/run-data runs show "$run" --json >run.json &&
	jq -e ".state == \"success\" and .dag_id == \"ppp-preprocess\"" run.json &&
	docker exec "$C" sh -c "test \$(wc -l </src/demo/run-data/uploadable/espeak-sample/filelist_train.txt) -gt 0"
'

expect_success 'the web UI answers: health, the page, and the API with the printed token' '
	url=$(sed -n "s/^open the web UI: *//p" "$TRASH_BASE/demo.out") && test -n "$url" &&
	docker exec "$C" python3 -c "
import json, sys, urllib.request
url = sys.argv[1]
base, token = url.split(\"/?token=\")
h = json.load(urllib.request.urlopen(base + \"/api/v1/health\"))
assert h[\"status\"] == \"ok\" and h[\"store\"] == \"ok\", h
page = urllib.request.urlopen(url).read().decode()
assert \"<html\" in page.lower(), page[:200]
req = urllib.request.Request(base + \"/api/v1/dags\", headers={\"Authorization\": \"Bearer \" + token})
dags = json.load(urllib.request.urlopen(req))
assert \"ppp-preprocess\" in [d[\"dag_id\"] for d in dags[\"dags\"]], dags
print(\"ui ok\")
" "$url" >ui.out &&
	must_contain ui.out "ui ok"
'

test_done
