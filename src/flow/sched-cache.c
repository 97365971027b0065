/*
 * The scheduler's side of the content cache (cache.h).  An instance of a
 * task with `cache: true` that is ready to start goes to the hashing pool
 * first, with the ready instances of its task that have not been looked up
 * (a batched foreach is looked up together, so its misses still make full
 * batches).  The pool hashes the inputs, computes each key and restores the
 * outputs of a known key; back on the loop a hit ends the instance
 * `success`, cached, and a miss goes back to the ready queue with its key.
 * When an instance that ran succeeds, the pool saves its outputs under
 * that key.  A run is not finished before its cache work is back.
 */
#include "flow/cache.h"
#include "flow/prov.h"
#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "workspace/lock.h"

/* Instances per lookup job: enough to amortise, few enough to use every thread. */
#define LOOKUP_CHUNK 64

enum { CACHE_UNSEEN, CACHE_LOOKING, CACHE_MISSED };

struct cache_batch {
	struct cache_work *w;
	size_t n;
};

static void batch_free(void *p)
{
	struct cache_batch *b = p;
	for (size_t i = 0; i < b->n; i++)
		cache_work_release(&b->w[i]);
	free(b->w);
	free(b);
}

static void run_batch(struct prov_job *job)
{
	struct cache_batch *b = job->ext;
	for (size_t i = 0; i < b->n; i++) {
		if (b->w[i].save)
			cache_save(&b->w[i]);
		else
			cache_lookup(&b->w[i]);
	}
}

static void submit(struct sched *s, struct srun *run, struct cache_batch *b)
{
	struct prov_job *job = xcalloc(1, sizeof(*job));

	job->owner = run;
	job->run = run_batch;
	job->ext = b;
	job->ext_free = batch_free;
	run->cache_pending++;
	sprov_submit(s, job);
}

static const char *item_of(const struct sti *ti)
{
	return ti->index >= 0 && ti->task->items ? ti->task->items[ti->index] : NULL;
}

static void common(struct cache_work *w, struct sti *ti)
{
	struct srun *run = ti->task->run;
	w->ti = ti;
	w->gen = ti->gen;
	w->cache_dir = path_join(run->s->data_dir, "flow/cache");
	w->run_dir = xstrdup(run->run_dir);
	w->data_dir = xstrdup(run->s->data_dir);
}

/* A declared path expanded with the placeholders, relative ones under {{ data }}. */
static void norm_decl(const char *tmpl, const struct tmpl_ctx *ctx, json_t *arr)
{
	struct strbuf v = STRBUF_INIT, err = STRBUF_INIT;

	if (tmpl_expand(tmpl, ctx, &v, &err) < 0) {
		sb_reset(&v);
		sb_adds(&v, tmpl);
	}
	if (v.buf[0] != '/' && strncmp(v.buf, "{{", 2))
		json_array_append_new(arr, json_sprintf("%s/%s", CACHE_DATA, v.buf));
	else
		json_array_append_new(arr, json_string(v.buf));
	sb_release(&v);
	sb_release(&err);
}

/*
 * The key's fields known on the loop (the files are hashed by the pool):
 * NULL when the command does not expand (it then runs, and fails, as usual).
 */
static json_t *key_doc(struct sti *ti)
{
	struct srun *run = ti->task->run;
	const struct dag_task *def = ti->task->def;
	const char *item = item_of(ti), *ws = getenv("SYNTHFLOW_WORKSPACE");
	struct strbuf norm_item = STRBUF_INIT, cmd = STRBUF_INIT, v = STRBUF_INIT,
		      err = STRBUF_INIT;
	char *items[1];
	struct tmpl_ctx ctx;
	json_t *doc = NULL, *env, *outs;

	sched_run_tmpl_ctx(run, &ctx, 1);
	ctx.run_dir = CACHE_RUN_DIR;
	ctx.run_id = CACHE_RUN_ID;
	ctx.data_dir = CACHE_DATA;
	ctx.task_id = def->id;
	if (item) {
		cache_norm_path(item, run->run_dir, run->s->data_dir, &norm_item);
		if (def->batch) {
			/* each item of a batch has its own key: as if it were alone in it */
			items[0] = norm_item.buf;
			ctx.items = items;
			ctx.nitems = 1;
		} else {
			ctx.item = norm_item.buf;
		}
	}
	if (tmpl_expand(def->run, &ctx, &cmd, &err) < 0)
		goto out;
	ctx.quote = 0;
	if (def->batch && item) {
		/* env, workdir and outputs see the instance's own item */
		ctx.items = NULL;
		ctx.nitems = 0;
		ctx.item = norm_item.buf;
	}
	env = json_object();
	for (size_t i = 0; i < def->nenv; i++) {
		sb_reset(&v);
		if (tmpl_expand(def->env[i].value, &ctx, &v, &err) < 0) {
			json_decref(env);
			goto out;
		}
		json_object_set_new(env, def->env[i].key, json_string(v.buf));
	}
	sb_reset(&v);
	if (def->workdir && tmpl_expand(def->workdir, &ctx, &v, &err) < 0) {
		json_decref(env);
		goto out;
	}
	outs = json_array();
	for (size_t i = 0; i < def->noutputs; i++)
		norm_decl(def->outputs[i], &ctx, outs);
	doc = json_pack("{s:i, s:s, s:s, s:o, s:s?, s:o}", "format", CACHE_FORMAT,
			"engine_version", SF_VERSION, "command", cmd.buf, "env", env, "workdir",
			def->workdir ? v.buf : NULL, "outputs", outs);
	if (ws && *ws) {
		/* inside a workspace: its image and lock are part of what ran */
		const char *img = getenv("SYNTHFLOW_IMAGE");
		json_object_set_new(doc, "workspace",
				    json_pack("{s:s, s:s?}", "name", ws, "image",
					      img && *img ? img : NULL));
	}
out:
	sb_release(&norm_item);
	sb_release(&cmd);
	sb_release(&v);
	sb_release(&err);
	return doc;
}

/* The workspace's lock file, hashed by the pool into the key (cache_lookup). */
static char *lock_path(struct sched *s)
{
	const char *ws = getenv("SYNTHFLOW_WORKSPACE");
	char *p;
	if (!ws || !*ws)
		return NULL;
	p = xasprintf("%s/src/%s/container/%s", s->data_dir, ws, WS_LOCK);
	return p;
}

static void lookup_work(struct cache_work *w, struct sti *ti, json_t *doc)
{
	struct srun *run = ti->task->run;
	const struct dag_task *def = ti->task->def;
	const char *item = item_of(ti);
	struct tmpl_ctx ctx;

	common(w, ti);
	w->keydoc = doc;
	sched_run_tmpl_ctx(run, &ctx, 0);
	ctx.task_id = def->id;
	ctx.item = item;
	w->inputs = sprov_expand_paths(run->s, def->inputs, def->ninputs, &ctx);
	w->ninputs = def->ninputs;
	w->names = sprov_expand_paths(run->s, def->input_names, def->ninput_names, &ctx);
	w->nnames = def->ninput_names;
	w->item = item ? xstrdup(item) : NULL;
	w->lock_path = lock_path(run->s);
}

int scache_take(struct sched *s, struct sti *ti)
{
	struct stask *t = ti->task;
	struct cache_batch *b = NULL;
	size_t alloc = 0;

	if (!t->def->cache || ti->cache_st == CACHE_MISSED)
		return 0;
	if (ti->cache_st == CACHE_LOOKING)
		return 1;
	for (size_t k = 0; k <= t->ninst; k++) {
		/* ti first, then the other ready instances of its task not looked up yet */
		struct sti *o = k == 0 ? ti : &t->inst[k - 1];
		json_t *doc;
		if (k > 0 && (o == ti || !o->in_ready || o->cache_st != CACHE_UNSEEN ||
			      (o->state != TI_QUEUED && o->state != TI_UP_FOR_RETRY)))
			continue;
		if (!(doc = key_doc(o))) {
			o->cache_st = CACHE_MISSED;
			if (o == ti)
				return 0;
			continue;
		}
		o->cache_st = CACHE_LOOKING;
		if (!b) {
			b = xcalloc(1, sizeof(*b));
			alloc = 0;
		}
		ALLOC_GROW(b->w, b->n + 1, alloc);
		memset(&b->w[b->n], 0, sizeof(b->w[b->n]));
		lookup_work(&b->w[b->n++], o, doc);
		if (b->n == LOOKUP_CHUNK) {
			submit(s, t->run, b);
			b = NULL;
		}
	}
	if (b)
		submit(s, t->run, b);
	return 1;
}

void scache_succeeded(struct sched *s, struct sti *ti)
{
	struct srun *run = ti->task->run;
	const struct dag_task *def = ti->task->def;
	struct cache_batch *b;
	struct cache_work *w;
	struct tmpl_ctx ctx;

	if (!ti->cache_key || ti->state != TI_SUCCESS)
		return;
	b = xcalloc(1, sizeof(*b));
	b->w = w = xcalloc(1, sizeof(*w));
	b->n = 1;
	common(w, ti);
	w->save = 1;
	memcpy(w->key, ti->cache_key, sizeof(w->key));
	w->keydoc = ti->cache_doc;
	ti->cache_doc = NULL;
	sched_run_tmpl_ctx(run, &ctx, 0);
	ctx.task_id = def->id;
	ctx.item = item_of(ti);
	w->outputs = sprov_expand_paths(s, def->outputs, def->noutputs, &ctx);
	w->noutputs = def->noutputs;
	w->about = json_pack("{s:s, s:s, s:o, s:s}", "dag_id", run->dag->id, "task_id", def->id,
			     "index", ti->index >= 0 ? json_integer(ti->index) : json_null(),
			     "run_id", run->run_id);
	submit(s, run, b);
}

static void looked_up(struct sched *s, struct cache_work *w)
{
	struct sti *ti = w->ti;
	struct srun *run = ti->task->run;

	if (ti->gen != w->gen || (ti->state != TI_QUEUED && ti->state != TI_UP_FOR_RETRY)) {
		/* cancelled or cleared meanwhile: looked up again if it is ever ready */
		ti->cache_st = CACHE_UNSEEN;
		return;
	}
	if (w->error)
		warning("run %s, task '%s'%s: %s", run->run_id, ti->task->def->id,
			ti->index >= 0 ? " (an item)" : "", w->error);
	if (!w->hit) {
		ti->cache_st = CACHE_MISSED;
		free(ti->cache_key);
		ti->cache_key = xstrdup(w->key);
		json_decref(ti->cache_doc);
		ti->cache_doc = json_incref(w->keydoc);
		if (run->state == RUN_RUNNING && !run->cancelling)
			sched_ready_push(s, ti);
		return;
	}
	ti->cached = 1;
	ti->started_at = ti->ended_at = time_now_ms();
	sprov_cached(s, ti, w->key, w->from_run, w->from_index, w->inputs_json, w->outputs_json);
	{
		char *why = xasprintf("outputs restored from the cache (made by run %s)", w->from_run);
		sched_set_state(ti, TI_SUCCESS, why);
		free(why);
	}
}

void scache_done(struct sched *s, struct prov_job *job)
{
	struct srun *run = job->owner;
	struct cache_batch *b = job->ext;

	for (size_t i = 0; i < b->n; i++) {
		struct cache_work *w = &b->w[i];
		if (!w->save)
			looked_up(s, w);
		else if (w->error)
			warning("run %s, task '%s': %s", run->run_id,
				((struct sti *)w->ti)->task->def->id, w->error);
	}
	run->cache_pending--;
	prov_job_free(job);
}

void scache_ti_release(struct sti *ti)
{
	free(ti->cache_key);
	ti->cache_key = NULL;
	json_decref(ti->cache_doc);
	ti->cache_doc = NULL;
}
