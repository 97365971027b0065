#include "util/suggest.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t w = lb + 1;
	size_t *d = xcalloc((la + 1) * w, sizeof(*d));
	size_t r;

	for (size_t i = 0; i <= la; i++)
		d[i * w] = i;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			d[i * w + j] = min3(d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1,
					    d[(i - 1) * w + j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[(i - 2) * w + j - 2] + 1 < d[i * w + j])
				d[i * w + j] = d[(i - 2) * w + j - 2] + 1;
		}
	}
	r = d[la * w + lb];
	free(d);
	return r;
}

const char *suggest_closest(const char *word, const char *const *candidates, size_t n)
{
	size_t limit = strlen(word) / 3;
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	/* The distance is quadratic: a long word (untrusted input) gets no hint. */
	if (strlen(word) > SUGGEST_MAX_WORD)
		return NULL;
	if (limit < 1)
		limit = 1;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best && best_d <= limit && best_d > 0 ? best : NULL;
}
