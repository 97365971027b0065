/*
 * The scheduler's side of provenance (prov.h): a document per try, begun
 * when the try starts (the expanded command, its folder and environment)
 * and finished when it ends (times, exit code); declared files are hashed
 * by the pool, off the loop.  A run is not reported finished before every
 * document of it is back, so `test` and `pack` right after it see them all.
 *
 * What survives a crash: documents are written with the state changes of
 * the same flush; a document still in the pool when the process dies is
 * lost, and the instance's record keeps its previous try's document.
 */
#include "flow/prov.h"
#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

#define PROV_THREADS 2

static json_t *time_json(int64_t ms)
{
	char buf[40];
	if (!ms)
		return json_null();
	time_format_iso(ms, buf, sizeof(buf));
	return json_string(buf);
}

static void remember_program(struct srun *run, const char *cmd)
{
	char *prog = prov_command_program(cmd);
	if (!prog)
		return;
	for (size_t i = 0; i < run->nprograms; i++)
		if (!strcmp(run->programs[i], prog)) {
			free(prog);
			return;
		}
	ALLOC_GROW(run->programs, run->nprograms + 1, run->programs_alloc);
	run->programs[run->nprograms++] = prog;
}

void sprov_start(struct sproc *p, const char *cmd, char **env_tail, const char *workdir)
{
	struct sti *ti = p->ti;
	json_t *env;

	/* Off: no document, so sprov_finish has nothing to finish or hash. */
	if (!ti->task->run->s->opts.cfg->flow_provenance)
		return;
	env = json_object();
	for (char **e = env_tail; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char *key;
		if (!eq)
			continue;
		key = xstrndup(*e, (size_t)(eq - *e));
		json_object_set_new(env, key, json_string(eq + 1));
		free(key);
	}
	p->prov = json_pack("{s:s, s:o, s:i, s:s, s:s, s:o}", "task_id", ti->task->def->id,
			    "index", ti->index >= 0 ? json_integer(ti->index) : json_null(), "try",
			    ti->try_number, "command", cmd, "workdir", workdir, "env", env);
	remember_program(ti->task->run, cmd);
}

static void push_doc(struct sched *s, const char *run_id, const char *task_id, int index,
		     json_t *doc)
{
	ALLOC_GROW(s->provs, s->nprovs + 1, s->provs_alloc);
	s->provs[s->nprovs++] = (struct pending_prov){
		.run_id = xstrdup(run_id), .task_id = xstrdup(task_id), .index = index, .doc = doc,
	};
}

static void submit(struct sched *s, struct prov_job *job)
{
	if (!s->pool)
		s->pool = prov_pool_new(PROV_THREADS, s->wake_write_fd);
	if (!s->pool) {
		/* No threads: the hashing happens here, slower but complete. */
		prov_job_run(job);
		job->next = NULL;
		ALLOC_GROW(s->prov_local, s->nprov_local + 1, s->prov_local_alloc);
		s->prov_local[s->nprov_local++] = job;
		return;
	}
	prov_pool_submit(s->pool, job);
}

/* Expanded declared paths, absolute; NULL entries never. */
char **sprov_expand_paths(struct sched *s, char **tmpls, size_t n, struct tmpl_ctx *ctx)
{
	char **out = xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		struct strbuf v = STRBUF_INIT, err = STRBUF_INIT;
		if (tmpl_expand(tmpls[i], ctx, &v, &err) < 0) {
			sb_reset(&v);
			sb_adds(&v, tmpls[i]);
		}
		if (v.buf[0] != '/')
			out[i] = path_join(s->data_dir, v.buf);
		else
			out[i] = sb_detach(&v, NULL);
		sb_release(&v);
		sb_release(&err);
	}
	return out;
}

void sprov_finish(struct sched *s, struct sproc *p)
{
	struct sti *ti = p->ti;
	struct srun *run = ti->task->run;
	const struct dag_task *def = ti->task->def;
	const char *item = ti->index >= 0 && ti->task->items ? ti->task->items[ti->index] : NULL;
	json_t *doc = p->prov;
	struct prov_job *job;
	struct tmpl_ctx ctx;

	p->prov = NULL;
	if (!doc)
		return;
	json_object_set_new(doc, "started_at", time_json(ti->started_at));
	json_object_set_new(doc, "ended_at", time_json(ti->ended_at));
	json_object_set_new(doc, "exit_code", json_integer(ti->exit_code));
	if (!def->ninputs && !def->noutputs && !item) {
		push_doc(s, run->run_id, def->id, ti->index, doc);
		return;
	}
	ctx = (struct tmpl_ctx){
		.dag = run->dag, .params = run->params, .vars = run->vars, .run_id = run->run_id,
		.run_dir = run->run_dir, .run_date = run->run_date, .task_id = def->id,
		.item = item, .data_dir = s->data_dir, .quote = 0,
	};
	job = xcalloc(1, sizeof(*job));
	job->owner = run;
	job->doc = doc;
	job->inputs = sprov_expand_paths(s, def->inputs, def->ninputs, &ctx);
	job->ninputs = def->ninputs;
	job->outputs = sprov_expand_paths(s, def->outputs, def->noutputs, &ctx);
	job->noutputs = def->noutputs;
	/* a batch's record (on its first item) holds the outputs of every item it ran */
	for (size_t b = 1; b < p->nbatch && def->noutputs; b++) {
		char **more;
		ctx.item = ti->task->items[p->batch[b]->index];
		more = sprov_expand_paths(s, def->outputs, def->noutputs, &ctx);
		job->outputs = xrealloc(job->outputs, (job->noutputs + def->noutputs) * sizeof(char *));
		memcpy(job->outputs + job->noutputs, more, def->noutputs * sizeof(char *));
		job->noutputs += def->noutputs;
		free(more);
	}
	job->item = item ? xstrdup(item) : NULL;
	job->data_dir = xstrdup(s->data_dir);
	run->prov_pending++;
	s->prov_inflight++;
	submit(s, job);
}

void sprov_drop(struct sproc *p)
{
	json_decref(p->prov);
	p->prov = NULL;
}

/* The environment's names: values could be secrets and bundles are shared. */
static json_t *env_names(struct sched *s)
{
	json_t *names = json_array();
	for (size_t i = 0; i < s->nbase_env; i++) {
		const char *eq = strchr(s->base_env[i], '=');
		size_t len = eq ? (size_t)(eq - s->base_env[i]) : strlen(s->base_env[i]);
		json_array_append_new(names, json_stringn(s->base_env[i], len));
	}
	return names;
}

static const char *base_path(struct sched *s)
{
	for (size_t i = 0; i < s->nbase_env; i++)
		if (!strncmp(s->base_env[i], "PATH=", 5))
			return s->base_env[i] + 5;
	return "/usr/local/bin:/usr/bin:/bin";
}

int sprov_run_wait(struct sched *s, struct srun *run)
{
	struct prov_job *job;
	json_t *doc;

	if (run->prov_submitted)
		return run->prov_pending > 0;
	run->prov_submitted = 1;
	/* Off: no run document either, except a replay's, which holds what it replays. */
	if (!s->opts.cfg->flow_provenance && !run->prov_preset)
		return 0;
	doc = run->prov_preset ? json_deep_copy(run->prov_preset) : json_object();
	json_object_set(doc, "params", run->params);
	json_object_set(doc, "vars", run->vars);
	json_object_set_new(doc, "env_names", env_names(s));
	json_object_set_new(doc, "host", prov_host_json());
	job = xcalloc(1, sizeof(*job));
	job->owner = run;
	job->doc = doc;
	job->programs = run->programs;
	job->nprograms = run->nprograms;
	run->programs = NULL;
	run->nprograms = run->programs_alloc = 0;
	job->path_env = xstrdup(base_path(s));
	run->prov_pending++;
	s->prov_inflight++;
	submit(s, job);
	return 1;
}

void sprov_submit(struct sched *s, struct prov_job *job)
{
	s->prov_inflight++;
	submit(s, job);
}

void sprov_cached(struct sched *s, struct sti *ti, const char *key, const char *from_run,
		  int from_index, json_t *inputs, json_t *outputs)
{
	json_t *doc;

	if (!s->opts.cfg->flow_provenance)
		return;
	doc = json_pack("{s:s, s:o, s:i, s:b, s:s, s:s, s:o, s:o, s:o, s:O, s:O}", "task_id",
			ti->task->def->id, "index",
			ti->index >= 0 ? json_integer(ti->index) : json_null(), "try", 0, "cached", 1,
			"cache_key", key, "cached_from", from_run, "cached_from_index",
			from_index >= 0 ? json_integer(from_index) : json_null(), "started_at",
			time_json(ti->started_at), "ended_at", time_json(ti->ended_at), "inputs",
			inputs ? inputs : json_null(), "outputs", outputs ? outputs : json_null());
	push_doc(s, ti->task->run->run_id, ti->task->def->id, ti->index, doc);
}

static void take(struct sched *s, struct prov_job *job)
{
	struct srun *run = job->owner;
	const char *task_id = json_string_value(json_object_get(job->doc, "task_id"));
	json_t *index = json_object_get(job->doc, "index");

	if (job->run) {
		s->prov_inflight--;
		scache_done(s, job);
		return;
	}
	push_doc(s, run->run_id, task_id ? task_id : "", task_id ? (json_is_integer(index) ? (int)json_integer_value(index) : -1) : -1,
		 json_incref(job->doc));
	run->prov_pending--;
	s->prov_inflight--;
	prov_job_free(job);
}

void sprov_drain(struct sched *s)
{
	struct prov_job *j, *next;

	for (size_t i = 0; i < s->nprov_local; i++)
		take(s, s->prov_local[i]);
	s->nprov_local = 0;
	if (!s->pool)
		return;
	for (j = prov_pool_take_done(s->pool); j; j = next) {
		next = j->next;
		take(s, j);
	}
}

int sprov_write(struct sched *s)
{
	for (size_t i = 0; i < s->nprovs; i++) {
		struct pending_prov *p = &s->provs[i];
		if (store_prov_put(s->store, p->run_id, p->task_id, p->index, p->doc) < 0)
			return -1;
	}
	return 0;
}

void sprov_written(struct sched *s)
{
	for (size_t i = 0; i < s->nprovs; i++) {
		free(s->provs[i].run_id);
		free(s->provs[i].task_id);
		json_decref(s->provs[i].doc);
	}
	s->nprovs = 0;
}

void sprov_free(struct sched *s)
{
	prov_pool_free(s->pool);
	s->pool = NULL;
	for (size_t i = 0; i < s->nprov_local; i++)
		prov_job_free(s->prov_local[i]);
	free(s->prov_local);
	sprov_written(s);
	free(s->provs);
}

void sprov_load_run(struct srun *run)
{
	json_t *doc = NULL;

	/* A replay's record (replay_of, trigger), completed when the run ends. */
	if (store_prov_get(run->s->store, run->run_id, "", -1, &doc))
		return;
	run->prov_preset = doc;
}

void sprov_run_release(struct srun *run)
{
	json_decref(run->prov_preset);
	for (size_t i = 0; i < run->nprograms; i++)
		free(run->programs[i]);
	free(run->programs);
}
