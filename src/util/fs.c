#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	char *s = p;
	int ret = 0;

	while (*s == '/')
		s++;
	for (;;) {
		char *slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		if (*p && mkdir(p, mode) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	if (!ret && !is_dir(path)) {
		errno = ENOTDIR;
		ret = -1;
	}
	free(p);
	return ret;
}

int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (!la)
		return xstrdup(b);
	if (la == 1 && a[0] == '/')
		return xasprintf("/%s", b);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

const char *path_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

const char *fs_self_exe(void)
{
	static char self[PATH_MAX];
	ssize_t n;

	if (!self[0] && (n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0)
		self[n] = '\0';
	return self;
}

char *path_real(const char *path)
{
	return realpath(path, NULL);
}

int path_is_within(const char *root, const char *path)
{
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(root, path, n))
		return 0;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && root[0] == '/');
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int fs_tmp_beside(const char *path, mode_t mode, char **tmp)
{
	/* unique within this process; O_EXCL settles it against every other one */
	static atomic_uint counter;
	const char *base = path_basename(path);

	for (int tries = 0; tries < 100; tries++) {
		char *name = xasprintf("%.*s.%s.%ld.%u", (int)(base - path), path, base,
				       (long)getpid(), atomic_fetch_add(&counter, 1));
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0) {
			*tmp = name;
			return fd;
		}
		free(name);
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL;
	int fd = fs_tmp_beside(path, mode, &tmp);
	int saved;

	if (fd < 0)
		goto fail;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	fsync_dir_of(path);
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

int write_file_if_missing(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0)
		return -1;
	return 1;
}

int copy_file(const char *src, const char *dst, mode_t mode)
{
	struct strbuf sb = STRBUF_INIT;
	int r;
	if (sb_read_file(&sb, src) < 0)
		return -1;
	r = write_file_atomic(dst, sb.buf, sb.len, mode);
	sb_release(&sb);
	return r;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

void sha256_begin(struct sha256 *h)
{
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
		die("cannot start a SHA-256 digest");
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void sha256_end(struct sha256 *h, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

/* Streamed: an audio file is hashed without being held in memory. */
int sha256_file_hex(const char *path, char out[65])
{
	char buf[65536];
	struct sha256 h;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	sha256_begin(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			sha256_update(&h, buf, (size_t)n);
	sha256_end(&h, out);
	close(fd);
	return n < 0 ? -1 : 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_sorted_names(const char *dir, char ***names_out, size_t *n_out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(names, n + 1, alloc);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	*names_out = names;
	*n_out = n;
	return 0;
}
