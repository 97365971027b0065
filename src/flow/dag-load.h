/*
 * Inside the DAG loader: what dag-load.c (the file and its tasks),
 * dag-load-params.c (the params: schema) and dag-load-graph.c (needs, cycles
 * and order) share.  Not for other callers: they use dag.h.
 */
#ifndef SF_DAG_LOAD_H
#define SF_DAG_LOAD_H

#include <stdarg.h>

#include "flow/dag.h"
#include "util/common.h"
#include "util/suggest.h"
#include "util/yaml.h"

#define ID_MAX 128

struct loader {
	struct diag_list *dl;
	const char *buf;        /* the file, to place errors inside multi-line scalars */
	size_t len;
	struct dag *d;
	const char **pnames;    /* param names, for {{ params.X }} checks */
	size_t npnames;
};

/* Errors go to the diagnostics list at the node's (or a given) line and column. */
static inline void err_at_pos(struct loader *L, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void err_at_pos(struct loader *L, int line, int col, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_add(L->dl, DIAG_ERROR, line, col, "%s", sb.buf);
	sb_release(&sb);
}

#define err_at(L, node, ...) err_at_pos((L), (node)->line, (node)->col, __VA_ARGS__)

/*
 * suggest_closest, bounded: for one- or two-letter names any other short name
 * is "close", and hints for huge words or lists cost more than they help.
 */
static const char *hint(const char *word, const char *const *cands, size_t n)
{
	if (strlen(word) < 3 || strlen(word) > ID_MAX || n > 1000)
		return NULL;
	return suggest_closest(word, cands, n);
}

/* ", did you mean" or the list of valid names, after a message. */
static inline void add_hint(struct strbuf *sb, const char *word, const char *const *cands, size_t n,
		     const char *what)
{
	const char *h = hint(word, cands, n);

	if (h) {
		sb_addf(sb, " (did you mean '%s'?)", h);
		return;
	}
	if (!n || n > 20)
		return;
	sb_addf(sb, "; %s: ", what);
	for (size_t i = 0; i < n; i++)
		sb_addf(sb, "%s%s", i ? ", " : "", cands[i]);
}

static inline void check_keys(struct loader *L, const struct ynode *map, const char *const *keys,
		       size_t n, const char *where)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i];
		struct strbuf sb = STRBUF_INIT;
		size_t j;

		for (j = 0; j < n && strcmp(k->str, keys[j]); j++)
			;
		if (j < n)
			continue;
		sb_addf(&sb, "unknown key '%s'%s", k->str, where);
		add_hint(&sb, k->str, keys, n, "valid keys");
		err_at(L, k, "%s", sb.buf);
		sb_release(&sb);
	}
}

/* Any non-null scalar as text: `run: true` is a fine shell command. */
static inline int get_string(struct loader *L, const struct ynode *n, const char *what, char **out)
{
	if (n->type != YN_SCALAR || ynode_is_null(n)) {
		err_at(L, n, "'%s' must be a string, found %s", what, ynode_type_name(n));
		return -1;
	}
	*out = xstrdup(n->str);
	return 0;
}

static inline int get_string_list(struct loader *L, const struct ynode *n, const char *what,
			   char ***out, size_t *count)
{
	int bad = 0;

	if (n->type != YN_SEQ) {
		err_at(L, n, "'%s' must be a list, found %s (write %s: [...])", what,
		       ynode_type_name(n), what);
		return -1;
	}
	*out = xcalloc(n->n ? n->n : 1, sizeof(char *));
	*count = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = n->vals[i];
		if (v->type != YN_SCALAR || ynode_is_null(v)) {
			err_at(L, v, "items of '%s' must be strings, found %s", what, ynode_type_name(v));
			bad = 1;
			continue;
		}
		(*out)[(*count)++] = xstrdup(v->str);
	}
	return bad ? -1 : 0;
}

/* The params: mapping into L->d->params, and L->pnames for template checks. */
void dag_load_params(struct loader *L, const struct ynode *n);
/*
 * The graph of the tasks (the `tasks:` mapping, parsed into L->d): every
 * need resolved to its task, cycles reported; when the file has no more
 * errors than errors_before, the tasks in topological order (d->topo).
 */
void dag_load_graph(struct loader *L, const struct ynode *tasks, size_t errors_before);

#endif
