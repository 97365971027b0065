/*
 * The backend-independent half of the store: opening by URL, dispatch to
 * the backend's ops, releasing records, and the JSON of a run (docs/api.md,
 * a contract), which the CLI and the HTTP API share so they never differ.
 */
#include "store/store-impl.h"

#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "util/common.h"
#include "util/random.h"
#include "util/timeutil.h"

static struct store *open_url(const char *url, const char *data_dir, int reader)
{
	struct store *s;
	char *path;

	if (!strncmp(url, "sqlite:", 7)) {
		const char *p = url + 7;
		if (!*p) {
			error("store url '%s' names no file (expected sqlite:PATH)", url);
			return NULL;
		}
		path = *p == '/' ? xstrdup(p) : xasprintf("%s/%s", data_dir, p);
		s = store_sqlite_open(path, reader);
		free(path);
		if (s && store_ops_check(s->ops) < 0)
			BUG("store backend '%s' lacks an operation", s->ops->name);
		return s;
	}
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
#ifdef HAVE_LIBPQ
		s = store_pg_open(url);
		if (s && store_ops_check(s->ops) < 0)
			BUG("store backend '%s' lacks an operation", s->ops->name);
		return s;
#else
		char *shown = store_url_redact(url);
		error("store url '%s': PostgreSQL stores are not available in this build (built "
		      "without libpq); use flow.store: \"sqlite:flow/synthflow.db\"",
		      shown);
		free(shown);
		return NULL;
#endif
	}
	path = store_url_redact(url);
	error("unknown store url '%s' (expected sqlite:PATH or postgresql://...)", path);
	free(path);
	return NULL;
}

struct store *store_open(const char *url, const char *data_dir)
{
	return open_url(url, data_dir, 0);
}

struct store *store_open_reader(const char *url, const char *data_dir)
{
	return open_url(url, data_dir, 1);
}

int store_read_only(const struct store *s)
{
	return s->read_only;
}

int store_ops_check(const struct store_ops *ops)
{
	/* Every member after `name` is a function pointer (store-impl.h). */
	const unsigned char *p = (const unsigned char *)ops + offsetof(struct store_ops, close);
	size_t n = (sizeof(*ops) - offsetof(struct store_ops, close)) / sizeof(void (*)(void));

	for (size_t i = 0; i < n; i++) {
		void (*fn)(void);
		memcpy(&fn, p + i * sizeof(fn), sizeof(fn));
		if (!fn)
			return error("store backend '%s': operation %zu of %zu (in the order of struct "
				     "store_ops, src/store/store-impl.h) is missing: every backend "
				     "implements every operation",
				     ops->name, i + 1, n);
	}
	return 0;
}

char *store_url_redact(const char *url)
{
	struct strbuf sb = STRBUF_INIT;
	const char *scheme = strstr(url, "://");
	const char *p, *end, *at = NULL;

	if (!scheme)
		return xstrdup(url);
	/* user:password@host: the userinfo ends at the last '@' before any '/' or '?' */
	p = scheme + 3;
	end = p + strcspn(p, "/?");
	for (const char *c = p; c < end; c++)
		if (*c == '@')
			at = c;
	if (at && memchr(p, ':', (size_t)(at - p))) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		sb_add(&sb, url, (size_t)(colon + 1 - url));
		sb_adds(&sb, "***");
		p = at;
	} else {
		sb_add(&sb, url, (size_t)(p - url));
	}
	/* and password=... among the parameters */
	while (*p) {
		size_t n = strcspn(p, "?&");
		sb_add(&sb, p, n);
		p += n;
		if (!*p)
			break;
		sb_addch(&sb, *p++);
		if (!strncmp(p, "password=", 9)) {
			sb_adds(&sb, "password=***");
			p += 9 + strcspn(p + 9, "&");
		}
	}
	return sb_detach(&sb, NULL);
}

/* The repeats of the last error, reported once: "until" says what ended them. */
static void forget_error(struct store *s, const char *until)
{
	if (s->err_repeats)
		note("store '%s': '%s' %u more time%s, %s", s->err_name, s->err_cause,
		     s->err_repeats, s->err_repeats == 1 ? "" : "s", until);
	free(s->err_name);
	free(s->err_cause);
	s->err_name = s->err_cause = NULL;
	s->err_repeats = 0;
}

int store_error(struct store *s, const char *name, const char *what, const char *cause)
{
	if (s->err_cause && !strcmp(s->err_cause, cause)) {
		s->err_repeats++;
		return -1;
	}
	forget_error(s, "then another error");
	s->err_name = xstrdup(name);
	s->err_cause = xstrdup(cause);
	return error("store '%s': %s: %s", name, what, cause);
}

void store_written(struct store *s)
{
	if (s->err_cause)
		forget_error(s, "then it was written again");
}

void store_close(struct store *s)
{
	if (!s)
		return;
	forget_error(s, "until it was closed");
	s->ops->close(s);
}

char *store_new_run_id(void)
{
	unsigned char rnd[3] = { 0 };
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];

	if (random_bytes(rnd, sizeof(rnd)) < 0) {
		/* Only uniqueness matters: the store retries on a collision. */
		uint64_t t = (uint64_t)time_mono_ms() ^ (uint64_t)getpid() << 8;
		memcpy(rnd, &t, sizeof(rnd));
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	return xasprintf("%s-%02x%02x%02x", stamp, rnd[0], rnd[1], rnd[2]);
}

int store_begin(struct store *s) { return s->ops->begin(s); }
int store_commit(struct store *s) { return s->ops->commit(s); }
void store_rollback(struct store *s) { s->ops->rollback(s); }

int store_run_create(struct store *s, const char *dag_id, json_t *params, const char *owner,
		     char **run_id)
{
	return s->ops->run_create(s, dag_id, params, NULL, owner, "manual", run_id);
}

int store_run_create_by(struct store *s, const char *dag_id, json_t *params, const char *owner,
			const char *trigger, char **run_id)
{
	return s->ops->run_create(s, dag_id, params, NULL, owner, trigger, run_id);
}

int store_run_create_vars(struct store *s, const char *dag_id, json_t *params, json_t *vars,
			  const char *owner, char **run_id)
{
	return s->ops->run_create(s, dag_id, params, vars, owner, "replay", run_id);
}

int store_schedule_fire(struct store *s, const char *dag_id, int64_t at, json_t *params,
			char **run_id)
{
	return s->ops->schedule_fire(s, dag_id, at, params, run_id);
}

int store_schedule_last(struct store *s, const char *dag_id, int64_t *at)
{
	return s->ops->schedule_last(s, dag_id, at);
}

int store_run_get(struct store *s, const char *run_id, struct store_run *out)
{
	return s->ops->run_get(s, run_id, out);
}

int store_run_list(struct store *s, const struct store_run_filter *f, struct store_run **runs,
		   size_t *n, size_t *total)
{
	return s->ops->run_list(s, f, runs, n, total);
}

int store_run_set_state(struct store *s, const char *run_id, enum run_state st,
			int64_t started_at, int64_t ended_at, const char *reason)
{
	return s->ops->run_set_state(s, run_id, st, started_at, ended_at, reason);
}

int store_run_claim(struct store *s, const char *run_id, const char *expect, const char *owner)
{
	return s->ops->run_claim(s, run_id, expect, owner);
}

int store_ti_put(struct store *s, const char *run_id, const struct store_ti *ti)
{
	return s->ops->ti_put(s, run_id, ti);
}

int store_ti_delete(struct store *s, const char *run_id, const char *task_id, int index)
{
	return s->ops->ti_delete(s, run_id, task_id, index);
}

int store_ti_list(struct store *s, const char *run_id, struct store_ti **tis, size_t *n)
{
	return s->ops->ti_list(s, run_id, tis, n);
}

int store_try_put(struct store *s, const char *run_id, const char *task_id, int index,
		  const struct store_try *t)
{
	return s->ops->try_put(s, run_id, task_id, index, t);
}

int store_try_list(struct store *s, const char *run_id, const char *task_id, int index,
		   struct store_try **tries, size_t *n)
{
	return s->ops->try_list(s, run_id, task_id, index, tries, n);
}

int store_var_get(struct store *s, const char *key, char **value)
{
	return s->ops->var_get(s, key, value);
}

int store_var_set(struct store *s, const char *key, const char *value)
{
	return s->ops->var_set(s, key, value);
}

int store_var_unset(struct store *s, const char *key) { return s->ops->var_unset(s, key); }
int store_var_all(struct store *s, json_t **vars) { return s->ops->var_all(s, vars); }

int store_var_history_add(struct store *s, const struct store_var_change *c)
{
	return s->ops->var_history_add(s, c);
}

int store_var_history(struct store *s, const char *key, struct store_var_change **v, size_t *n)
{
	return s->ops->var_history(s, key, v, n);
}

void store_var_history_free(struct store_var_change *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].old_value);
		free(v[i].new_value);
		free(v[i].source);
		json_decref(v[i].runs);
	}
	free(v);
}

int store_req_add(struct store *s, const char *run_id, enum store_req_kind kind,
		  const char *task_id, int downstream)
{
	return s->ops->req_add(s, run_id, kind, task_id, downstream);
}

int store_req_list(struct store *s, const char *run_id, struct store_req **reqs, size_t *n)
{
	return s->ops->req_list(s, run_id, reqs, n);
}

int store_req_done(struct store *s, int64_t id) { return s->ops->req_done(s, id); }
int store_seq(struct store *s, int64_t *seq) { return s->ops->seq(s, seq); }

int store_changes_since(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			void *arg, int64_t *last)
{
	return s->ops->changes_since(s, since, limit, fn, arg, last);
}

int store_changed_elsewhere(struct store *s) { return s->ops->changed_elsewhere(s); }
int store_changes_fd(struct store *s) { return s->ops->changes_fd(s); }

void store_run_release(struct store_run *r)
{
	free(r->run_id);
	free(r->dag_id);
	json_decref(r->params);
	json_decref(r->vars);
	free(r->reason);
	free(r->owner);
	free(r->trigger);
	memset(r, 0, sizeof(*r));
}

void store_run_list_free(struct store_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_run_release(&runs[i]);
	free(runs);
}

void store_ti_release(struct store_ti *ti)
{
	free(ti->task_id);
	free(ti->item);
	free(ti->reason);
	memset(ti, 0, sizeof(*ti));
}

void store_ti_list_free(struct store_ti *tis, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_ti_release(&tis[i]);
	free(tis);
}

void store_try_release(struct store_try *t)
{
	free(t->log_path);
	free(t->reason);
	memset(t, 0, sizeof(*t));
}

void store_try_list_free(struct store_try *tries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_try_release(&tries[i]);
	free(tries);
}

void store_req_release(struct store_req *r)
{
	free(r->run_id);
	free(r->task_id);
	memset(r, 0, sizeof(*r));
}

void store_req_list_free(struct store_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_req_release(&reqs[i]);
	free(reqs);
}

static json_t *time_json(int64_t ms)
{
	char buf[32];
	if (!ms)
		return json_null();
	time_format_iso(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *ti_json(const struct store_ti *ti)
{
	json_t *o = json_object();
	json_object_set_new(o, "task_id", json_string(ti->task_id));
	json_object_set_new(o, "index", ti->index < 0 ? json_null() : json_integer(ti->index));
	json_object_set_new(o, "state", json_string(ti_state_name(ti->state)));
	json_object_set_new(o, "try", json_integer(ti->try_number));
	json_object_set_new(o, "exit_code",
			    ti->exit_code < 0 ? json_null() : json_integer(ti->exit_code));
	json_object_set_new(o, "started_at", time_json(ti->started_at));
	json_object_set_new(o, "ended_at", time_json(ti->ended_at));
	json_object_set_new(o, "reason", str_or_null(ti->reason));
	json_object_set_new(o, "item", str_or_null(ti->item));
	json_object_set_new(o, "cached", json_boolean(ti->cached));
	return o;
}

json_t *store_run_summary_json(const struct store_run *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "run_id", json_string(r->run_id));
	json_object_set_new(o, "dag_id", json_string(r->dag_id));
	json_object_set_new(o, "state", json_string(run_state_name(r->state)));
	json_object_set_new(o, "params", r->params ? json_incref(r->params) : json_object());
	json_object_set_new(o, "created_at", time_json(r->created_at));
	json_object_set_new(o, "started_at", time_json(r->started_at));
	json_object_set_new(o, "ended_at", time_json(r->ended_at));
	json_object_set_new(o, "reason", str_or_null(r->reason));
	json_object_set_new(o, "trigger", json_string(r->trigger ? r->trigger : "manual"));
	json_object_set_new(o, "scheduled_for", time_json(r->scheduled_for));
	return o;
}

json_t *store_run_json(const struct store_run *r, const struct store_ti *tis, size_t ntis)
{
	json_t *o = store_run_summary_json(r);
	json_t *a = json_array();

	json_object_set_new(o, "vars", r->vars ? json_incref(r->vars) : json_null());
	for (size_t i = 0; i < ntis; i++)
		json_array_append_new(a, ti_json(&tis[i]));
	json_object_set_new(o, "tasks", a);
	return o;
}

/* ---- deliveries ---- */

void store_delivery_release(struct store_delivery *d)
{
	free(d->kind);
	free(d->event);
	free(d->run_id);
	free(d->dag_id);
	free(d->task_id);
	free(d->workspace);
	free(d->command);
	free(d->payload);
	free(d->state);
	free(d->owner);
	free(d->log_path);
	free(d->note);
	memset(d, 0, sizeof(*d));
}

void store_delivery_list_free(struct store_delivery *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_delivery_release(&v[i]);
	free(v);
}

int store_delivery_add(struct store *s, struct store_delivery *d)
{
	return s->ops->delivery_add(s, d);
}

int store_delivery_list(struct store *s, const struct store_delivery_filter *f,
			struct store_delivery **v, size_t *n)
{
	return s->ops->delivery_list(s, f, v, n);
}

int store_delivery_claim(struct store *s, int64_t id, const char *expect, const char *expect_state,
			 const char *owner)
{
	return s->ops->delivery_claim(s, id, expect, expect_state, owner);
}

int store_delivery_end(struct store *s, const struct store_delivery *d)
{
	return s->ops->delivery_end(s, d);
}

json_t *store_delivery_json(const struct store_delivery *d)
{
	json_t *o = json_object();
	int64_t at = d->ended_at ? d->ended_at : d->started_at ? d->started_at : d->created_at;

	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "kind", json_string(d->kind));
	json_object_set_new(o, "event", json_string(d->event));
	json_object_set_new(o, "state", json_string(d->state));
	json_object_set_new(o, "exit_code", d->exit_code < 0 ? json_null() : json_integer(d->exit_code));
	json_object_set_new(o, "at", time_json(at));
	json_object_set_new(o, "created_at", time_json(d->created_at));
	json_object_set_new(o, "started_at", time_json(d->started_at));
	json_object_set_new(o, "ended_at", time_json(d->ended_at));
	json_object_set_new(o, "attempts", json_integer(d->attempts));
	json_object_set_new(o, "redelivered", json_boolean(d->attempts > 1));
	json_object_set_new(o, "run_id", str_or_null(d->run_id));
	json_object_set_new(o, "dag_id", str_or_null(d->dag_id));
	json_object_set_new(o, "task_id", str_or_null(d->task_id));
	json_object_set_new(o, "index", d->index < 0 ? json_null() : json_integer(d->index));
	json_object_set_new(o, "try", d->try_number ? json_integer(d->try_number) : json_null());
	json_object_set_new(o, "workspace", str_or_null(d->workspace));
	json_object_set_new(o, "log", str_or_null(d->log_path));
	json_object_set_new(o, "note", str_or_null(d->note));
	return o;
}

/* The run JSON's "callbacks": every callback delivery of the run, oldest first. */
int store_run_add_callbacks(struct store *s, const char *run_id, json_t *run)
{
	struct store_delivery_filter f = { .run_id = run_id, .kind = "callback" };
	struct store_delivery *v;
	size_t n;
	json_t *a;

	if (store_delivery_list(s, &f, &v, &n) < 0)
		return -1;
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, store_delivery_json(&v[i]));
	json_object_set_new(run, "callbacks", a);
	store_delivery_list_free(v, n);
	return 0;
}

int store_run_load_json(struct store *s, const char *run_id, json_t **out)
{
	struct store_run r = { 0 };
	struct store_ti *tis = NULL;
	size_t n = 0;
	int ret = store_run_get(s, run_id, &r);

	if (ret)
		return ret;
	if (store_ti_list(s, run_id, &tis, &n) < 0) {
		store_run_release(&r);
		return -1;
	}
	*out = store_run_json(&r, tis, n);
	store_ti_list_free(tis, n);
	store_run_release(&r);
	if (store_run_add_callbacks(s, run_id, *out) < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

json_t *store_try_json(const struct store_try *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "try", json_integer(t->try_number));
	json_object_set_new(o, "started_at", time_json(t->started_at));
	json_object_set_new(o, "ended_at", time_json(t->ended_at));
	json_object_set_new(o, "exit_code", t->exit_code < 0 ? json_null() : json_integer(t->exit_code));
	json_object_set_new(o, "pid", t->pid ? json_integer(t->pid) : json_null());
	json_object_set_new(o, "log", str_or_null(t->log_path));
	json_object_set_new(o, "reason", str_or_null(t->reason));
	return o;
}

int store_prov_put(struct store *s, const char *run_id, const char *task_id, int index,
		   json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	int ret;

	if (!text)
		return error("provenance of '%s' in run '%s' is not valid JSON", task_id, run_id);
	ret = s->ops->prov_put(s, run_id, task_id, index, text);
	free(text);
	return ret;
}

int store_prov_get(struct store *s, const char *run_id, const char *task_id, int index,
		   json_t **doc)
{
	char *text = NULL;
	int ret = s->ops->prov_get(s, run_id, task_id, index, &text);
	if (ret)
		return ret;
	*doc = json_loads(text, 0, NULL);
	free(text);
	if (!*doc)
		return error("provenance of '%s' in run '%s' is not valid JSON", task_id, run_id);
	return 0;
}

char *store_prov_key(const char *task_id, int index)
{
	return index < 0 ? xstrdup(task_id) : xasprintf("%s.%d", task_id, index);
}

static int prov_collect(const char *task_id, int index, const char *text, void *arg)
{
	json_t *out = arg, *doc = json_loads(text, 0, NULL);
	char *key;

	if (!doc)
		return error("provenance of '%s' is not valid JSON", task_id);
	if (!*task_id) {
		json_object_set_new(out, "run", doc);
		return 0;
	}
	key = store_prov_key(task_id, index);
	json_object_set_new(json_object_get(out, "tasks"), key, doc);
	free(key);
	return 0;
}

int store_prov_load(struct store *s, const char *run_id, json_t **out)
{
	*out = json_pack("{s:n, s:o}", "run", "tasks", json_object());
	if (s->ops->prov_list(s, run_id, prov_collect, *out)) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int store_dag_set_paused(struct store *s, const char *dag_id, int paused)
{
	return s->ops->dag_set_paused(s, dag_id, paused);
}

int store_dag_paused_all(struct store *s, json_t **paused)
{
	return s->ops->dag_paused_all(s, paused);
}

int store_file_put(struct store *s, const struct store_file *f)
{
	return s->ops->file_put(s, f);
}

int store_file_list(struct store *s, struct store_file **files, size_t *n)
{
	return s->ops->file_list(s, files, n);
}

void store_file_list_free(struct store_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].rel);
		free(files[i].ident);
		free(files[i].state);
		free(files[i].note);
	}
	free(files);
}

void store_arrival_release(struct store_arrival *a)
{
	free(a->dag_id);
	free(a->rel);
	free(a->ident);
	free(a->state);
	free(a->run_id);
	free(a->note);
	json_decref(a->params);
	memset(a, 0, sizeof(*a));
}

void store_arrival_list_free(struct store_arrival *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_arrival_release(&v[i]);
	free(v);
}

int store_arrival_add(struct store *s, struct store_arrival *a, int again)
{
	return s->ops->arrival_add(s, a, again);
}

int store_arrival_list(struct store *s, const char *dag_id, const char *state,
		       struct store_arrival **v, size_t *n)
{
	return s->ops->arrival_list(s, dag_id, state, v, n);
}

int store_arrival_start(struct store *s, struct store_arrival *a)
{
	return s->ops->arrival_start(s, a);
}

int store_arrival_seen(struct store *s, const char *dag_id, const char *rel)
{
	return s->ops->arrival_seen(s, dag_id, rel);
}

int store_dag_paused(struct store *s, const char *dag_id)
{
	json_t *all = NULL;
	int paused;

	if (store_dag_paused_all(s, &all) < 0)
		return -1;
	paused = json_is_true(json_object_get(all, dag_id));
	json_decref(all);
	return paused;
}

const int64_t store_duration_bucket_ms[STORE_DURATION_BUCKETS] = {
	100, 500, 1000, 5000, 10000, 30000, 60000, 300000, 900000, 3600000,
};

int store_ti_stats(struct store *s, struct store_ti_stats *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->ti_stats(s, out);
}

int store_shared(struct store *s) { return strcmp(s->ops->name, "sqlite") != 0; }

void store_lease_release(struct store_lease *l)
{
	free(l->host);
	free(l->owner);
	free(l->duties);
	memset(l, 0, sizeof(*l));
}

void store_lease_list_free(struct store_lease *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_lease_release(&v[i]);
	free(v);
}

int store_lease_take(struct store *s, const char *host, int pid, const char *owner_prefix,
		     int64_t ttl_ms, int64_t grace_ms, int64_t *epoch)
{
	return s->ops->lease_take(s, host, pid, owner_prefix, ttl_ms, grace_ms, epoch);
}

int store_lease_beat(struct store *s, int64_t epoch, const char *duties)
{
	return s->ops->lease_beat(s, epoch, duties ? duties : "");
}

/* 1 when the comma-separated list has the duty `d` of length len. */
static int duty_in(const char *list, const char *d, size_t len)
{
	while (list && *list) {
		size_t n = strcspn(list, ",");
		if (n == len && !strncmp(list, d, len))
			return 1;
		list += n + (list[n] == ',');
	}
	return 0;
}

int store_lease_elect(struct store *s, int64_t epoch, const char *want, char **held)
{
	struct strbuf out = STRBUF_INIT;
	struct store_lease *v = NULL;
	size_t n = 0;
	int ret;

	*held = NULL;
	if (store_begin(s) < 0)
		return -1;
	if (s->ops->lease_lock(s) < 0 || store_lease_list(s, &v, &n) < 0) {
		store_rollback(s);
		return -1;
	}
	for (const char *d = want; *d;) {
		size_t len = strcspn(d, ","), i;
		for (i = 0; i < n; i++)
			if (v[i].epoch != epoch && !store_lease_dead(&v[i]) &&
			    duty_in(v[i].duties, d, len))
				break;
		if (len && i == n)
			sb_addf(&out, "%s%.*s", out.len ? "," : "", (int)len, d);
		d += len + (d[len] == ',');
	}
	store_lease_list_free(v, n);
	ret = s->ops->lease_beat(s, epoch, out.buf);
	if (ret != 0) {
		store_rollback(s);
		sb_release(&out);
		return ret;
	}
	if (store_commit(s) < 0) {
		sb_release(&out);
		return -1;
	}
	*held = sb_detach(&out, NULL);
	return 0;
}

int store_lease_drop(struct store *s, int64_t epoch) { return s->ops->lease_drop(s, epoch); }

void store_offer_release(struct store_offer *o)
{
	free(o->run_id);
	free(o->task_id);
	free(o->coordinator);
	free(o->runner);
	free(o->runner_host);
	free(o->reason);
	free(o->spec);
	memset(o, 0, sizeof(*o));
}

void store_offer_list_free(struct store_offer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_offer_release(&v[i]);
	free(v);
}

int store_offer_add(struct store *s, const struct store_offer *o)
{
	return s->ops->offer_add(s, o);
}

int store_offer_claim(struct store *s, const char *runner, const char *host, int64_t limit,
		      struct store_offer **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	return s->ops->offer_claim(s, runner, host, limit, v, n);
}

int store_offer_end(struct store *s, const struct store_offer *o, const char *runner)
{
	return s->ops->offer_end(s, o, runner);
}

int store_offer_kill(struct store *s, const char *run_id, const char *task_id, int index,
		     int try_number, int kill)
{
	return s->ops->offer_kill(s, run_id, task_id, index, try_number, kill);
}

int store_offer_drop(struct store *s, const char *run_id, const char *task_id, int index,
		     int try_number, const char *runner)
{
	return s->ops->offer_drop(s, run_id, task_id, index, try_number, runner);
}

static int offer_list(struct store *s, int by, const char *who, struct store_offer **v,
		      size_t *n)
{
	*v = NULL;
	*n = 0;
	return s->ops->offer_list(s, by, who, v, n);
}

int store_offer_list(struct store *s, const char *coordinator, struct store_offer **v, size_t *n)
{
	return offer_list(s, 0, coordinator, v, n);
}

int store_offer_running(struct store *s, const char *runner, struct store_offer **v, size_t *n)
{
	return offer_list(s, 1, runner, v, n);
}

int store_offer_list_run(struct store *s, const char *run_id, struct store_offer **v, size_t *n)
{
	return offer_list(s, 2, run_id, v, n);
}

int store_offer_adopt(struct store *s, const char *run_id, const char *coordinator)
{
	return s->ops->offer_adopt(s, run_id, coordinator);
}

int store_lease_fence(struct store *s, int64_t epoch) { return s->ops->lease_fence(s, epoch); }

int store_lease_expire(struct store *s, int64_t epoch, int64_t older_than_ms)
{
	return s->ops->lease_expire(s, epoch, older_than_ms);
}

int store_run_claim_queued(struct store *s, const char *owner, int64_t limit, char ***ids,
			   size_t *n)
{
	return s->ops->run_claim_queued(s, owner, limit, ids, n);
}

int store_lease_get(struct store *s, int64_t epoch, struct store_lease *out)
{
	struct store_lease *v;
	size_t n;

	if (epoch <= 0)
		return STORE_NOT_FOUND;
	if (s->ops->lease_list(s, epoch, &v, &n) < 0)
		return -1;
	if (!n) {
		free(v);
		return STORE_NOT_FOUND;
	}
	*out = v[0];
	free(v);
	return 0;
}

int store_lease_list(struct store *s, struct store_lease **v, size_t *n)
{
	return s->ops->lease_list(s, 0, v, n);
}

json_t *store_lease_json(const struct store_lease *l)
{
	json_t *duties = json_array();
	/* past TTL and grace its duties are free: another may hold them now */
	const char *d = l->duties && !store_lease_dead(l) ? l->duties : "";

	while (*d) {
		size_t len = strcspn(d, ",");
		if (len)
			json_array_append_new(duties, json_stringn(d, len));
		d += len + (d[len] == ',');
	}
	return json_pack("{s:I, s:s, s:i, s:o, s:o, s:I, s:b, s:I, s:I, s:I, s:I, s:o}", "epoch",
			 (json_int_t)l->epoch, "host", l->host ? l->host : "", "pid", l->pid,
			 "started_at", time_json(l->started_at), "heartbeat_at", time_json(l->beat_at),
			 "heartbeat_age_ms", (json_int_t)l->age_ms, "alive", l->age_ms < l->ttl_ms,
			 "lease_ttl_ms", (json_int_t)l->ttl_ms, "grace_ms", (json_int_t)l->grace_ms,
			 "runs", (json_int_t)l->runs, "offered_tries", (json_int_t)l->offered,
			 "duties", duties);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int has_name(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

struct load_ctx {
	struct store *to;
	const char *table;
};

static int load_row(size_t ncols, const char *const *cols, const char *const *vals, void *arg)
{
	struct load_ctx *l = arg;
	return l->to->ops->table_load(l->to, l->table, ncols, cols, vals) < 0 ? -1 : 0;
}

/* The rows of every table of `to` but the change number's: 0 for a new store. */
static int check_empty(struct store *to, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t rows = 0;
		/* `meta` holds the change number, which a new store already has. */
		if (!strcmp(names[i], "meta"))
			continue;
		if (to->ops->table_count(to, names[i], &rows) < 0)
			return -1;
		if (rows)
			return error("the target store is not empty: table '%s' has %lld rows", names[i],
				     (long long)rows);
	}
	return 0;
}

static int copy_tables(struct store *from, struct store *to, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct load_ctx l = { to, names[i] };
		if (from->ops->table_rows(from, names[i], load_row, &l) < 0)
			return -1;
	}
	return to->ops->load_done(to);
}

int store_copy(struct store *from, struct store *to, store_copied_fn fn, void *arg)
{
	char **src = NULL, **dst = NULL;
	size_t nsrc = 0, ndst = 0;
	int ret = -1;

	if (from->ops->tables(from, &src, &nsrc) < 0 || to->ops->tables(to, &dst, &ndst) < 0)
		goto out;
	for (size_t i = 0; i < nsrc; i++)
		if (!has_name(dst, ndst, src[i])) {
			error("the target store has no table '%s' (another version of synthflow?)", src[i]);
			goto out;
		}
	if (check_empty(to, dst, ndst) < 0 || store_begin(from) < 0)
		goto out;
	if (store_begin(to) < 0) {
		store_rollback(from);
		goto out;
	}
	if (copy_tables(from, to, src, nsrc) < 0 || store_commit(to) < 0) {
		store_rollback(to);
		store_rollback(from);
		error("the copy was not made; the target store is unchanged");
		goto out;
	}
	store_rollback(from); /* it only read */
	ret = 0;
	for (size_t i = 0; i < nsrc; i++) {
		int64_t a = -1, b = -1;
		if (from->ops->table_count(from, src[i], &a) < 0 ||
		    to->ops->table_count(to, src[i], &b) < 0) {
			ret = -1;
			break;
		}
		if (fn)
			fn(src[i], a, b, arg);
		if (a != b)
			ret = error("table '%s': %lld rows in the source, %lld in the copy", src[i],
				    (long long)a, (long long)b);
	}
out:
	free_names(src, nsrc);
	free_names(dst, ndst);
	return ret;
}

int store_ti_counts(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
		    void *arg)
{
	return n ? s->ops->ti_counts(s, run_ids, n, fn, arg) : 0;
}

/* ---- per-item metrics ---- */

int store_metrics_put(struct store *s, const char *run_id, const char *task_id, int index,
		      int try_number, const char *item, const char *jsonl, size_t len, size_t *bad)
{
	size_t ignored;
	return s->ops->metrics_put(s, run_id, task_id, index, try_number, item, jsonl, len,
				   bad ? bad : &ignored);
}

int store_metrics_lines(const char *jsonl, size_t len, const char *item,
			store_metrics_line_fn fn, void *arg, size_t *bad)
{
	size_t p = 0;
	int line = 0;

	*bad = 0;
	while (p < len) {
		const char *nl = memchr(jsonl + p, '\n', len - p);
		size_t l = nl ? (size_t)(nl - (jsonl + p)) : len - p;
		json_t *o;
		const char *it;
		int stop;

		if (strspn(jsonl + p, " \t\r") >= l) {
			p += l + 1;
			continue;
		}
		o = json_loadb(jsonl + p, l, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(o)) {
			(*bad)++;
			json_decref(o);
			p += l + 1;
			continue;
		}
		it = json_string_value(json_object_get(o, "item"));
		if (memchr(jsonl + p, '\\', l)) {
			/*
			 * An escape may spell a key ("k\u0065y"): jansson, PostgreSQL's
			 * jsonb and serve's table read it as "key", SQLite's
			 * json_extract('$.key') does not.  Stored as jansson writes it
			 * back, the line means the same to every reader.
			 */
			char *text = json_dumps(o, JSON_COMPACT);

			stop = text ? fn(line++, it ? it : item, text, strlen(text), arg) : -1;
			free(text);
		} else {
			stop = fn(line++, it ? it : item, jsonl + p, l, arg);
		}
		json_decref(o);
		if (stop)
			return -1;
		p += l + 1;
	}
	return 0;
}

int store_metrics_key_ok(const char *key)
{
	size_t n = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	return n > 0 && n <= 64 && !key[n];
}

void store_metrics_filter_free(struct store_metrics_cond *conds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(conds[i].key);
		free(conds[i].text);
	}
	free(conds);
}

int store_metrics_filter_parse(const char *filter, struct store_metrics_cond **conds, size_t *n,
			       struct strbuf *err)
{
	static const struct { const char *s; enum store_metrics_op op; } ops[] = {
		{ "<=", SMO_LE }, { ">=", SMO_GE }, { "!=", SMO_NE }, { "<", SMO_LT },
		{ ">", SMO_GT }, { "=", SMO_EQ }, { "~", SMO_CONTAINS },
	};
	const char *p = filter ? filter : "";
	size_t alloc = 0;

	*conds = NULL;
	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ","), klen = strcspn(p, "<>=!~");
		struct store_metrics_cond c = { 0 };
		const char *op = p + klen, *val = NULL;
		char *end;

		if (klen >= len) {
			sb_addf(err, "filter condition '%.*s' has no operator (= != < <= > >= ~)",
				(int)len, p);
			goto bad;
		}
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			if (!strncmp(op, ops[i].s, strlen(ops[i].s))) {
				c.op = ops[i].op;
				val = op + strlen(ops[i].s);
				break;
			}
		c.key = xstrndup(p, klen);
		while (klen && c.key[klen - 1] == ' ')
			c.key[--klen] = '\0';
		if (!val || !store_metrics_key_ok(c.key + strspn(c.key, " "))) {
			sb_addf(err, "bad filter condition '%.*s'", (int)len, p);
			free(c.key);
			goto bad;
		}
		memmove(c.key, c.key + strspn(c.key, " "), strlen(c.key + strspn(c.key, " ")) + 1);
		while (*val == ' ')
			val++;
		c.text = xstrndup(val, (size_t)(p + len - val));
		c.number = strtod(c.text, &end);
		c.is_number = *c.text && !*end && c.op != SMO_CONTAINS;
		ALLOC_GROW(*conds, *n + 1, alloc);
		(*conds)[(*n)++] = c;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
bad:
	store_metrics_filter_free(*conds, *n);
	*conds = NULL;
	*n = 0;
	return -1;
}

int store_metrics_sort_parse(const char *sort, const char **key, int *desc, struct strbuf *err)
{
	*key = NULL;
	*desc = 0;
	if (!sort || !*sort)
		return 0;
	*desc = *sort == '-';
	if (!store_metrics_key_ok(sort + *desc)) {
		sb_addf(err, "bad sort key '%s' (a metric's name, or -NAME for descending)", sort);
		return -1;
	}
	*key = sort + *desc;
	return 0;
}

int store_metrics_list(struct store *s, const char *run_id, const struct store_metrics_query *q,
		       json_t **rows, size_t *total, struct strbuf *err)
{
	struct store_metrics_cond *conds;
	const char *sort;
	size_t n;
	int ret, desc;

	if (store_metrics_sort_parse(q->sort, &sort, &desc, err) < 0 ||
	    store_metrics_filter_parse(q->filter, &conds, &n, err) < 0)
		return -1;
	ret = s->ops->metrics_list(s, run_id, q, conds, n, sort, desc, rows, total);
	store_metrics_filter_free(conds, n);
	return ret;
}

int store_metrics_each(struct store *s, const char *run_id, store_metrics_fn fn, void *arg)
{
	return s->ops->metrics_each(s, run_id, fn, arg);
}
