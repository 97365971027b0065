#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "util/suggest.h"
#include "util/yaml.h"

enum ftype { F_STR, F_INT };

struct field {
	const char *section, *key;
	enum ftype type;
	size_t off;
};

#define FS(sec, key, member) { sec, key, F_STR, offsetof(struct config, member) }
#define FI(sec, key, member) { sec, key, F_INT, offsetof(struct config, member) }
static const struct field fields[] = {
	FS("workspace", "engine", ws_engine),
	FS("workspace", "base_image", ws_base_image),
	FS("workspace", "gpus", ws_gpus),
	FS("workspace", "user", ws_user),
	FI("ports", "web", port_web),
	FI("ports", "jupyter", port_jupyter),
	FS("flow", "store", flow_store),
	FS("flow", "executor", flow_executor),
	FI("flow", "parallelism", flow_parallelism),
	FS("web", "bind", web_bind),
	FI("web", "port", web_port),
};

static char **str_at(struct config *cfg, const struct field *f)
{
	return (char **)((char *)cfg + f->off);
}

static int *int_at(struct config *cfg, const struct field *f)
{
	return (int *)((char *)cfg + f->off);
}

static void set_str(struct config *cfg, const struct field *f, const char *v)
{
	char **p = str_at(cfg, f);
	free(*p);
	*p = xstrdup(v);
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ws_engine = xstrdup("docker");
	cfg->ws_base_image = xstrdup("pytorch/pytorch:latest");
	cfg->ws_gpus = xstrdup("auto");
	cfg->ws_user = xstrdup("anon");
	cfg->port_web = 8881;
	cfg->port_jupyter = 8888;
	cfg->flow_store = xstrdup("sqlite:flow/synthflow.db");
	cfg->flow_executor = xstrdup("local");
	cfg->flow_parallelism = 0;
	cfg->web_bind = xstrdup("127.0.0.1");
	cfg->web_port = 8881;
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i].type == F_STR)
			free(*str_at(cfg, &fields[i]));
	free(cfg->data_dir);
	memset(cfg, 0, sizeof(*cfg));
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < 0 || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

static int check_value(const struct field *f, const char *v, struct strbuf *why)
{
	int n;
	if (f->type == F_INT) {
		if (parse_int(v, &n) < 0) {
			sb_addf(why, "expected a non-negative integer, got '%s'", v);
			return -1;
		}
		/* web.port 0: serve listens on any free port (tests run many at once). */
		int any_port = !strcmp(f->section, "web") && !strcmp(f->key, "port");
		if ((!strcmp(f->section, "ports") || !strcmp(f->key, "port")) &&
		    (n < !any_port || n > 65535)) {
			sb_addf(why, "port %d is outside %d..65535", n, !any_port);
			return -1;
		}
		return 0;
	}
	if (!strcmp(f->key, "engine") && strcmp(v, "docker") && strcmp(v, "podman")) {
		sb_addf(why, "engine must be 'docker' or 'podman', got '%s'", v);
		return -1;
	}
	if (!strcmp(f->key, "gpus") && strcmp(v, "auto") && strcmp(v, "all") && strcmp(v, "none")) {
		sb_addf(why, "gpus must be 'auto', 'all' or 'none', got '%s'", v);
		return -1;
	}
	if (!strcmp(f->key, "executor") && strcmp(v, "local") && strcmp(v, "slurm")) {
		sb_addf(why, "executor must be 'local' or 'slurm', got '%s'", v);
		return -1;
	}
	if (!strcmp(f->key, "store") && strncmp(v, "sqlite:", 7) && strncmp(v, "postgresql://", 13) &&
	    strncmp(v, "postgres://", 11)) {
		sb_addf(why, "store must be 'sqlite:PATH' or 'postgresql://...', got '%s'", v);
		return -1;
	}
	return 0;
}

static void apply(struct config *cfg, const struct field *f, const char *v)
{
	if (f->type == F_INT)
		parse_int(v, int_at(cfg, f));
	else
		set_str(cfg, f, v);
}

static const struct field *find_field(const char *section, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (!strcmp(fields[i].section, section) && !strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

static void unknown(struct diag_list *dl, const struct ynode *k, const char *what,
		    const char *section)
{
	const char *cands[ARRAY_SIZE(fields)];
	size_t n = 0;
	const char *best;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *c = section ? fields[i].key : fields[i].section;
		if (section && strcmp(fields[i].section, section))
			continue;
		if (!section && n && !strcmp(cands[n - 1], c))
			continue;
		cands[n++] = c;
	}
	best = suggest_closest(k->str, cands, n);
	if (best)
		diag_error(dl, k->line, k->col, "unknown %s '%s' (did you mean '%s'?)", what, k->str, best);
	else
		diag_error(dl, k->line, k->col, "unknown %s '%s'", what, k->str);
}

static void load_tree(struct config *cfg, const struct ynode *root, struct diag_list *dl)
{
	if (root->type != YN_MAP) {
		diag_error(dl, root->line, root->col, "expected a mapping of sections, got %s",
			   ynode_type_name(root));
		return;
	}
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *sk = root->keys[i], *sv = root->vals[i];
		int known = 0;
		for (size_t j = 0; j < ARRAY_SIZE(fields); j++)
			known |= !strcmp(fields[j].section, sk->str);
		if (!known) {
			unknown(dl, sk, "section", NULL);
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
			const struct ynode *k = sv->keys[j], *v = sv->vals[j];
			const struct field *f = find_field(sk->str, k->str);
			struct strbuf why = STRBUF_INIT;
			if (!f) {
				unknown(dl, k, "key", sk->str);
				continue;
			}
			if (v->type != YN_SCALAR) {
				diag_error(dl, v->line, v->col, "'%s.%s' must be a scalar, got %s", sk->str,
					   k->str, ynode_type_name(v));
				continue;
			}
			if (check_value(f, v->str, &why) < 0)
				diag_error(dl, v->line, v->col, "'%s.%s': %s", sk->str, k->str, why.buf);
			else
				apply(cfg, f, v->str);
			sb_release(&why);
		}
	}
}

static int load_env(struct config *cfg)
{
	int ret = 0;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		struct strbuf name = STRBUF_INIT, why = STRBUF_INIT;
		const char *v;
		sb_adds(&name, "SYNTHFLOW_");
		for (const char *p = fields[i].section; *p; p++)
			sb_addch(&name, toupper((unsigned char)*p));
		sb_addch(&name, '_');
		for (const char *p = fields[i].key; *p; p++)
			sb_addch(&name, toupper((unsigned char)*p));
		v = getenv(name.buf);
		if (v) {
			if (check_value(&fields[i], v, &why) < 0)
				ret = error("$%s: %s", name.buf, why.buf);
			else
				apply(cfg, &fields[i], v);
		}
		sb_release(&name);
		sb_release(&why);
	}
	return ret;
}

int config_load(struct config *cfg, const char *data_dir)
{
	char *path = path_join(data_dir, "synthflow.yaml");
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	config_defaults(cfg);
	cfg->data_dir = xstrdup(data_dir);
	if (sb_read_file(&sb, path) == 0) {
		struct diag_list dl;
		struct ynode *root;
		diag_init(&dl, path);
		root = yaml_parse(sb.buf, sb.len, &dl);
		if (root)
			load_tree(cfg, root, &dl);
		if (dl.errors)
			ret = -1;
		diag_print(&dl, stderr);
		diag_release(&dl);
		ynode_free(root);
	} else if (errno != ENOENT) {
		ret = error_errno("cannot read '%s'", path);
	}
	if (load_env(cfg) < 0)
		ret = -1;
	sb_release(&sb);
	free(path);
	return ret;
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
