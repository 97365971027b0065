/* Helpers shared by the run commands and the API (see run.h). */
#include "flow/run.h"

#include <poll.h>

#include "util/common.h"
#include "util/suggest.h"
#include "util/timeutil.h"

#define HINT_RUNS 1000
#define WAIT_POLL_MS 50

struct dag *run_find_dag(struct dag_set *set, const char *id)
{
	struct dag *d = dagset_find(set, id);
	const char *hint;

	if (d)
		return d;
	hint = dagset_closest(set, id);
	if (hint)
		error("unknown DAG '%s' (did you mean '%s'?)", id, hint);
	else
		error("unknown DAG '%s'; see 'synthflow dags list'", id);
	if (set->bad_files)
		note("%zu DAG file(s) have errors and were skipped; see 'synthflow dags validate'",
		     set->bad_files);
	return NULL;
}

struct dag *run_load_dag(const char *data_dir, const char *id)
{
	struct dag_set set = { 0 };
	struct dag *d = dag_load_id(data_dir, id, NULL);

	if (d)
		return d;
	/* Not found: load the set again only to say what is there. */
	dagset_load(&set, data_dir, NULL);
	run_find_dag(&set, id);
	dagset_release(&set);
	return NULL;
}

const struct dag_task *run_find_task(const struct dag *d, const char *task_id)
{
	const struct dag_task *t = dag_task(d, task_id);
	const char *hint;

	if (t)
		return t;
	hint = dag_closest_task(d, task_id);
	if (hint)
		error("unknown task '%s' in DAG '%s' (did you mean '%s'?)", task_id, d->id, hint);
	else
		error("unknown task '%s' in DAG '%s'", task_id, d->id);
	return NULL;
}

int run_find(struct store *st, const char *run_id, struct store_run *out)
{
	struct store_run_filter f = { .limit = HINT_RUNS };
	struct store_run *runs;
	const char **ids;
	const char *hint;
	size_t n;
	int ret = store_run_get(st, run_id, out);

	if (ret <= 0)
		return ret;
	if (store_run_list(st, &f, &runs, &n, NULL) < 0)
		return -1;
	ids = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		ids[i] = runs[i].run_id;
	hint = suggest_closest(run_id, ids, n);
	if (hint)
		error("unknown run '%s' (did you mean '%s'?)", run_id, hint);
	else
		error("unknown run '%s'; see 'synthflow runs list'", run_id);
	free(ids);
	store_run_list_free(runs, n);
	return -1;
}

const char *run_kv_malformed(char **kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		if (!eq || eq == kv[i])
			return kv[i];
	}
	return NULL;
}

int run_params(const struct dag *d, char **kv, size_t n, json_t **out)
{
	struct strbuf err = STRBUF_INIT;
	int ret = dag_params_from_kv(d, kv, n, out, &err);
	if (ret < 0)
		error("DAG '%s': %s", d->id, err.buf);
	sb_release(&err);
	return ret;
}

int run_wait(struct store *st, const char *run_id, enum run_state *state)
{
	for (;;) {
		struct store_run r = { 0 };
		int ret = store_run_get(st, run_id, &r);
		if (ret)
			return ret < 0 ? -1 : error("run '%s' disappeared from the store", run_id);
		*state = r.state;
		store_run_release(&r);
		if (run_state_is_final(*state))
			return 0;
		poll(NULL, 0, WAIT_POLL_MS);
	}
}

static void fmt_time(int64_t ms, char *buf, size_t size)
{
	if (!ms) {
		snprintf(buf, size, "-");
		return;
	}
	time_format_iso(ms, buf, size);
}

static void fmt_duration(int64_t from, int64_t to, char *buf, size_t size)
{
	int64_t ms = (to ? to : time_now_ms()) - from;
	if (!from)
		snprintf(buf, size, "-");
	else if (ms < 10000)
		snprintf(buf, size, "%.2fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, size, "%lldm%02llds", (long long)ms / 60000, (long long)ms / 1000 % 60);
	else
		snprintf(buf, size, "%lldh%02lldm", (long long)ms / 3600000, (long long)ms / 60000 % 60);
}

void run_print_list(FILE *out, const struct store_run *runs, size_t n)
{
	fprintf(out, "%-24s  %-24s  %-9s  %-24s  %s\n", "RUN", "DAG", "STATE", "CREATED", "DURATION");
	for (size_t i = 0; i < n; i++) {
		char created[32], dur[32];
		fmt_time(runs[i].created_at, created, sizeof(created));
		fmt_duration(runs[i].started_at, runs[i].ended_at, dur, sizeof(dur));
		fprintf(out, "%-24s  %-24s  %-9s  %-24s  %s\n", runs[i].run_id, runs[i].dag_id,
			run_state_name(runs[i].state), created, dur);
	}
}

void run_print(FILE *out, const struct store_run *r, const struct store_ti *tis, size_t n)
{
	char created[32], started[32], ended[32], dur[32];
	char *params = json_dumps(r->params, JSON_COMPACT | JSON_SORT_KEYS);

	fmt_time(r->created_at, created, sizeof(created));
	fmt_time(r->started_at, started, sizeof(started));
	fmt_time(r->ended_at, ended, sizeof(ended));
	fmt_duration(r->started_at, r->ended_at, dur, sizeof(dur));
	fprintf(out, "run:      %s\ndag:      %s\nstate:    %s\nparams:   %s\n", r->run_id, r->dag_id,
		run_state_name(r->state), params ? params : "{}");
	fprintf(out, "created:  %s\nstarted:  %s\nended:    %s\nduration: %s\n", created, started,
		ended, dur);
	if (r->reason)
		fprintf(out, "reason:   %s\n", r->reason);
	free(params);
	if (!n)
		return;
	fprintf(out, "\n%-32s  %-15s  %3s  %4s  %-9s  %s\n", "TASK", "STATE", "TRY", "EXIT",
		"DURATION", "REASON");
	for (size_t i = 0; i < n; i++) {
		const struct store_ti *t = &tis[i];
		char name[256], code[16];
		if (t->index >= 0)
			snprintf(name, sizeof(name), "%s[%d]", t->task_id, t->index);
		else
			snprintf(name, sizeof(name), "%s", t->task_id);
		if (t->exit_code >= 0)
			snprintf(code, sizeof(code), "%d", t->exit_code);
		else
			snprintf(code, sizeof(code), "-");
		fmt_duration(t->started_at, t->ended_at, dur, sizeof(dur));
		fprintf(out, "%-32s  %-15s  %3d  %4s  %-9s  %s\n", name, ti_state_name(t->state),
			t->try_number, code, t->state == TI_QUEUED && !t->started_at ? "-" : dur,
			t->reason ? t->reason : "");
	}
}

int run_add_provenance(struct store *st, const char *run_id, json_t *run)
{
	json_t *prov, *tasks, *t, *rdoc;
	size_t i;

	if (store_prov_load(st, run_id, &prov) < 0)
		return -1;
	tasks = json_object_get(prov, "tasks");
	json_array_foreach(json_object_get(run, "tasks"), i, t) {
		json_t *idx = json_object_get(t, "index");
		char *key = store_prov_key(json_string_value(json_object_get(t, "task_id")),
					   json_is_integer(idx) ? (int)json_integer_value(idx) : -1);
		json_t *doc = json_object_get(tasks, key);
		json_object_set(t, "provenance", doc ? doc : json_null());
		free(key);
	}
	rdoc = json_object_get(prov, "run");
	json_object_set(run, "provenance", rdoc);
	t = json_object_get(rdoc, "replay_of");
	json_object_set(run, "replay_of", json_is_string(t) ? t : json_null());
	json_decref(prov);
	return 0;
}
