#ifndef SF_SUGGEST_H
#define SF_SUGGEST_H

#include <stddef.h>

/* Damerau-Levenshtein distance (adjacent transpositions count as one edit). */
size_t edit_distance(const char *a, const char *b);
/*
 * The candidate closest to `word` when it is a plausible typo (distance at
 * most a third of the word's length, at least 1), else NULL.  For
 * "did you mean" hints.  No hint for words longer than SUGGEST_MAX_WORD.
 */
#define SUGGEST_MAX_WORD 128
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

#endif
