#include "util/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <yaml.h>

#include "util/common.h"

/* Nesting deeper than this is not a DAG file: refuse instead of recursing. */
#define MAX_DEPTH 64

struct builder {
	yaml_parser_t parser;
	struct diag_list *dl;
	int failed;
	const char *buf;        /* the input, to place reader errors */
	size_t len;
};

static struct ynode *node_new(enum ynode_type t, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			ynode_free(n->keys[i]);
		ynode_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n->str);
	free(n);
}

static void append(struct ynode *parent, struct ynode *key, struct ynode *val)
{
	size_t old = parent->alloc;
	ALLOC_GROW(parent->vals, parent->n + 1, parent->alloc);
	if (parent->type == YN_MAP) {
		size_t a = old;
		ALLOC_GROW(parent->keys, parent->n + 1, a);
	}
	if (parent->keys)
		parent->keys[parent->n] = key;
	parent->vals[parent->n++] = val;
}

static yaml_mark_t offset_mark(const char *buf, size_t len, size_t off)
{
	yaml_mark_t m = { off, 0, 0 };

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			m.column++; /* columns count characters, not UTF-8 continuation bytes */
		}
	}
	return m;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev)) {
		const char *prob = b->parser.problem ? b->parser.problem : "malformed YAML";
		yaml_mark_t m = b->parser.problem_mark;

		/* A reader error (bad UTF-8, a control character) only knows its byte offset. */
		if (b->parser.error == YAML_READER_ERROR)
			m = offset_mark(b->buf, b->len, b->parser.problem_offset);
		if (b->parser.context)
			diag_error(b->dl, (int)m.line + 1, (int)m.column + 1, "%s %s", prob,
				   b->parser.context);
		else
			diag_error(b->dl, (int)m.line + 1, (int)m.column + 1, "%s", prob);
		b->failed = 1;
		return -1;
	}
	return 0;
}

static struct ynode *build(struct builder *b, yaml_event_t *ev, int depth);

/*
 * Finding duplicate keys must not be quadratic: a generated DAG may hold
 * tens of thousands of tasks in one mapping.  Small mappings scan; from
 * KEYSET_MIN keys on, an open-addressing table of key indices is used.
 */
#define KEYSET_MIN 16

struct keyset {
	size_t *slot; /* index + 1 into the map's keys; 0 = empty */
	size_t cap;   /* a power of two, kept at least twice the key count */
};

static size_t key_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t *keyset_find(const struct keyset *ks, const struct ynode *map, const char *key)
{
	size_t i = key_hash(key) & (ks->cap - 1);
	while (ks->slot[i] && strcmp(map->keys[ks->slot[i] - 1]->str, key))
		i = (i + 1) & (ks->cap - 1);
	return &ks->slot[i];
}

static void keyset_rebuild(struct keyset *ks, const struct ynode *map)
{
	free(ks->slot);
	ks->cap = 64;
	while (ks->cap < 2 * (map->n + 1))
		ks->cap *= 2;
	ks->slot = xcalloc(ks->cap, sizeof(*ks->slot));
	for (size_t i = 0; i < map->n; i++) {
		size_t *sl = keyset_find(ks, map, map->keys[i]->str);
		if (!*sl)
			*sl = i + 1;
	}
}

/* The earlier key equal to `key` in map, or NULL. */
static const struct ynode *find_earlier_key(struct keyset *ks, const struct ynode *map,
					    const char *key)
{
	size_t *sl;
	if (map->n < KEYSET_MIN) {
		for (size_t i = 0; i < map->n; i++)
			if (!strcmp(map->keys[i]->str, key))
				return map->keys[i];
		return NULL;
	}
	if (2 * (map->n + 1) > ks->cap)
		keyset_rebuild(ks, map);
	sl = keyset_find(ks, map, key);
	return *sl ? map->keys[*sl - 1] : NULL;
}

/* Records the key just appended at index map->n - 1 (when the table is in use). */
static void keyset_note(struct keyset *ks, const struct ynode *map)
{
	size_t *sl;
	if (!ks->cap)
		return;
	sl = keyset_find(ks, map, map->keys[map->n - 1]->str);
	if (!*sl)
		*sl = map->n;
}

static struct ynode *build_collection(struct builder *b, yaml_event_t *start, int depth)
{
	int is_map = start->type == YAML_MAPPING_START_EVENT;
	struct ynode *n = node_new(is_map ? YN_MAP : YN_SEQ, &start->start_mark);
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct keyset ks = { NULL, 0 };

	if (depth > MAX_DEPTH) {
		diag_error(b->dl, n->line, n->col, "nesting deeper than %d levels", MAX_DEPTH);
		b->failed = 1;
		ynode_free(n);
		return NULL;
	}
	for (;;) {
		yaml_event_t ev;
		struct ynode *key = NULL, *val;

		if (next_event(b, &ev) < 0)
			goto fail;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			free(ks.slot);
			return n;
		}
		if (is_map) {
			key = build(b, &ev, depth + 1);
			yaml_event_delete(&ev);
			if (!key)
				goto fail;
			if (key->type != YN_SCALAR) {
				diag_error(b->dl, key->line, key->col, "mapping keys must be plain strings");
				b->failed = 1;
				ynode_free(key);
				goto fail;
			}
			if (next_event(b, &ev) < 0) {
				ynode_free(key);
				goto fail;
			}
		}
		val = build(b, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!val) {
			ynode_free(key);
			goto fail;
		}
		if (key) {
			const struct ynode *prev = find_earlier_key(&ks, n, key->str);
			if (prev)
				diag_error(b->dl, key->line, key->col,
					   "duplicate key '%s' (first defined at line %d)", key->str,
					   prev->line);
		}
		append(n, key, val);
		if (key)
			keyset_note(&ks, n);
	}
fail:
	free(ks.slot);
	ynode_free(n);
	return NULL;
}

static struct ynode *build(struct builder *b, yaml_event_t *ev, int depth)
{
	struct ynode *n;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(YN_SCALAR, &ev->start_mark);
		n->str = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (strlen(n->str) != ev->data.scalar.length) {
			diag_error(b->dl, n->line, n->col, "string contains a NUL character");
			b->failed = 1;
			ynode_free(n);
			return NULL;
		}
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return n;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return build_collection(b, ev, depth);
	case YAML_ALIAS_EVENT:
		diag_error(b->dl, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
			   "YAML aliases (*%s) are not supported; write the value out",
			   (const char *)ev->data.alias.anchor);
		b->failed = 1;
		return NULL;
	default:
		diag_error(b->dl, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
			   "unexpected YAML structure");
		b->failed = 1;
		return NULL;
	}
}

struct ynode *yaml_parse(const char *buf, size_t len, struct diag_list *dl)
{
	struct builder b = { .dl = dl };
	struct ynode *root = NULL;
	yaml_event_t ev;
	int done = 0;

	if (!yaml_parser_initialize(&b.parser))
		die("out of memory");
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);
	b.buf = buf;
	b.len = len;
	while (!done && !b.failed) {
		if (next_event(&b, &ev) < 0)
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_DOCUMENT_END_EVENT:
			/* What follows must be the end: a second document would be dropped unseen. */
			yaml_event_delete(&ev);
			if (next_event(&b, &ev) < 0)
				continue;
			if (ev.type == YAML_DOCUMENT_START_EVENT) {
				diag_error(dl, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
					   "a second YAML document ('---'): one DAG per file; put it "
					   "in a file of its own");
				b.failed = 1;
			}
			done = 1;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			if (root) {
				done = 1;
				break;
			}
			root = build(&b, &ev, 0);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&b.parser);
	if (b.failed) {
		ynode_free(root);
		return NULL;
	}
	if (!root) {
		yaml_mark_t m = { 0, 0, 0 };
		root = node_new(YN_MAP, &m);
	}
	return root;
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->str, key))
			return map->vals[i];
	return NULL;
}

int ynode_is_null(const struct ynode *n)
{
	return n->type == YN_SCALAR && n->plain &&
	       (!*n->str || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

const char *ynode_type_name(const struct ynode *n)
{
	switch (n->type) {
	case YN_MAP: return "a mapping";
	case YN_SEQ: return "a list";
	default: break;
	}
	if (ynode_is_null(n))
		return "null";
	{
		long long i;
		double d;
		int bo;
		if (n->plain && !ynode_to_int(n, &i))
			return "an integer";
		if (n->plain && !ynode_to_double(n, &d))
			return "a number";
		if (n->plain && !ynode_to_bool(n, &bo))
			return "a boolean";
	}
	return "a string";
}

int ynode_to_bool(const struct ynode *n, int *out)
{
	static const char *const t[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const f[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	if (n->type != YN_SCALAR)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcmp(n->str, t[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(n->str, f[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int ynode_is_int_literal(const struct ynode *n)
{
	const char *p = n->type == YN_SCALAR ? n->str : "";

	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

int ynode_to_int(const struct ynode *n, long long *out)
{
	char *end;
	if (n->type != YN_SCALAR || !*n->str)
		return -1;
	errno = 0;
	*out = strtoll(n->str, &end, 10);
	return errno || *end ? -1 : 0;
}

int ynode_to_double(const struct ynode *n, double *out)
{
	char *end;
	if (n->type != YN_SCALAR || !*n->str)
		return -1;
	errno = 0;
	*out = strtod(n->str, &end);
	if (errno || *end || !isfinite(*out))
		return -1;
	return 0;
}
