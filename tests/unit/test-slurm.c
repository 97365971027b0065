/*
 * Unit tests for src/flow/slurm.c: the job-state mapping, squeue and sbatch
 * output (lines recorded from Slurm 22.05), the sbatch command line,
 * and the node-side batch script, which is run here with bash exactly as a
 * node would run it (no cluster needed): log, cap, exit-code file, env.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/exec-impl.h"
#include "flow/slurm.h"
#include "util/common.h"
#include "util/fs.h"

static void states_map(void **state)
{
	static const struct {
		const char *state;
		enum slurm_class cls;
		const char *reason;
	} cases[] = {
		{ "PENDING", SLURM_WAITING, NULL },
		{ "CONFIGURING", SLURM_WAITING, NULL },
		{ "RUNNING", SLURM_RUNNING, NULL },
		{ "COMPLETING", SLURM_ENDED, NULL },
		{ "COMPLETED", SLURM_ENDED, NULL },
		{ "FAILED", SLURM_ENDED, NULL },
		{ "CANCELLED", SLURM_KILLED, "cancelled in Slurm" },
		{ "CANCELLED by 0", SLURM_KILLED, "cancelled in Slurm" },
		{ "TIMEOUT", SLURM_KILLED, "time limit" },
		{ "OUT_OF_MEMORY", SLURM_KILLED, "out of memory" },
		{ "NODE_FAIL", SLURM_KILLED, "node failure" },
		{ "BOOT_FAIL", SLURM_KILLED, "node failed to boot" },
		{ "PREEMPTED", SLURM_REQUEUE, "preempted" },
		{ "RUNNING+", SLURM_RUNNING, NULL },
		{ "RUNNINGX", SLURM_UNKNOWN, NULL },
		{ "", SLURM_UNKNOWN, NULL },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *reason = "unset";
		enum slurm_class c = slurm_state_class(cases[i].state, &reason);
		if (c != cases[i].cls)
			fail_msg("'%s': class %d, want %d", cases[i].state, c, cases[i].cls);
		if (cases[i].reason)
			assert_string_equal(reason, cases[i].reason);
		else
			assert_null(reason);
	}
}

static void squeue_rows(void **state)
{
	/* squeue --noheader --array --states=all --me --format=%i|%T|%j */
	char l1[] = "17|RUNNING|sf-0a1b2c3d-20261130T090501-d3b773:flaky:-1:3\n";
	char l2[] = "23_4|PENDING|sf-0a1b2c3d-r:each:4:1";
	char l3[] = "12|COMPLETED|name|with|bars";
	char bad1[] = "JOBID|STATE|NAME";
	char bad2[] = "17|RUNNING";
	char bad3[] = "17||x";
	struct slurm_row r;
	(void)state;

	assert_int_equal(slurm_parse_row(l1, &r), 0);
	assert_string_equal(r.id, "17");
	assert_string_equal(r.state, "RUNNING");
	assert_string_equal(r.name, "sf-0a1b2c3d-20261130T090501-d3b773:flaky:-1:3");
	assert_int_equal(slurm_parse_row(l2, &r), 0);
	assert_string_equal(r.id, "23_4");
	assert_int_equal(slurm_parse_row(l3, &r), 0);
	assert_string_equal(r.name, "name|with|bars");
	assert_int_equal(slurm_parse_row(bad1, &r), -1);
	assert_int_equal(slurm_parse_row(bad2, &r), -1);
	assert_int_equal(slurm_parse_row(bad3, &r), -1);
}

static void sacct_rows(void **state)
{
	/* sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,JobName */
	char l1[] = "42|COMPLETED|0:0|sf-0a1b2c3d-r:make:-1:1\n";
	char l2[] = "43_1|FAILED|3:0|sf-0a1b2c3d-r:each:0:1+11";
	char l3[] = "44|CANCELLED by 0|0:15|x";
	char l4[] = "45|OUT_OF_MEMORY|0:125|x";
	char l5[] = "46_[2-5]|PENDING|0:0|x";
	char bad1[] = "JobID|State|ExitCode|JobName";
	char bad2[] = "47|COMPLETED||x";
	char bad3[] = "47|COMPLETED|0|x";
	char bad4[] = "47|COMPLETED|300:0|x";
	char bad5[] = "47|COMPLETED|0:0";
	struct slurm_acct_row r;
	const char *why;
	(void)state;

	assert_int_equal(slurm_parse_acct_row(l1, &r), 0);
	assert_string_equal(r.id, "42");
	assert_string_equal(r.name, "sf-0a1b2c3d-r:make:-1:1");
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_int_equal(slurm_state_class(r.state, &why), SLURM_ENDED);
	assert_int_equal(slurm_parse_acct_row(l2, &r), 0);
	assert_string_equal(r.id, "43_1");
	assert_string_equal(r.name, "sf-0a1b2c3d-r:each:0:1+11");
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
	assert_int_equal(slurm_parse_acct_row(l3, &r), 0);
	assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == 15);
	assert_int_equal(slurm_state_class(r.state, &why), SLURM_KILLED);
	assert_int_equal(slurm_parse_acct_row(l4, &r), 0);
	assert_int_equal(slurm_state_class(r.state, &why), SLURM_KILLED);
	assert_string_equal(why, "out of memory");
	assert_int_equal(slurm_parse_acct_row(l5, &r), 0);
	assert_int_equal(slurm_state_class(r.state, &why), SLURM_WAITING);
	assert_int_equal(slurm_parse_acct_row(bad1, &r), -1);
	assert_int_equal(slurm_parse_acct_row(bad2, &r), -1);
	assert_int_equal(slurm_parse_acct_row(bad3, &r), -1);
	assert_int_equal(slurm_parse_acct_row(bad4, &r), -1);
	assert_int_equal(slurm_parse_acct_row(bad5, &r), -1);
	/* what sacct 22.05 prints on stderr (exit status 1) when AccountingStorageType is none */
	assert_true(slurm_acct_disabled("Slurm accounting storage is disabled\n"));
	assert_false(slurm_acct_disabled("sacct: error: slurmdbd: Connection refused\n"));
}

static void sbatch_output_and_minutes(void **state)
{
	(void)state;
	assert_int_equal(slurm_parse_jobid("123\n"), 123);
	assert_int_equal(slurm_parse_jobid("124;cluster\n"), 124);
	assert_int_equal(slurm_parse_jobid("Submitted batch job 5\n"), -1);
	assert_int_equal(slurm_parse_jobid(""), -1);
	/* scontrol show config */
	assert_int_equal(slurm_parse_max_array("MaxArraySize            = 11\nMaxBatchRequeue = 5\n"), 11);
	assert_int_equal(slurm_parse_max_array("AccountingStorageType = none\nMaxArraySize = 1001\n"), 1001);
	assert_int_equal(slurm_parse_max_array("MaxArraySizeX = 3\n"), -1);
	assert_int_equal(slurm_parse_max_array(""), -1);
	assert_int_equal(slurm_parse_jobid("12x"), -1);
	assert_int_equal(slurm_minutes(1), 1);
	assert_int_equal(slurm_minutes(500), 1);
	assert_int_equal(slurm_minutes(60000), 1);
	assert_int_equal(slurm_minutes(60001), 2);
	assert_int_equal(slurm_minutes(2 * 3600 * 1000LL), 120);
}

static char *joined(struct strvec *v)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < v->nr; i++)
		sb_addf(&sb, "%s%s", i ? " " : "", v->v[i]);
	return sb_detach(&sb, NULL);
}

static void sbatch_argv(void **state)
{
	char *extra[] = { "--qos=high", "--constraint=a100" };
	struct dag_resources none = { 0 };
	struct dag_resources all = { .cpus = 4, .gpus = 2, .mem_mb = 8192, .time_ms = 7200000,
				     .partition = "gpu", .extra = extra, .nextra = 2 };
	struct slurm_submit sub = { .key = "sf-k", .workdir = "/w d", .script = "/l/try-1.sbatch",
				    .res = &none, .timeout_ms = 90000, .partition = "",
				    .account = "lab" };
	struct strvec v = STRVEC_INIT;
	char *s;
	(void)state;

	slurm_sbatch_argv(&v, &sub);
	s = joined(&v);
	assert_string_equal(s, "sbatch --parsable --job-name=sf-k --chdir=/w d --output=/dev/null "
			       "--export=ALL --no-requeue --time=2 --account=lab /l/try-1.sbatch");
	free(s);
	strvec_clear(&v);
	/* resources win over the defaults; time over the timeout */
	sub.res = &all;
	slurm_sbatch_argv(&v, &sub);
	s = joined(&v);
	assert_string_equal(s, "sbatch --parsable --job-name=sf-k --chdir=/w d --output=/dev/null "
			       "--export=ALL --no-requeue --time=120 --cpus-per-task=4 --mem=8192M "
			       "--gres=gpu:2 --partition=gpu --account=lab --qos=high "
			       "--constraint=a100 /l/try-1.sbatch");
	free(s);
	strvec_clear(&v);
	/* a job array, throttled */
	sub.res = &none;
	sub.timeout_ms = 0;
	sub.array_n = 11;
	sub.throttle = 3;
	slurm_sbatch_argv(&v, &sub);
	s = joined(&v);
	assert_string_equal(s, "sbatch --parsable --job-name=sf-k --chdir=/w d --output=/dev/null "
			       "--export=ALL --no-requeue --array=0-10%3 --account=lab /l/try-1.sbatch");
	free(s);
	strvec_clear(&v);
}

struct scratch {
	char dir[64];
};

static int setup_dir(void **state)
{
	struct scratch *sc = xcalloc(1, sizeof(*sc));
	snprintf(sc->dir, sizeof(sc->dir), "/tmp/sf-test-slurm.XXXXXX");
	if (!mkdtemp(sc->dir))
		return -1;
	*state = sc;
	return 0;
}

static int teardown_dir(void **state)
{
	struct scratch *sc = *state;
	char *cmd = xasprintf("rm -rf '%s'", sc->dir);
	int rc = system(cmd);
	free(cmd);
	free(sc);
	return rc == 0 ? 0 : -1;
}

/* Writes the script for `cmd` and runs it with bash as a node would; returns its status. */
static int run_script(const char *dir, const char *cmd, uint64_t cap, char **env, size_t nenv)
{
	struct strbuf text = STRBUF_INIT;
	char *log = xasprintf("%s/logs/t/try-1.log", dir);
	char *exitp = xasprintf("%s/logs/t/try-1.exit", dir);
	char *script = xasprintf("%s/try-1.sbatch", dir);
	struct slurm_script sc = { .cmd = cmd, .workdir = dir, .log_path = log, .exit_path = exitp,
				   .log_max = cap, .env = env, .nenv = nenv };
	char *run;
	int rc;

	slurm_script_text(&text, &sc);
	assert_int_equal(write_file_atomic(script, text.buf, text.len, 0755), 0);
	/* The scheduler's own SF_* variables must not reach the task. */
	run = xasprintf("cd / && SF_LEAK=1 bash '%s' >/dev/null 2>&1", script);
	rc = system(run);
	free(run);
	free(script);
	free(log);
	free(exitp);
	sb_release(&text);
	return WEXITSTATUS(rc);
}

static char *slurp(const char *dir, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = path_join(dir, rel);
	if (sb_read_file(&sb, path) < 0)
		fail_msg("cannot read '%s'", path);
	free(path);
	return sb_detach(&sb, NULL);
}

static void script_runs_like_local(void **state)
{
	struct scratch *sc = *state;
	char *env[] = { "SF_TASK_ID=t", "GREETING=it's \"quoted\" $HOME\nline 2" };
	char *s;

	assert_int_equal(run_script(sc->dir,
				    "echo out; echo err >&2; printf '%s|%s|%s' \"$SF_TASK_ID\" "
				    "\"$GREETING\" \"${SF_LEAK-none}\" > env; exit 7",
				    1000, env, ARRAY_SIZE(env)), 7);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_string_equal(s, "out\nerr\n");
	free(s);
	s = slurp(sc->dir, "logs/t/try-1.exit");
	assert_string_equal(s, "7\n");
	free(s);
	s = slurp(sc->dir, "env");
	assert_string_equal(s, "t|it's \"quoted\" $HOME\nline 2|none");
	free(s);
	/* It ran in its own folder, whatever the job's. */
	s = slurp(sc->dir, "env");
	free(s);
	/* A program that does not exist: the shell's 127, as locally. */
	assert_int_equal(run_script(sc->dir, "no-such-program-sf", 1000, NULL, 0), 127);
	s = slurp(sc->dir, "logs/t/try-1.exit");
	assert_string_equal(s, "127\n");
	free(s);
}

static void script_caps_the_log(void **state)
{
	struct scratch *sc = *state;
	char *s;

	/* 100 bytes of output past a cap of 10: cut, noted, and the command still runs to its end. */
	assert_int_equal(run_script(sc->dir, "head -c 100 /dev/zero | tr '\\0' x; echo done > after",
				    10, NULL, 0), 0);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_string_equal(s, "xxxxxxxxxx\n[synthflow] log truncated at 10 bytes; "
			       "further output discarded\n");
	free(s);
	s = slurp(sc->dir, "after");
	assert_string_equal(s, "done\n");
	free(s);
}

static void env_names(void **state)
{
	(void)state;
	assert_true(slurm_env_name_ok("A_1=x"));
	assert_true(slurm_env_name_ok("_=x"));
	assert_false(slurm_env_name_ok("1A=x"));
	assert_false(slurm_env_name_ok("A-B=x"));
	assert_false(slurm_env_name_ok("=x"));
	assert_false(slurm_env_name_ok("NOEQ"));
}

/* The local executor's GPU pool from `nvidia-smi -L` (as printed by driver 535). */
static void nvidia_smi_list(void **state)
{
	struct strvec ids = STRVEC_INIT;
	(void)state;

	assert_int_equal(exec_pool_parse_smi(
		"GPU 0: NVIDIA GeForce RTX 3090 (UUID: GPU-5a8f2c1e-0b7d-4e8b-9f1a-2c3d4e5f6a7b)\n"
		"  MIG 1g.5gb Device 0: (UUID: MIG-0d1e2f3a)\n"
		"GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-1b2c3d4e)\n"
		"GPU 12: Tesla T4 (UUID: GPU-99)", &ids), 3);
	assert_int_equal(ids.nr, 3);
	assert_string_equal(ids.v[0], "0");
	assert_string_equal(ids.v[1], "1");
	assert_string_equal(ids.v[2], "12");
	strvec_clear(&ids);
	assert_int_equal(exec_pool_parse_smi("No devices were found\n", &ids), 0);
	assert_int_equal(exec_pool_parse_smi("GPU x: odd\nGPU 3 no colon\n", &ids), 0);
	assert_int_equal(exec_pool_parse_smi("", &ids), 0);
	assert_int_equal(ids.nr, 0);
	strvec_clear(&ids);
}

/*
 * container: the batch script on a node with only one runtime, a stand-in
 * that records its arguments one per line (and, for apptainer and
 * singularity, the variables given to the container) in `args`, then runs
 * the command as the real one would (docker and podman: at `start`, what
 * `create` was given).  PATH holds nothing else but what the
 * script needs, so the node's runtime is the stand-in or none.
 */
static void fake_runtime(const char *dir, const char *name)
{
	char *path = xasprintf("%s/bin/%s", dir, name);
	const char *text =
		"#!/bin/bash\n"
		"d=$(dirname \"$0\")/..\n"
		"case $1 in\n"
		"image | rm) exit 0 ;;\n"
		"start) exec /bin/sh -c \"$(cat \"$d/cmd\")\" ;;\n"
		"esac\n"
		"printf '%s\\n' \"$@\" >\"$d/args\"\n"
		"env | grep -E '^(APPTAINERENV|SINGULARITYENV)_' | sort >\"$d/cenv\"\n"
		"c=$1\n"
		"while [ \"$1\" != /bin/sh ]; do shift; done\n"
		"[ \"$c\" = create ] && { printf '%s' \"$3\" >\"$d/cmd\"; exit 0; }\n"
		"exec \"$@\"\n";
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0755), 0);
	free(path);
}

static int run_ctr_script(const char *dir, int gpus, const char *extra_env)
{
	struct strbuf text = STRBUF_INIT;
	char *log = xasprintf("%s/logs/t/try-1.log", dir);
	char *exitp = xasprintf("%s/logs/t/try-1.exit", dir);
	char *script = xasprintf("%s/try-1.sbatch", dir);
	char *sif = xasprintf("%s/image.sif", dir);
	char *env[] = { "SF_TASK_ID=t", "GREETING=it's, \"quoted\" $HOME", "SF_SYNTHFLOW=/host/sf" };
	struct slurm_script sc = { .cmd = "echo \"in $PWD: $GREETING\"", .workdir = "/tmp",
				   .log_path = log, .exit_path = exitp, .log_max = 1000,
				   .env = env, .nenv = ARRAY_SIZE(env), .ctr_workspace = "w",
				   .ctr_image = "synthflow/w:latest", .ctr_sif = sif,
				   .ctr_name = "sf-k", .data_dir = dir, .uid = 1234, .gid = 56,
				   .gpus = gpus };
	char *run;
	int rc;

	slurm_script_text(&text, &sc);
	assert_int_equal(write_file_atomic(script, text.buf, text.len, 0755), 0);
	run = xasprintf("cd / && %s PATH='%s/bin' /bin/bash '%s' >/dev/null 2>&1", extra_env, dir,
			script);
	rc = system(run);
	free(run);
	free(script);
	free(sif);
	free(log);
	free(exitp);
	sb_release(&text);
	return WEXITSTATUS(rc);
}

static void container_runtimes(void **state)
{
	struct scratch *sc = *state;
	const char *tools[] = { "mkdir", "head", "wc", "cat", "sync", "mv", "hostname", "env",
				"grep", "sort", "dirname", "rm", "setsid" };
	char *cmd, *s, *want;

	cmd = xasprintf("mkdir -p '%s/bin'", sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
		cmd = xasprintf("ln -s \"$(command -v %s)\" '%s/bin/'", tools[i], sc->dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}

	/* no runtime: the log says which ones were looked for */
	assert_int_equal(run_ctr_script(sc->dir, 0, ""), 127);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_non_null(strstr(s, "workspace 'w' (container:) needs apptainer, singularity, "
				  "docker or podman on node "));
	free(s);

	/* apptainer (with gpus: --nv and Slurm's devices), the image from docker's until a .sif exists */
	fake_runtime(sc->dir, "apptainer");
	assert_int_equal(run_ctr_script(sc->dir, 1, "CUDA_VISIBLE_DEVICES=2"), 0);
	s = slurp(sc->dir, "args");
	want = xasprintf("exec\n--cleanenv\n--bind\n%s\n--bind\n/tmp\n--pwd\n/tmp\n--nv\n"
			 "docker-daemon://synthflow/w:latest\n/bin/sh\n-c\n"
			 "echo \"in $PWD: $GREETING\"\n", sc->dir);
	assert_string_equal(s, want);
	free(want);
	free(s);
	s = slurp(sc->dir, "cenv");
	assert_string_equal(s, "APPTAINERENV_CUDA_VISIBLE_DEVICES=2\n"
			       "APPTAINERENV_GREETING=it's, \"quoted\" $HOME\n"
			       "APPTAINERENV_SF_SYNTHFLOW=" CTR_SYNTHFLOW "\n"
			       "APPTAINERENV_SF_TASK_ID=t\n");
	free(s);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_string_equal(s, "in /tmp: it's, \"quoted\" $HOME\n");
	free(s);
	cmd = xasprintf("touch '%s/image.sif' && mv '%s/bin/apptainer' '%s/bin/singularity'",
			sc->dir, sc->dir, sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(run_ctr_script(sc->dir, 0, ""), 0);
	s = slurp(sc->dir, "args");
	want = xasprintf("exec\n--cleanenv\n--bind\n%s\n--bind\n/tmp\n--pwd\n/tmp\n%s/image.sif\n/bin/sh\n-c\n"
			 "echo \"in $PWD: $GREETING\"\n", sc->dir, sc->dir);
	assert_string_equal(s, want);
	free(want);
	free(s);
	s = slurp(sc->dir, "cenv");
	assert_non_null(strstr(s, "SINGULARITYENV_GREETING=it's, \"quoted\" $HOME\n"));
	free(s);

	/* docker: the variables by name, the job's devices by Slurm's numbers */
	cmd = xasprintf("mv '%s/bin/singularity' '%s/bin/docker'", sc->dir, sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(run_ctr_script(sc->dir, 2, "SLURM_JOB_GPUS=1,3 CUDA_VISIBLE_DEVICES=0,1"),
			 0);
	s = slurp(sc->dir, "args");
	want = xasprintf("create\n--init\n--name=sf-k\n--user=1234:56\n--volume\n%s:%s\n"
			 "--volume\n/tmp:/tmp\n--workdir=/tmp\n--env=SF_SYNTHFLOW=" CTR_SYNTHFLOW "\n"
			 "--env=SF_TASK_ID\n--env=GREETING\n--gpus\n\"device=1,3\"\n"
			 "synthflow/w:latest\n/bin/sh\n-c\necho \"in $PWD: $GREETING\"\n",
			 sc->dir, sc->dir);
	assert_string_equal(s, want);
	free(want);
	free(s);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_string_equal(s, "in /tmp: it's, \"quoted\" $HOME\n");
	free(s);

	/* podman: one CDI device each */
	cmd = xasprintf("mv '%s/bin/docker' '%s/bin/podman'", sc->dir, sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(run_ctr_script(sc->dir, 2, "SLURM_JOB_GPUS=1,3"), 0);
	s = slurp(sc->dir, "args");
	assert_non_null(strstr(s, "\n--device=nvidia.com/gpu=1\n--device=nvidia.com/gpu=3\n"
				  "synthflow/w:latest\n"));
	free(s);
	/* gpus asked for, none from Slurm: said, not run without them */
	assert_int_equal(run_ctr_script(sc->dir, 1, ""), 125);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_non_null(strstr(s, "the job has no gpus from Slurm"));
	free(s);

	/* an engine without the image */
	cmd = xasprintf("printf '#!/bin/sh\\nexit 1\\n' >'%s/bin/podman'", sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(run_ctr_script(sc->dir, 0, ""), 125);
	s = slurp(sc->dir, "logs/t/try-1.log");
	assert_non_null(strstr(s, "the image 'synthflow/w:latest' of workspace 'w' is not on node "));
	assert_non_null(strstr(s, "(podman): load it there"));
	free(s);
}

/* The local engine's device options and container names. */
static void container_options(void **state)
{
	struct strvec av = STRVEC_INIT;
	char *name;
	(void)state;

	ctr_gpu_opts(0, "3", &av);
	ctr_gpu_opts(1, "0,2", &av);
	ctr_gpu_opts(0, "", &av);
	ctr_gpu_opts(1, NULL, &av);
	assert_int_equal(av.nr, 4);
	assert_string_equal(av.v[0], "--gpus");
	assert_string_equal(av.v[1], "\"device=3\"");
	assert_string_equal(av.v[2], "--device=nvidia.com/gpu=0");
	assert_string_equal(av.v[3], "--device=nvidia.com/gpu=2");
	strvec_clear(&av);
	name = ctr_name("123-45/20261130T1-ab/t.3/2");
	assert_string_equal(name, "sf-123-45-20261130T1-ab-t.3-2");
	free(name);
}

/* An array element runs the try script on its line of the list, in the element's own shell. */
static void array_script_picks_its_line(void **state)
{
	struct scratch *sc = *state;
	struct strbuf text = STRBUF_INIT;
	char *list = xasprintf("%s/list", sc->dir), *script = xasprintf("%s/a.sbatch", sc->dir);
	char *cmd, *s;

	cmd = xasprintf("cd '%s' && for i in 0 1 2; do printf 'echo $SLURM_ARRAY_TASK_ID:%%s >out\\n' "
			"$i >try-$i; echo \"$PWD/try-$i\"; done >list", sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	slurm_array_script_text(&text, list);
	assert_int_equal(write_file_atomic(script, text.buf, text.len, 0755), 0);
	cmd = xasprintf("cd '%s' && SLURM_ARRAY_TASK_ID=1 bash a.sbatch", sc->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	s = slurp(sc->dir, "out");
	assert_string_equal(s, "1:1\n");
	free(s);
	cmd = xasprintf("cd '%s' && SLURM_ARRAY_TASK_ID=3 bash a.sbatch 2>err", sc->dir);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
	free(cmd);
	s = slurp(sc->dir, "err");
	assert_non_null(strstr(s, "synthflow: no line 4 in "));
	free(s);
	sb_release(&text);
	free(list);
	free(script);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(states_map),
		cmocka_unit_test(squeue_rows),
		cmocka_unit_test(sacct_rows),
		cmocka_unit_test(sbatch_output_and_minutes),
		cmocka_unit_test(sbatch_argv),
		cmocka_unit_test_setup_teardown(script_runs_like_local, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(script_caps_the_log, setup_dir, teardown_dir),
		cmocka_unit_test(env_names),
		cmocka_unit_test(nvidia_smi_list),
		cmocka_unit_test_setup_teardown(container_runtimes, setup_dir, teardown_dir),
		cmocka_unit_test(container_options),
		cmocka_unit_test_setup_teardown(array_script_picks_its_line, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
