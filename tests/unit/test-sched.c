/* Unit tests for the scheduler's pure parts: trigger rules, retry delays, states, globs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/state.h"
#include "flow/exec.h"
#include "flow/procs.h"
#include "flow/sched.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/fs.h"

static struct upstream_counts counts(size_t total, size_t success, size_t failed, size_t upfailed,
				     size_t skipped)
{
	struct upstream_counts c = { .total = total, .success = success, .failed = failed,
				     .upstream_failed = upfailed, .skipped = skipped };
	c.done = success + failed + upfailed + skipped;
	return c;
}

static enum tr_verdict ev(enum trigger_rule r, size_t total, size_t success, size_t failed,
			  size_t upfailed, size_t skipped)
{
	struct upstream_counts c = counts(total, success, failed, upfailed, skipped);
	return sched_trigger_eval(r, &c);
}

static void no_upstream_runs(void **state)
{
	for (int r = TR_ALL_SUCCESS; r <= TR_ONE_DONE; r++)
		assert_int_equal(ev((enum trigger_rule)r, 0, 0, 0, 0, 0), TR_RUN);
}

static void all_success(void **state)
{
	assert_int_equal(ev(TR_ALL_SUCCESS, 2, 1, 0, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_ALL_SUCCESS, 2, 2, 0, 0, 0), TR_RUN);
	/* fails fast, before the other upstream is done */
	assert_int_equal(ev(TR_ALL_SUCCESS, 3, 0, 1, 0, 0), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_ALL_SUCCESS, 2, 0, 0, 1, 0), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_ALL_SUCCESS, 2, 1, 0, 0, 1), TR_SKIP);
}

static void all_failed_and_all_done(void **state)
{
	assert_int_equal(ev(TR_ALL_FAILED, 2, 0, 1, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_ALL_FAILED, 2, 0, 1, 1, 0), TR_RUN);
	assert_int_equal(ev(TR_ALL_FAILED, 2, 1, 0, 0, 0), TR_SKIP);
	assert_int_equal(ev(TR_ALL_FAILED, 2, 0, 0, 0, 1), TR_SKIP);
	assert_int_equal(ev(TR_ALL_DONE, 3, 1, 1, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_ALL_DONE, 3, 1, 1, 0, 1), TR_RUN);
	assert_int_equal(ev(TR_ALL_DONE, 1, 0, 0, 1, 0), TR_RUN);
}

static void one_success_one_failed(void **state)
{
	assert_int_equal(ev(TR_ONE_SUCCESS, 3, 1, 0, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_ONE_SUCCESS, 2, 0, 1, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_ONE_SUCCESS, 2, 0, 1, 0, 1), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_ONE_SUCCESS, 2, 0, 0, 0, 2), TR_SKIP);
	assert_int_equal(ev(TR_ONE_FAILED, 3, 0, 1, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_ONE_FAILED, 3, 0, 0, 1, 0), TR_RUN);
	assert_int_equal(ev(TR_ONE_FAILED, 2, 1, 0, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_ONE_FAILED, 2, 1, 0, 0, 1), TR_SKIP);
}

static void join_and_skip_rules(void **state)
{
	/* the usual join after a branch: one path ran, the others were skipped */
	assert_int_equal(ev(TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 1, 0, 0, 2), TR_RUN);
	assert_int_equal(ev(TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 1, 0, 0, 1), TR_WAIT);
	assert_int_equal(ev(TR_NONE_FAILED_MIN_ONE_SUCCESS, 2, 0, 0, 0, 2), TR_SKIP);
	assert_int_equal(ev(TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 1, 1, 0, 0), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 0, 0, 1, 0), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_NONE_SKIPPED, 2, 1, 1, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_NONE_SKIPPED, 2, 1, 0, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_NONE_SKIPPED, 3, 1, 0, 0, 1), TR_SKIP);
	assert_int_equal(ev(TR_ALL_SKIPPED, 2, 0, 0, 0, 2), TR_RUN);
	assert_int_equal(ev(TR_ALL_SKIPPED, 2, 0, 0, 0, 1), TR_WAIT);
	assert_int_equal(ev(TR_ALL_SKIPPED, 3, 0, 1, 0, 1), TR_SKIP);
	assert_int_equal(ev(TR_ALL_SKIPPED, 3, 1, 0, 0, 0), TR_SKIP);
	assert_int_equal(ev(TR_ONE_DONE, 3, 0, 1, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_ONE_DONE, 3, 1, 0, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_ONE_DONE, 2, 0, 0, 0, 1), TR_WAIT);
	assert_int_equal(ev(TR_ONE_DONE, 2, 0, 0, 1, 1), TR_SKIP);
}

static void none_failed_and_always(void **state)
{
	assert_int_equal(ev(TR_NONE_FAILED, 2, 1, 0, 0, 1), TR_RUN);
	assert_int_equal(ev(TR_NONE_FAILED, 2, 1, 0, 0, 0), TR_WAIT);
	assert_int_equal(ev(TR_NONE_FAILED, 3, 1, 1, 0, 0), TR_UPSTREAM_FAILED);
	assert_int_equal(ev(TR_ALWAYS, 5, 0, 0, 0, 0), TR_RUN);
	assert_int_equal(ev(TR_ALWAYS, 5, 0, 5, 0, 0), TR_RUN);
}

static void retry_delays(void **state)
{
	assert_int_equal(sched_retry_delay_ms(0, 2), 0);
	assert_int_equal(sched_retry_delay_ms(30000, 2), 30000);
	assert_int_equal(sched_retry_delay_ms(30000, 3), 60000);
	assert_int_equal(sched_retry_delay_ms(30000, 4), 120000);
	assert_int_equal(sched_retry_delay_ms(30000, 8), 1920000);
	assert_int_equal(sched_retry_delay_ms(30000, 9), 3600000);
	assert_int_equal(sched_retry_delay_ms(30000, 1000), 3600000);
	assert_int_equal(sched_retry_delay_ms(2 * 3600000, 2), 3600000);
}

static void state_names(void **state)
{
	enum ti_state t;
	enum run_state r;
	for (int i = 0; i < TI_NSTATES; i++) {
		assert_int_equal(ti_state_parse(ti_state_name((enum ti_state)i), &t), 0);
		assert_int_equal(t, i);
	}
	for (int i = 0; i < RUN_NSTATES; i++) {
		assert_int_equal(run_state_parse(run_state_name((enum run_state)i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(ti_state_name(TI_UP_FOR_RETRY), "up_for_retry");
	assert_string_equal(ti_state_name(TI_UPSTREAM_FAILED), "upstream_failed");
	assert_int_equal(ti_state_parse("bogus", &t), -1);
	assert_true(ti_state_is_final(TI_SKIPPED));
	assert_false(ti_state_is_final(TI_UP_FOR_RETRY));
	assert_false(ti_state_is_final(TI_RUNNING));
	assert_true(run_state_is_final(RUN_CANCELLED));
	assert_false(run_state_is_final(RUN_QUEUED));
}

static void touch(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(p, '/');
	char *cmd;
	*slash = '\0';
	cmd = xasprintf("mkdir -p '%s' && touch '%s/%s'", p, p, slash + 1);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(p);
}

static void globs(void **state)
{
	char dir[] = "/tmp/sf-glob-XXXXXX";
	struct strbuf err = STRBUF_INIT;
	char **paths, *pat, *cmd;
	size_t n;

	assert_non_null(mkdtemp(dir));
	touch(dir, "a.flac");
	touch(dir, "b.wav");
	touch(dir, "x/c.flac");
	touch(dir, "x/y/d.flac");
	touch(dir, ".hidden/e.flac");
	touch(dir, "x/.f.flac");

	pat = xasprintf("%s/**/*.flac", dir);
	assert_int_equal(exec_glob(pat, &paths, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_true(strstr(paths[0], "/a.flac") != NULL);
	assert_true(strstr(paths[1], "/x/c.flac") != NULL);
	assert_true(strstr(paths[2], "/x/y/d.flac") != NULL);
	exec_glob_free(paths, n);
	free(pat);

	pat = xasprintf("%s/*", dir);
	assert_int_equal(exec_glob(pat, &paths, &n, &err), 0);
	assert_int_equal(n, 3); /* a.flac b.wav x */
	exec_glob_free(paths, n);
	free(pat);

	pat = xasprintf("%s/**/**/d.flac", dir);
	assert_int_equal(exec_glob(pat, &paths, &n, &err), 0);
	assert_int_equal(n, 1);
	exec_glob_free(paths, n);
	free(pat);

	pat = xasprintf("%s/nothing/*", dir);
	assert_int_equal(exec_glob(pat, &paths, &n, &err), 0);
	assert_int_equal(n, 0);
	exec_glob_free(paths, n);
	free(pat);

	assert_int_equal(exec_glob("relative/*", &paths, &n, &err), -1);
	sb_release(&err);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void shell_detection(void **state)
{
	assert_false(exec_needs_shell("true"));
	assert_false(exec_needs_shell("sox in.flac -r 22050 out.flac"));
	assert_true(exec_needs_shell("echo 'x'"));
	assert_true(exec_needs_shell("a | b"));
	assert_true(exec_needs_shell("a; b"));
	assert_true(exec_needs_shell("echo $HOME"));
	assert_true(exec_needs_shell("ls *.txt"));
	assert_true(exec_needs_shell("a\nb"));
}

static void proc_start_times(void **state)
{
	uint64_t start;
	assert_int_equal(exec_proc_start_time(getpid(), &start), 0);
	assert_true(start > 0);
	assert_true(exec_proc_alive(getpid(), start));
	assert_false(exec_proc_alive(getpid(), start + 1));
	assert_false(exec_proc_alive(0, start));
}

/* The state machine end to end, in process: a real DAG file, store and tasks. */
/* A process-group leader running `sleep 30` with SF_RUN_ID=run in its environment. */
static pid_t spawn_task_like(const char *run)
{
	char *env = xasprintf("SF_RUN_ID=%s", run);
	char *const argv[] = { "sleep", "30", NULL };
	char *const envp[] = { "PATH=/usr/bin:/bin", env, NULL };
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		execve("/bin/sleep", argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	/* bounded wait for the exec, after which /proc shows the new environment */
	for (int i = 0; i < 400; i++) {
		char path[64], comm[32] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		if (!strncmp(comm, "sleep", 5))
			break;
		usleep(5000);
	}
	free(env);
	return pid;
}

static void orphans_of_a_run_are_killed(void **state)
{
	/*
	 * Run ids of this process only: the kill looks at every process of
	 * the machine, and the sanitized suite runs this test beside the
	 * development one.
	 */
	char *one = xasprintf("orphan-%d-1", (int)getpid()), *ten = xasprintf("%s0", one);
	pid_t mine = spawn_task_like(one);
	pid_t other = spawn_task_like(ten);
	int status, killed = 0;

	assert_int_equal(procs_kill_run(one, 5000, &killed), 0);
	assert_int_equal(killed, 1);
	assert_int_equal(waitpid(mine, &status, 0), mine);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* a run id that merely starts the same is left alone */
	assert_int_equal(waitpid(other, &status, WNOHANG), 0);
	assert_int_equal(procs_kill_run("no-such-run", 5000, &killed), 0);
	assert_int_equal(killed, 0);
	kill(other, SIGKILL);
	waitpid(other, &status, 0);
	free(one);
	free(ten);
}

/*
 * A scratch data folder (dir, a mkdtemp template) holding one DAG, ID.yaml,
 * and one run of it taken to its end by a scheduler of cfg (already given
 * its defaults): the scheduler and the store stay open for the checks.
 */
static void run_in_scratch(char *dir, const char *id, const char *yaml, struct config *cfg,
			   struct sched **s, struct store **st, char **run_id)
{
	static struct sched_opts so;
	char *cmd, *path;

	assert_non_null(mkdtemp(dir));
	cmd = xasprintf("mkdir -p %s/src/w/dags", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	path = xasprintf("%s/src/w/dags/%s.yaml", dir, id);
	assert_int_equal(write_file_atomic(path, yaml, strlen(yaml), 0644), 0);
	free(path);
	cfg->data_dir = xstrdup(dir);
	so = (struct sched_opts){ .cfg = cfg };
	*s = sched_new(&so);
	assert_non_null(*s);
	*st = store_open(cfg->flow_store, dir);
	assert_non_null(*st);
	assert_int_equal(store_run_create(*st, id, NULL, sched_owner(*s), run_id), 0);
	assert_int_equal(sched_add_run(*s, *run_id, NULL), 0);
	assert_int_equal(sched_run(*s), 0);
}

static void scratch_done(const char *dir, struct config *cfg, struct sched *s, struct store *st,
			 char *run_id)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	free(run_id);
	store_close(st);
	sched_free(s);
	config_release(cfg);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void run_states(void **state)
{
	char dir[] = "/tmp/sf-sched-XXXXXX";
	struct config cfg;
	struct sched *s;
	struct store *st;
	struct store_ti *tis;
	struct store_try *tries;
	struct store_run r = { 0 };
	char *run_id;
	size_t n;
	const char *dag = "tasks:\n"
			  "  a: {run: \"true\"}\n"
			  "  b: {needs: [a], run: \"exit 4\", retries: 1, retry_delay: 10ms}\n"
			  "  c: {needs: [b], run: \"true\"}\n"
			  "  d: {needs: [c], trigger: all_done, run: \"echo done\"}\n";

	config_defaults(&cfg);
	cfg.flow_parallelism = 2;
	run_in_scratch(dir, "x", dag, &cfg, &s, &st, &run_id);

	assert_int_equal(store_run_get(st, run_id, &r), 0);
	assert_int_equal(r.state, RUN_SUCCESS); /* the only leaf, d, succeeded */
	assert_int_equal(store_ti_list(st, run_id, &tis, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(tis[0].state, TI_SUCCESS);
	assert_int_equal(tis[1].state, TI_FAILED);
	assert_int_equal(tis[1].try_number, 2);
	assert_int_equal(tis[1].exit_code, 4);
	assert_int_equal(tis[2].state, TI_UPSTREAM_FAILED);
	assert_int_equal(tis[2].try_number, 0);
	assert_int_equal(tis[3].state, TI_SUCCESS);
	store_ti_list_free(tis, n);
	assert_int_equal(store_try_list(st, run_id, "b", -1, &tries, &n), 0);
	assert_int_equal(n, 2);
	assert_true(tries[1].started_at - tries[0].ended_at >= 10);
	assert_int_equal(tries[0].exit_code, 4);
	store_try_list_free(tries, n);

	store_run_release(&r);
	scratch_done(dir, &cfg, s, st, run_id);
}

/*
 * The guarantee: a retry's recorded start is never less than the failed
 * try's recorded end plus the delay the policy gives it.  Short delays
 * (1, 2, 4 ... 64 ms) make each gap a fresh chance for the recorded clock
 * and the timer's clock to disagree by their rounding.
 */
static void retry_gaps_follow_policy(void **state)
{
	char dir[] = "/tmp/sf-sched-XXXXXX";
	struct config cfg;
	struct sched *s;
	struct store *st;
	struct store_try *tries;
	char *run_id;
	size_t n;
	const char *dag = "tasks:\n"
			  "  f: {run: \"exit 1\", retries: 7, retry_delay: 1ms}\n";

	config_defaults(&cfg);
	run_in_scratch(dir, "g", dag, &cfg, &s, &st, &run_id);

	assert_int_equal(store_try_list(st, run_id, "f", -1, &tries, &n), 0);
	assert_int_equal(n, 8);
	for (size_t i = 1; i < n; i++) {
		int64_t gap = tries[i].started_at - tries[i - 1].ended_at;
		int64_t want = sched_retry_delay_ms(1, (int)i + 1);
		if (gap < want)
			fail_msg("try %zu started %lld ms after try %zu ended; the policy says %lld ms",
				 i + 1, (long long)gap, i, (long long)want);
	}
	store_try_list_free(tries, n);
	scratch_done(dir, &cfg, s, st, run_id);
}

/*
 * A batch takes ready instances out of the ready ring without popping them.
 * Such an instance must not come out of the ring again as if it were ready:
 * here the first batch (items 0-2) fails and waits 300 ms for its retry,
 * and the ring still names items 1 and 2; popping them then must not start
 * their retries early (with parallelism 1 the next batch, items 3-5, runs
 * in between).
 */
static void batch_retry_waits_its_delay(void **state)
{
	char dir[] = "/tmp/sf-sched-XXXXXX";
	struct config cfg;
	struct sched *s;
	struct store *st;
	struct store_try *tries;
	char *run_id;
	size_t n;
	const char *dag = "tasks:\n"
			  "  mk: {run: \"mkdir -p {{ run.dir }}/in && cd {{ run.dir }}/in && "
			  "touch 0 1 2 3 4 5\"}\n"
			  "  b: {needs: [mk], foreach: \"{{ run.dir }}/in/*\", batch: 3, "
			  "run: \"exit 1\", retries: 1, retry_delay: 300ms}\n";

	(void)state;
	config_defaults(&cfg);
	cfg.flow_parallelism = 1;
	run_in_scratch(dir, "rb", dag, &cfg, &s, &st, &run_id);

	for (int item = 0; item < 6; item++) {
		assert_int_equal(store_try_list(st, run_id, "b", item, &tries, &n), 0);
		assert_int_equal(n, 2);
		if (tries[1].started_at - tries[0].ended_at < 300)
			fail_msg("item %d: its retry started %lld ms after its first try ended; the "
				 "delay is 300 ms", item,
				 (long long)(tries[1].started_at - tries[0].ended_at));
		store_try_list_free(tries, n);
	}
	scratch_done(dir, &cfg, s, st, run_id);
}

/* An owner in another pid namespace cannot be looked up: it counts as alive. */
static void owners_across_namespaces(void **state)
{
	char buf[64];
	unsigned long long ns = owner_pidns();

	(void)state;
	assert_true(ns != 0);
	/* pid 1 with a start time it never had: dead here, alive when foreign */
	assert_int_equal(owner_alive("1:12345678901"), 0);
	snprintf(buf, sizeof(buf), "1:12345678901@%llu", ns);
	assert_int_equal(owner_alive(buf), 0);
	snprintf(buf, sizeof(buf), "1:12345678901@%llu:test", ns + 1);
	assert_int_equal(owner_alive(buf), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_upstream_runs),
		cmocka_unit_test(all_success),
		cmocka_unit_test(all_failed_and_all_done),
		cmocka_unit_test(one_success_one_failed),
		cmocka_unit_test(none_failed_and_always),
		cmocka_unit_test(join_and_skip_rules),
		cmocka_unit_test(retry_delays),
		cmocka_unit_test(state_names),
		cmocka_unit_test(globs),
		cmocka_unit_test(shell_detection),
		cmocka_unit_test(proc_start_times),
		cmocka_unit_test(orphans_of_a_run_are_killed),
		cmocka_unit_test(run_states),
		cmocka_unit_test(retry_gaps_follow_policy),
		cmocka_unit_test(batch_retry_waits_its_delay),
		cmocka_unit_test(owners_across_namespaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
