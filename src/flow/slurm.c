/* Slurm's states, outputs and command lines, as pure code (see slurm.h). */
#include "flow/slurm.h"

#include <ctype.h>
#include <errno.h>

#include "util/common.h"

struct state_class {
	const char *name;
	enum slurm_class cls;
	const char *reason;
};

/* Every job state of Slurm 22.05 (squeue's %T, sacct's State). */
static const struct state_class states[] = {
	{ "PENDING", SLURM_WAITING, NULL },
	{ "CONFIGURING", SLURM_WAITING, NULL },
	{ "REQUEUED", SLURM_WAITING, NULL },
	{ "REQUEUE_HOLD", SLURM_WAITING, NULL },
	{ "REQUEUE_FED", SLURM_WAITING, NULL },
	{ "RESV_DEL_HOLD", SLURM_WAITING, NULL },
	{ "RUNNING", SLURM_RUNNING, NULL },
	{ "SUSPENDED", SLURM_RUNNING, NULL },
	{ "STOPPED", SLURM_RUNNING, NULL },
	{ "SIGNALING", SLURM_RUNNING, NULL },
	{ "RESIZING", SLURM_RUNNING, NULL },
	{ "STAGE_OUT", SLURM_RUNNING, NULL },
	/* The job's processes are gone; the exit-code file says how it went. */
	{ "COMPLETING", SLURM_ENDED, NULL },
	{ "COMPLETED", SLURM_ENDED, NULL },
	{ "FAILED", SLURM_ENDED, NULL },
	{ "SPECIAL_EXIT", SLURM_ENDED, NULL },
	{ "TIMEOUT", SLURM_KILLED, "time limit" },
	{ "OUT_OF_MEMORY", SLURM_KILLED, "out of memory" },
	{ "NODE_FAIL", SLURM_KILLED, "node failure" },
	{ "BOOT_FAIL", SLURM_KILLED, "node failed to boot" },
	{ "CANCELLED", SLURM_KILLED, "cancelled in Slurm" },
	{ "DEADLINE", SLURM_KILLED, "deadline reached" },
	{ "REVOKED", SLURM_KILLED, "revoked by a sibling cluster" },
	{ "PREEMPTED", SLURM_REQUEUE, "preempted" },
};

enum slurm_class slurm_state_class(const char *state, const char **reason)
{
	size_t len = strcspn(state, " +");

	*reason = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		if (strlen(states[i].name) == len && !strncmp(state, states[i].name, len)) {
			*reason = states[i].reason;
			return states[i].cls;
		}
	}
	return SLURM_UNKNOWN;
}

/* Splits `line` at '|' into up to n fields (the last keeps any '|'); returns how many. */
static size_t split_fields(char *line, char **f, size_t n)
{
	size_t k = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (;;) {
		f[k++] = line;
		if (k == n || !(line = strchr(line, '|')))
			return k;
		*line++ = '\0';
	}
}

static int id_ok(const char *id)
{
	if (!isdigit((unsigned char)*id))
		return 0;
	return strspn(id, "0123456789_[]-%,") == strlen(id);
}

int slurm_parse_row(char *line, struct slurm_row *row)
{
	char *f[3];

	if (split_fields(line, f, 3) != 3 || !id_ok(f[0]) || !*f[1])
		return -1;
	*row = (struct slurm_row){ .id = f[0], .state = f[1], .name = f[2] };
	return 0;
}

int slurm_parse_acct_row(char *line, struct slurm_acct_row *row)
{
	char *f[4], *end, *colon;
	long code, sig;

	if (split_fields(line, f, 4) != 4 || !id_ok(f[0]) || !*f[1])
		return -1;
	errno = 0;
	code = strtol(f[2], &colon, 10);
	if (errno || colon == f[2] || *colon != ':' || code < 0 || code > 255)
		return -1;
	sig = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || sig < 0 || sig > 127)
		return -1;
	/* as waitpid: killed by signal S, or exited with N */
	*row = (struct slurm_acct_row){ .id = f[0], .state = f[1],
					.status = sig ? (int)sig : (int)code << 8, .name = f[3] };
	return 0;
}

int slurm_acct_disabled(const char *err)
{
	return err && strstr(err, "accounting storage is disabled") != NULL;
}

long long slurm_parse_jobid(const char *out)
{
	char *end;
	long long id;

	while (isspace((unsigned char)*out))
		out++;
	if (!isdigit((unsigned char)*out))
		return -1;
	errno = 0;
	id = strtoll(out, &end, 10);
	if (errno || id <= 0 || (*end && *end != ';' && !isspace((unsigned char)*end)))
		return -1;
	return id;
}

int slurm_parse_max_array(const char *config)
{
	for (const char *p = config; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		long v;
		char *end;
		if (strncmp(p, "MaxArraySize", 12) || (p[12] != ' ' && p[12] != '='))
			continue;
		p += 12 + strspn(p + 12, " =");
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v < 1 || v > 4000001)
			return -1;
		return (int)v;
	}
	return -1;
}

long long slurm_minutes(int64_t ms)
{
	long long m = (ms + 59999) / 60000;
	return m < 1 ? 1 : m;
}

void slurm_sbatch_argv(struct strvec *argv, const struct slurm_submit *sub)
{
	const struct dag_resources *r = sub->res;
	const char *partition = r->partition ? r->partition : sub->partition;
	const char *account = r->account ? r->account : sub->account;
	int64_t time_ms = r->time_ms ? r->time_ms : sub->timeout_ms;

	strvec_push(argv, "sbatch");
	strvec_push(argv, "--parsable");
	strvec_pushf(argv, "--job-name=%s", sub->key);
	strvec_pushf(argv, "--chdir=%s", sub->workdir);
	/* The wrapper writes the try's log; Slurm's own file would be a second, partial copy. */
	strvec_push(argv, "--output=/dev/null");
	strvec_push(argv, "--export=ALL");
	/* A try is never started twice by Slurm behind the scheduler's back. */
	strvec_push(argv, "--no-requeue");
	if (sub->array_n > 0 && sub->throttle > 0)
		strvec_pushf(argv, "--array=0-%d%%%d", sub->array_n - 1, sub->throttle);
	else if (sub->array_n > 0)
		strvec_pushf(argv, "--array=0-%d", sub->array_n - 1);
	if (time_ms > 0)
		strvec_pushf(argv, "--time=%lld", slurm_minutes(time_ms));
	if (r->cpus)
		strvec_pushf(argv, "--cpus-per-task=%d", r->cpus);
	if (r->mem_mb)
		strvec_pushf(argv, "--mem=%lldM", (long long)r->mem_mb);
	if (r->gpus)
		strvec_pushf(argv, "--gres=gpu:%d", r->gpus);
	if (partition && *partition)
		strvec_pushf(argv, "--partition=%s", partition);
	if (account && *account)
		strvec_pushf(argv, "--account=%s", account);
	for (size_t i = 0; i < r->nextra; i++)
		strvec_push(argv, r->extra[i]);
	strvec_push(argv, sub->script);
}

int slurm_env_name_ok(const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry || isdigit((unsigned char)*entry))
		return 0;
	for (const char *p = entry; p < eq; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

static void add_assign(struct strbuf *out, const char *name, const char *value)
{
	sb_addf(out, "%s=", name);
	sb_add_shell_quoted(out, value);
	sb_addch(out, '\n');
}

/*
 * The scripts fork nothing that bash does itself (the SF_* list, the log's
 * overflow check, the array's line): a fork and exec cost an element a few
 * milliseconds, paid once per element of a 1,000-element array
 * (bench/slurm.sh).
 */
void slurm_script_text(struct strbuf *out, const struct slurm_script *sc)
{
	char max[32];

	sb_adds(out, "#!/bin/bash\n"
		     "# One try of a SynthFlow task, written by synthflow (docs/slurm.md).\n"
		     "# The scheduler's own SF_* variables go; the try's are set.\n"
		     "unset \"${!SF_@}\"\n"
		     "# Marks the job's processes as Slurm's to end (a scheduler on the same\n"
		     "# machine never kills them as leftovers of its own tries).\n"
		     "export SF_EXECUTOR=slurm\n");
	for (size_t i = 0; i < sc->nenv; i++) {
		if (!slurm_env_name_ok(sc->env[i]))
			continue;
		sb_adds(out, "export ");
		sb_add_shell_quoted(out, sc->env[i]);
		sb_addch(out, '\n');
	}
	snprintf(max, sizeof(max), "%llu", (unsigned long long)sc->log_max);
	add_assign(out, "sf_log", sc->log_path);
	add_assign(out, "sf_exit", sc->exit_path);
	add_assign(out, "sf_max", max);
	add_assign(out, "sf_cmd", sc->cmd);
	add_assign(out, "sf_dir", sc->workdir);
	if (sc->ctr_workspace) {
		struct ctr_run r = { .name = sc->ctr_name, .data_dir = sc->data_dir,
				     .workdir = sc->workdir, .uid = sc->uid, .gid = sc->gid,
				     .env = sc->env, .nenv = sc->nenv };
		ctr_script_text(out, sc->ctr_workspace, sc->ctr_image, sc->ctr_sif, &r, sc->gpus);
	}
	/*
	 * Output goes to the log up to the cap, then a note, then nowhere while
	 * the command keeps running (as the local executor does).  The exit code
	 * is written last, fsynced, and renamed into place: whoever sees the file
	 * sees the whole code (on NFS, close-to-open consistency then shows the
	 * log written before it).  Only this one file is fsynced: each fsync
	 * costs a job tens to hundreds of milliseconds on a busy disk.
	 */
	/*
	 * A container: the job's SIGTERM (a cancel, a timeout) must not end
	 * this script, or Slurm kills what is left of the job before
	 * sf_container has removed the container, which the engine's daemon
	 * runs, not the job.  Once the pipeline is done the script ends.
	 */
	if (sc->ctr_workspace)
		sb_adds(out, "trap : TERM INT\n");
	sb_adds(out,
		"[ -d \"${sf_log%/*}\" ] || mkdir -p -- \"${sf_log%/*}\" || exit 1\n"
		"{ cd -- \"$sf_dir\" && ");
	sb_adds(out, sc->ctr_workspace ? "sf_container" : "exec /bin/sh -c \"$sf_cmd\"");
	sb_adds(out, "; } </dev/null 2>&1 | {\n"
		"\thead -c \"$sf_max\"\n"
		"\tif IFS= read -r -d '' -n 1 _; then\n"
		"\t\tprintf '\\n[synthflow] log truncated at %s bytes; further output discarded\\n' \"$sf_max\"\n"
		"\t\tcat >/dev/null\n"
		"\tfi\n"
		"} >\"$sf_log\"\n"
		"sf_rc=${PIPESTATUS[0]}\n"
		"printf '%s\\n' \"$sf_rc\" >\"$sf_exit.tmp\" && sync -- \"$sf_exit.tmp\" &&\n"
		"\tmv -f -- \"$sf_exit.tmp\" \"$sf_exit\"\n"
		"exit \"$sf_rc\"\n");
}

void slurm_array_script_text(struct strbuf *out, const char *list_path)
{
	sb_adds(out, "#!/bin/bash\n"
		     "# A job array of SynthFlow tries, written by synthflow (docs/slurm.md):\n"
		     "# element K runs the try script on line K+1 of the list.\n"
		     "sf_list=");
	sb_add_shell_quoted(out, list_path);
	sb_adds(out, "\n"
		     "mapfile -t -s \"$SLURM_ARRAY_TASK_ID\" -n 1 sf_try <\"$sf_list\"\n"
		     "[ -n \"$sf_try\" ] || { echo \"synthflow: no line $((SLURM_ARRAY_TASK_ID + 1)) in $sf_list\" >&2; exit 1; }\n"
		     ". \"$sf_try\"\n");
}
