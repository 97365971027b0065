/*
 * Unit tests for src/flow/template.c: expansion, quoting (checked by really
 * running the command with /bin/sh), item parts, the SF_* environment and
 * the static checks the validator uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/dag.h"
#include "flow/template.h"
#include "util/common.h"

/* A value no shell should ever interpret. */
static const char evil[] = "it's \"quoted\" $(touch pwned-subst) `touch pwned-tick`; "
			   "touch pwned-semi\nsecond line $HOME \\ * ? | & > < ~ #\t{{ }} 'x'";

static struct tmpl_ctx ctx_with(json_t *params)
{
	struct tmpl_ctx c = {
		.params = params, .run_id = "r1", .run_dir = "/data/generated/d/r1",
		.run_date = "2026-11-28", .task_id = "t", .data_dir = "/data", .quote = 1,
	};
	return c;
}

static char *expand(const char *tmpl, const struct tmpl_ctx *c)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

	if (tmpl_expand(tmpl, c, &out, &err) < 0)
		fail_msg("'%s' failed: %s", tmpl, err.buf);
	sb_release(&err);
	return sb_detach(&out, NULL);
}

/* Runs `sh -c cmd` in dir, returns what it wrote to stdout. */
static char *run_sh(const char *dir, const char *cmd, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	int fd[2], status;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (chdir(dir) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	assert_int_equal(sb_read_fd(&sb, fd[0]), 0);
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return sb_detach(&sb, len);
}

static void injection_is_inert(void **state)
{
	char dir[] = "/tmp/sf-tmpl-XXXXXX";
	json_t *params = json_pack("{s:s}", "name", evil);
	struct tmpl_ctx c = ctx_with(params);
	char *cmd, *got, *probe;
	size_t len;

	assert_non_null(mkdtemp(dir));
	cmd = expand("printf '%s' {{ params.name }}", &c);
	got = run_sh(dir, cmd, &len);
	assert_int_equal(len, strlen(evil));
	assert_memory_equal(got, evil, len);
	/* nothing of the value ran: none of the files exist */
	for (const char *f = "pwned-subst\0pwned-tick\0pwned-semi\0"; *f; f += strlen(f) + 1) {
		probe = xasprintf("%s/%s", dir, f);
		assert_int_equal(access(probe, F_OK), -1);
		free(probe);
	}
	free(got);
	free(cmd);
	/* also as one word among others, and twice */
	cmd = expand("printf '[%s]' {{ params.name }}x{{params.name}}", &c);
	got = run_sh(dir, cmd, &len);
	probe = xasprintf("[%sx%s]", evil, evil);
	assert_string_equal(got, probe);
	free(probe);
	free(got);
	free(cmd);
	rmdir(dir);
	json_decref(params);
}

static void expect_expand_error(const char *tmpl, const struct tmpl_ctx *c, const char *msg);

static void raw_and_plain(void **state)
{
	json_t *params = json_pack("{s:s, s:i, s:f, s:b}", "glob", "*.flac", "n", 22050, "r", 0.1,
				   "v", 1);
	struct tmpl_ctx c = ctx_with(params);
	char *s;

	/* raw only for values the DAG file fixes: a string param is refused */
	expect_expand_error("ls {{ params.glob | raw }}", &c, "is refused: its value comes from");
	s = expand("ls {{ run.dir | raw }}/{{ params.n | raw }} {{params.glob}}", &c);
	assert_string_equal(s, "ls /data/generated/d/r1/22050 '*.flac'");
	free(s);
	s = expand("{{ params.n }} {{ params.r }} {{ params.v }}", &c);
	assert_string_equal(s, "'22050' '0.1' 'true'");
	free(s);
	c.quote = 0;
	s = expand("{{ run.dir }}/raw/{{ params.glob }} {{ data }} {{ run.id }} {{ run.date }} "
		   "{{ task.id }}", &c);
	assert_string_equal(s, "/data/generated/d/r1/raw/*.flac /data r1 2026-11-28 t");
	free(s);
	s = expand("no templates } here {", &c);
	assert_string_equal(s, "no templates } here {");
	free(s);
	json_decref(params);
}

/* item.rel(stem): below the foreach glob's folder, also with placeholders for the run's */
static void item_rel(void **state)
{
	static const char y[] = "id: d\ntasks:\n  t:\n    foreach: \"{{ run.dir }}/src/**/*.flac\"\n"
				"    run: \"true\"\n  u:\n    foreach: \"raw/*/x?.wav\"\n    run: \"true\"\n";
	struct diag_list dl;
	struct dag *d;
	struct tmpl_ctx c = ctx_with(NULL);
	char *s;

	diag_init(&dl, "d.yaml");
	d = dag_load_buffer("d.yaml", y, sizeof(y) - 1, &dl);
	assert_non_null(d);
	c.dag = d;
	c.quote = 0;
	c.item = "/data/generated/d/r1/src/a b/c.d.flac";
	s = expand("{{ item.rel }}|{{ item.relstem }}", &c);
	assert_string_equal(s, "a b/c.d.flac|a b/c.d");
	free(s);
	c.run_dir = "{{ run.dir }}";
	c.item = "{{ run.dir }}/src/e.flac";
	s = expand("{{ item.rel }}", &c);
	assert_string_equal(s, "e.flac");
	free(s);
	/* a relative glob is below the data folder */
	c.task_id = "u";
	c.item = "/data/raw/q/x1.wav";
	s = expand("{{ item.rel }}|{{ item.relstem }}", &c);
	assert_string_equal(s, "q/x1.wav|q/x1");
	free(s);
	dag_free(d);
	diag_release(&dl);
}

static void item_parts(void **state)
{
	struct tmpl_ctx c = ctx_with(NULL);
	char *s;

	c.quote = 0;
	c.item = "/data/raw/a b/clip.tar.flac";
	s = expand("{{ item }}|{{ item.name }}|{{ item.stem }}|{{ item.dir }}", &c);
	assert_string_equal(s, "/data/raw/a b/clip.tar.flac|clip.tar.flac|clip.tar|/data/raw/a b");
	free(s);
	c.item = "noext";
	s = expand("{{ item.name }}|{{ item.stem }}|{{ item.dir }}", &c);
	assert_string_equal(s, "noext|noext|.");
	free(s);
	c.item = "/.hidden";
	s = expand("{{ item.stem }}|{{ item.dir }}", &c);
	assert_string_equal(s, ".hidden|/");
	free(s);
	c.quote = 1;
	c.item = "/x/it's.wav";
	s = expand("sox {{ item }}", &c);
	assert_string_equal(s, "sox '/x/it'\\''s.wav'");
	free(s);
}

static void expect_expand_error(const char *tmpl, const struct tmpl_ctx *c, const char *msg)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

	assert_int_equal(tmpl_expand(tmpl, c, &out, &err), -1);
	if (!strstr(err.buf, msg))
		fail_msg("'%s': got '%s', wanted '%s'", tmpl, err.buf, msg);
	sb_release(&out);
	sb_release(&err);
}

struct found {
	size_t n;
	size_t off[8];
	char msg[8][256];
};

static void collect(void *data, size_t off, const char *msg)
{
	struct found *f = data;

	if (f->n < 8) {
		f->off[f->n] = off;
		snprintf(f->msg[f->n], sizeof(f->msg[0]), "%s", msg);
	}
	f->n++;
}

/*
 * Every context a template is accepted in, with what the command prints
 * around the value: /bin/sh must receive the value's exact bytes.
 */
static const struct {
	const char *tmpl, *before, *after;
} contexts[] = {
	{ "printf '%s' {{ item }}", "", "" },
	{ "printf '%s' pre{{ item }}post", "pre", "post" },
	{ "printf '%s' \"pre {{ item }} post\"", "pre ", " post" },
	{ "printf '%s' 'pre {{ item }} post'", "pre ", " post" },
	{ "printf '%s' \"a'b{{ item }}c'd\"", "a'b", "c'd" },
	{ "printf '%s' 'a\"b{{ item }}c\"d'", "a\"b", "c\"d" },
	/* the only one that forks for every value: keep the test quick */
	{ "printf '%s' \"$(printf '%sx' \"{{ item }}\")\"", "", "x" },
	{ "v={{ item }}; printf '%s' \"$v\"", "", "" },
	{ "v=\"<{{ item }}>\" && printf '%s' \"$v\"", "<", ">" },
	{ "for a in {{ item }}; do printf '%s' \"$a\"; done", "", "" },
	{ "case {{ item }} in *) printf '%s' {{ item }};; esac", "", "" },
	{ "read -r l <<EOF\nfixed\nEOF\nprintf '%s' \"$l\" {{ item }}", "fixed", "" },
	{ "read -r l <<-'E'\n\t$(no)\n\tE\nprintf '%s' \"$l\" \"{{ item }}\"", "$(no)", "" },
	{ ": ${x:=1} # '\nprintf '%s' {{ item }}$x", "", "1" },
	{ "printf '%s' $((1+1))\"{{ item }}\"", "2", "" },
	{ "{ printf '%s' {{ item }}; }", "", "" },
	{ "if true; then printf '%s' {{ item }}; fi", "", "" },
	{ "printf '%s' \"${x:-}{{ item }}\"", "", "" },
	{ "printf '%s' \\\\{{ item }}", "\\", "" },
};

/* Hand-picked values that broke naive quoting somewhere, besides the random ones. */
static const char *const nasty[] = {
	"'\\''", "'\"'\"'", "$(touch P1)", "`touch P2`", "\"; touch P3; \"", "'; touch P4; '",
	"\\", "\\\\", "\\'", "a\\", "\n", "EOF\ntouch P5", "E\ntouch P6", ")", "esac", ";;",
	"${IFS}", "$((1+1))", "*", "~", "#", "-n", "{{ item }}", "' ; touch P7 #", "\"$(touch P8)\"",
	"\\\"; touch P9; \\\"", "$'\\x27'", "x'$(touch P10)'x", "\\\n", "'", "\"", "''", "\"\"",
};

static void add_value(char ***vals, size_t *n, size_t *alloc, const char *v)
{
	ALLOC_GROW(*vals, *n + 1, *alloc);
	(*vals)[(*n)++] = xstrdup(v);
}

/* Single bytes 1-255, all of them in a row, the nasty ones, and seeded random mixes. */
static char **byte_values(size_t *n)
{
	static const char special[] = "'\"\\$`(){};|&<>#\n *?~!=%";
	char **vals = NULL, buf[256];
	size_t alloc = 0;
	uint32_t seed = 8;

	*n = 0;
	for (int b = 1; b < 256; b++) {
		buf[0] = (char)b;
		buf[1] = '\0';
		add_value(&vals, n, &alloc, buf);
	}
	for (int b = 1; b < 256; b++)
		buf[b - 1] = (char)b;
	buf[255] = '\0';
	add_value(&vals, n, &alloc, buf);
	for (int b = 1; b < 256; b++)
		buf[b - 1] = (char)(256 - b);
	add_value(&vals, n, &alloc, buf);
	for (size_t i = 0; i < ARRAY_SIZE(nasty); i++)
		add_value(&vals, n, &alloc, nasty[i]);
	for (int k = 0; k < 200; k++) {
		size_t len = 1 + (seed = seed * 1103515245u + 12345u) % 40;
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			/* half of the bytes from the shell's special ones */
			buf[j] = (seed >> 16) & 1 ? special[(seed >> 17) % (sizeof(special) - 1)]
					: (char)(1 + (seed >> 17) % 255);
		}
		buf[len] = '\0';
		add_value(&vals, n, &alloc, buf);
	}
	return vals;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/*
 * The property: for every value (bytes 1-255) in every accepted context,
 * /bin/sh prints exactly before + value + after and creates nothing.  One
 * script per context runs every value, outputs separated by NUL bytes
 * (which no value holds).
 */
static void every_byte_every_context(void **state)
{
	char dir[] = "/tmp/sf-tmpl-XXXXXX";
	struct tmpl_ctx c = ctx_with(NULL);
	struct strbuf script = STRBUF_INIT, want = STRBUF_INIT;
	size_t nvals, len;
	char **vals = byte_values(&nvals), *got;

	assert_non_null(mkdtemp(dir));
	for (size_t k = 0; k < ARRAY_SIZE(contexts); k++) {
		sb_reset(&script);
		sb_reset(&want);
		for (size_t i = 0; i < nvals; i++) {
			c.item = vals[i];
			got = expand(contexts[k].tmpl, &c);
			sb_addf(&script, "%s\nprintf '\\000'\n", got);
			sb_addf(&want, "%s%s%s", contexts[k].before, vals[i], contexts[k].after);
			sb_addch(&want, '\0');
			free(got);
		}
		got = run_sh(dir, script.buf, &len);
		if (len != want.len || memcmp(got, want.buf, len)) {
			size_t at = 0;
			while (at < len && at < want.len && got[at] == want.buf[at])
				at++;
			fail_msg("context '%s': output differs at byte %zu of %zu", contexts[k].tmpl,
				 at, want.len);
		}
		free(got);
		if (!dir_is_empty(dir))
			fail_msg("context '%s': a value created a file", contexts[k].tmpl);
	}
	for (size_t i = 0; i < nvals; i++)
		free(vals[i]);
	free(vals);
	sb_release(&script);
	sb_release(&want);
	rmdir(dir);
}

/* The contexts no quoting makes safe: refused by the validator and at run time. */
static void unsafe_contexts_refused(void **state)
{
	static const struct {
		const char *tmpl, *why;
	} bad[] = {
		{ "echo `echo {{ item }}`", "inside backticks" },
		{ "echo \"`echo {{ item }}`\"", "inside backticks" },
		{ "echo $(( {{ item }} + 1 ))", "inside $(( ))" },
		{ "echo ${x:-{{ item }}}", "inside ${ }" },
		{ "echo \"${x:-\"{{ item }}\"}\"", "inside ${ }" },
		{ "echo $'{{ item }}'", "inside $'...'" },
		{ "cat <<EOF\n{{ item }}\nEOF", "inside a here-document" },
		{ "cat <<'EOF'\na {{ item }} b\nEOF\n", "inside a here-document" },
		{ "cat <<-EOF; cat <<X\n\tEOF\n{{ item }}\nX", "inside a here-document" },
		{ "cat <<{{ item }}\nx", "here-document delimiter" },
		{ "cat <<'a{{ item }}'\nx", "here-document delimiter" },
		{ "case x in {{ item }}) echo;; esac", "case pattern" },
		{ "case x in a) echo;; b|\"{{ item }}\") :;; esac", "case pattern" },
		{ "case x in\n(a) echo\n;;\n({{ item }}) :;; esac", "case pattern" },
		{ "echo hi # {{ item }}", "inside a comment" },
		{ "echo hi\n  #{{ item }}", "inside a comment" },
		{ "echo ${{ item }}", "follows '$'" },
		{ "echo \"${{ item }}\"", "follows '$'" },
		{ "echo \\{{ item }}", "follows a backslash" },
		{ "echo \"\\{{ item }}\"", "follows a backslash" },
		{ "eval {{ item }}", "argument of eval" },
		{ "x=1 eval \"echo {{ item }}\"", "argument of eval" },
		{ "true && eval echo {{ item }}", "argument of eval" },
		{ "echo {{ item | raw }}", "comes from a file name" },
		{ "echo {{ item.name | raw }}", "comes from a file name" },
		{ "echo {{ vars.v | raw }}", "a variable set outside the DAG file" },
	};
	static const char *const good[] = {
		"cat <<EOF\nhi\nEOF\necho {{ item }}",
		"echo `date` {{ item }} $((1+2)) {{ item }} ${x:-a} {{ item }}",
		"case {{ item }} in a) echo {{ item }};; esac; echo {{ item }}",
		"echo '#' {{ item }} a#b {{ item }}",
		"eval_me {{ item }}; echo eval {{ item }}; eval true; echo {{ item }}",
		"echo $'\\'' {{ item }}",
		"f() { echo \"{{ item }}\"; }; f",
		"x=$(cat <<EOF\nhi\nEOF\n) && echo {{ item }}",
	};
	struct tmpl_ctx c = ctx_with(json_object());
	json_t *vars = json_pack("{s:s}", "v", "x");
	struct found f;
	char *s;

	c.item = "/x/a b";
	c.vars = vars;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&f, 0, sizeof(f));
		if (tmpl_check(bad[i].tmpl, NULL, 0, TMPL_TASK | TMPL_ITEM | TMPL_SHELL, collect,
			       &f) != 1 || !strstr(f.msg[0], bad[i].why))
			fail_msg("'%s': %zu problem(s), first '%s', wanted '%s'", bad[i].tmpl, f.n,
				 f.msg[0], bad[i].why);
		expect_expand_error(bad[i].tmpl, &c, bad[i].why);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		memset(&f, 0, sizeof(f));
		if (tmpl_check(good[i], NULL, 0, TMPL_TASK | TMPL_ITEM | TMPL_SHELL, collect, &f))
			fail_msg("'%s' refused: %s", good[i], f.msg[0]);
		s = expand(good[i], &c);
		free(s);
	}
	/* the message says what to write instead, naming the template */
	memset(&f, 0, sizeof(f));
	tmpl_check("echo $(( {{ params.n }} ))", (const char *const[]){ "n" }, 1, TMPL_SHELL,
		   collect, &f);
	assert_non_null(strstr(f.msg[0], "'{{ params.n }}' is inside $(( ))"));
	assert_non_null(strstr(f.msg[0], "(v={{ params.n }})"));
	assert_int_equal(f.off[0], 9);
	json_decref(c.params);
	json_decref(vars);
}

static void vars_and_errors(void **state)
{
	json_t *vars = json_pack("{s:s}", "owner", "anon");
	struct tmpl_ctx c = ctx_with(json_object());
	char *s;

	c.vars = vars;
	s = expand("hi {{ vars.owner }}", &c);
	assert_string_equal(s, "hi 'anon'");
	free(s);
	expect_expand_error("{{ vars.nope }}", &c, "variable 'nope' is not set");
	expect_expand_error("{{ params.nope }}", &c, "unknown param 'nope'");
	expect_expand_error("{{ item }}", &c, "'{{ item }}' has no value here");
	expect_expand_error("a {{ run.id", &c, "unclosed '{{'");
	expect_expand_error("{{ bogus }}", &c, "unknown template name 'bogus'");
	expect_expand_error("{{ run.id | upper }}", &c, "unknown filter 'upper'");
	json_decref(c.params);
	json_decref(vars);
}

static void env_vars(void **state)
{
	json_t *params = json_pack("{s:i, s:s}", "sample-rate", 22050, "file.in", "/a b");
	struct tmpl_ctx c = ctx_with(params);
	char **env = NULL;
	size_t n = 0, alloc = 0;
	int seen = 0;

	c.item = "/x/y.flac";
	tmpl_env(&c, &env, &n, &alloc);
	assert_null(env[n]);
	for (size_t i = 0; i < n; i++) {
		seen += !strcmp(env[i], "SF_PARAM_SAMPLE_RATE=22050");
		seen += !strcmp(env[i], "SF_PARAM_FILE_IN=/a b");
		seen += !strcmp(env[i], "SF_RUN_ID=r1");
		seen += !strcmp(env[i], "SF_RUN_DIR=/data/generated/d/r1");
		seen += !strcmp(env[i], "SF_ITEM=/x/y.flac");
		seen += !strcmp(env[i], "SF_TASK_ID=t");
		seen += !strcmp(env[i], "SF_DATA=/data");
		free(env[i]);
	}
	assert_int_equal(seen, 7);
	free(env);
	json_decref(params);
}

static void static_checks(void **state)
{
	const char *const params[] = { "sample_rate", "split" };
	struct found f = { 0 };

	assert_int_equal(tmpl_check("sox {{ item }} -r {{ params.sample_rate }} {{ vars.any }} "
				    "{{ run.dir | raw }} {{ task.id }}",
				    params, 2, TMPL_TASK | TMPL_ITEM, collect, &f), 0);
	assert_int_equal(tmpl_check("a {{ params.rate }} {{ item }} {{ task.id }} {{ parms.split }}",
				    params, 2, 0, collect, &f), 4);
	assert_int_equal(f.off[0], 2);
	assert_non_null(strstr(f.msg[0], "unknown param 'rate'"));
	assert_non_null(strstr(f.msg[0], "params: sample_rate, split"));
	assert_non_null(strstr(f.msg[1], "'{{ item }}' is not available here"));
	assert_non_null(strstr(f.msg[2], "'{{ task.id }}' is not available here"));
	assert_non_null(strstr(f.msg[3], "did you mean 'params.split'?"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(tmpl_check("x {{ item.stem }}", params, 2, TMPL_TASK, collect, &f), 1);
	assert_non_null(strstr(f.msg[0], "only available in a task with 'foreach'"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(tmpl_check("{{ item }}/*", params, 2, TMPL_TASK | TMPL_GLOB, collect, &f), 1);
	assert_non_null(strstr(f.msg[0], "cannot be used in 'foreach'"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(tmpl_check("ok {{ run.id }} {{ oops {{ x }} {{ bad }}", params, 2, 0,
				    collect, &f), 2);
	assert_int_equal(f.off[0], 16);
	assert_non_null(strstr(f.msg[0], "malformed template name 'oops {{ x'"));
	assert_non_null(strstr(f.msg[1], "unknown template name 'bad'"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(tmpl_check("{{}} {{ a b }} {{ x | y }}", params, 2, 0, collect, &f), 3);
	assert_non_null(strstr(f.msg[0], "empty"));
	assert_non_null(strstr(f.msg[1], "malformed template name 'a b'"));
	assert_non_null(strstr(f.msg[2], "unknown filter 'y'"));
	memset(&f, 0, sizeof(f));
	/* an unclosed '{{' ends the scan: nothing after it can be paired */
	assert_int_equal(tmpl_check("{{ bad }} {{ run.id", params, 2, 0, collect, &f), 2);
	assert_int_equal(f.off[1], 10);
	assert_non_null(strstr(f.msg[1], "unclosed"));
}

/* '{{ items }}' is one word per item: a word of its own, outside quotes, or refused. */
static void items_whole_word(void **state)
{
	static const char *const good[] = {
		"printf '<%s>' {{ items }}", "printf '<%s>' {{ items }};", "(printf '<%s>' {{ items }})",
		"printf '<%s>' {{ items }}|cat", "printf '<%s>' {{ items }}>&1",
	};
	static const char *const glued[] = {
		"echo x{{ items }}", "echo {{ items }}x", "v={{ items }}", "echo {{ items }}{{ run.id }}",
		"echo \"a\"{{ items }}", "echo {{ items }}'a'", "echo $x{{ items }}",
	};
	static const char *const quoted[] = { "echo \"{{ items }}\"", "echo '{{ items }}'" };
	static char a[] = "a b", b[] = "it's", e[] = "";
	char *const items[] = { a, b, e };
	struct tmpl_ctx c = ctx_with(NULL);
	unsigned scope = TMPL_TASK | TMPL_BATCH | TMPL_SHELL;
	struct found f;
	char *cmd, *out;
	size_t len;

	(void)state;
	c.items = items;
	c.nitems = ARRAY_SIZE(items);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		memset(&f, 0, sizeof(f));
		if (tmpl_check(good[i], NULL, 0, scope, collect, &f))
			fail_msg("'%s' refused: %s", good[i], f.msg[0]);
		cmd = expand(good[i], &c);
		out = run_sh(".", cmd, &len);
		assert_string_equal(out, "<a b><it's><>");
		free(out);
		free(cmd);
	}
	for (size_t i = 0; i < ARRAY_SIZE(glued) + ARRAY_SIZE(quoted); i++) {
		int g = i < ARRAY_SIZE(glued);
		const char *t = g ? glued[i] : quoted[i - ARRAY_SIZE(glued)];
		const char *want = g ? "must be a word of its own" : "must stand outside quotes";
		memset(&f, 0, sizeof(f));
		if (tmpl_check(t, NULL, 0, scope, collect, &f) != 1 || !strstr(f.msg[0], want))
			fail_msg("'%s': %zu problems, first '%s', wanted '%s'", t, f.n, f.msg[0], want);
		expect_expand_error(t, &c, want);
	}
	/* outside a batched task the one error says so, not where it stands */
	memset(&f, 0, sizeof(f));
	assert_int_equal(tmpl_check("echo x{{ items }}", NULL, 0, TMPL_TASK | TMPL_SHELL, collect, &f), 1);
	assert_non_null(strstr(f.msg[0], "only available in a task with 'batch'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(injection_is_inert),
		cmocka_unit_test(raw_and_plain),
		cmocka_unit_test(item_parts),
		cmocka_unit_test(vars_and_errors),
		cmocka_unit_test(env_vars),
		cmocka_unit_test(static_checks),
		cmocka_unit_test(every_byte_every_context),
		cmocka_unit_test(unsafe_contexts_refused),
		cmocka_unit_test(items_whole_word),
		cmocka_unit_test(item_rel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
