#ifndef SF_DIAG_H
#define SF_DIAG_H

#include <stddef.h>
#include <stdio.h>

/*
 * Diagnostics about a user's file, printed gcc-style so editors can jump to
 * them:  path:line:col: error: message
 * A loader collects every problem it finds instead of stopping at the first.
 */
enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_level level;
	int line, col; /* 1-based; 0 when the problem concerns the whole file */
	char *msg;
};

struct diag_list {
	char *path;
	struct diag *v;
	size_t n, alloc;
	size_t errors;
};

void diag_init(struct diag_list *dl, const char *path);
void diag_release(struct diag_list *dl);
void diag_add(struct diag_list *dl, enum diag_level level, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define diag_error(dl, line, col, ...) diag_add((dl), DIAG_ERROR, (line), (col), __VA_ARGS__)
/* Sorts by position (stable) and prints every entry. */
void diag_print(struct diag_list *dl, FILE *out);

#endif
