#ifndef SF_YAML_H
#define SF_YAML_H

#include <stddef.h>

#include "util/diag.h"

/*
 * A YAML document as a tree that keeps every node's position, so validators
 * can point at the exact line and column.  Unlike libyaml's own loader it
 * reports duplicate mapping keys (YAML parsers accept them silently and keep
 * one value: a user would lose a setting without a word) and refuses aliases
 * (no billion-laughs expansion).
 */
enum ynode_type { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_type type;
	int line, col;  /* 1-based */
	char *str;      /* scalar text (YN_SCALAR) */
	int plain;      /* scalar was unquoted: may be a number, bool or null */
	size_t n;       /* number of items (seq) or pairs (map) */
	struct ynode **keys; /* map keys (always scalars); NULL for a sequence */
	struct ynode **vals;
	size_t alloc;
};

/*
 * Parses the first document of buf.  Problems go to dl; returns NULL on a
 * syntax error.  An empty document gives an empty mapping.
 */
struct ynode *yaml_parse(const char *buf, size_t len, struct diag_list *dl);
void ynode_free(struct ynode *n);
/* Looks up a key in a mapping (NULL when absent or n is not a map). */
struct ynode *ynode_get(const struct ynode *map, const char *key);
/* A plain scalar that means null ("", "~", "null"). */
int ynode_is_null(const struct ynode *n);
const char *ynode_type_name(const struct ynode *n);
/* Scalar conversions: 0 on success, -1 when the text is not of that type. */
int ynode_to_bool(const struct ynode *n, int *out);
int ynode_to_int(const struct ynode *n, long long *out);
/* 1 when the scalar is written as a whole number (perhaps too big for ynode_to_int). */
int ynode_is_int_literal(const struct ynode *n);
int ynode_to_double(const struct ynode *n, double *out);

#endif
