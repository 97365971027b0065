/*
 * Fills a data folder for the web benchmarks, through the store API (the
 * same calls the scheduler makes), much faster than running the tasks:
 *
 *   web-fill DATA_DIR RUNS SMALL_DAGS [ITEMS]
 *
 * - src/bench/dags/big.yaml: 100 tasks in 10 layers of 10 (each needs two
 *   of the layer before), the last one a foreach of ITEMS (default 20)
 *   items; and RUNS finished runs of it, every task instance with one try;
 * - SMALL_DAGS DAG files small-NNN.yaml with 5 runs each, for the list.
 *
 * Built and run by bench/web.sh against build/libsynthflow.a.
 */
#include <sys/stat.h>

#include "core/config.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

#define LAYERS 10
#define WIDTH 10

static int foreach_items = 20;

static void write_dags(const char *dir, int small)
{
	struct strbuf sb = STRBUF_INIT;
	char *p;

	sb_adds(&sb, "description: 100 tasks in 10 layers, for the web benchmark\n"
		     "params:\n  n: {type: integer, default: 1, minimum: 0}\ntasks:\n");
	for (int l = 0; l < LAYERS; l++)
		for (int i = 0; i < WIDTH; i++) {
			sb_addf(&sb, "  t%d_%d:\n", l, i);
			if (l)
				sb_addf(&sb, "    needs: [t%d_%d, t%d_%d]\n", l - 1, i, l - 1, (i + 1) % WIDTH);
			if (l == LAYERS - 1 && i == WIDTH - 1)
				sb_adds(&sb, "    foreach: \"{{ run.dir }}/*.txt\"\n");
			sb_adds(&sb, "    run: \"true\"\n");
		}
	p = path_join(dir, "src/bench/dags/big.yaml");
	if (write_file_atomic(p, sb.buf, sb.len, 0644) < 0)
		die("cannot write '%s'", p);
	free(p);
	for (int d = 0; d < small; d++) {
		char name[64];
		snprintf(name, sizeof(name), "src/bench/dags/small-%03d.yaml", d);
		sb_reset(&sb);
		sb_addf(&sb, "description: small DAG %d\nschedule: \"@daily\"\n"
			     "tasks:\n  a:\n    run: \"true\"\n  b:\n    needs: [a]\n    run: \"true\"\n", d);
		p = path_join(dir, name);
		if (write_file_atomic(p, sb.buf, sb.len, 0644) < 0)
			die("cannot write '%s'", p);
		free(p);
	}
	sb_release(&sb);
}

static void put_ti(struct store *s, const char *run_id, const char *task, int index, int64_t t0,
		   const char *log_dir)
{
	char log[512];
	struct store_ti ti = { .task_id = (char *)task, .index = index, .state = TI_SUCCESS,
			       .try_number = 1, .exit_code = 0, .started_at = t0,
			       .ended_at = t0 + 20, .max_tries = 1 };
	struct store_try tr = { .try_number = 1, .started_at = t0, .ended_at = t0 + 20,
				.exit_code = 0, .log_path = log };

	snprintf(log, sizeof(log), "%s/%s%s%d/try-1.log", log_dir, task, index < 0 ? "" : ".",
		 index < 0 ? 0 : index);
	if (store_ti_put(s, run_id, &ti) < 0 || store_try_put(s, run_id, task, index, &tr) < 0)
		die("cannot write task '%s' of run '%s'", task, run_id);
}

static void fill_run(struct store *s, const char *data, const char *dag, int ntasks, int64_t t0)
{
	json_t *params = json_pack("{s:i}", "n", 1);
	char *run_id = NULL, *log_dir;
	char task[32];

	if (store_begin(s) < 0 || store_run_create(s, dag, params, NULL, &run_id) < 0)
		die("cannot create a run");
	log_dir = xasprintf("%s/flow/logs/%s/%s", data, dag, run_id);
	for (int k = 0; k < ntasks; k++) {
		int l = k / WIDTH, i = k % WIDTH;
		if (ntasks == 2)
			snprintf(task, sizeof(task), "%c", 'a' + k);
		else
			snprintf(task, sizeof(task), "t%d_%d", l, i);
		if (ntasks > 2 && k == ntasks - 1)
			for (int x = 0; x < foreach_items; x++)
				put_ti(s, run_id, task, x, t0 + k * 20, log_dir);
		else
			put_ti(s, run_id, task, -1, t0 + k * 20, log_dir);
	}
	if (store_run_set_state(s, run_id, RUN_SUCCESS, t0, t0 + ntasks * 20, NULL) < 0 ||
	    store_commit(s) < 0)
		die("cannot finish run '%s'", run_id);
	free(log_dir);
	free(run_id);
	json_decref(params);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct store *s;
	int runs, small;
	int64_t t0;
	char *dags;

	if (argc != 4 && argc != 5)
		die("usage: web-fill DATA_DIR RUNS SMALL_DAGS [ITEMS]");
	runs = atoi(argv[2]);
	small = atoi(argv[3]);
	if (argc == 5)
		foreach_items = atoi(argv[4]);
	dags = path_join(argv[1], "src/bench/dags");
	if (mkdir_p(dags, 0755) < 0)
		die("cannot create '%s'", dags);
	free(dags);
	write_dags(argv[1], small);
	if (config_load(&cfg, argv[1]) < 0 || !(s = store_open(cfg.flow_store, cfg.data_dir)))
		die("cannot open the store of '%s'", argv[1]);
	t0 = time_now_ms() - (int64_t)runs * 60000;
	for (int r = 0; r < runs; r++)
		fill_run(s, cfg.data_dir, "big", LAYERS * WIDTH, t0 + (int64_t)r * 60000);
	for (int d = 0; d < small; d++) {
		char id[32];
		snprintf(id, sizeof(id), "small-%03d", d);
		for (int r = 0; r < 5; r++)
			fill_run(s, cfg.data_dir, id, 2, t0 + (int64_t)r * 60000);
	}
	store_close(s);
	config_release(&cfg);
	return 0;
}
