#ifndef SF_CACHE_H
#define SF_CACHE_H

/*
 * The content cache (docs/replication.md, "Content cache"): a task with
 * `cache: true` whose key was seen before in a successful instance gets that
 * instance's outputs back instead of running.  Everything lives in the data
 * folder's flow/cache/:
 *
 *   objects/AB/SHA256      each output file's content once, read-only
 *   entries/AB/KEY.json    one per key: what made it and the outputs, by
 *                          path (with placeholders) and SHA-256
 *
 * The key is the SHA-256 of a JSON document (keys sorted): the command, the
 * task's env and workdir and its declared outputs, expanded with
 * placeholders for the run's folder, its id and the data folder (so the
 * params and variables they use are in it and the run they ran in is not),
 * the declared inputs and the foreach item by path (with the same
 * placeholders) and content, the names of the files below each declared
 * `input_names` path (not their content), the workspace's image and lock hash when the
 * engine runs inside one, and the engine's version.
 *
 * Lookups and saves touch many files: the scheduler runs them in the
 * provenance pool (prov.h), never on its loop.
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

#define CACHE_FORMAT 1
/* Placeholders of the run-specific parts, in keys and entries. */
#define CACHE_RUN_DIR "{{ run.dir }}"
#define CACHE_RUN_ID "{{ run.id }}"
#define CACHE_DATA "{{ data }}"

/* One instance's lookup (then restore on a hit) or save; filled on the loop. */
struct cache_work {
	int save;               /* 0: look up and restore; 1: save the outputs */
	void *ti;               /* the scheduler's instance */
	unsigned gen;           /* its state generation when the work was made */
	char *cache_dir;        /* DATA/flow/cache */
	char *run_dir, *data_dir;
	/* look up */
	json_t *keydoc;         /* owned: the key's fields but the files' hashes */
	char **inputs;          /* absolute paths or globs */
	size_t ninputs;
	char **names;           /* input_names: absolute paths or globs, listed not hashed */
	size_t nnames;
	char *item;             /* the foreach item, absolute, or NULL */
	char *lock_path;        /* the workspace's synthflow.lock, or NULL outside one */
	/* save */
	char key[65];           /* look up: the result; save: given */
	char **outputs;         /* absolute paths or globs, expanded */
	size_t noutputs;
	json_t *about;          /* owned: dag_id, task_id, index, run_id of the saver */
	/* results */
	int hit;                /* the outputs were restored */
	char *from_run;         /* hit: the run whose outputs they are */
	int from_index;         /* hit: the index of its instance there, -1 without foreach */
	json_t *inputs_json;    /* look up: the hashed inputs as provenance records them */
	json_t *outputs_json;   /* hit: the restored outputs, as provenance records them */
	char *error;            /* what went wrong (a miss or an unsaved entry), or NULL */
};

void cache_work_release(struct cache_work *w);

/* Hashes the inputs, computes w->key, restores the entry's outputs when there is one. */
void cache_lookup(struct cache_work *w);
/* Copies the outputs into objects/ and writes the entry of w->key. */
void cache_save(struct cache_work *w);

/*
 * A path below run_dir as "{{ run.dir }}/...", below data_dir as
 * "{{ data }}/...", else as it is; and back.
 */
void cache_norm_path(const char *path, const char *run_dir, const char *data_dir,
		     struct strbuf *out);
char *cache_real_path(const char *norm, const char *run_dir, const char *data_dir);

struct store;
/*
 * The run (malloc'd) and instance index (-1 without foreach) whose outputs an
 * instance restored from the cache got, from its provenance: 0, or
 * STORE_NOT_FOUND when that is not recorded (flow.provenance off), or -1.
 */
int cache_made_by(struct store *st, const char *run_id, const char *task_id, int index,
		  char **from_run, int *from_index);

/* The key of a finished key document (its files hashed): SHA-256 of its sorted JSON. */
void cache_key_of(json_t *keydoc, char out[65]);

/* ---- the commands (cache list, cache gc) ---- */

struct cache_entry_info {
	char key[65];
	char *dag_id, *task_id, *run_id;
	int index;              /* -1 without foreach */
	int64_t created_ms, used_ms; /* used: last restored (the entry's mtime) */
	size_t nfiles;
	uint64_t bytes;
};

/* Every entry, oldest use first; -1 after error(). */
int cache_list(const char *cache_dir, struct cache_entry_info **out, size_t *n);
void cache_list_free(struct cache_entry_info *v, size_t n);

struct cache_gc_result {
	size_t entries, objects; /* removed */
	uint64_t bytes;         /* of the objects removed */
	size_t kept_entries, kept_objects;
};

/*
 * Removes the entries not used for older_ms (0: none, only unreadable ones),
 * then every object no remaining entry names.  -1 after error().
 */
int cache_gc(const char *cache_dir, int64_t older_ms, struct cache_gc_result *res);

#endif
