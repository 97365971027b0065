/*
 * Unit tests for src/flow/cache.c: placeholders in paths, a save and the
 * lookup that restores it into another run's folder (a folder output
 * replaced as a whole), a changed input byte missing, a damaged object
 * missing instead of restoring, and gc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/cache.h"
#include "util/common.h"
#include "util/fs.h"
#include "workspace/ws.h"

static void paths(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char *back;

	cache_norm_path("/d/generated/x/r1/a/b.flac", "/d/generated/x/r1", "/d", &sb);
	assert_string_equal(sb.buf, "{{ run.dir }}/a/b.flac");
	back = cache_real_path(sb.buf, "/d/generated/x/r2", "/d");
	assert_string_equal(back, "/d/generated/x/r2/a/b.flac");
	free(back);
	sb_reset(&sb);
	cache_norm_path("/d/uploadable/s", "/d/generated/x/r1", "/d", &sb);
	assert_string_equal(sb.buf, "{{ data }}/uploadable/s");
	sb_reset(&sb);
	/* a prefix of a name is not a folder */
	cache_norm_path("/dx/f", "/d/generated/x/r1", "/d", &sb);
	assert_string_equal(sb.buf, "/dx/f");
	back = cache_real_path("/dx/f", "/a", "/b");
	assert_string_equal(back, "/dx/f");
	free(back);
	sb_release(&sb);
}

static void put(const char *path, const char *text)
{
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	free(dir);
}

static char *slurp(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(sb_read_file(&sb, path), 0);
	return sb_detach(&sb, NULL);
}

/* A lookup of the instance whose input is data/in.txt, in run folder `run`. */
static void lookup_in(struct cache_work *w, const char *data, const char *run)
{
	memset(w, 0, sizeof(*w));
	w->cache_dir = path_join(data, "flow/cache");
	w->data_dir = xstrdup(data);
	w->run_dir = path_join(data, run);
	w->keydoc = json_pack("{s:s}", "command", "make it");
	w->inputs = xcalloc(1, sizeof(char *));
	w->inputs[0] = path_join(data, "in.txt");
	w->ninputs = 1;
	cache_lookup(w);
}

static void save_then_restore(void **state)
{
	char data[] = "/tmp/sf-cache-XXXXXX", *p, *q, *q2, *text;
	struct cache_work w, s;
	struct cache_gc_result gc;
	struct cache_entry_info *list;
	size_t n;

	assert_non_null(mkdtemp(data));
	p = xasprintf("%s/in.txt", data);
	put(p, "input 1");
	free(p);
	lookup_in(&w, data, "generated/d/r1");
	assert_false(w.hit);
	assert_null(w.error);
	assert_int_equal(strlen(w.key), 64);

	/* r1 writes a file and a folder output, then saves them */
	p = xasprintf("%s/generated/d/r1/out.txt", data);
	put(p, "out 1");
	free(p);
	p = xasprintf("%s/uploadable/set/clips/a.txt", data);
	put(p, "clip a");
	free(p);
	memset(&s, 0, sizeof(s));
	s.save = 1;
	s.cache_dir = xstrdup(w.cache_dir);
	s.data_dir = xstrdup(data);
	s.run_dir = xstrdup(w.run_dir);
	memcpy(s.key, w.key, sizeof(s.key));
	s.outputs = xcalloc(3, sizeof(char *));
	s.outputs[0] = xasprintf("%s/generated/d/r1/out.txt", data);
	s.outputs[1] = xasprintf("%s/uploadable/set", data);
	s.outputs[2] = xasprintf("%s/generated/d/r1/never-*.txt", data);
	s.noutputs = 3;
	s.about = json_pack("{s:s, s:s, s:i, s:s}", "dag_id", "d", "task_id", "t", "index", 2,
			    "run_id", "r1");
	cache_save(&s);
	assert_null(s.error);

	/* r2, same input: a hit; the folder output is replaced as a whole */
	p = xasprintf("%s/uploadable/set/stale.txt", data);
	put(p, "stale");
	free(p);
	cache_work_release(&w);
	lookup_in(&w, data, "generated/d/r2");
	assert_true(w.hit);
	assert_string_equal(w.from_run, "r1");
	p = xasprintf("%s/generated/d/r2/out.txt", data);
	text = slurp(p);
	assert_string_equal(text, "out 1");
	free(text);
	free(p);
	p = xasprintf("%s/uploadable/set/clips/a.txt", data);
	text = slurp(p);
	assert_string_equal(text, "clip a");
	free(text);
	free(p);
	p = xasprintf("%s/uploadable/set/stale.txt", data);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	assert_int_equal(json_array_size(w.outputs_json), 2);
	cache_work_release(&w);

	/* listed with its files */
	assert_int_equal(cache_list(s.cache_dir, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].task_id, "t");
	assert_int_equal(list[0].index, 2);
	assert_int_equal(list[0].nfiles, 2);
	assert_int_equal(list[0].bytes, 11);
	cache_list_free(list, n);

	/* one changed input byte: another key, a miss */
	p = xasprintf("%s/in.txt", data);
	put(p, "input 2");
	free(p);
	lookup_in(&w, data, "generated/d/r3");
	assert_false(w.hit);
	assert_string_not_equal(w.key, s.key);
	cache_work_release(&w);

	/* a damaged object: a miss saying why, nothing restored */
	p = xasprintf("%s/in.txt", data);
	put(p, "input 1");
	free(p);
	q = xasprintf("%s/flow/cache/objects", data);
	{
		char *cmd = xasprintf("chmod u+w %s/*/* && for f in %s/*/*; do printf x >> $f; done",
				      q, q);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	lookup_in(&w, data, "generated/d/r4");
	assert_false(w.hit);
	assert_non_null(w.error);
	assert_non_null(strstr(w.error, "damaged"));
	p = xasprintf("%s/generated/d/r4/out.txt", data);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	cache_work_release(&w);

	/* gc: by age, then the objects no entry needs */
	assert_int_equal(cache_gc(s.cache_dir, 3600 * 1000, &gc), 0);
	assert_int_equal(gc.entries, 0);
	assert_int_equal(gc.objects, 0);
	assert_int_equal(gc.kept_objects, 2);
	p = xasprintf("%s/entries/%.2s/%s.json", s.cache_dir, s.key, s.key);
	q2 = xasprintf("touch -d 2001-01-01 '%s'", p);
	assert_int_equal(system(q2), 0);
	free(q2);
	free(p);
	assert_int_equal(cache_gc(s.cache_dir, 3600 * 1000, &gc), 0);
	assert_int_equal(gc.entries, 1);
	assert_int_equal(gc.objects, 2);
	assert_int_equal(gc.kept_entries, 0);

	cache_work_release(&s);
	ws_remove_tree(data);
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths),
		cmocka_unit_test(save_then_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
