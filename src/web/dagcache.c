/*
 * The DAGs the server shows, loaded once and reloaded only when a DAG file
 * changed, so that listing 100 DAGs costs no YAML parsing per request.
 */
#include "web/web-impl.h"

#include "util/common.h"

static void snap_free(struct dag_snap *snap)
{
	for (size_t i = 0; i < snap->set.n; i++)
		json_decref(snap->json[i]);
	free(snap->json);
	dagset_release(&snap->set);
	free(snap->signature);
	free(snap);
}

void dags_put(struct dag_snap *snap)
{
	if (snap && atomic_fetch_sub(&snap->refs, 1) == 1)
		snap_free(snap);
}

struct dag_snap *dags_get(struct web *w)
{
	struct dag_snap *snap;

	pthread_mutex_lock(&w->dags_lock);
	snap = w->dags;
	atomic_fetch_add(&snap->refs, 1);
	pthread_mutex_unlock(&w->dags_lock);
	return snap;
}

int dags_refresh(struct web *w)
{
	char *sig = dagset_signature(w->data_dir);
	struct dag_snap *snap, *old;

	if (w->dags && !strcmp(sig, w->dags->signature)) {
		free(sig);
		return 0;
	}
	snap = xcalloc(1, sizeof(*snap));
	atomic_init(&snap->refs, 1);
	snap->signature = sig;
	/* Diagnostics belong to `dags validate`; the server only shows good DAGs. */
	dagset_load(&snap->set, w->data_dir, NULL);
	snap->json = xcalloc(snap->set.n + 1, sizeof(*snap->json));
	for (size_t i = 0; i < snap->set.n; i++)
		snap->json[i] = dag_to_json(snap->set.dags[i]);
	pthread_mutex_lock(&w->dags_lock);
	old = w->dags;
	w->dags = snap;
	pthread_mutex_unlock(&w->dags_lock);
	dags_put(old);
	return 1;
}

void dags_release_all(struct web *w)
{
	dags_put(w->dags);
	w->dags = NULL;
}
