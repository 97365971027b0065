/*
 * synthflow.yaml: one table of keys (below) drives the defaults, the file,
 * the environment overrides, the error messages and the commented file that
 * `init` writes.  To add a key: a member in struct config, one row here.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/suggest.h"
#include "util/timeutil.h"
#include "util/yaml.h"

struct section {
	const char *name, *comment;
};

static const struct section sections[] = {
	{ "workspace", NULL },
	{ "ports", "published on 127.0.0.1 only" },
	{ "flow", NULL },
	{ "slurm", "the Slurm executor (flow.executor: slurm)" },
	{ "schedulers", "the lease of each serve (docs/engine.md)" },
	{ "web", NULL },
};

enum { KEY_NOT_YET = 1 << 0 }; /* parsed and checked, not acted on yet: a warning when set */

struct key {
	const char *section, *key;
	enum config_type type;
	size_t off;
	const char *def;        /* the default, written as in the file */
	const char *choices;    /* CHOICE: "docker|podman" */
	long long min, max;     /* INT, DURATION (ms): the range; max 0 = none */
	const char *comment;    /* after the key in the file init writes */
	/* a check beyond the type; 0, or -1 with the reason in why */
	int (*check)(const char *text, struct strbuf *why);
	unsigned flags;
};

static int check_store(const char *v, struct strbuf *why)
{
	if (!strncmp(v, "sqlite:", 7) || !strncmp(v, "postgresql://", 13) ||
	    !strncmp(v, "postgres://", 11))
		return 0;
	char *shown = store_url_redact(v); /* a mistyped url may still hold a password */
	sb_addf(why, "expected 'sqlite:PATH' or 'postgresql://...', got '%s'", shown);
	free(shown);
	return -1;
}

/* flow.gpu_devices: device indices, each once, or the word none alone. */
static int check_gpus(const char *v, struct strbuf *why)
{
	struct strvec l = STRVEC_INIT;
	int ret = 0;

	if (config_parse_value(CFG_LIST, NULL, v, &l, why) < 0)
		return -1;
	for (size_t i = 0; i < l.nr && !ret; i++) {
		const char *d = l.v[i];
		int dup = 0;
		for (size_t j = 0; j < i; j++)
			dup |= !strcmp(l.v[j], d);
		if (!strcmp(d, "none") && l.nr == 1)
			continue;
		if (!*d || strspn(d, "0123456789") != strlen(d) || dup) {
			sb_addf(why, "expected device indices such as \"0,1\" (each once) or 'none', "
				     "got '%s'", v);
			ret = -1;
		}
	}
	strvec_clear(&l);
	return ret;
}

#define K(sec_, key_, type_, member_, def_) \
	.section = (sec_), .key = (key_), .type = (type_), .off = offsetof(struct config, member_), \
	.def = (def_)
static const struct key keys[] = {
	{ K("workspace", "engine", CFG_CHOICE, ws_engine, "docker"), .choices = "docker|podman" },
	{ K("workspace", "base_image", CFG_STRING, ws_base_image, "pytorch/pytorch:latest"),
	  .comment = "CUDA + PyTorch; offline: see 'synthflow base'" },
	{ K("workspace", "gpus", CFG_CHOICE, ws_gpus, "auto"), .choices = "auto|all|none" },
	{ K("workspace", "user", CFG_STRING, ws_user, "anon"),
	  .comment = "name of the non-root user in the image" },
	{ K("ports", "web", CFG_INT, port_web, "8881"), .min = 1, .max = 65535 },
	{ K("ports", "jupyter", CFG_INT, port_jupyter, "8888"), .min = 1, .max = 65535 },
	{ K("flow", "store", CFG_STRING, flow_store, "sqlite:flow/synthflow.db"),
	  .comment = "or postgresql://user@host/db", .check = check_store },
	{ K("flow", "executor", CFG_CHOICE, flow_executor, "local"), .choices = "local|slurm" },
	{ K("flow", "parallelism", CFG_INT, flow_parallelism, "0"),
	  .comment = "CPUs for local tasks (a task takes its 'cpus', else 1); 0 = all" },
	{ K("flow", "gpu_devices", CFG_LIST, flow_gpu_devices, ""),
	  .comment = "GPUs for local tasks, e.g. \"0,1\"; empty = nvidia-smi -L; none", .check = check_gpus },
	{ K("flow", "rescan", CFG_DURATION, flow_rescan_ms, "60s"), .min = 100,
	  .comment = "serve rescans downloaded/ this often (docs/events.md)" },
	{ K("flow", "inotify", CFG_BOOL, flow_inotify, "true"),
	  .comment = "false: only the rescan finds new files (NFS)" },
	{ K("flow", "delivery_timeout", CFG_DURATION, flow_delivery_timeout_ms, "60s"), .min = 100,
	  .comment = "a callback or event script still running then is stopped (docs/events.md)" },
	{ K("flow", "provenance", CFG_BOOL, flow_provenance, "true"),
	  .comment = "false: runs record no provenance and cannot be packed" },
	{ K("slurm", "poll", CFG_DURATION, slurm_poll_ms, "5s"), .min = 100,
	  .comment = "one squeue call per interval" },
	{ K("slurm", "fs_grace", CFG_DURATION, slurm_fs_grace_ms, "30s"),
	  .comment = "how long a finished job's files may take to appear" },
	{ K("slurm", "partition", CFG_STRING, slurm_partition, ""),
	  .comment = "empty: the cluster's default" },
	{ K("slurm", "account", CFG_STRING, slurm_account, ""),
	  .comment = "empty: the user's default" },
	{ K("schedulers", "heartbeat", CFG_DURATION, sched_heartbeat_ms, "2s"), .min = 100,
	  .comment = "each serve renews its lease this often" },
	{ K("schedulers", "lease_ttl", CFG_DURATION, sched_lease_ttl_ms, "10s"), .min = 100,
	  .comment = "live while its heartbeat is younger" },
	{ K("schedulers", "grace", CFG_DURATION, sched_grace_ms, "5s"),
	  .comment = "another host takes its runs at lease_ttl + grace" },
	{ K("schedulers", "watchdog", CFG_DURATION, sched_watchdog_ms, "9s"), .min = 100,
	  .comment = "no heartbeat this long: its tries are killed" },
	{ K("web", "bind", CFG_STRING, web_bind, "127.0.0.1"),
	  .comment = "anything else exposes the UI beyond this machine" },
	/* 0: any free port (tests run many servers at once) */
	{ K("web", "port", CFG_INT, web_port, "8881"), .max = 65535 },
};
#undef K

static void *member(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

/* "auto|all|none" -> "'auto', 'all' or 'none'". */
static void add_choices(struct strbuf *sb, const char *choices)
{
	const char *last = strrchr(choices, '|');

	sb_addch(sb, '\'');
	for (const char *p = choices; *p; p++) {
		if (*p != '|')
			sb_addch(sb, *p);
		else
			sb_adds(sb, p == last ? "' or '" : "', '");
	}
	sb_addch(sb, '\'');
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return -1;
}

/* "a, b,c" -> a b c; empty items are errors (a stray comma is a typo). */
static int parse_list(const char *s, struct strvec *out, struct strbuf *why)
{
	struct strvec v = STRVEC_INIT;
	const char *p = s;

	while (*s) {
		size_t n = strcspn(p, ",");
		const char *b = p, *e = p + n;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (b == e) {
			strvec_clear(&v);
			sb_addf(why, "expected a comma-separated list without empty items, got '%s'", s);
			return -1;
		}
		strvec_pushf(&v, "%.*s", (int)(e - b), b);
		if (!p[n])
			break;
		p += n + 1;
	}
	strvec_clear(out);
	*out = v;
	return 0;
}

int config_parse_value(enum config_type type, const char *choices, const char *text, void *out,
		       struct strbuf *why)
{
	char *end;
	long long n;
	int64_t ms;
	int b;

	switch (type) {
	case CFG_STRING:
		free(*(char **)out);
		*(char **)out = xstrdup(text);
		return 0;
	case CFG_CHOICE:
		for (const char *p = choices; *p;) {
			size_t len = strcspn(p, "|");
			if (len == strlen(text) && !strncmp(p, text, len)) {
				free(*(char **)out);
				*(char **)out = xstrdup(text);
				return 0;
			}
			p += len + (p[len] == '|');
		}
		sb_adds(why, "expected ");
		add_choices(why, choices);
		sb_addf(why, ", got '%s'", text);
		return -1;
	case CFG_INT:
		errno = 0;
		n = strtoll(text, &end, 10);
		if (errno || !*text || *end || n < INT_MIN || n > INT_MAX) {
			sb_addf(why, "expected an integer, got '%s'", text);
			return -1;
		}
		*(int *)out = (int)n;
		return 0;
	case CFG_DURATION:
		ms = duration_parse_ms(text);
		if (ms < 0) {
			sb_addf(why, "expected a duration such as 500ms, 30s, 10m, 2h or 1d, got '%s'", text);
			return -1;
		}
		*(int64_t *)out = ms;
		return 0;
	case CFG_BOOL:
		if (parse_bool(text, &b) < 0) {
			sb_addf(why, "expected true or false, got '%s'", text);
			return -1;
		}
		*(int *)out = b;
		return 0;
	case CFG_LIST:
		return parse_list(text, out, why);
	}
	BUG("config type %d", (int)type);
}

/* Parses text into the key's member, then checks its range and its own rule. */
static int set_key(struct config *cfg, const struct key *k, const char *text, struct strbuf *why)
{
	long long v;

	if (config_parse_value(k->type, k->choices, text, member(cfg, k), why) < 0)
		return -1;
	if (k->type != CFG_INT && k->type != CFG_DURATION)
		return k->check ? k->check(text, why) : 0;
	v = k->type == CFG_INT ? *(int *)member(cfg, k) : *(int64_t *)member(cfg, k);
	if (v >= k->min && (!k->max || v <= k->max))
		return k->check ? k->check(text, why) : 0;
	if (k->type == CFG_DURATION)
		sb_addf(why, "expected a duration of at least %lldms, got '%s'", k->min, text);
	else if (k->max)
		sb_addf(why, "expected an integer from %lld to %lld, got '%s'", k->min, k->max, text);
	else
		sb_addf(why, "expected an integer of at least %lld, got '%s'", k->min, text);
	return -1;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		struct strbuf why = STRBUF_INIT;
		if (set_key(cfg, &keys[i], keys[i].def, &why) < 0)
			BUG("default of '%s.%s': %s", keys[i].section, keys[i].key, why.buf);
		sb_release(&why);
	}
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].type == CFG_STRING || keys[i].type == CFG_CHOICE)
			free(*(char **)member(cfg, &keys[i]));
		else if (keys[i].type == CFG_LIST)
			strvec_clear(member(cfg, &keys[i]));
	}
	free(cfg->data_dir);
	memset(cfg, 0, sizeof(*cfg));
}

static const struct key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

static const struct section *find_section(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (!strcmp(sections[i].name, name))
			return &sections[i];
	return NULL;
}

static void unknown(struct diag_list *dl, const struct ynode *k, const char *section)
{
	const char *cands[ARRAY_SIZE(keys) + ARRAY_SIZE(sections)];
	const char *best;
	size_t n = 0;

	if (section) {
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strcmp(keys[i].section, section))
				cands[n++] = keys[i].key;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
			cands[n++] = sections[i].name;
	}
	best = suggest_closest(k->str, cands, n);
	if (best)
		diag_error(dl, k->line, k->col, "unknown %s '%s'%s%s%s (did you mean '%s'?)",
			   section ? "key" : "section", k->str, section ? " in '" : "",
			   section ? section : "", section ? "'" : "", best);
	else
		diag_error(dl, k->line, k->col, "unknown %s '%s'%s%s%s", section ? "key" : "section",
			   k->str, section ? " in '" : "", section ? section : "", section ? "'" : "");
}

static void not_acted_on(struct diag_list *dl, const struct ynode *v, const struct key *k)
{
	diag_add(dl, DIAG_WARNING, v->line, v->col, "'%s.%s' is not acted on yet", k->section,
		 k->key);
}

/* A list key's YAML sequence as the text "a,b" (items must be scalars without commas). */
static int seq_text(const struct ynode *v, struct strbuf *text, struct diag_list *dl)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *it = v->vals[i];
		if (it->type != YN_SCALAR || strchr(it->str, ',')) {
			diag_error(dl, it->line, it->col, "expected a list of names without commas");
			return -1;
		}
		sb_addf(text, "%s%s", i ? "," : "", it->str);
	}
	return 0;
}

/*
 * Where a key's value was set (line 0: not in the file), for the errors
 * about keys that must agree with each other.
 */
struct origin {
	int line, col;
	int env; /* overridden by its environment variable */
};

static void load_key(struct config *cfg, const struct key *k, const struct ynode *v,
		     struct diag_list *dl)
{
	struct strbuf why = STRBUF_INIT, text = STRBUF_INIT;

	if (k->type == CFG_LIST && v->type == YN_SEQ) {
		if (seq_text(v, &text, dl) < 0)
			goto out;
	} else if (v->type != YN_SCALAR) {
		diag_error(dl, v->line, v->col, "'%s.%s' must be a scalar, got %s", k->section, k->key,
			   ynode_type_name(v));
		goto out;
	} else {
		sb_adds(&text, v->str);
	}
	if (set_key(cfg, k, text.buf, &why) < 0)
		diag_error(dl, v->line, v->col, "'%s.%s': %s", k->section, k->key, why.buf);
	else if (k->flags & KEY_NOT_YET)
		not_acted_on(dl, v, k);
out:
	sb_release(&why);
	sb_release(&text);
}

static void load_tree(struct config *cfg, const struct ynode *root, struct diag_list *dl,
		      struct origin *orig)
{
	if (root->type != YN_MAP) {
		diag_error(dl, root->line, root->col, "expected a mapping of sections, got %s",
			   ynode_type_name(root));
		return;
	}
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *sk = root->keys[i], *sv = root->vals[i];
		if (!find_section(sk->str)) {
			unknown(dl, sk, NULL);
			continue;
		}
		if (ynode_is_null(sv))
			continue;
		if (sv->type != YN_MAP) {
			diag_error(dl, sv->line, sv->col, "'%s' must be a mapping, got %s", sk->str,
				   ynode_type_name(sv));
			continue;
		}
		for (size_t j = 0; j < sv->n; j++) {
			const struct key *k = find_key(sk->str, sv->keys[j]->str);
			if (k) {
				load_key(cfg, k, sv->vals[j], dl);
				orig[k - keys] = (struct origin){ .line = sv->vals[j]->line,
								  .col = sv->vals[j]->col };
			} else
				unknown(dl, sv->keys[j], sk->str);
		}
	}
}

/* SYNTHFLOW_<SECTION>_<KEY> */
static void env_name(struct strbuf *name, const struct key *k)
{
	sb_adds(name, "SYNTHFLOW_");
	for (const char *p = k->section; *p; p++)
		sb_addch(name, toupper((unsigned char)*p));
	sb_addch(name, '_');
	for (const char *p = k->key; *p; p++)
		sb_addch(name, toupper((unsigned char)*p));
}

static int load_env(struct config *cfg, struct origin *orig)
{
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		struct strbuf name = STRBUF_INIT, why = STRBUF_INIT;
		const char *v;
		env_name(&name, &keys[i]);
		v = getenv(name.buf);
		if (v)
			orig[i].env = 1;
		if (v && set_key(cfg, &keys[i], v, &why) < 0)
			ret = error("$%s: %s", name.buf, why.buf);
		else if (v && (keys[i].flags & KEY_NOT_YET))
			warning("$%s: '%s.%s' is not acted on yet", name.buf, keys[i].section,
				keys[i].key);
		sb_release(&name);
		sb_release(&why);
	}
	return ret;
}

/* A duration as it would be written: "8s", "1500ms". */
static void add_duration(struct strbuf *sb, int64_t ms)
{
	if (ms % 1000)
		sb_addf(sb, "%lldms", (long long)ms);
	else
		sb_addf(sb, "%llds", (long long)(ms / 1000));
}

/*
 * The schedulers' keys together (docs/engine.md, "Schedulers and leases"):
 * a lease outlives two late heartbeats; a serve that cannot renew its
 * lease stops its own tries (at lease_ttl - heartbeat) before its watchdog
 * would; and the watchdog kills them at least 1 s before another host may
 * start them again (lease_ttl + grace).  Returns the names of the keys
 * involved, the first one the one to blame, or NULL when they agree.
 */
static const char *const *check_leases(const struct config *c, struct strbuf *why)
{
	static const char *const beat[] = { "heartbeat", "lease_ttl", NULL },
			  *const early[] = { "watchdog", "lease_ttl", "heartbeat", NULL },
			  *const late[] = { "watchdog", "lease_ttl", "grace", NULL };
	int64_t hb = c->sched_heartbeat_ms, ttl = c->sched_lease_ttl_ms;

	if (3 * hb > ttl) {
		sb_adds(why, "'schedulers.heartbeat' (");
		add_duration(why, hb);
		sb_adds(why, ") must be at most a third of 'schedulers.lease_ttl' (");
		add_duration(why, ttl);
		sb_adds(why, "), so that a lease outlives two late heartbeats");
		return beat;
	}
	if (c->sched_watchdog_ms < ttl - hb) {
		sb_adds(why, "'schedulers.watchdog' (");
		add_duration(why, c->sched_watchdog_ms);
		sb_adds(why, ") must be at least 'schedulers.lease_ttl' minus 'schedulers.heartbeat' (");
		add_duration(why, ttl - hb);
		sb_adds(why, "), when the serve stops its tries itself");
		return early;
	}
	if (c->sched_watchdog_ms > ttl + c->sched_grace_ms - 1000) {
		sb_adds(why, "'schedulers.watchdog' (");
		add_duration(why, c->sched_watchdog_ms);
		sb_adds(why, ") must be at least 1s shorter than 'schedulers.lease_ttl' plus "
			     "'schedulers.grace' (");
		add_duration(why, ttl + c->sched_grace_ms);
		sb_adds(why, "), when another host may run its tries again");
		return late;
	}
	return NULL;
}

/* The keys that must agree, checked once each was read: the error is where one was set. */
static int check_together(const struct config *cfg, const char *path, const struct origin *orig)
{
	struct strbuf why = STRBUF_INIT, name = STRBUF_INIT;
	const char *const *names = check_leases(cfg, &why);
	const struct key *k = NULL;
	int ret;

	if (!names)
		return 0;
	/* the first of them set by the user: an override, else a line of the file */
	for (size_t i = 0; names[i] && !k; i++)
		if (orig[find_key("schedulers", names[i]) - keys].env)
			k = find_key("schedulers", names[i]);
	for (size_t i = 0; names[i] && !k; i++)
		if (orig[find_key("schedulers", names[i]) - keys].line)
			k = find_key("schedulers", names[i]);
	if (!k)
		BUG("the defaults disagree: %s", why.buf);
	if (orig[k - keys].env) {
		env_name(&name, k);
		ret = error("$%s: %s", name.buf, why.buf);
	} else {
		struct diag_list dl;
		diag_init(&dl, path);
		diag_error(&dl, orig[k - keys].line, orig[k - keys].col, "%s", why.buf);
		diag_print(&dl, stderr);
		diag_release(&dl);
		ret = -1;
	}
	sb_release(&name);
	sb_release(&why);
	return ret;
}

int config_load(struct config *cfg, const char *data_dir)
{
	char *path = path_join(data_dir, "synthflow.yaml");
	struct strbuf sb = STRBUF_INIT;
	struct origin orig[ARRAY_SIZE(keys)];
	int ret = 0;

	memset(orig, 0, sizeof(orig));
	config_defaults(cfg);
	cfg->data_dir = xstrdup(data_dir);
	if (sb_read_file(&sb, path) == 0) {
		struct diag_list dl;
		struct ynode *root;
		diag_init(&dl, path);
		root = yaml_parse(sb.buf, sb.len, &dl);
		if (root)
			load_tree(cfg, root, &dl, orig);
		if (dl.errors)
			ret = -1;
		diag_print(&dl, stderr);
		diag_release(&dl);
		ynode_free(root);
	} else if (errno != ENOENT) {
		ret = error_errno("cannot read '%s'", path);
	}
	if (load_env(cfg, orig) < 0)
		ret = -1;
	if (!ret)
		ret = check_together(cfg, path, orig);
	sb_release(&sb);
	free(path);
	return ret;
}

/* A default as YAML: quoted when empty or when it holds ':' or '#'. */
static void add_yaml_value(struct strbuf *sb, const char *v)
{
	if (*v && !strpbrk(v, ":#'\"") && !isspace((unsigned char)*v))
		sb_adds(sb, v);
	else
		sb_addf(sb, "\"%s\"", v);
}

void config_write_default(struct strbuf *out)
{
	sb_adds(out, "# SynthFlow configuration.  Every key is optional: what is commented out\n"
		     "# shows the built-in default.  Environment variables override this file:\n"
		     "# SYNTHFLOW_<SECTION>_<KEY>, e.g. SYNTHFLOW_WEB_PORT=9000.\n");
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++) {
		size_t start;
		sb_addf(out, "\n%s:", sections[s].name);
		if (sections[s].comment)
			sb_addf(out, "%*s# %s", 39 - (int)strlen(sections[s].name) - 1, "",
				sections[s].comment);
		sb_addch(out, '\n');
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const struct key *k = &keys[i];
			if (strcmp(k->section, sections[s].name))
				continue;
			start = out->len;
			sb_addf(out, "  # %s: ", k->key);
			add_yaml_value(out, k->def);
			if (k->choices || k->comment) {
				int pad = 39 - (int)(out->len - start);
				sb_addf(out, "%*s# ", pad > 1 ? pad : 1, "");
				if (k->choices)
					for (const char *p = k->choices; *p; p++)
						sb_adds(out, *p == '|' ? " | " : (char[]){ *p, 0 });
				else
					sb_adds(out, k->comment);
				if (k->flags & KEY_NOT_YET)
					sb_adds(out, "; not acted on yet");
			}
			sb_addch(out, '\n');
		}
	}
}

char *config_path(const struct config *cfg, const char *rel)
{
	return path_join(cfg->data_dir, rel);
}

int config_parallelism(const struct config *cfg)
{
	long n;
	if (cfg->flow_parallelism > 0)
		return cfg->flow_parallelism;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

char *datadir_find(const char *opt_dir)
{
	const char *env = getenv("SYNTHFLOW_DATA");
	char *cwd, *p;

	if (opt_dir || (env && *env)) {
		const char *d = opt_dir ? opt_dir : env;
		char *r = path_real(d);
		if (!r || !is_dir(r)) {
			error("data folder '%s' (from %s) does not exist; create it with 'synthflow init %s'",
			      d, opt_dir ? "--data" : "$SYNTHFLOW_DATA", d);
			free(r);
			return NULL;
		}
		return r;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return error_errno("cannot get the current directory"), NULL;
	for (;;) {
		char *cand;
		if (!strcmp(path_basename(cwd), "run-data")) {
			return cwd;
		}
		cand = path_join(cwd, "run-data");
		if (is_dir(cand)) {
			free(cwd);
			return cand;
		}
		free(cand);
		if (!strcmp(cwd, "/"))
			break;
		p = strrchr(cwd, '/');
		if (p == cwd)
			p[1] = '\0';
		else
			*p = '\0';
	}
	free(cwd);
	error("no data folder: none given with --data or $SYNTHFLOW_DATA, and no 'run-data/' at or "
	      "above the current directory; create one with 'synthflow init'");
	return NULL;
}
