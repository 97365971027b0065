/*
 * Two runs side by side (`runs diff`, the UI's Compare view): params and
 * variables that differ, and per task instance its state, duration and the
 * outputs whose hashes differ.  Instances are matched by task and by their
 * foreach item's path below the run's own folder (two runs of one DAG have
 * different run folders, and an item set may differ), else by index.
 */
#include <time.h>

#include "flow/run.h"
#include "util/common.h"

/* {"KEY": [A, B]} for every key whose values differ (null where absent). */
static json_t *diff_objects(json_t *a, json_t *b)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(a, k, v) {
		json_t *w = json_object_get(b, k);
		if (!w || !json_equal(v, w))
			json_object_set_new(out, k, json_pack("[OO]", v, w ? w : json_null()));
	}
	json_object_foreach(b, k, v)
		if (!json_object_get(a, k))
			json_object_set_new(out, k, json_pack("[nO]", v));
	return out;
}

/* A path with the run's own folder and id replaced, so two runs' paths compare. */
static char *normal_path(const char *path, const char *run_id)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path, *hit;
	size_t rl = strlen(run_id);

	while ((hit = strstr(p, run_id))) {
		sb_add(&sb, p, (size_t)(hit - p));
		sb_adds(&sb, "{run}");
		p = hit + rl;
	}
	sb_adds(&sb, p);
	return sb_detach(&sb, NULL);
}

static char *instance_key(json_t *t, const char *run_id)
{
	const char *task = json_string_value(json_object_get(t, "task_id"));
	const char *item = json_string_value(json_object_get(t, "item"));
	json_t *idx = json_object_get(t, "index");
	char *key, *norm;

	if (item) {
		/* below the run's folder when it is there: "clean[source/a.flac]" */
		const char *below;
		norm = normal_path(item, run_id);
		below = strstr(norm, "/{run}/");
		key = xasprintf("%s[%s]", task, below ? below + 7 : norm);
		free(norm);
	} else if (json_is_integer(idx)) {
		key = xasprintf("%s.%lld", task, (long long)json_integer_value(idx));
	} else {
		key = xstrdup(task);
	}
	return key;
}

static json_t *outputs_of(json_t *prov, const char *run_id)
{
	json_t *out = json_object(), *f;
	size_t i;

	json_array_foreach(json_object_get(prov, "outputs"), i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		char *norm;
		if (!path)
			continue;
		norm = normal_path(path, run_id);
		json_object_set(out, norm, json_object_get(f, "sha256") ?: json_null());
		free(norm);
	}
	return out;
}

struct side {
	const char *run_id;
	json_t *run;            /* run JSON with provenance */
	json_t *by_key;         /* key -> task instance JSON */
};

static int load_side(struct store *st, const char *id, struct side *s)
{
	struct store_run r = { 0 };
	struct store_ti *tis = NULL;
	size_t n = 0;
	json_t *t;
	size_t i;

	if (run_find(st, id, &r) < 0)
		return -1;
	if (store_ti_list(st, r.run_id, &tis, &n) < 0) {
		store_run_release(&r);
		return -1;
	}
	s->run = store_run_json(&r, tis, n);
	store_ti_list_free(tis, n);
	store_run_release(&r);
	if (run_add_provenance(st, id, s->run) < 0)
		return -1;
	s->run_id = json_string_value(json_object_get(s->run, "run_id"));
	s->by_key = json_object();
	json_array_foreach(json_object_get(s->run, "tasks"), i, t) {
		char *key = instance_key(t, s->run_id);
		json_object_set(s->by_key, key, t);
		free(key);
	}
	return 0;
}

static int64_t ms_between(json_t *t)
{
	struct tm tm;
	const char *s = json_string_value(json_object_get(t, "started_at"));
	const char *e = json_string_value(json_object_get(t, "ended_at"));
	int64_t v[2];
	const char *src[2] = { s, e };

	if (!s || !e)
		return -1;
	for (int i = 0; i < 2; i++) {
		int ms = 0;
		memset(&tm, 0, sizeof(tm));
		const char *rest = strptime(src[i], "%Y-%m-%dT%H:%M:%S", &tm);
		if (!rest)
			return -1;
		if (*rest == '.')
			ms = atoi(rest + 1);
		v[i] = (int64_t)timegm(&tm) * 1000 + ms;
	}
	return v[1] - v[0];
}

static json_t *ms_json(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer(ms);
}

static json_t *instance_diff(const char *key, json_t *a, json_t *b, struct side *sa,
			     struct side *sb)
{
	json_t *o = json_pack("{s:s, s:s}", "key", key, "task_id",
			      json_string_value(json_object_get(a ? a : b, "task_id")));
	json_t *oa, *ob, *changed = json_array(), *v;
	const char *p;

	json_object_set_new(o, "state", json_pack("[OO]", a ? json_object_get(a, "state") : json_null(),
						  b ? json_object_get(b, "state") : json_null()));
	json_object_set_new(o, "duration_ms", json_pack("[oo]", ms_json(a ? ms_between(a) : -1),
							ms_json(b ? ms_between(b) : -1)));
	oa = a ? outputs_of(json_object_get(a, "provenance"), sa->run_id) : json_object();
	ob = b ? outputs_of(json_object_get(b, "provenance"), sb->run_id) : json_object();
	json_object_foreach(oa, p, v)
		if (!json_equal(v, json_object_get(ob, p) ?: json_null()))
			json_array_append_new(changed, json_string(p));
	json_object_foreach(ob, p, v)
		if (!json_object_get(oa, p))
			json_array_append_new(changed, json_string(p));
	json_object_set_new(o, "outputs_differ", changed);
	json_object_set_new(o, "outputs", json_integer((json_int_t)json_object_size(a ? oa : ob)));
	json_decref(oa);
	json_decref(ob);
	return o;
}

int run_diff(struct store *st, const char *run_a, const char *run_b, json_t **out)
{
	struct side a = { 0 }, b = { 0 };
	json_t *tasks, *v, *va, *vb, *none = json_object();
	const char *key;
	int ret = -1;

	if (load_side(st, run_a, &a) < 0 || load_side(st, run_b, &b) < 0)
		goto out;
	tasks = json_array();
	json_object_foreach(a.by_key, key, v)
		json_array_append_new(tasks, instance_diff(key, v, json_object_get(b.by_key, key), &a, &b));
	json_object_foreach(b.by_key, key, v)
		if (!json_object_get(a.by_key, key))
			json_array_append_new(tasks, instance_diff(key, NULL, v, &a, &b));
	/* the snapshot each run was created with (runs from before snapshots: their provenance's) */
	va = json_object_get(a.run, "vars");
	if (!json_is_object(va))
		va = json_object_get(json_object_get(a.run, "provenance"), "vars");
	vb = json_object_get(b.run, "vars");
	if (!json_is_object(vb))
		vb = json_object_get(json_object_get(b.run, "provenance"), "vars");
	*out = json_pack("{s:s, s:s, s:O, s:O, s:o, s:o, s:o}", "a", a.run_id, "b", b.run_id, "dag_id",
			 json_object_get(a.run, "dag_id"), "dag_id_b", json_object_get(b.run, "dag_id"),
			 "params",
			 diff_objects(json_object_get(a.run, "params"), json_object_get(b.run, "params")),
			 "vars", diff_objects(va ? va : none, vb ? vb : none), "tasks",
			 tasks);
	json_object_set_new(*out, "duration_ms",
			    json_pack("[oo]", ms_json(ms_between(a.run)), ms_json(ms_between(b.run))));
	ret = 0;
out:
	json_decref(none);
	json_decref(a.run);
	json_decref(b.run);
	json_decref(a.by_key);
	json_decref(b.by_key);
	return ret;
}
