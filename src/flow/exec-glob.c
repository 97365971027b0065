/*
 * foreach globs, with `**`.  glob(3) has no recursive wildcard, so this
 * walks the tree one pattern component at a time, reading only the folders
 * the pattern can reach.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include "flow/exec.h"
#include "util/common.h"

struct glob_state {
	char **comps;
	size_t ncomps;
	char **out;
	size_t n, alloc;
};

static int has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static void add_match(struct glob_state *g, const char *path)
{
	ALLOC_GROW(g->out, g->n + 1, g->alloc);
	g->out[g->n++] = xstrdup(*path ? path : "/");
}

static int entry_is_dir(const char *dir, struct dirent *de)
{
	struct stat st;
	char *p;
	int ret;

	if (de->d_type == DT_DIR)
		return 1;
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
		return 0;
	/* Symlinked folders are followed for a name, never by `**` (no loops). */
	p = xasprintf("%s/%s", dir, de->d_name);
	ret = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ret;
}

static void walk(struct glob_state *g, const char *dir, size_t i);

static void walk_literal(struct glob_state *g, const char *dir, size_t i)
{
	char *p = xasprintf("%s/%s", dir, g->comps[i]);
	struct stat st;

	if (i + 1 == g->ncomps) {
		if (lstat(p, &st) == 0)
			add_match(g, p);
	} else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		walk(g, p, i + 1);
	}
	free(p);
}

static void walk(struct glob_state *g, const char *dir, size_t i)
{
	const char *comp;
	int rec;
	DIR *d;
	struct dirent *de;

	if (i == g->ncomps) {
		add_match(g, dir);
		return;
	}
	comp = g->comps[i];
	if (!has_wildcard(comp)) {
		walk_literal(g, dir, i);
		return;
	}
	rec = !strcmp(comp, "**");
	if (rec)
		walk(g, dir, i + 1); /* zero folders */
	d = opendir(*dir ? dir : "/");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *p;
		if (de->d_name[0] == '.')
			continue;
		if (rec) {
			if (de->d_type == DT_DIR ||
			    (de->d_type == DT_UNKNOWN && entry_is_dir(dir, de))) {
				p = xasprintf("%s/%s", dir, de->d_name);
				walk(g, p, i);
				free(p);
			}
			continue;
		}
		if (fnmatch(comp, de->d_name, FNM_PERIOD))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (i + 1 == g->ncomps)
			add_match(g, p);
		else if (entry_is_dir(dir, de))
			walk(g, p, i + 1);
		free(p);
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int exec_glob(const char *pattern, char ***paths, size_t *n, struct strbuf *err)
{
	struct glob_state g = { 0 };
	char *copy, *save = NULL;
	size_t comp_alloc = 0, w = 0;

	*paths = NULL;
	*n = 0;
	if (pattern[0] != '/') {
		sb_addf(err, "foreach pattern '%s' is not an absolute path", pattern);
		return -1;
	}
	copy = xstrdup(pattern);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		ALLOC_GROW(g.comps, g.ncomps + 1, comp_alloc);
		g.comps[g.ncomps++] = c;
	}
	walk(&g, "", 0);
	free(g.comps);
	free(copy);
	if (g.n)
		qsort(g.out, g.n, sizeof(*g.out), cmp_str);
	/* A pattern with two recursive components reaches a path more than once. */
	for (size_t r = 0; r < g.n; r++) {
		if (w && !strcmp(g.out[w - 1], g.out[r]))
			free(g.out[r]);
		else
			g.out[w++] = g.out[r];
	}
	*paths = g.out;
	*n = w;
	return 0;
}

void exec_glob_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}
