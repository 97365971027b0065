/*
 * Which event scripts an event goes to, as outbox rows (see events.h).
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/events.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

const char *const events_names[] = {
	"file-added", "file-changed", "run-queued", "run-started", "run-finished",
	"task-failed", "variable-changed", "dag-paused", "dag-unpaused",
};
const size_t events_count = ARRAY_SIZE(events_names);

int events_known(const char *name)
{
	for (size_t i = 0; i < events_count; i++)
		if (!strcmp(events_names[i], name))
			return 1;
	return 0;
}

static char *dup_field(json_t *payload, const char *key)
{
	const char *s = json_string_value(json_object_get(payload, key));
	return s ? xstrdup(s) : NULL;
}

/* One workspace: a row when it has the script (runnable or not). */
static void row_for(const char *data_dir, const char *ws, const char *event, json_t *payload,
		    const char *owner, struct store_delivery **v, size_t *n, size_t *alloc)
{
	char *path = xasprintf("%s/src/%s/events/%s", data_dir, ws, event);
	struct store_delivery *d;
	struct stat st;

	if (stat(path, &st) < 0) {
		free(path);
		return;
	}
	ALLOC_GROW(*v, *n + 1, *alloc);
	d = &(*v)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->kind = xstrdup("event");
	d->event = xstrdup(event);
	d->run_id = dup_field(payload, "run_id");
	d->dag_id = dup_field(payload, "dag_id");
	d->task_id = dup_field(payload, "task_id");
	d->index = json_is_integer(json_object_get(payload, "index"))
			   ? (int)json_integer_value(json_object_get(payload, "index")) : -1;
	d->workspace = xstrdup(ws);
	d->command = path;
	d->payload = json_dumps(payload, JSON_COMPACT);
	d->owner = owner ? xstrdup(owner) : NULL;
	d->exit_code = -1;
	d->created_at = time_now_ms();
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
		d->state = xstrdup("failed");
		d->ended_at = d->created_at;
		d->note = xasprintf(S_ISREG(st.st_mode)
					    ? "'%s' is not executable: 'chmod +x' it to have it run"
					    : "'%s' is not a file",
				    path);
	}
}

void events_rows(const char *data_dir, const char *ws, const char *event, json_t *payload,
		 const char *owner, struct store_delivery **v, size_t *n, size_t *alloc)
{
	char at[32], *src;
	DIR *dir;
	struct dirent *de;

	time_format_iso(time_now_ms(), at, sizeof(at));
	json_object_set_new(payload, "event", json_string(event));
	json_object_set_new(payload, "at", json_string(at));
	if (ws) {
		row_for(data_dir, ws, event, payload, owner, v, n, alloc);
		return;
	}
	src = path_join(data_dir, "src");
	dir = opendir(src);
	while (dir && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			row_for(data_dir, de->d_name, event, payload, owner, v, n, alloc);
	if (dir)
		closedir(dir);
	free(src);
}

int events_add(struct store *st, const char *data_dir, const char *ws, const char *event,
	       json_t *payload, const char *owner)
{
	struct store_delivery *v = NULL;
	size_t n = 0, alloc = 0;
	int ret = 0;

	events_rows(data_dir, ws, event, payload, owner, &v, &n, &alloc);
	for (size_t i = 0; i < n && !ret; i++)
		ret = store_delivery_add(st, &v[i]);
	store_delivery_list_free(v, n);
	return ret;
}

int events_set_paused(struct store *st, const char *data_dir, const struct dag *d, int paused,
		      const char *source)
{
	json_t *all = NULL, *ev;
	int ret;

	if (store_begin(st) < 0)
		return -1;
	if (store_dag_paused_all(st, &all) < 0)
		goto fail;
	if (json_is_true(json_object_get(all, d->id)) == !!paused) {
		json_decref(all);
		store_rollback(st);
		return 0;
	}
	json_decref(all);
	ev = json_pack("{s:s, s:s}", "dag_id", d->id, "source", source);
	ret = store_dag_set_paused(st, d->id, paused);
	if (!ret && d->workspace)
		ret = events_add(st, data_dir, d->workspace, paused ? "dag-paused" : "dag-unpaused",
				 ev, NULL);
	json_decref(ev);
	if (ret < 0 || store_commit(st) < 0)
		goto fail;
	return 1;
fail:
	store_rollback(st);
	return -1;
}
