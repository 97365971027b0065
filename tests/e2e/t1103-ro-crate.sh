#!/usr/bin/env bash
# A bundle's Workflow Run RO-Crate read by an independent implementation
# (the npm 'ro-crate' package, installed into tests/e2e/crate/node_modules).
. "$(dirname "$0")/../lib.sh"

CRATE=$TEST_ROOT/e2e/crate

expect_success 'the ro-crate package is available' '
	if [ ! -d "$CRATE/node_modules/ro-crate" ]; then
		npm ci --prefix "$CRATE" --no-audit --no-fund --loglevel=error
	fi
	test -d "$CRATE/node_modules/ro-crate"
'

expect_success 'ro-crate-metadata.json: a valid Workflow Run Crate with every instance and hash' '
	synthflow init >/dev/null &&
	mkdir -p run-data/src/rep/dags &&
	cp "$TEST_ROOT/cli/data/replication/prov.yaml" run-data/src/rep/dags/ &&
	git -C run-data/src/rep init -q && git -C run-data/src/rep add -A &&
	git -C run-data/src/rep -c user.email=t@t -c user.name=t commit -qm x &&
	synthflow test prov --json >run.json &&
	run=$(python3 -c "import json; print(json.load(open(\"run.json\"))[\"run_id\"])") &&
	synthflow pack "$run" -o b.sfpack &&
	mkdir unpacked && tar --zstd -xf b.sfpack -C unpacked &&
	node "$CRATE/check-crate.js" unpacked 6 >out 2>&1 || { cat out; exit 1; }
	cat out && grep -q "crate ok: 7 actions, 14 result files checked" out
'

test_done
