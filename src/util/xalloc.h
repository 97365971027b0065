#ifndef SF_XALLOC_H
#define SF_XALLOC_H

#include <stddef.h>

/* Allocation that cannot fail: out of memory is not recoverable here. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow an array to hold at least `want` elements (doubling). */
#define ALLOC_GROW(arr, want, alloc)                                              \
	do {                                                                          \
		if ((size_t)(want) > (alloc)) {                                           \
			size_t alloc_grow_n_ = (alloc) ? (alloc) * 2 : 8;                     \
			while (alloc_grow_n_ < (size_t)(want))                                \
				alloc_grow_n_ *= 2;                                               \
			(arr) = xrealloc((arr), alloc_grow_n_ * sizeof(*(arr)));              \
			(alloc) = alloc_grow_n_;                                              \
		}                                                                         \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
