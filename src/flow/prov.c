/*
 * Provenance: the hashing pool and the facts about the host (prov.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "flow/exec.h"
#include "flow/prov.h"
#include "util/common.h"
#include "util/fs.h"

struct prov_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct prov_job *queue, *queue_tail;
	struct prov_job *done, *done_tail;
	pthread_t *threads;
	int nthreads;
	int stop;
	int wake_fd;
};

static void list_push(struct prov_job **head, struct prov_job **tail, struct prov_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker(void *arg)
{
	struct prov_pool *p = arg;
	char c = 'p';

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct prov_job *j;
		while (!p->queue && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = NULL;
		pthread_mutex_unlock(&p->mu);
		prov_job_run(j);
		pthread_mutex_lock(&p->mu);
		list_push(&p->done, &p->done_tail, j);
		if (write(p->wake_fd, &c, 1) < 0) {
			/* A full pipe already holds a wakeup. */
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct prov_pool *prov_pool_new(int nthreads, int wake_fd)
{
	struct prov_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->wake_fd = wake_fd;
	p->threads = xcalloc((size_t)nthreads, sizeof(*p->threads));
	for (int i = 0; i < nthreads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, worker, p);
		if (rc) {
			error("starting a hashing thread: %s", strerror(rc));
			prov_pool_free(p);
			return NULL;
		}
		p->nthreads++;
	}
	return p;
}

void prov_pool_free(struct prov_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (struct prov_job *j = p->queue, *next; j; j = next) {
		next = j->next;
		prov_job_free(j);
	}
	for (struct prov_job *j = p->done, *next; j; j = next) {
		next = j->next;
		prov_job_free(j);
	}
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

void prov_pool_submit(struct prov_pool *p, struct prov_job *job)
{
	pthread_mutex_lock(&p->mu);
	list_push(&p->queue, &p->queue_tail, job);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct prov_job *prov_pool_take_done(struct prov_pool *p)
{
	struct prov_job *j;
	pthread_mutex_lock(&p->mu);
	j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	return j;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void prov_job_free(struct prov_job *job)
{
	if (!job)
		return;
	json_decref(job->doc);
	free_strv(job->inputs, job->ninputs);
	free_strv(job->outputs, job->noutputs);
	free_strv(job->programs, job->nprograms);
	free(job->item);
	free(job->path_env);
	free(job->data_dir);
	if (job->ext_free)
		job->ext_free(job->ext);
	free(job);
}

/* ---- files ---- */

json_t *prov_file_json(const char *path, const char *data_dir)
{
	size_t dl = data_dir ? strlen(data_dir) : 0;
	const char *shown = path;
	char hex[65];
	struct stat st;
	json_t *rec;

	if (dl && !strncmp(path, data_dir, dl) && path[dl] == '/')
		shown = path + dl + 1;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || sha256_file_hex(path, hex) < 0)
		return json_pack("{s:s, s:b}", "path", shown, "missing", 1);
	rec = json_pack("{s:s, s:s, s:I}", "path", shown, "sha256", hex, "size",
			(json_int_t)st.st_size);
	if (dl && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* a link into the data folder (a dataset linked into a run): what was read */
		char *real = path_real(path), *root = path_real(data_dir);
		size_t rl = root ? strlen(root) : 0;
		if (real && rl && !strncmp(real, root, rl) && real[rl] == '/')
			json_object_set_new(rec, "target", json_string(real + rl + 1));
		free(real);
		free(root);
	}
	return rec;
}

/* A folder named by a pattern stands for every file below it. */
static void add_tree(json_t *arr, const char *path, const char *data_dir)
{
	struct stat st;
	char **names;
	size_t n;

	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		json_array_append_new(arr, prov_file_json(path, data_dir));
		return;
	}
	if (fs_sorted_names(path, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *p = path_join(path, names[i]);
		add_tree(arr, p, data_dir);
		free(p);
	}
	free_strv(names, n);
}

json_t *prov_hash_patterns(char **pats, size_t n, const char *data_dir)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		struct strbuf err = STRBUF_INIT;
		char **paths;
		size_t np;

		if (exec_glob(pats[i], &paths, &np, &err) < 0 || !np) {
			/* Nothing there: recorded, so a reader sees what was declared. */
			json_t *m = prov_file_json(pats[i], data_dir);
			json_array_append_new(arr, m);
		}
		for (size_t k = 0; k < np; k++)
			add_tree(arr, paths[k], data_dir);
		exec_glob_free(paths, np);
		sb_release(&err);
	}
	return arr;
}

/* ---- programs ---- */

char *prov_command_program(const char *cmd)
{
	const char *p = cmd, *end;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		end = p + strcspn(p, " \t\n;&|()<>'\"$`");
		if (end == p)
			return NULL;
		/* VAR=value before the program */
		if (memchr(p, '=', (size_t)(end - p)) && (*end == ' ' || *end == '\t')) {
			p = end;
			continue;
		}
		return xstrndup(p, (size_t)(end - p));
	}
}

static char *find_in_path(const char *prog, const char *path_env)
{
	char *copy, *save = NULL, *found = NULL;

	if (strchr(prog, '/'))
		return prog[0] == '/' ? xstrdup(prog) : NULL;
	if (!path_env)
		return NULL;
	copy = xstrdup(path_env);
	for (char *dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = path_join(dir, prog);
		if (access(p, X_OK) == 0 && is_file(p))
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* 1 when the file has a line equal to `line`. */
static int file_has_line(const char *file, const char *line)
{
	FILE *f = fopen(file, "r");
	char *buf = NULL;
	size_t cap = 0, want = strlen(line);
	ssize_t len;
	int found = 0;

	if (!f)
		return 0;
	while (!found && (len = getline(&buf, &cap, f)) >= 0) {
		if (len && buf[len - 1] == '\n')
			len--;
		found = (size_t)len == want && !memcmp(buf, line, want);
	}
	free(buf);
	fclose(f);
	return found;
}

static char *dpkg_version(const char *root, const char *package)
{
	char *status = xasprintf("%s/var/lib/dpkg/status", root);
	FILE *f = fopen(status, "r");
	char *buf = NULL, *version = NULL;
	size_t cap = 0;
	ssize_t len;
	int in = 0;

	free(status);
	if (!f)
		return NULL;
	while (!version && (len = getline(&buf, &cap, f)) >= 0) {
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (!len)
			in = 0;
		else if (!strncmp(buf, "Package: ", 9))
			in = !strcmp(buf + 9, package);
		else if (in && !strncmp(buf, "Version: ", 9))
			version = xstrdup(buf + 9);
	}
	free(buf);
	fclose(f);
	return version;
}

int prov_dpkg_owner(const char *root, const char *path, char **package, char **version)
{
	char *dir = xasprintf("%s/var/lib/dpkg/info", root);
	const char *alt = NULL;
	DIR *d = opendir(dir);
	struct dirent *de;
	char *altpath = NULL;

	*package = *version = NULL;
	if (!d) {
		free(dir);
		return 1;
	}
	/* Merged /usr: dpkg may list /bin/dash for /usr/bin/dash. */
	if (!strncmp(path, "/usr/", 5))
		alt = path + 4;
	else
		altpath = xasprintf("/usr%s", path);
	while (!*package && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *list;
		if (n < 6 || strcmp(de->d_name + n - 5, ".list"))
			continue;
		list = path_join(dir, de->d_name);
		if (file_has_line(list, path) || file_has_line(list, alt ? alt : altpath)) {
			char *colon;
			*package = xstrndup(de->d_name, n - 5);
			colon = strchr(*package, ':');
			if (colon)
				*colon = '\0';
		}
		free(list);
	}
	closedir(d);
	free(dir);
	free(altpath);
	if (!*package)
		return 1;
	*version = dpkg_version(root, *package);
	return 0;
}

json_t *prov_program_json(const char *prog, const char *path_env)
{
	char *where = find_in_path(prog, path_env), *real, *pkg, *ver;
	json_t *o;
	char hex[65];

	if (!where)
		return NULL;
	real = path_real(where);
	o = json_pack("{s:s}", "path", where);
	if (real && prov_dpkg_owner("", real, &pkg, &ver) == 0) {
		json_object_set_new(o, "package", json_string(pkg));
		json_object_set_new(o, "version", ver ? json_string(ver) : json_null());
		free(pkg);
		free(ver);
	} else if (real && sha256_file_hex(real, hex) == 0) {
		/* Not a package's file: its content identifies it. */
		json_object_set_new(o, "sha256", json_string(hex));
	}
	free(real);
	free(where);
	return o;
}

void prov_job_run(struct prov_job *job)
{
	if (job->run) {
		job->run(job);
		return;
	}
	if (job->item)
		json_object_set_new(job->doc, "item", prov_file_json(job->item, job->data_dir));
	if (job->ninputs)
		json_object_set_new(job->doc, "inputs",
				    prov_hash_patterns(job->inputs, job->ninputs, job->data_dir));
	if (job->noutputs)
		json_object_set_new(job->doc, "outputs",
				    prov_hash_patterns(job->outputs, job->noutputs, job->data_dir));
	if (job->nprograms) {
		json_t *progs = json_object();
		for (size_t i = 0; i < job->nprograms; i++) {
			json_t *o = prov_program_json(job->programs[i], job->path_env);
			if (o)
				json_object_set_new(progs, job->programs[i], o);
		}
		json_object_set_new(job->doc, "programs", progs);
	}
}

/* ---- the host ---- */

static void os_release(json_t *o)
{
	FILE *f = fopen("/etc/os-release", "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	static const struct { const char *key, *field; } keys[] = {
		{ "PRETTY_NAME=", "os" }, { "ID=", "os_id" }, { "VERSION_ID=", "os_version" },
	};

	if (!f)
		f = fopen("/usr/lib/os-release", "r");
	if (!f)
		return;
	while ((len = getline(&buf, &cap, f)) >= 0) {
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			size_t kl = strlen(keys[i].key);
			char *v;
			if (strncmp(buf, keys[i].key, kl))
				continue;
			v = buf + kl;
			if (*v == '"' && len > (ssize_t)kl + 1 && v[strlen(v) - 1] == '"') {
				v[strlen(v) - 1] = '\0';
				v++;
			}
			json_object_set_new(o, keys[i].field, json_string(v));
		}
	}
	free(buf);
	fclose(f);
}

json_t *prov_host_json(void)
{
	json_t *o = json_object();
	struct utsname u;
	const char *ws = getenv("SYNTHFLOW_WORKSPACE");

	if (uname(&u) == 0) {
		json_object_set_new(o, "hostname", json_string(u.nodename));
		json_object_set_new(o, "kernel", json_string(u.release));
		json_object_set_new(o, "machine", json_string(u.machine));
	}
	os_release(o);
	json_object_set_new(o, "engine_version", json_string(SF_VERSION));
	if (ws && *ws) {
		const char *img = getenv("SYNTHFLOW_IMAGE"), *id = getenv("SYNTHFLOW_IMAGE_ID");
		json_object_set_new(o, "workspace",
				    json_pack("{s:s, s:s?, s:s?}", "name", ws, "image",
					      img && *img ? img : NULL, "image_id",
					      id && *id ? id : NULL));
	} else {
		json_object_set_new(o, "workspace", json_null());
	}
	return o;
}
