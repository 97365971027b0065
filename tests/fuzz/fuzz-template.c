/*
 * libFuzzer target for templates in shell commands.  The input is a value
 * and a command template (split at the first newline... see below).  When
 * the validator accepts the command (TMPL_SHELL), expansion must succeed,
 * and if /bin/sh can parse the command with a harmless value ('sh -n'), it
 * must parse it just as well with the fuzzed value: a value that breaks the
 * parse is one that escaped its quoting.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "flow/template.h"
#include "util/common.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;

static void ignore(void *data, size_t off, const char *msg)
{
	(void)off;
	(void)msg;
	(*(int *)data)++;
}

/* Exit status of `sh -n -c cmd`, its output thrown away. */
static int sh_parse(const char *cmd)
{
	char *argv[] = { "sh", "-n", "-c", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "cannot start /bin/sh: %s\n", strerror(rc));
		abort();
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			abort();
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * item.rel needs the task's foreach glob (the item below the glob's folder):
 * the expansions run as task 't' of this DAG, a foreach over /g/r/in/.
 */
static const struct dag *fuzz_dag(void)
{
	static const char yaml[] = "tasks:\n"
				   "  t:\n"
				   "    foreach: \"{{ run.dir }}/in/*\"\n"
				   "    run: \"true\"\n";
	static struct dag *d;

	if (!d) {
		struct diag_list dl;

		diag_init(&dl, "fuzz.yaml");
		d = dag_load_buffer(dl.path, yaml, sizeof(yaml) - 1, &dl);
		if (!d) {
			fprintf(stderr, "the fuzzer's own DAG does not load\n");
			abort();
		}
		diag_release(&dl);
	}
	return d;
}

/*
 * Variables are set at run time, so the validator accepts any vars.NAME and
 * expansion refuses one that is not set.  Each variable the template names
 * gets the same value as the param (so its quoting is fuzzed too): on
 * "variable 'X' is not set", X is set and the expansion tried again.
 */
static char *expand_with(const char *tmpl, const char *value)
{
	static const char unset_head[] = "variable '";
	static const char unset_tail[] = "' is not set (see 'synthflow vars set')";
	json_t *params = json_object(), *vars = json_object();
	struct tmpl_ctx ctx = { .dag = fuzz_dag(), .params = params, .vars = vars, .run_id = "r",
				.run_dir = "/g/r", .run_date = "2026-01-01", .task_id = "t",
				.data_dir = "/data", .item = value, .quote = 1 };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

	json_object_set_new(params, "p", json_stringn_nocheck(value, strlen(value)));
	while (tmpl_expand(tmpl, &ctx, &out, &err) < 0) {
		size_t hl = sizeof(unset_head) - 1, tl = sizeof(unset_tail) - 1;
		char *name;

		if (err.len <= hl + tl || strncmp(err.buf, unset_head, hl) ||
		    strcmp(err.buf + err.len - tl, unset_tail)) {
			/* the validator accepted it: expansion must not refuse it */
			fprintf(stderr, "checked but not expanded: %s\n", err.buf);
			abort();
		}
		name = xstrndup(err.buf + hl, err.len - hl - tl);
		if (json_object_get(vars, name)) {
			fprintf(stderr, "variable '%s' set but still refused\n", name);
			abort();
		}
		json_object_set_new_nocheck(vars, name, json_stringn_nocheck(value, strlen(value)));
		free(name);
		sb_reset(&out);
		sb_reset(&err);
	}
	sb_release(&err);
	json_decref(params);
	json_decref(vars);
	return sb_detach(&out, NULL);
}

/* Input: the value's length (first byte), the value, then the template. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const params[] = { "p" };
	char *value, *tmpl, *benign, *hostile;
	size_t vlen;
	int problems = 0;

	if (!size || size > 4096)
		return 0;
	vlen = data[0];
	if (vlen > size - 1)
		vlen = size - 1;
	value = xstrndup((const char *)data + 1, vlen);
	tmpl = xstrndup((const char *)data + 1 + vlen, size - 1 - vlen);
	tmpl_check(tmpl, params, 1, TMPL_TASK | TMPL_ITEM | TMPL_SHELL, ignore, &problems);
	if (!problems) {
		benign = expand_with(tmpl, "v");
		hostile = expand_with(tmpl, value);
		if (sh_parse(benign) == 0 && sh_parse(hostile) != 0) {
			fprintf(stderr, "a value broke the command's parse:\n%s\n", hostile);
			abort();
		}
		free(benign);
		free(hostile);
	}
	free(value);
	free(tmpl);
	return 0;
}
