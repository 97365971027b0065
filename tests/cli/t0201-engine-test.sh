#!/usr/bin/env bash
# synthflow test: states of real runs (retries, trigger rules, timeouts,
# fan-out, params, order), logs, and bad input.  DAGs: tests/cli/data/engine/.
. "$(dirname "$0")/../lib.sh"

DATA=$SRC_ROOT/tests/cli/data/engine

# setup DAG...: a data folder holding the named fixture DAGs.
setup() {
	synthflow init >/dev/null
	mkdir -p run-data/src/t/dags
	for d in "$@"; do cp "$DATA/$d.yaml" run-data/src/t/dags/; done
}

# state FILE TASK [INDEX]: a task instance's state in a run's JSON.
state() {
	jq -r --arg t "$2" --argjson i "${3:-null}" \
		'.tasks[] | select(.task_id == $t and .index == $i) | .state' "$1"
}

field() {
	jq -r --arg t "$2" ".tasks[] | select(.task_id == \$t) | .$3" "$1"
}

expect_success 'a task succeeds on its third try' '
	setup retry3 &&
	synthflow test retry3 --json >out.json &&
	test "$(jq -r .state out.json)" = success &&
	test "$(state out.json flaky)" = success &&
	test "$(field out.json flaky try)" = 3 &&
	test "$(state out.json after)" = success &&
	run=$(jq -r .run_id out.json) &&
	synthflow tasks logs "$run" flaky --try 1 >l1 && must_contain l1 "try 1" &&
	synthflow tasks logs "$run" flaky --try 3 >l3 && must_contain l3 "try 3" &&
	synthflow tasks logs "$run" flaky >last && must_contain last "try 3" &&
	test -f run-data/flow/logs/retry3/$run/flaky/try-2.log
'

expect_success 'exhausted retries: downstream upstream_failed, all_done cleanup runs' '
	setup exhausted &&
	synthflow test exhausted --json >out.json &&
	test "$(state out.json bad)" = failed &&
	test "$(field out.json bad try)" = 2 &&
	test "$(field out.json bad exit_code)" = 3 &&
	test "$(state out.json down)" = upstream_failed &&
	test "$(state out.json down2)" = upstream_failed &&
	test "$(state out.json cleanup)" = success &&
	test -f run-data/generated/exhausted/$(jq -r .run_id out.json)/cleanup
'

expect_success 'a run with a failed leaf fails, exit 1' '
	setup rules &&
	test_exit 1 synthflow test rules --json >out.json &&
	test "$(jq -r .state out.json)" = failed
'

expect_success 'every trigger rule' '
	setup rules &&
	test_exit 1 synthflow test rules --json >out.json &&
	for t in ok all_success_ok all_failed_run all_done_run one_success_run one_failed_run \
		none_failed_run always_run; do
		test "$(state out.json $t)" = success || { echo "$t: $(state out.json $t)"; exit 1; }
	done &&
	for t in skip all_success_skip all_failed_skip one_success_skip one_failed_skip \
		skip_propagates; do
		test "$(state out.json $t)" = skipped || { echo "$t: $(state out.json $t)"; exit 1; }
	done &&
	for t in all_success_fail one_success_fail none_failed_fail; do
		test "$(state out.json $t)" = upstream_failed || { echo "$t: $(state out.json $t)"; exit 1; }
	done &&
	test "$(state out.json bad)" = failed &&
	test "$(field out.json bad exit_code)" = 1
'

expect_success 'a timeout kills the task and its children' '
	setup timeout &&
	test_exit 1 synthflow test timeout --json >out.json &&
	test "$(state out.json slow)" = failed &&
	must_contain out.json "timed out after 500ms" &&
	pid=$(cat run-data/generated/timeout/$(jq -r .run_id out.json)/grandchild.pid) &&
	# gone when the run is recorded as ended, not even a zombie
	! kill -0 "$pid" 2>/dev/null
'

expect_success '500-way fan-out over a recursive glob, and a fan-in' '
	setup fan &&
	synthflow test fan --json >out.json &&
	test "$(jq "[.tasks[] | select(.task_id == \"each\" and .state == \"success\")] | length" out.json)" = 500 &&
	test "$(jq "[.tasks[] | select(.task_id == \"each\")] | map(.index) | sort | .[499]" out.json)" = 499 &&
	test "$(state out.json join)" = success &&
	test "$(cat run-data/generated/fan/$(jq -r .run_id out.json)/count)" = 500 &&
	run=$(jq -r .run_id out.json) &&
	test "$(synthflow tasks logs $run each --index 2)" = f10 &&
	test -f run-data/flow/logs/fan/$run/each.2/try-1.log &&
	test "$(jq -r "[.tasks[] | select(.task_id == \"each\")][2].item" out.json)" = \
		"$(cd run-data && pwd)/generated/fan/$run/in/sub/f10.txt" &&
	test_exit 1 synthflow tasks logs $run each 2>err && must_contain err "pick one with --index" &&
	test_exit 1 synthflow tasks logs $run each --index 500 2>err && must_contain err "no item 500"
'

expect_success 'an empty fan-out is skipped, and so is what needs it' '
	setup fan &&
	synthflow test fan -p n=0 --json >out.json &&
	test "$(jq -r .state out.json)" = success &&
	test "$(state out.json each)" = skipped &&
	test "$(state out.json join)" = skipped
'

expect_success 'params cannot inject shell syntax' '
	setup inject &&
	synthflow test inject -p "text=\$(touch pwned1); \`touch pwned2\`; echo \"x'"'"'" \
		-p "file=a b;touch pwned3" >/dev/null &&
	out=run-data/generated/inject/*/out &&
	must_contain $out "touch pwned1" && must_contain $out "a b;touch pwned3" &&
	test "$(wc -l <$out)" = 3 &&
	! ls pwned* run-data/pwned* 2>/dev/null
'

expect_success 'typed params are checked before anything runs' '
	setup typed &&
	test_exit 1 synthflow test typed -p file=x -p rate=5 2>err &&
	must_contain err "param .rate." && must_contain err "minimum" &&
	test_exit 1 synthflow test typed -p file=x -p ratio=1.5 2>err && must_contain err "ratio" &&
	test_exit 1 synthflow test typed -p file=x -p split=test 2>err && must_contain err "split" &&
	test_exit 1 synthflow test typed -p file=x -p rate=abc 2>err && must_contain err "rate" &&
	test_exit 1 synthflow test typed 2>err && must_contain err "file" &&
	test_exit 1 synthflow test typed -p file=x -p nosuch=1 2>err && must_contain err "nosuch" &&
	test_exit 2 synthflow test typed -p rate 2>err && must_contain err "malformed param" &&
	test ! -d run-data/generated/typed &&
	synthflow test typed -p file=x -p rate=8000 -p flag=true >/dev/null &&
	must_contain run-data/generated/typed/*/p "8000 0.5 train true x"
'

expect_success 'tasks run in dependency order' '
	setup order &&
	synthflow test order >/dev/null &&
	o=$(tr "\n" " " <run-data/generated/order/*/order) &&
	case $o in "a b c d e " | "a c b d e ") ;; *) echo "order: $o"; exit 1 ;; esac
'

expect_success 'stdout is the run id first; exit 0 on success' '
	setup order &&
	synthflow test order >out 2>err &&
	test "$(wc -l <out)" = 1 &&
	synthflow runs show "$(cat out)" --json >show.json &&
	test "$(jq -r .state show.json)" = success &&
	test "$(jq -r ".tasks | length" show.json)" = 5
'

expect_success 'test --task runs one task alone' '
	setup order &&
	synthflow test order --task d --json >out.json &&
	test "$(jq -r ".tasks | length" out.json)" = 1 &&
	test "$(state out.json d)" = success &&
	test_exit 1 synthflow test order --task dd 2>err && must_contain err "did you mean .d."
'

expect_success 'badly behaved tasks: a daemon, a flood of output, a signal' '
	setup outputs &&
	synthflow vars set greeting "hello there" &&
	start=$(date +%s) &&
	test_exit 1 env SF_LOG_MAX_BYTES=100000 synthflow test outputs --json >out.json &&
	test $(( $(date +%s) - start )) -lt 15 &&
	test "$(state out.json daemon)" = success &&
	test "$(state out.json flood)" = success &&
	must_contain out.json "log truncated at 100000 bytes" &&
	run=$(jq -r .run_id out.json) &&
	size=$(stat -c %s run-data/flow/logs/outputs/$run/flood/try-1.log) &&
	test "$size" -lt 101000 && test "$size" -ge 100000 &&
	synthflow tasks logs $run flood | tail -n 1 >last && must_contain last "truncated" &&
	test "$(state out.json signal)" = failed &&
	test "$(field out.json signal exit_code)" = 137 &&
	must_contain out.json "killed by signal 9" &&
	test "$(cat run-data/generated/outputs/$run/v)" = "hello there" &&
	synthflow tasks logs $run daemon >d && must_contain d "parent done"
'

expect_success 'max_active holds a foreach to one at a time' '
	setup limits &&
	synthflow test limits --json >out.json &&
	test "$(jq -r .state out.json)" = success
'

expect_success 'unknown DAG, task and run ids get a hint' '
	setup order &&
	test_exit 1 synthflow test ordr 2>err && must_contain err "unknown DAG .ordr. (did you mean .order.?)" &&
	run=$(synthflow test order) &&
	test_exit 1 synthflow runs show "${run%?}" 2>err && must_contain err "did you mean .$run." &&
	test_exit 1 synthflow tasks logs "$run" b2 2>err && must_contain err "did you mean .b." &&
	test_exit 1 synthflow tasks logs "$run" b --try 9 2>err && must_contain err "no try 9" &&
	test_exit 2 synthflow test 2>err &&
	test_exit 2 synthflow test order --bogus 2>err
'

expect_success 'a missing variable fails the task with a reason' '
	setup outputs &&
	test_exit 1 synthflow test outputs --task vars --json >out.json &&
	test "$(state out.json vars)" = failed &&
	must_contain out.json "greeting"
'

expect_success 'a run whose folder cannot be made fails with every instance failed, none queued' '
	setup fan &&
	# generated/fan is a file: the run folder generated/fan/RUN cannot be made
	mkdir -p run-data/generated && echo x >run-data/generated/fan &&
	test_exit 1 synthflow test fan --json >out.json &&
	test "$(jq -r .state out.json)" = failed &&
	jq -r .reason out.json | grep -q "cannot create the run folder" &&
	test "$(jq -r "[.tasks[] | select(.state != \"failed\")] | length" out.json)" = 0 &&
	test "$(jq -r "[.tasks[].task_id] | unique | length" out.json)" = 3 &&
	run=$(jq -r .run_id out.json) &&
	synthflow runs show "$run" --json >shown.json &&
	test "$(jq -r "[.tasks[] | select(.state == \"queued\")] | length" shown.json)" = 0
'

expect_success 'a full disk while writing a log is reported in the try' '
	setup fulldisk &&
	# A private mount namespace with a tiny tmpfs over flow/logs; machines
	# where that is not allowed (no CAP_SYS_ADMIN) report a skip.
	if ! unshare -m true 2>/dev/null; then test_skip "unshare -m is not allowed here"; fi &&
	unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs run-data/flow/logs &&
		exec synthflow test fulldisk --json" >out.json &&
	test "$(state out.json big)" = success &&
	must_contain out.json "writing the log failed: No space left on device" &&
	test "$(state out.json after)" = success &&
	test "$(jq -r .state out.json)" = success
'

expect_success 'Ctrl-C cancels a test run' '
	setup sleepy
	synthflow test sleepy >out 2>err &
	pid=$! &&
	for i in $(seq 200); do ls run-data/generated/sleepy/*/long.started >/dev/null 2>&1 && break; sleep 0.05; done &&
	kill -INT $pid &&
	status=0 && wait $pid || status=$? &&
	test "$status" = 1 &&
	synthflow runs show "$(head -n 1 out)" --json >r.json &&
	test "$(jq -r .state r.json)" = cancelled &&
	test "$(jq -r ".tasks[] | select(.task_id == \"long\") | .state" r.json)" = cancelled &&
	sleeper=$(cat run-data/generated/sleepy/*/long.started) &&
	! kill -0 "$sleeper" 2>/dev/null
'

expect_success 'tasks logs -f follows a running try to its end' '
	setup retry3 &&
	synthflow test retry3 >out &&
	run=$(cat out) &&
	synthflow tasks logs "$run" flaky -f >l && must_contain l "try 3" &&
	synthflow tasks logs "$run" after -f >l && must_contain l "after"
'

expect_success 'workdir, env and the SF_ variables' '
	setup envdir &&
	synthflow test envdir --json >out.json &&
	run=$(jq -r .run_id out.json) &&
	dir=$(cd run-data && pwd)/generated/envdir/$run &&
	test "$(cat $dir/here)" = "$dir" &&
	test "$(cat $dir/greeting)" = "hi a b" &&
	test "$(cat $dir/ids)" = "$run|a b|envdir|where" &&
	test "$(cat $dir/rel)" = "$(cd run-data && pwd)/generated"
'

test_done
