#!/usr/bin/env bash
# The dataset view with 100,000 clips' metrics in Chromium: first render,
# filter and sort (their times printed; warm, each under 1000 ms: five times
# the goal that bench/dataset.sh holds them to), virtualized rows, playing a
# clip, waveform thumbnails, the filtered filelist; then the same clips as a
# folder of uploadable/ (its metrics.jsonl), opened from the Datasets page.
. "$(dirname "$0")/../lib.sh"
. "$TEST_ROOT/cli/lib-web.sh"

SHOTS=$TEST_OUT_BASE/t1404-dataset
mkdir -p "$SHOTS"

expect_success 'playwright-core and chromium are available' '
	command -v chromium >/dev/null || { echo "chromium missing: scripts/install-deps.sh test"; exit 1; }
	if [ ! -d "$TEST_ROOT/e2e/node_modules/playwright-core" ]; then
		npm install --prefix "$TEST_ROOT/e2e" --no-audit --no-fund --loglevel=error
	fi
	test -d "$TEST_ROOT/e2e/node_modules/playwright-core"
'

DATA=$TRASH_BASE/run-data
synthflow init "$DATA" >/dev/null
mkdir -p "$DATA/src/ds/dags"
cp "$TEST_ROOT/e2e/dataset-gen.py" "$DATA/src/ds/gen.py"
printf '%s\n' "id: ds" "tasks:" "  clean:" "    run: python3 src/ds/gen.py {{ run.dir }}" >"$DATA/src/ds/dags/ds.yaml"
RUN=$(synthflow --data "$DATA" test ds | head -n1)
python3 "$TEST_ROOT/e2e/dataset-gen.py" --uploadable "$DATA/uploadable/Pony Set"
web_start "$DATA" || { echo "not ok - serve did not start"; exit 1; }

expect_success '100,000 clips of a run, then of uploadable/: render, filter, sort, virtualized rows, player, waveforms, filelist' '
	# the filter the browser applies, counted from the formulas of gen.py
	want=$(python3 -c "print(sum(1 for i in range(0, 100000, 4) if 1 + (i // 4) % 12 > 8 and -16 - (i // 48) % 30 < -30))") &&
	timeout 300 node "$TEST_ROOT/e2e/dataset.js" "$WEB_BASE/?token=$WEB_TOKEN" "$RUN" "$SHOTS" "$want" 1000 "Pony Set" >out 2>&1 ||
		{ cat out; exit 1; }
	cat out && grep -q "dataset browser test passed" out && test -s "$SHOTS/dataset.png" && test -s "$SHOTS/uploadable.png"
'

expect_success 'serve stops cleanly' '
	web_stop "$DATA"
'

test_done
