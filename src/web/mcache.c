/*
 * The dataset view's queries (GET /api/v1/runs/{run}/metrics) over a
 * finished run, answered from memory: the run's metrics are read from the
 * store once, every row's values parsed into one column per key, so that a
 * filter or a sort over 100,000 clips costs milliseconds instead of parsing
 * every row's JSON in the store again.  A finished run's metrics change only
 * when a clear makes it active again, which changes its sequence number:
 * the table is kept for (run, seq).  One run is kept, the last one asked for.
 *
 * The answers are the store's (store.h, docs/api.md): numbers order below
 * text, text by bytes, arrays and objects as their compact JSON text, a
 * missing or null value matches no condition and sorts last either way,
 * ties in the order of task, index, line; tests/unit/test-web-http.c checks
 * them against the store's own answers.
 *
 * A dataset's metrics.jsonl (datasets.c) is held the same way, one file at
 * a time, read by a thread of its own as serve starts (the newest file) or
 * at a first page of a file not in memory, which is answered from the file
 * meanwhile (file_quick_page).
 */
#include "web/web-impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/timeutil.h"

/* Bigger runs are queried in the store: the table holds about their JSON text. */
#define MCACHE_MAX_ROWS 2000000

enum mkind { MV_NULL, MV_NUM, MV_TEXT };

/*
 * A cell as stored, 16 bytes (a run's 100,000 rows by a dozen keys are
 * written fresh at each read): text in the arena, not NUL-terminated (most
 * point into their row's own text), hence its length.
 */
struct mval {
	union {
		double num;
		const char *text;
	};
	uint32_t len;
	unsigned char kind, is_int;
};

struct mget {                   /* a cell as compared */
	unsigned char kind, is_int;
	double num;
	const char *text;
	size_t len;
};

struct mrow {
	const char *task, *item, *data;         /* in the arena; item NULL: none */
	size_t data_len;
	int idx;
};

/*
 * The table's text, in blocks that never move: one growing buffer of a run's
 * 40 MB was copied again at every doubling, and touched fresh pages each time.
 */
#define ARENA_BLOCK ((size_t)4 << 20)
struct arena {
	char **blocks;
	size_t n, alloc;
	char *cur;
	size_t left;
};

struct mcol {
	char *key;
	struct mval *v;         /* one per row, MV_NULL where the row lacks the key */
	size_t mark;            /* 1 + the last row that set it: a key twice in a row */
};

enum mref_kind { MR_COL, MR_ITEM, MR_TASK, MR_INDEX };
struct mref {
	enum mref_kind kind;
	const struct mcol *col; /* MR_COL; NULL: no row has the key */
};

struct mtable {
	char *run_id;           /* for a dataset's file: its real path */
	int64_t seq;
	/* a dataset's file (mcache_file_list), known by what stat says of it */
	int is_file;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct arena text;
	struct mrow *rows;
	size_t n, alloc;
	struct mcol *cols;
	size_t ncols, cols_alloc;
	int too_big;
	/* every row in the order of the last sort, reused while the sort is the same */
	char *sort_key;
	int sort_desc;
	uint32_t *order;
};

static void arena_release(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

static void mtable_free(struct mtable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].key);
		free(t->cols[i].v);
	}
	free(t->cols);
	free(t->rows);
	arena_release(&t->text);
	free(t->run_id);
	free(t->sort_key);
	free(t->order);
	free(t);
}

/* A copy of s[0..len) with a NUL after it. */
static const char *pool_add(struct mtable *t, const char *s, size_t len)
{
	struct arena *a = &t->text;
	char *out;

	if (a->left < len + 1) {
		size_t size = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
		ALLOC_GROW(a->blocks, a->n + 1, a->alloc);
		a->blocks[a->n++] = a->cur = xmalloc(size);
		a->left = size;
	}
	out = a->cur;
	memcpy(out, s, len);
	out[len] = '\0';
	a->cur += len + 1;
	a->left -= len + 1;
	return out;
}

static int row_add(const char *task_id, int index, const char *item, const char *data, size_t len,
		   void *arg)
{
	struct mtable *t = arg;
	struct mrow *r;

	if (t->n == MCACHE_MAX_ROWS) {
		t->too_big = 1;
		return 1;
	}
	ALLOC_GROW(t->rows, t->n + 1, t->alloc);
	r = &t->rows[t->n];
	/* rows come grouped by task: most share the previous row's name */
	if (t->n && !strcmp(t->rows[t->n - 1].task, task_id))
		r->task = t->rows[t->n - 1].task;
	else
		r->task = pool_add(t, task_id, strlen(task_id));
	r->item = item ? pool_add(t, item, strlen(item)) : NULL;
	r->data = pool_add(t, data, len);
	r->data_len = len;
	r->idx = index;
	t->n++;
	return 0;
}

static struct mcol *col_for(struct mtable *t, const char *key, size_t *hint)
{
	struct mcol *c;

	/* rows usually list their keys in the same order: try the next column first */
	if (*hint < t->ncols && !strcmp(t->cols[*hint].key, key))
		return &t->cols[(*hint)++];
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].key, key)) {
			*hint = i + 1;
			return &t->cols[i];
		}
	ALLOC_GROW(t->cols, t->ncols + 1, t->cols_alloc);
	c = &t->cols[t->ncols++];
	c->key = xstrdup(key);
	c->v = xcalloc(t->n ? t->n : 1, sizeof(*c->v));
	*hint = t->ncols;
	return c;
}

/* One value as SQLite's json_extract gives it: numbers, booleans as 1/0, text. */
static struct mval value_of(struct mtable *t, json_t *v)
{
	struct mval m = { .kind = MV_NULL };
	char *s;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		m = (struct mval){ .kind = MV_NUM, .is_int = 1, .num = (double)json_integer_value(v) };
		break;
	case JSON_REAL:
		m = (struct mval){ .kind = MV_NUM, .num = json_real_value(v) };
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		m = (struct mval){ .kind = MV_NUM, .is_int = 1, .num = json_is_true(v) };
		break;
	case JSON_STRING:
		m = (struct mval){ .kind = MV_TEXT, .len = (uint32_t)json_string_length(v),
				   .text = pool_add(t, json_string_value(v), json_string_length(v)) };
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		s = json_dumps(v, JSON_COMPACT);
		m = (struct mval){ .kind = MV_TEXT, .len = (uint32_t)strlen(s), .text = pool_add(t, s, strlen(s)) };
		free(s);
		break;
	case JSON_NULL:
		break;
	}
	return m;
}

static void row_parse_slow(struct mtable *t, size_t i)
{
	json_t *obj = json_loadb(t->rows[i].data, t->rows[i].data_len, 0, NULL), *v;
	const char *key;
	size_t hint = 0;

	json_object_foreach(obj, key, v) {
		struct mval m = value_of(t, v);
		col_for(t, key, &hint)->v[i] = m;
	}
	json_decref(obj);
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The closing quote of the string at p; NULL when it holds an escape. */
static const char *plain_string_end(const char *p, const char *end)
{
	const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));

	return q && !memchr(p + 1, '\\', (size_t)(q - p - 1)) ? q : NULL;
}

/* Just past the array or object at p. */
static const char *nested_end(const char *p, const char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
		} else if (*p == '[' || *p == '{') {
			depth++;
		} else if ((*p == ']' || *p == '}') && !--depth) {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * For a dataset's file, which nobody checked before: text jansson accepts
 * in a string (no control characters, UTF-8 without overlong forms,
 * surrogates or code points above U+10FFFF).
 */
static int text_ok(const char *from, const char *to)
{
	const unsigned char *s = (const unsigned char *)from, *e = (const unsigned char *)to;

	while (s < e) {
		unsigned c = *s, cp;
		size_t n;

		if (c < 0x20)
			return 0;
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if ((size_t)(e - s) <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		s += n + 1;
	}
	return 1;
}

static size_t digits(const char *p, size_t k, size_t n)
{
	while (k < n && p[k] >= '0' && p[k] <= '9')
		k++;
	return k;
}

/* JSON's number grammar over all of p[0..n). */
static int number_ok(const char *p, size_t n)
{
	size_t k = 0, d;

	if (k < n && p[k] == '-')
		k++;
	if (k < n && p[k] == '0')
		k++;
	else if (k < n && p[k] >= '1' && p[k] <= '9')
		k = digits(p, k, n);
	else
		return 0;
	if (k < n && p[k] == '.') {
		if ((d = digits(p, k + 1, n)) == k + 1)
			return 0;
		k = d;
	}
	if (k < n && (p[k] == 'e' || p[k] == 'E')) {
		k++;
		if (k < n && (p[k] == '+' || p[k] == '-'))
			k++;
		if ((d = digits(p, k, n)) == k)
			return 0;
		k = d;
	}
	return k == n;
}

/*
 * Row i's cells read straight from its text, the common case (keys and
 * strings without escapes): a run's 100,000 lines through jansson's objects
 * cost most of the table's load.  Nested values still go through jansson,
 * for their compact text.  -1 when the row needs row_parse_slow (the
 * stored text is valid JSON: the store checked it), whose cells then
 * replace these.
 */
static int row_parse(struct mtable *t, size_t i, struct strbuf *key, int strict)
{
	const char *p = t->rows[i].data, *end = p + t->rows[i].data_len, *q;
	size_t hint = 0;

	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		return !strict || skip_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		struct mval m = { .kind = MV_NULL };
		struct mcol *c;

		p = skip_ws(p, end);
		if (p == end || *p != '"' || !(q = plain_string_end(p, end)) ||
		    (strict && !text_ok(p + 1, q)))
			return -1;
		sb_reset(key);
		sb_add(key, p + 1, (size_t)(q - p - 1));
		p = skip_ws(q + 1, end);
		if (p == end || *p++ != ':')
			return -1;
		p = skip_ws(p, end);
		if (p == end)
			return -1;
		if (*p == '"') {
			if (!(q = plain_string_end(p, end)) || (strict && !text_ok(p + 1, q)))
				return -1;
			/* the row's own text: copying every string was a fifth of the read */
			m = (struct mval){ .kind = MV_TEXT, .text = p + 1, .len = (uint32_t)(q - p - 1) };
			p = q + 1;
		} else if (*p == '[' || *p == '{') {
			json_t *v;

			if (!(q = nested_end(p, end)) ||
			    !(v = json_loadb(p, (size_t)(q - p), JSON_DECODE_ANY, NULL)))
				return -1;
			m = value_of(t, v);
			json_decref(v);
			p = q;
		} else if (end - p >= 4 && !memcmp(p, "true", 4)) {
			m = (struct mval){ .kind = MV_NUM, .is_int = 1, .num = 1 };
			p += 4;
		} else if (end - p >= 5 && !memcmp(p, "false", 5)) {
			m = (struct mval){ .kind = MV_NUM, .is_int = 1, .num = 0 };
			p += 5;
		} else if (end - p >= 4 && !memcmp(p, "null", 4)) {
			p += 4;
		} else {
			/* jansson's rule: a number without '.', 'e' or 'E' is an integer */
			size_t n = 0;
			int is_int = 1;

			while (p + n < end && p[n] && strchr("-+0123456789.eE", p[n])) {
				if (p[n] == '.' || p[n] == 'e' || p[n] == 'E')
					is_int = 0;
				n++;
			}
			if (!n || (strict && !number_ok(p, n)))
				return -1;
			/* the text ends in a NUL (pool_add) and the number before it */
			errno = 0;
			m = (struct mval){ .kind = MV_NUM, .is_int = (unsigned char)is_int,
					   .num = is_int ? (double)strtoll(p, NULL, 10) : strtod(p, NULL) };
			if (strict && is_int && errno == ERANGE)
				return -1; /* jansson names it: an integer too big */
			p += n;
		}
		c = col_for(t, key->buf, &hint);
		if (strict && (c->mark == i + 1 || (m.kind == MV_NUM && !isfinite(m.num))))
			return -1; /* jansson names it: a key twice, a number too big */
		c->mark = i + 1;
		c->v[i] = m;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p == end || *p != '}')
			return -1;
		return !strict || skip_ws(p + 1, end) == end ? 0 : -1;
	}
}

/*
 * Reads the run's rows, then parses each once into the columns.  NULL when
 * the store failed (*rc < 0) or the run changed meanwhile (a clear: the rows
 * may mix two states).
 */
static struct mtable *mtable_load(struct store *s, const char *run_id, int64_t seq, int *rc)
{
	struct mtable *t = xcalloc(1, sizeof(*t));
	struct store_run again = { 0 };
	struct strbuf key = STRBUF_INIT;

	t->run_id = xstrdup(run_id);
	t->seq = seq;
	*rc = store_metrics_each(s, run_id, row_add, t);
	if (*rc >= 0 && (store_run_get(s, run_id, &again) || again.seq != seq))
		*rc = 1;
	store_run_release(&again);
	if (*rc < 0 || (*rc && !t->too_big)) {
		mtable_free(t);
		return NULL;
	}
	if (t->too_big) {
		/* kept empty, so the next query goes to the store without reading it again */
		free(t->rows);
		t->rows = NULL;
		t->n = 0;
		arena_release(&t->text);
		return t;
	}
	for (size_t i = 0; i < t->n; i++)
		if (row_parse(t, i, &key, 0) < 0)
			row_parse_slow(t, i);
	sb_release(&key);
	return t;
}

static struct mref ref_for(const struct mtable *t, const char *key)
{
	if (!strcmp(key, "item"))
		return (struct mref){ .kind = MR_ITEM };
	if (!strcmp(key, "task"))
		return (struct mref){ .kind = MR_TASK };
	if (!strcmp(key, "index"))
		return (struct mref){ .kind = MR_INDEX };
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].key, key))
			return (struct mref){ .kind = MR_COL, .col = &t->cols[i] };
	return (struct mref){ .kind = MR_COL };
}

static struct mget get(const struct mtable *t, const struct mref *ref, size_t r)
{
	const struct mrow *row = &t->rows[r];
	const struct mval *v;

	switch (ref->kind) {
	case MR_ITEM:
		if (!row->item)
			break;
		return (struct mget){ .kind = MV_TEXT, .text = row->item, .len = strlen(row->item) };
	case MR_TASK:
		return (struct mget){ .kind = MV_TEXT, .text = row->task, .len = strlen(row->task) };
	case MR_INDEX:
		return (struct mget){ .kind = MV_NUM, .is_int = 1, .num = row->idx };
	case MR_COL:
		if (!ref->col)
			break;
		v = &ref->col->v[r];
		if (v->kind == MV_TEXT)
			return (struct mget){ .kind = MV_TEXT, .text = v->text, .len = v->len };
		return (struct mget){ .kind = v->kind, .is_int = v->is_int,
				      .num = v->kind == MV_NUM ? v->num : 0 };
	}
	return (struct mget){ .kind = MV_NULL };
}

/* SQLite's order of two values that are not NULL: numbers below text, text by bytes. */
static int cmp_vals(const struct mget *a, const struct mget *b)
{
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == MV_NUM)
		return (a->num > b->num) - (a->num < b->num);
	c = memcmp(a->text, b->text, a->len < b->len ? a->len : b->len);
	if (!c)
		return (a->len > b->len) - (a->len < b->len);
	return (c > 0) - (c < 0);
}

/* '~': the value as text (CAST(x AS TEXT)) holds want, ASCII case ignored. */
static int contains(const struct mget *v, const char *want)
{
	char num[48];
	const char *hay = v->text;
	size_t n = strlen(want), len = v->len;

	if (v->kind == MV_NUM) {
		if (v->is_int)
			snprintf(num, sizeof(num), "%.0f", v->num);
		else if (snprintf(num, sizeof(num), "%.15g", v->num) > 0 && !strpbrk(num, ".eni"))
			strncat(num, ".0", sizeof(num) - strlen(num) - 1);
		hay = num;
		len = strlen(num);
	}
	/* hay is not NUL-terminated: compare only where n bytes remain */
	for (size_t i = 0; i + n <= len; i++)
		if (!strncasecmp(hay + i, want, n))
			return 1;
	return !n;
}

static int cond_match(const struct mget *v, const struct store_metrics_cond *c)
{
	struct mget want = c->is_number ? (struct mget){ .kind = MV_NUM, .num = c->number }
					: (struct mget){ .kind = MV_TEXT, .text = c->text,
							 .len = strlen(c->text) };
	int r;

	if (v->kind == MV_NULL)
		return 0;
	if (c->op == SMO_CONTAINS)
		return contains(v, c->text);
	/* numbers against numbers only, as the store does */
	if (c->is_number && c->op != SMO_EQ && c->op != SMO_NE && v->kind != MV_NUM)
		return 0;
	r = cmp_vals(v, &want);
	switch (c->op) {
	case SMO_EQ: return r == 0;
	case SMO_NE: return r != 0;
	case SMO_LT: return r < 0;
	case SMO_LE: return r <= 0;
	case SMO_GT: return r > 0;
	case SMO_GE: return r >= 0;
	case SMO_CONTAINS: break;
	}
	return 0;
}

struct sort_ctx {
	const struct mtable *t;
	struct mref ref;
	int desc;
};

/* NULLs last either way; ties in row order (task, index, line). */
static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *c = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	struct mget va = get(c->t, &c->ref, a), vb = get(c->t, &c->ref, b);
	int r;

	if ((va.kind == MV_NULL) != (vb.kind == MV_NULL))
		return va.kind == MV_NULL ? 1 : -1;
	r = va.kind == MV_NULL ? 0 : cmp_vals(&va, &vb);
	if (r)
		return c->desc ? -r : r;
	return (a > b) - (a < b);
}

static const uint32_t *sorted(struct mtable *t, const char *key, int desc)
{
	struct sort_ctx c = { t, ref_for(t, key), desc };

	if (t->order && !strcmp(t->sort_key, key) && t->sort_desc == desc)
		return t->order;
	free(t->sort_key);
	free(t->order);
	t->sort_key = xstrdup(key);
	t->sort_desc = desc;
	t->order = xmalloc((t->n ? t->n : 1) * sizeof(*t->order));
	for (size_t i = 0; i < t->n; i++)
		t->order[i] = (uint32_t)i;
	if (t->n)
		qsort_r(t->order, t->n, sizeof(*t->order), cmp_rows, &c);
	return t->order;
}

static json_t *row_json(const struct mtable *t, size_t r)
{
	const struct mrow *row = &t->rows[r];
	json_t *data = json_loadb(row->data, row->data_len, 0, NULL);

	if (t->is_file)
		return json_pack("{s:i, s:o, s:o}", "line", row->idx,
				 "item", row->item ? json_string(row->item) : json_null(),
				 "metrics", data ? data : json_object());
	return json_pack("{s:s, s:o, s:o, s:o}", "task_id", row->task,
			 "index", row->idx >= 0 ? json_integer(row->idx) : json_null(),
			 "item", row->item ? json_string(row->item) : json_null(),
			 "metrics", data ? data : json_object());
}

static void mtable_query(struct mtable *t, const struct store_metrics_query *q,
			 const struct store_metrics_cond *conds, size_t n, const char *sort_key,
			 int desc, json_t **rows, size_t *total)
{
	const uint32_t *order = sort_key ? sorted(t, sort_key, desc) : NULL;
	struct mref *refs = xcalloc(n ? n : 1, sizeof(*refs));
	size_t matched = 0;

	*rows = json_array();
	for (size_t k = 0; k < n; k++)
		refs[k] = ref_for(t, conds[k].key);
	for (size_t i = 0; i < t->n; i++) {
		size_t r = order ? order[i] : i, k;
		for (k = 0; k < n; k++) {
			struct mget v = get(t, &refs[k], r);
			if (!cond_match(&v, &conds[k]))
				break;
		}
		if (k < n || (q->task_id && strcmp(q->task_id, t->rows[r].task)))
			continue;
		if (matched++ >= q->offset && (!q->limit || json_array_size(*rows) < q->limit))
			json_array_append_new(*rows, row_json(t, r));
	}
	*total = matched;
	free(refs);
}

/* With its cache's lock held and no read running: fn(w) reads in a thread of its own. */
static void mread_start(struct mread *r, void *(*fn)(void *), struct web *w)
{
	r->loading = !pthread_create(&r->thread, NULL, fn, w);
	r->joinable = r->loading;
}

/* The reading thread's end, with its cache's lock held. */
static void mread_done(struct mread *r)
{
	r->loading = 0;
	pthread_cond_broadcast(&r->done);
}

/* With lock (its cache's) held: the read is over and its thread joined. */
static void mread_join(struct mread *r, pthread_mutex_t *lock)
{
	while (r->loading)
		pthread_cond_wait(&r->done, lock);
	if (r->joinable) {
		pthread_join(r->thread, NULL);
		r->joinable = 0;
	}
}

/* How many of the newest finished runs mcache_preload looks at for metrics. */
#define PRELOAD_RUNS 20

/*
 * The newest finished run with metrics, of the last PRELOAD_RUNS that
 * finished, as c->load_run and c->load_seq; 0 when there is none.
 */
static int loader_find(struct metrics_cache *c, struct store *s)
{
	struct store_run_filter f = { .limit = PRELOAD_RUNS };
	struct store_run *runs = NULL;
	size_t n = 0, total;
	int found = 0;

	for (int st = 0; st < RUN_NSTATES; st++)
		if (run_state_is_final((enum run_state)st))
			f.states |= 1u << st;
	if (store_run_list(s, &f, &runs, &n, &total) < 0)
		return 0;
	for (size_t i = 0; i < n && !found; i++) {
		struct store_metrics_query q = { .limit = 1 };
		struct strbuf err = STRBUF_INIT;
		json_t *rows = NULL;
		size_t lines = 0;

		if (store_metrics_list(s, runs[i].run_id, &q, &rows, &lines, &err) < 0) {
			i = n;
		} else if (lines) {
			pthread_mutex_lock(&c->lock);
			c->load_run = xstrdup(runs[i].run_id);
			c->load_seq = runs[i].seq;
			pthread_mutex_unlock(&c->lock);
			found = 1;
		}
		json_decref(rows);
		sb_release(&err);
	}
	store_run_list_free(runs, n);
	return found;
}

static void *loader(void *arg)
{
	struct web *w = arg;
	struct metrics_cache *c = &w->mcache;
	struct store *s = web_store(w); /* this thread's; closed when it ends */
	struct mtable *t = NULL;
	int64_t t0 = time_mono_ms();
	int rc;

	/* c->load_run is this thread's to set while it is NULL (mcache_preload) */
	if (s && (c->load_run || loader_find(c, s)))
		t = mtable_load(s, c->load_run, c->load_seq, &rc);
	if (t && !t->too_big)
		note("dataset view: run '%s' read into memory (%zu lines, %lld ms)", c->load_run, t->n,
		     (long long)(time_mono_ms() - t0));
	pthread_mutex_lock(&c->lock);
	if (t) {
		mtable_free(c->t);
		c->t = t;
	}
	mread_done(&c->read);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int is_cached(const struct metrics_cache *c, const struct store_run *run)
{
	return c->t && !strcmp(c->t->run_id, run->run_id) && c->t->seq == run->seq;
}

/* With c->lock held: the loader of the last run asked for is gone. */
static void loader_join(struct metrics_cache *c)
{
	mread_join(&c->read, &c->lock);
}

/* With c->lock held and no loader running: reads `run` in the background. */
static void loader_start(struct web *w, const struct store_run *run)
{
	struct metrics_cache *c = &w->mcache;

	free(c->load_run);
	c->load_run = xstrdup(run->run_id);
	c->load_seq = run->seq;
	mread_start(&c->read, loader, w);
}

/* serve's start: the loader looks for a run to read (loader_find) first. */
void mcache_preload(struct web *w)
{
	struct metrics_cache *c = &w->mcache;

	pthread_mutex_lock(&c->lock);
	if (!c->read.loading && !c->t) {
		free(c->load_run);
		c->load_run = NULL;
		mread_start(&c->read, loader, w);
	}
	pthread_mutex_unlock(&c->lock);
}

int mcache_list(struct web *w, struct store *s, const struct store_run *run,
		const struct store_metrics_query *q, json_t **rows, size_t *total, struct strbuf *err)
{
	struct metrics_cache *c = &w->mcache;
	struct store_metrics_cond *conds = NULL;
	const char *sort;
	size_t n = 0;
	int desc, rc = 0, ret = 0, plain;

	if (!run_state_is_final(run->state))
		return 0;
	if (store_metrics_sort_parse(q->sort, &sort, &desc, err) < 0 ||
	    store_metrics_filter_parse(q->filter, &conds, &n, err) < 0)
		return -1;
	/* the first page as stored is one cheap read: the store answers it meanwhile */
	plain = !sort && !n;
	pthread_mutex_lock(&c->lock);
	if (!is_cached(c, run)) {
		if (c->read.loading && plain &&
		    c->load_run && !strcmp(c->load_run, run->run_id) && c->load_seq == run->seq)
			goto out;
		loader_join(c);
	}
	if (!is_cached(c, run) && plain) {
		loader_start(w, run);
		goto out;
	}
	if (!is_cached(c, run)) {
		mtable_free(c->t);
		c->t = mtable_load(s, run->run_id, run->seq, &rc);
	}
	if (rc < 0) {
		ret = -1;
	} else if (is_cached(c, run) && !c->t->too_big) {
		mtable_query(c->t, q, conds, n, sort, desc, rows, total);
		ret = 1;
	}
out:
	pthread_mutex_unlock(&c->lock);
	store_metrics_filter_free(conds, n);
	return ret;
}

static void file_loader_join(struct metrics_cache *c);

void mcache_release(struct web *w)
{
	struct metrics_cache *c = &w->mcache;

	pthread_mutex_lock(&c->lock);
	loader_join(c);
	pthread_mutex_unlock(&c->lock);
	mtable_free(c->t);
	c->t = NULL;
	pthread_mutex_lock(&c->file_lock);
	file_loader_join(c);
	pthread_mutex_unlock(&c->file_lock);
	mtable_free(c->file);
	c->file = NULL;
	free(c->file_load_path);
	free(c->file_load_shown);
	free(c->file_failed);
	c->file_load_path = c->file_load_shown = c->file_failed = NULL;
	free(c->load_run);
	c->load_run = NULL;
}

/* Bigger dataset files are refused: the table holds about their text. */
#define MCACHE_MAX_FILE ((off_t)1 << 30)

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int same_file(const struct mtable *t, const struct stat *st)
{
	return t && st->st_dev == t->dev && st->st_ino == t->ino && st->st_size == t->size &&
	       st->st_mtim.tv_sec == t->mtime.tv_sec && st->st_mtim.tv_nsec == t->mtime.tv_nsec;
}

/*
 * A dataset's metrics file read whole: the lines of $SF_METRICS (docs/api.md),
 * checked here as the store checks a run's, except that a bad line is an
 * error (the file is the dataset), named "SHOWN:LINE:COL".  Blank lines are
 * skipped; a row's index is its line number.
 */
static struct mtable *mtable_load_file(int fd, const struct stat *st, const char *path,
				       const char *shown, int *status, struct strbuf *err)
{
	struct mtable *t = xcalloc(1, sizeof(*t));
	struct strbuf text = STRBUF_INIT, key = STRBUF_INIT;
	const char *p, *end;
	size_t len;
	int line = 0;

	t->run_id = xstrdup(path);
	t->is_file = 1;
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->size = st->st_size;
	t->mtime = st->st_mtim;
	*status = 500;
	if (st->st_size > MCACHE_MAX_FILE) {
		*status = 413;
		sb_addf(err, "'%s' is over %lld MB", shown, (long long)(MCACHE_MAX_FILE >> 20));
		goto fail;
	}
	if (sb_read_fd(&text, fd) < 0) {
		sb_addf(err, "cannot read '%s': %s", shown, strerror(errno));
		goto fail;
	}
	for (p = text.buf, end = text.buf + text.len; p < end; p += len + 1) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;

		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		q = skip_ws(p, p + len);
		line++;
		if (q == p + len)
			continue;
		if (t->n == MCACHE_MAX_ROWS) {
			*status = 413;
			sb_addf(err, "'%s' has over %d lines", shown, MCACHE_MAX_ROWS);
			goto fail;
		}
		row_add("", line, NULL, p, len, t);
	}
	/*
	 * Read strictly (as the store reads $SF_METRICS, store_metrics_lines):
	 * what the direct reader does not take, jansson checks and reads, or
	 * names what is wrong.  Parsing every line with jansson was two thirds
	 * of the read.
	 */
	for (size_t i = 0; i < t->n; i++) {
		const struct mrow *r = &t->rows[i];
		json_error_t je;
		json_t *obj;

		if (row_parse(t, i, &key, 1) < 0) {
			obj = json_loadb(r->data, r->data_len, JSON_REJECT_DUPLICATES, &je);
			if (!obj || !json_is_object(obj)) {
				*status = 422;
				if (obj)
					sb_addf(err, "%s:%d:%d: a line must be a JSON object", shown,
						r->idx, (int)(skip_ws(r->data, r->data + r->data_len) - r->data) + 1);
				else
					sb_addf(err, "%s:%d:%d: %s", shown, r->idx, je.column, je.text);
				json_decref(obj);
				goto fail;
			}
			json_decref(obj);
			row_parse_slow(t, i);
		}
	}
	/* a row's item: its "item" string, as the store takes it */
	for (size_t c = 0; c < t->ncols; c++)
		if (!strcmp(t->cols[c].key, "item"))
			for (size_t i = 0; i < t->n; i++)
				if (t->cols[c].v[i].kind == MV_TEXT)
					t->rows[i].item = pool_add(t, t->cols[c].v[i].text,
								   t->cols[c].v[i].len);
	sb_release(&text);
	sb_release(&key);
	*status = 0;
	return t;
fail:
	sb_release(&text);
	sb_release(&key);
	mtable_free(t);
	return NULL;
}

/* A read of a dataset's file in the background (mcache_file_preload, file_loader_start). */
static void *file_loader(void *arg)
{
	struct metrics_cache *c = &((struct web *)arg)->mcache;
	/* this thread's until it ends its read (mread_done) */
	const char *path = c->file_load_path, *shown = c->file_load_shown;
	struct strbuf err = STRBUF_INIT;
	struct mtable *t = NULL;
	int64_t t0 = time_mono_ms();
	struct stat st = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC), status = 0;

	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode))
		t = mtable_load_file(fd, &st, path, shown, &status, &err);
	if (fd >= 0)
		close(fd);
	if (t)
		note("dataset view: '%s' read into memory (%zu lines, %lld ms)", shown, t->n,
		     (long long)(time_mono_ms() - t0));
	pthread_mutex_lock(&c->file_lock);
	if (t) {
		mtable_free(c->file);
		c->file = t;
	} else if (status) {
		/*
		 * Not kept: a request for the file reads it and answers why.  Its
		 * first page is then no longer answered before the read, which
		 * would show a file with a bad line as good.
		 */
		free(c->file_failed);
		c->file_failed = xstrdup(path);
		c->file_failed_st = st;
	}
	mread_done(&c->file_read);
	pthread_mutex_unlock(&c->file_lock);
	sb_release(&err);
	return NULL;
}

/* With c->file_lock held: no file_loader is running any more. */
static void file_loader_join(struct metrics_cache *c)
{
	mread_join(&c->file_read, &c->file_lock);
}

/* With c->file_lock held and no file_loader running: reads path in the background. */
static void file_loader_start(struct web *w, const char *path, const char *shown)
{
	struct metrics_cache *c = &w->mcache;

	file_loader_join(c);
	free(c->file_load_path);
	free(c->file_load_shown);
	c->file_load_path = xstrdup(path);
	c->file_load_shown = xstrdup(shown);
	mread_start(&c->file_read, file_loader, w);
}

void mcache_file_preload(struct web *w, const char *path, const char *shown)
{
	struct metrics_cache *c = &w->mcache;

	pthread_mutex_lock(&c->file_lock);
	if (!c->file_read.loading && !c->file)
		file_loader_start(w, path, shown);
	pthread_mutex_unlock(&c->file_lock);
}

/* The plain pages answered from the file while it is read: a screenful, not a download. */
#define FILE_QUICK_ROWS 1000

/*
 * The unfiltered, unsorted page q of the file st describes, straight from
 * it while file_loader reads it: its lines counted, the page's own lines
 * parsed as the table would serve them.  -1 when that page needs the
 * table: a big page, a line jansson refuses or whose item is not text (the
 * table's read names the error), a file over the limits.  The other lines
 * are checked by the read; a bad one is the next request's 422.
 */
static int file_quick_page(int fd, const struct stat *st, const struct store_metrics_query *q,
			   json_t **rows, size_t *total)
{
	const char *text, *p, *end;
	size_t len, count = 0;
	int line = 0, ok = 1;

	if (!q->limit || q->limit > FILE_QUICK_ROWS || st->st_size > MCACHE_MAX_FILE)
		return -1;
	if (!st->st_size) {
		*rows = json_array();
		*total = 0;
		return 0;
	}
	text = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (text == MAP_FAILED)
		return -1;
	*rows = json_array();
	for (p = text, end = text + st->st_size; ok && p < end; p += len + 1) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		json_t *obj, *item;

		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (skip_ws(p, p + len) == p + len)
			continue;
		if (count++ < q->offset || json_array_size(*rows) >= q->limit)
			continue;
		obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
		item = json_object_get(obj, "item");
		if (!json_is_object(obj) || (item && !json_is_string(item) && !json_is_null(item) &&
					     !json_is_number(item)) ||
		    (json_is_string(item) && strlen(json_string_value(item)) != json_string_length(item))) {
			ok = 0;
		} else {
			json_t *shown = json_is_string(item) ? json_incref(item) : json_null();

			json_array_append_new(*rows, json_pack("{s:i, s:o, s:o}", "line", line, "item",
							       shown, "metrics", json_incref(obj)));
		}
		json_decref(obj);
	}
	munmap((void *)text, (size_t)st->st_size);
	if (!ok || count > MCACHE_MAX_ROWS) {
		json_decref(*rows);
		*rows = NULL;
		return -1;
	}
	*total = count;
	return 0;
}

int mcache_file_list(struct web *w, const char *path, const char *shown,
		     const struct store_metrics_query *q, json_t **rows, size_t *total,
		     struct strbuf *err)
{
	struct metrics_cache *c = &w->mcache;
	struct store_metrics_cond *conds = NULL;
	const char *sort;
	size_t n = 0;
	struct stat st;
	int desc, fd, status = 0;

	if (store_metrics_sort_parse(q->sort, &sort, &desc, err) < 0 ||
	    store_metrics_filter_parse(q->filter, &conds, &n, err) < 0)
		return 400;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int missing = fd < 0 && errno == ENOENT;

		sb_addf(err, "cannot read '%s': %s", shown, fd < 0 ? strerror(errno) : "not a file");
		if (fd >= 0)
			close(fd);
		store_metrics_filter_free(conds, n);
		return missing ? 404 : 500;
	}
	/*
	 * One file at a time.  A first page (no filter, no sort) of a file not
	 * in memory is answered from the file while a thread reads it (2-3 s
	 * for 100,000 lines on a loaded machine); another query waits for that
	 * read, or reads the file itself (and answers why it cannot).
	 */
	pthread_mutex_lock(&c->file_lock);
	/* a read that has ended is joined now rather than at the next one */
	if (!c->file_read.loading)
		file_loader_join(c);
	if ((!same_file(c->file, &st) || strcmp(c->file->run_id, path)) && !sort && !n &&
	    !(c->file_failed && !strcmp(c->file_failed, path) && same_stat(&c->file_failed_st, &st))) {
		pthread_mutex_unlock(&c->file_lock);
		if (!file_quick_page(fd, &st, q, rows, total)) {
			pthread_mutex_lock(&c->file_lock);
			/* another file's read under way: the next first page starts this one's */
			if (!c->file_read.loading && (!same_file(c->file, &st) || strcmp(c->file->run_id, path)))
				file_loader_start(w, path, shown);
			pthread_mutex_unlock(&c->file_lock);
			close(fd);
			store_metrics_filter_free(conds, n);
			return 0;
		}
		pthread_mutex_lock(&c->file_lock);
	}
	if (!same_file(c->file, &st) || strcmp(c->file->run_id, path))
		file_loader_join(c);
	if (!same_file(c->file, &st) || strcmp(c->file->run_id, path)) {
		mtable_free(c->file);
		c->file = mtable_load_file(fd, &st, path, shown, &status, err);
	}
	if (!status)
		mtable_query(c->file, &(struct store_metrics_query){ .limit = q->limit, .offset = q->offset },
			     conds, n, sort, desc, rows, total);
	pthread_mutex_unlock(&c->file_lock);
	close(fd);
	store_metrics_filter_free(conds, n);
	return status;
}
