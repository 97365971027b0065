/*
 * The local executor's resources (exec-impl.h): flow.parallelism is a
 * number of CPUs, of which a local try takes its task's `cpus` (1 when not
 * given), and a pool of GPU devices (flow.gpu_devices, else `nvidia-smi -L`)
 * of which it takes `gpus` devices of its own, named to it in
 * CUDA_VISIBLE_DEVICES.  A try that does not fit waits here, in the order
 * it became ready.
 *
 * Waiting is fair without being wasteful: a try that waits for CPUs holds
 * back every later local try (they all take CPUs), so a task asking for all
 * of them starts once the running ones end instead of never; a try that
 * waits for GPUs holds back only later GPU tries, so CPU-only work goes on
 * meanwhile.  Tries on other executors (Slurm) never wait here.
 */
#include <ctype.h>
#include <errno.h>

#include "flow/exec-impl.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/spawn.h"

struct exec_pool {
	int cpus_used;
	int gpus_known;         /* the device list was read */
	struct strvec gpus;     /* device indices, as CUDA_VISIBLE_DEVICES names them */
	struct sproc **gpu_owner; /* per device: the try that holds it, or NULL */
	struct sti **wait;      /* tries that did not fit, oldest first */
	size_t nwait, wait_alloc;
	int hold_cpus, hold_gpus; /* this pass: an older waiting try needs them first */
};

static struct exec_pool *pool(struct sched *s)
{
	if (!s->res)
		s->res = xcalloc(1, sizeof(*s->res));
	return s->res;
}

int exec_pool_parse_smi(const char *out, struct strvec *ids)
{
	int n = 0;

	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *p;
		if (strncmp(l, "GPU ", 4))
			continue;
		p = l + 4;
		if (!isdigit((unsigned char)*p))
			continue;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p != ':')
			continue;
		strvec_pushf(ids, "%.*s", (int)(p - l - 4), l + 4);
		n++;
	}
	return n;
}

/* The devices: flow.gpu_devices as given, else what nvidia-smi lists (none without it). */
static void gpu_devices(const struct config *c, struct strvec *ids)
{
	const struct strvec *cfg = &c->flow_gpu_devices;

	if (cfg->nr == 1 && !strcmp(cfg->v[0], "none")) {
		/* no devices */
	} else if (cfg->nr) {
		for (size_t i = 0; i < cfg->nr; i++)
			strvec_push(ids, cfg->v[i]);
	} else if (spawn_in_path("nvidia-smi")) {
		/* a machine without the driver has no devices: nothing to say about it */
		const char *argv[] = { "nvidia-smi", "-L", NULL };
		struct strbuf out = STRBUF_INIT;
		if (spawn_capture(argv, &out, NULL) == 0)
			exec_pool_parse_smi(out.buf, ids);
		sb_release(&out);
	}
}

static struct exec_pool *pool_gpus(struct sched *s)
{
	struct exec_pool *ep = pool(s);

	if (ep->gpus_known)
		return ep;
	ep->gpus_known = 1;
	gpu_devices(s->opts.cfg, &ep->gpus);
	ep->gpu_owner = xcalloc(ep->gpus.nr + 1, sizeof(*ep->gpu_owner));
	return ep;
}

static int want_cpus(const struct dag_task *def)
{
	return def->res.cpus > 0 ? def->res.cpus : 1;
}

static int gpus_free(const struct exec_pool *ep)
{
	int n = 0;
	for (size_t i = 0; i < ep->gpus.nr; i++)
		n += !ep->gpu_owner[i];
	return n;
}

static int is_local(struct sched *s, const struct sti *ti)
{
	return exec_ops_for(ti->task->run->dag, ti->task->def, s->opts.cfg->flow_executor) ==
	       &exec_local_ops;
}

/*
 * What a local executor holds, as a run is checked against it: the
 * scheduler's own (at run start), or that of the serve that will run a
 * triggered run (sched_trigger_check).
 */
struct capacity {
	const char *executor;   /* flow.executor: tasks that do not choose run there */
	int parallelism;
	size_t ngpus;
	int gpus_set;           /* the devices come from flow.gpu_devices, not nvidia-smi */
	const char *whose;      /* "" or " in the running serve (pid N)", for messages */
};

/*
 * The local task of d asking for the most cpus, and the one asking for the
 * most gpus (NULL when no local task asks for gpus).
 */
static void biggest(const struct dag *d, const char *executor, const struct dag_task **cpus,
		    const struct dag_task **gpus)
{
	*cpus = *gpus = NULL;
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		if (exec_ops_for(d, t, executor) != &exec_local_ops)
			continue;
		if (!*cpus || want_cpus(t) > want_cpus(*cpus))
			*cpus = t;
		if (t->res.gpus > 0 && (!*gpus || t->res.gpus > (*gpus)->res.gpus))
			*gpus = t;
	}
}

/* -1 with why in err, *task and *field set, when a local task could never start. */
static int capacity_check(const struct dag *d, const struct capacity *c, struct strbuf *err,
			  const char **task, const char **field)
{
	const struct dag_task *cpus, *gpus;

	biggest(d, c->executor, &cpus, &gpus);
	if (cpus && want_cpus(cpus) > c->parallelism) {
		sb_addf(err, "task '%s' asks for %d cpus but flow.parallelism is %d%s: it could never "
			     "start (lower resources.cpus or raise flow.parallelism)",
			cpus->id, want_cpus(cpus), c->parallelism, c->whose);
		*task = cpus->id;
		*field = "resources.cpus";
		return -1;
	}
	if (gpus && (size_t)gpus->res.gpus > c->ngpus) {
		sb_addf(err, "task '%s' asks for %d gpus but this machine's pool holds %zu (%s)%s: it "
			     "could never start (lower resources.gpus%s)",
			gpus->id, gpus->res.gpus, c->ngpus,
			c->gpus_set ? "flow.gpu_devices" : "found with 'nvidia-smi -L'", c->whose,
			c->gpus_set ? " or add devices to flow.gpu_devices" : "");
		*task = gpus->id;
		*field = "resources.gpus";
		return -1;
	}
	return 0;
}

static int gpus_set(const struct config *cfg)
{
	return cfg->flow_gpu_devices.nr > 0;
}

int exec_pool_check(struct sched *s, const struct dag *d, struct strbuf *err)
{
	struct capacity c = { .executor = s->opts.cfg->flow_executor, .parallelism = s->parallelism,
			      .gpus_set = gpus_set(s->opts.cfg), .whose = "" };
	const struct dag_task *cpus, *gpus;
	const char *task, *field;

	/* The device list is read only once a task asks for gpus. */
	biggest(d, c.executor, &cpus, &gpus);
	if (gpus)
		c.ngpus = pool_gpus(s)->gpus.nr;
	return capacity_check(d, &c, err, &task, &field);
}

static char *capacity_path(const char *data_dir)
{
	return xasprintf("%s/flow/serve-capacity.json", data_dir);
}

void exec_pool_publish(struct sched *s)
{
	char *dir = xasprintf("%s/flow", s->data_dir), *path = capacity_path(s->data_dir);
	json_t *o = json_pack("{s:s, s:b, s:s, s:i, s:I, s:b}", "owner", s->owner, "shared",
			      store_shared(s->store), "executor", s->opts.cfg->flow_executor,
			      "parallelism", s->parallelism, "gpus", (json_int_t)pool_gpus(s)->gpus.nr,
			      "gpus_set", gpus_set(s->opts.cfg));
	char *text = json_dumps(o, JSON_COMPACT);

	/* Without it a trigger checks against its own configuration: say so, go on. */
	if (mkdir_p(dir, 0755) < 0 || write_file_atomic(path, text, strlen(text), 0644) < 0)
		warning("cannot write '%s': %s: triggers check runs against their own "
			"configuration", path, strerror(errno));
	free(text);
	json_decref(o);
	free(path);
	free(dir);
}

/*
 * The capacity that the serve running for data_dir on this machine
 * published, into c (its strings in *keep); 0 when there is none.  Its
 * owner must be alive, and with SQLite it must also hold flow/serve.lock:
 * the lock sees through pid namespaces, which the owner check cannot.
 */
static int published(const char *data_dir, struct capacity *c, json_t **keep, struct strbuf *whose)
{
	char *path = capacity_path(data_dir);
	json_t *o = json_load_file(path, 0, NULL);
	const char *owner = json_string_value(json_object_get(o, "owner"));
	const char *executor = json_string_value(json_object_get(o, "executor"));
	json_int_t par = json_integer_value(json_object_get(o, "parallelism"));
	json_int_t gpus = json_integer_value(json_object_get(o, "gpus"));

	free(path);
	if (!owner || !executor || par < 1 || gpus < 0 || !owner_alive(owner) ||
	    (!json_is_true(json_object_get(o, "shared")) && !sched_serve_running(data_dir))) {
		json_decref(o);
		return 0;
	}
	c->executor = executor;
	c->parallelism = (int)par;
	c->ngpus = (size_t)gpus;
	c->gpus_set = json_is_true(json_object_get(o, "gpus_set"));
	sb_addf(whose, " in the running serve (pid %d)", atoi(owner));
	c->whose = whose->buf;
	*keep = o;
	return 1;
}

int sched_trigger_check(const struct config *cfg, const struct dag *d, struct strbuf *err,
			const char **task, const char **field)
{
	struct capacity c = { .executor = cfg->flow_executor, .parallelism = config_parallelism(cfg),
			      .gpus_set = gpus_set(cfg), .whose = "" };
	struct strbuf whose = STRBUF_INIT, why = STRBUF_INIT;
	const struct dag_task *cpus, *gpus;
	json_t *keep = NULL;
	int ret;

	if (!published(cfg->data_dir, &c, &keep, &whose)) {
		biggest(d, c.executor, &cpus, &gpus);
		if (gpus) {
			/* The devices the serve would find when it starts here. */
			struct strvec ids = STRVEC_INIT;
			gpu_devices(cfg, &ids);
			c.ngpus = ids.nr;
			strvec_clear(&ids);
		}
	}
	ret = capacity_check(d, &c, &why, task, field);
	if (ret < 0)
		sb_addf(err, "%s: %s", d->path, why.buf);
	json_decref(keep);
	sb_release(&whose);
	sb_release(&why);
	return ret;
}

static int startable(const struct sti *ti)
{
	return (ti->state == TI_QUEUED || ti->state == TI_UP_FOR_RETRY) &&
	       ti->task->run->state == RUN_RUNNING && !ti->task->run->cancelling;
}

/*
 * 1 when ti may start now.  Otherwise 0, and the resources it lacks are
 * held for it for the rest of this pass.
 */
static int fits(struct sched *s, const struct sti *ti)
{
	struct exec_pool *ep = pool(s);
	const struct dag_task *def = ti->task->def;
	int cpus_ok = !ep->hold_cpus && ep->cpus_used + want_cpus(def) <= s->parallelism;
	int gpus_ok = 1;

	if (def->res.gpus > 0) {
		ep = pool_gpus(s);
		gpus_ok = !ep->hold_gpus && gpus_free(ep) >= def->res.gpus;
	}
	if (cpus_ok && gpus_ok)
		return 1;
	ep->hold_cpus |= !cpus_ok;
	ep->hold_gpus |= !gpus_ok;
	return 0;
}

void exec_pool_pass(struct sched *s)
{
	if (s->res)
		s->res->hold_cpus = s->res->hold_gpus = 0;
}

int exec_pool_spare(struct sched *s)
{
	struct exec_pool *ep = pool(s);

	return ep->hold_cpus || ep->nwait ? 0 : s->parallelism - ep->cpus_used;
}

void exec_pool_lend(struct sched *s, int cpus)
{
	pool(s)->cpus_used += cpus;
}

int exec_pool_room(struct sched *s)
{
	return !s->res || (!s->res->hold_cpus && s->res->cpus_used < s->parallelism);
}

struct sti *exec_pool_next_waiting(struct sched *s, size_t *cursor)
{
	struct exec_pool *ep = s->res;

	while (ep && *cursor < ep->nwait && !ep->hold_cpus) {
		size_t i = *cursor;
		struct sti *ti = ep->wait[i];

		if (startable(ti) && !fits(s, ti)) {
			(*cursor)++;
			continue;
		}
		/* It starts, or it is no longer to start (cancelled, its run ended). */
		memmove(ep->wait + i, ep->wait + i + 1, (ep->nwait - i - 1) * sizeof(*ep->wait));
		ep->nwait--;
		ti->in_wait = 0;
		if (startable(ti))
			return ti;
	}
	return NULL;
}

int exec_pool_admit(struct sched *s, struct sti *ti)
{
	struct exec_pool *ep;

	if (!is_local(s, ti) || fits(s, ti))
		return 1;
	ep = pool(s);
	ALLOC_GROW(ep->wait, ep->nwait + 1, ep->wait_alloc);
	ep->wait[ep->nwait++] = ti;
	ti->in_wait = 1;
	return 0;
}

void exec_pool_forget_run(struct sched *s, const struct srun *run)
{
	struct exec_pool *ep = s->res;
	size_t w = 0;

	if (!ep)
		return;
	for (size_t i = 0; i < ep->nwait; i++) {
		if (ep->wait[i]->task->run == run)
			ep->wait[i]->in_wait = 0;
		else
			ep->wait[w++] = ep->wait[i];
	}
	ep->nwait = w;
}

/* "CUDA_VISIBLE_DEVICES=1,3" for the devices p holds. */
static char *visible_devices(const struct exec_pool *ep, const struct sproc *p)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "CUDA_VISIBLE_DEVICES=");
	for (size_t i = 0, n = 0; i < ep->gpus.nr; i++) {
		if (ep->gpu_owner[i] != p)
			continue;
		if (n++)
			sb_addch(&sb, ',');
		sb_adds(&sb, ep->gpus.v[i]);
	}
	return sb_detach(&sb, NULL);
}

char **exec_pool_take(struct sched *s, struct sproc *p, char **envp)
{
	const struct dag_task *def = p->ti->task->def;
	struct exec_pool *ep = pool(s);
	size_t n = 0, w = 0;
	char **out;

	p->pool = ep;
	p->cpus = want_cpus(def);
	ep->cpus_used += p->cpus;
	if (def->res.gpus <= 0)
		return NULL;
	ep = pool_gpus(s);
	for (size_t i = 0; i < ep->gpus.nr && p->ngpus < def->res.gpus; i++) {
		if (!ep->gpu_owner[i]) {
			ep->gpu_owner[i] = p;
			p->ngpus++;
		}
	}
	if (p->ngpus < def->res.gpus)
		BUG("task '%s' started without the %d gpus it needs", def->id, def->res.gpus);
	p->gpu_env = visible_devices(ep, p);
	/*
	 * The task's own devices replace any CUDA_VISIBLE_DEVICES it would have
	 * inherited; nvidia-smi numbers devices in PCI bus order, and so must CUDA.
	 */
	while (envp[n])
		n++;
	out = xcalloc(n + 3, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "CUDA_VISIBLE_DEVICES=", 21) &&
		    strncmp(envp[i], "CUDA_DEVICE_ORDER=", 18))
			out[w++] = envp[i];
	out[w++] = p->gpu_env;
	out[w++] = (char *)"CUDA_DEVICE_ORDER=PCI_BUS_ID";
	out[w] = NULL;
	return out;
}

void exec_pool_give(struct sproc *p)
{
	struct exec_pool *ep = p->pool;

	if (!ep)
		return;
	p->pool = NULL;
	ep->cpus_used -= p->cpus;
	p->cpus = 0;
	for (size_t i = 0; i < ep->gpus.nr && p->ngpus; i++) {
		if (ep->gpu_owner[i] == p) {
			ep->gpu_owner[i] = NULL;
			p->ngpus--;
		}
	}
	free(p->gpu_env);
	p->gpu_env = NULL;
}

void exec_pool_free(struct sched *s)
{
	struct exec_pool *ep = s->res;

	if (!ep)
		return;
	/* The runs, and so the waiting instances, are freed already. */
	free(ep->wait);
	free(ep->gpu_owner);
	strvec_clear(&ep->gpus);
	free(ep);
	s->res = NULL;
}
