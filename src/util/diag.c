#include "util/diag.h"

#include <stdarg.h>

#include "util/common.h"

void diag_init(struct diag_list *dl, const char *path)
{
	memset(dl, 0, sizeof(*dl));
	dl->path = xstrdup(path ? path : "<input>");
}

void diag_release(struct diag_list *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->v[i].msg);
	free(dl->v);
	free(dl->path);
	memset(dl, 0, sizeof(*dl));
}

void diag_add(struct diag_list *dl, enum diag_level level, int line, int col, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(dl->v, dl->n + 1, dl->alloc);
	dl->v[dl->n].level = level;
	dl->v[dl->n].line = line;
	dl->v[dl->n].col = col;
	dl->v[dl->n].msg = sb_detach(&sb, NULL);
	dl->n++;
	if (level == DIAG_ERROR)
		dl->errors++;
}

static int cmp_pos(const struct diag *a, const struct diag *b)
{
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void diag_print(struct diag_list *dl, FILE *out)
{
	/* insertion sort: stable, and lists are short */
	for (size_t i = 1; i < dl->n; i++) {
		struct diag d = dl->v[i];
		size_t j = i;
		while (j > 0 && cmp_pos(&dl->v[j - 1], &d) > 0) {
			dl->v[j] = dl->v[j - 1];
			j--;
		}
		dl->v[j] = d;
	}
	for (size_t i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->v[i];
		const char *lvl = d->level == DIAG_ERROR ? "error" : "warning";
		if (d->line)
			fprintf(out, "%s:%d:%d: %s: %s\n", dl->path, d->line, d->col, lvl, d->msg);
		else
			fprintf(out, "%s: %s: %s\n", dl->path, lvl, d->msg);
	}
}
