/*
 * The lock file: its text format (parse and write), the hook hashes, the
 * comparison of package lists, and the files a frozen build installs from.
 * Pure except for reading the hook files; the engine side is in build.c
 * and cmd-lock.c.
 */
#include "workspace/lock.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "util/common.h"
#include "util/fs.h"

/* The hook files, in the order the image uses them (what the lock hashes). */
static const char *const hook_files[] = { WS_PRE_INSTALL, WS_PACKAGES, WS_REQUIREMENTS,
					  WS_POST_INSTALL, WS_PRE_RUN };

void ws_lock_release(struct ws_lock *l)
{
	free(l->synthflow);
	free(l->engine);
	free(l->base);
	free(l->base_id);
	free(l->base_digest);
	free(l->base_suite);
	free(l->base_mirror);
	free(l->base_built);
	strvec_clear(&l->hooks);
	strvec_clear(&l->packages);
	memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_lines(struct strvec *sv)
{
	if (sv->nr > 1)
		qsort(sv->v, sv->nr, sizeof(*sv->v), cmp_str);
}

static int is_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
			return 0;
	return n == 64;
}

/*
 * NAME@sha256:HEX, NAME in the characters of an image reference: it goes
 * into the FROM line of a Dockerfile, where a space would add words.
 */
static int digest_ref_ok(const char *s)
{
	const char *at = strchr(s, '@');

	if (!at || at == s || strncmp(at + 1, "sha256:", 7) || !is_hex64(at + 8))
		return 0;
	for (; s < at; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-/:", *s))
			return 0;
	return 1;
}

/*
 * The repository of an image reference as docker lists it in RepoDigests:
 * no tag or digest, no "docker.io/" and "library/" (malloc'd).
 */
static char *familiar_repo(const char *ref)
{
	char *r = xstrndup(ref, strcspn(ref, "@ \n")), *slash = strrchr(r, '/'), *colon;
	size_t skip = 0;

	if ((colon = strrchr(slash ? slash : r, ':')))
		*colon = '\0';
	if (!strncmp(r, "docker.io/", 10))
		skip = 10;
	else if (!strncmp(r, "index.docker.io/", 16))
		skip = 16;
	if (!strncmp(r + skip, "library/", 8) && !strchr(r + skip + 8, '/'))
		skip += 8;
	memmove(r, r + skip, strlen(r + skip) + 1);
	return r;
}

char *ws_lock_base_digest(const char *base, const char *digests)
{
	char *want = familiar_repo(base), *found = NULL;
	const char *p = digests;

	while (!found && *(p += strspn(p, " \n"))) {
		size_t n = strcspn(p, " \n");
		char *ref = xstrndup(p, n), *repo = familiar_repo(ref);

		if (!strcmp(repo, want) && digest_ref_ok(ref))
			found = ref;
		else
			free(ref);
		free(repo);
		p += n;
	}
	free(want);
	return found;
}

/* What apt takes in NAME=VERSION: no space, nothing a shell or apt would re-read. */
static int apt_word_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("+-.:~_", *s))
			return 0;
	return 1;
}

static int is_hook_file(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(hook_files); i++)
		if (!strcmp(name, hook_files[i]))
			return 1;
	return 0;
}

/* A package line as sf-packages prints it; why says what is wrong. */
static int package_line_ok(const char *line, const char **why)
{
	if (!strcmp(line, "pip-absent"))
		return 1;
	if (!strncmp(line, "pip ", 4)) {
		*why = "an empty pip entry";
		return line[4] && !isspace((unsigned char)line[4]);
	}
	if (!strncmp(line, "apt ", 4)) {
		const char *name = line + 4, *sp = strchr(name, ' ');
		char *n;
		int ok;
		*why = "an apt entry is 'apt NAME VERSION'";
		if (!sp || strchr(sp + 1, ' ') || !apt_word_ok(sp + 1))
			return 0;
		n = xstrndup(name, (size_t)(sp - name));
		ok = apt_word_ok(n);
		free(n);
		return ok;
	}
	*why = "not an 'apt', 'pip' or 'pip-absent' entry";
	return 0;
}

static int set_once(char **field, const char *value, const char *path, int line, const char *key)
{
	if (*field)
		return error("%s:%d: '%s' is given twice", path, line, key);
	if (!*value)
		return error("%s:%d: '%s' needs a value", path, line, key);
	*field = xstrdup(value);
	return 0;
}

static int parse_line(char *s, const char *path, int line, struct ws_lock *l)
{
	char *sp = strchr(s, ' ');
	const char *val = sp ? sp + 1 : "", *why = NULL;
	char *key = sp ? xstrndup(s, (size_t)(sp - s)) : xstrdup(s);
	struct {
		const char *key;
		char **field;
	} scalars[] = {
		{ "synthflow", &l->synthflow },   { "engine", &l->engine },
		{ "base", &l->base },             { "base-id", &l->base_id },
		{ "base-digest", &l->base_digest }, { "base-suite", &l->base_suite },
		{ "base-mirror", &l->base_mirror }, { "base-built", &l->base_built },
	};
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(scalars); i++)
		if (!strcmp(key, scalars[i].key)) {
			ret = set_once(scalars[i].field, val, path, line, key);
			if (!ret && scalars[i].field == &l->base_digest && !digest_ref_ok(val))
				ret = error("%s:%d: 'base-digest' is NAME@sha256:HEX (64 lowercase hex "
					    "digits), got '%s'", path, line, val);
			goto out;
		}
	if (!strcmp(key, "format")) {
		char *end;
		long f = strtol(val, &end, 10);
		if (!*val || *end || f < 1)
			ret = error("%s:%d: 'format' must be a positive number, got '%s'", path, line,
				    val);
		else if (f > WS_LOCK_FORMAT)
			ret = error("%s:%d: lock format %ld is newer than this synthflow reads (%d); "
				    "update synthflow", path, line, f, WS_LOCK_FORMAT);
		else
			l->format = (int)f;
	} else if (!strcmp(key, "hook")) {
		const char *sp2 = strchr(val, ' ');
		char *file = sp2 ? xstrndup(val, (size_t)(sp2 - val)) : xstrdup(val);
		if (!sp2 || !is_hook_file(file) || !is_hex64(sp2 + 1))
			ret = error("%s:%d: a hook entry is 'hook FILE SHA256' with FILE one of "
				    "pre-install.sh, packages.txt, requirements.txt, post-install.sh, "
				    "pre-run.sh", path, line);
		else
			strvec_pushf(&l->hooks, "%s %s", file, sp2 + 1);
		free(file);
	} else if (package_line_ok(s, &why)) {
		strvec_push(&l->packages, s);
	} else if (!strcmp(key, "apt") || !strcmp(key, "pip")) {
		ret = error("%s:%d: '%s': %s", path, line, s, why);
	} else {
		ret = error("%s:%d: unknown entry '%s'", path, line, key);
	}
out:
	free(key);
	return ret;
}

int ws_lock_parse(const char *text, const char *path, struct ws_lock *l)
{
	const char *p = text;
	int line = 0, ret = 0;

	memset(l, 0, sizeof(*l));
	while (*p) {
		const char *eol = strchrnul(p, '\n');
		char *s = xstrndup(p, (size_t)(eol - p));
		size_t n = strlen(s);
		line++;
		while (n && isspace((unsigned char)s[n - 1]))
			s[--n] = '\0';
		if (n && s[0] != '#' && parse_line(s, path, line, l) < 0)
			ret = -1;
		free(s);
		p = *eol ? eol + 1 : eol;
	}
	if (!ret && !l->format)
		ret = error("%s: no 'format' line: not a synthflow lock", path);
	if (!ret && !l->base_id && !l->base_digest)
		ret = error("%s: no 'base-id' or 'base-digest' line: the lock names no base image",
			    path);
	if (ret < 0)
		ws_lock_release(l);
	else
		sort_lines(&l->packages);
	return ret;
}

int ws_lock_read(const struct ws *ws, struct ws_lock *l)
{
	char *path = path_join(ws->hooks_dir, WS_LOCK);
	struct strbuf sb = STRBUF_INIT;
	int ret;

	if (sb_read_file(&sb, path) < 0)
		ret = errno == ENOENT ? 1 : error_errno("cannot read '%s'", path);
	else
		ret = ws_lock_parse(sb.buf, path, l);
	sb_release(&sb);
	free(path);
	return ret;
}

void ws_lock_format(const struct ws_lock *l, const char *name, struct strbuf *out)
{
	sb_addf(out,
		"# The environment of workspace %s, written by 'synthflow lock %s'.\n"
		"# 'synthflow build %s --frozen' builds exactly this (docs/replication.md).\n",
		name, name, name);
	sb_addf(out, "format %d\n", WS_LOCK_FORMAT);
	sb_addf(out, "synthflow %s\n", l->synthflow);
	if (l->engine)
		sb_addf(out, "engine %s\n", l->engine);
	if (l->base)
		sb_addf(out, "base %s\n", l->base);
	if (l->base_id)
		sb_addf(out, "base-id %s\n", l->base_id);
	if (l->base_digest)
		sb_addf(out, "base-digest %s\n", l->base_digest);
	if (l->base_suite)
		sb_addf(out, "base-suite %s\n", l->base_suite);
	if (l->base_mirror)
		sb_addf(out, "base-mirror %s\n", l->base_mirror);
	if (l->base_built)
		sb_addf(out, "base-built %s\n", l->base_built);
	for (size_t i = 0; i < l->hooks.nr; i++)
		sb_addf(out, "hook %s\n", l->hooks.v[i]);
	for (size_t i = 0; i < l->packages.nr; i++)
		sb_addf(out, "%s\n", l->packages.v[i]);
}

int ws_lock_hooks(const struct ws *ws, struct strvec *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(hook_files); i++) {
		char *p = path_join(ws->hooks_dir, hook_files[i]);
		char hex[65];
		int r = is_file(p) ? sha256_file_hex(p, hex) : 1;
		if (r < 0)
			error_errno("cannot read '%s'", p);
		else if (r == 0)
			strvec_pushf(out, "%s %s", hook_files[i], hex);
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

int ws_lock_packages(const char *text, struct strvec *out)
{
	const char *p = text, *why = NULL;
	int ret = 0;

	while (*p && !ret) {
		const char *eol = strchrnul(p, '\n');
		char *s = xstrndup(p, (size_t)(eol - p));
		size_t n = strlen(s);
		while (n && isspace((unsigned char)s[n - 1]))
			s[--n] = '\0';
		if (n && package_line_ok(s, &why))
			strvec_push(out, s);
		else if (n)
			ret = error("unexpected line in the image's package list: '%s' (%s)", s, why);
		free(s);
		p = *eol ? eol + 1 : eol;
	}
	sort_lines(out);
	return ret;
}

/* The key of a package line ("apt NAME", "pip NAME") and where its version starts. */
static size_t package_key(const char *line, const char **version)
{
	const char *v;
	if (!strncmp(line, "apt ", 4) && (v = strchr(line + 4, ' '))) {
		*version = v + 1;
		return (size_t)(v - line);
	}
	if (!strncmp(line, "pip ", 4)) {
		size_t n = strcspn(line + 4, "=@ ");
		*version = line + 4 + n;
		return 4 + n;
	}
	*version = "";
	return strlen(line);
}

/* The line of list with the key of line, or NULL. */
static const char *find_key(const struct strvec *list, const char *line)
{
	const char *v;
	size_t k = package_key(line, &v);
	for (size_t i = 0; i < list->nr; i++) {
		const char *w;
		if (package_key(list->v[i], &w) == k && !strncmp(list->v[i], line, k))
			return list->v[i];
	}
	return NULL;
}

size_t ws_lock_diff(const struct strvec *lock, const struct strvec *image, struct strvec *why)
{
	size_t n = 0;
	for (size_t i = 0; i < lock->nr; i++) {
		const char *other = find_key(image, lock->v[i]), *v, *w;
		size_t k = package_key(lock->v[i], &v);
		if (!other) {
			strvec_pushf(why, "%s: in the lock, not in the image", lock->v[i]);
			n++;
		} else if (strcmp(other, lock->v[i])) {
			package_key(other, &w);
			strvec_pushf(why, "%.*s: %s in the lock, %s in the image", (int)k, lock->v[i],
				     *v == '=' ? v + 2 : v, *w == '=' ? w + 2 : w);
			n++;
		}
	}
	for (size_t i = 0; i < image->nr; i++)
		if (!find_key(lock, image->v[i])) {
			strvec_pushf(why, "%s: in the image, not in the lock", image->v[i]);
			n++;
		}
	return n;
}

static const char *find_hook(const struct strvec *hooks, const char *entry)
{
	size_t k = strcspn(entry, " ");
	for (size_t i = 0; i < hooks->nr; i++)
		if (!strncmp(hooks->v[i], entry, k) && hooks->v[i][k] == ' ')
			return hooks->v[i];
	return NULL;
}

size_t ws_lock_hooks_diff(const struct strvec *lock, const struct strvec *now, struct strvec *why)
{
	size_t n = 0;
	for (size_t i = 0; i < lock->nr; i++) {
		const char *other = find_hook(now, lock->v[i]);
		int k = (int)strcspn(lock->v[i], " ");
		if (!other || strcmp(other, lock->v[i])) {
			strvec_pushf(why, "%.*s %s", k, lock->v[i], other ? "changed" : "removed");
			n++;
		}
	}
	for (size_t i = 0; i < now->nr; i++)
		if (!find_hook(lock, now->v[i])) {
			strvec_pushf(why, "%.*s added", (int)strcspn(now->v[i], " "), now->v[i]);
			n++;
		}
	return n;
}

/* pip options of requirements.txt that say where packages come from. */
static int index_option(const char *s)
{
	static const char *const longs[] = { "--find-links", "--index-url", "--extra-index-url",
					     "--no-index", "--trusted-host", "--pre",
					     "--prefer-binary", "--only-binary", "--no-binary" };
	if ((!strncmp(s, "-f", 2) || !strncmp(s, "-i", 2)) && s[2] != '-')
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(longs); i++) {
		size_t n = strlen(longs[i]);
		if (!strncmp(s, longs[i], n) && (!s[n] || s[n] == '=' || isspace((unsigned char)s[n])))
			return 1;
	}
	return 0;
}

void ws_lock_frozen_files(const struct ws_lock *l, const char *requirements, struct strbuf *apt,
			  struct strbuf *pip, struct strbuf *packages)
{
	bool any_pip = false;

	for (size_t i = 0; i < l->packages.nr; i++) {
		const char *s = l->packages.v[i];
		sb_addf(packages, "%s\n", s);
		if (!strncmp(s, "apt ", 4)) {
			const char *sp = strchr(s + 4, ' ');
			sb_addf(apt, "%.*s=%s\n", (int)(sp - (s + 4)), s + 4, sp + 1);
		} else if (!strncmp(s, "pip ", 4)) {
			any_pip = true;
		}
	}
	if (!any_pip)
		return;
	for (const char *p = requirements ? requirements : ""; *p;) {
		const char *eol = strchrnul(p, '\n');
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (index_option(p))
			sb_addf(pip, "%.*s\n", (int)(eol - p), p);
		p = *eol ? eol + 1 : eol;
	}
	for (size_t i = 0; i < l->packages.nr; i++)
		if (!strncmp(l->packages.v[i], "pip ", 4))
			sb_addf(pip, "%s\n", l->packages.v[i] + 4);
}
