/*
 * When the host user is root, the workspace user is UID 1000 (never root),
 * and the folders 'synthflow init' made as root are not writable by it.
 * Rather than re-owning anything in run-data, we add a POSIX ACL entry for
 * that UID: additive, visible with getfacl, removable with setfacl -b.
 * The ACL is written as the kernel's xattr format directly, so no libacl.
 */
#include "workspace/ws.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "util/common.h"
#include "util/fs.h"

enum {
	ACL_VERSION = 2,
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
	ACL_MAX_ENTRIES = 64,
};
#define NO_ID 0xffffffffu

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

struct acl {
	struct acl_entry e[ACL_MAX_ENTRIES];
	size_t n;
};

/* Reads the ACL called attr, or the one the mode bits imply when there is none. */
static int acl_read(const char *path, const char *attr, mode_t mode, struct acl *acl)
{
	unsigned char buf[4 + ACL_MAX_ENTRIES * 8];
	ssize_t len = getxattr(path, attr, buf, sizeof(buf));

	acl->n = 0;
	if (len < 0) {
		if (errno != ENODATA)
			return -1;
		acl->e[acl->n++] = (struct acl_entry){ TAG_USER_OBJ, (mode >> 6) & 7, NO_ID };
		acl->e[acl->n++] = (struct acl_entry){ TAG_GROUP_OBJ, (mode >> 3) & 7, NO_ID };
		acl->e[acl->n++] = (struct acl_entry){ TAG_OTHER, mode & 7, NO_ID };
		return 0;
	}
	for (ssize_t off = 4; off + 8 <= len; off += 8) {
		const unsigned char *p = buf + off;
		acl->e[acl->n++] = (struct acl_entry){ (uint16_t)(p[0] | p[1] << 8),
						       (uint16_t)(p[2] | p[3] << 8),
						       (uint32_t)p[4] | (uint32_t)p[5] << 8 |
							       (uint32_t)p[6] << 16 |
							       (uint32_t)p[7] << 24 };
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct acl_entry *x = a, *y = b;
	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sets uid's entry, recomputes the mask (the union of the group class) and sorts. */
static void acl_grant(struct acl *acl, uint32_t uid, uint16_t perm)
{
	uint16_t mask = 0;
	size_t w = 0;

	for (size_t i = 0; i < acl->n; i++)
		if (!(acl->e[i].tag == TAG_USER && acl->e[i].id == uid) && acl->e[i].tag != TAG_MASK)
			acl->e[w++] = acl->e[i];
	acl->n = w;
	if (acl->n + 2 > ACL_MAX_ENTRIES)
		return;
	acl->e[acl->n++] = (struct acl_entry){ TAG_USER, perm, uid };
	for (size_t i = 0; i < acl->n; i++)
		if (acl->e[i].tag == TAG_USER || acl->e[i].tag == TAG_GROUP ||
		    acl->e[i].tag == TAG_GROUP_OBJ)
			mask |= acl->e[i].perm;
	acl->e[acl->n++] = (struct acl_entry){ TAG_MASK, mask, NO_ID };
	qsort(acl->e, acl->n, sizeof(acl->e[0]), entry_cmp);
}

/* Already there (uid's entry and the mask both allow perm)?  Then nothing is written. */
static int acl_allows(const struct acl *acl, uint32_t uid, uint16_t perm)
{
	int user = 0, mask = 0;

	for (size_t i = 0; i < acl->n; i++) {
		if (acl->e[i].tag == TAG_USER && acl->e[i].id == uid)
			user = (acl->e[i].perm & perm) == perm;
		else if (acl->e[i].tag == TAG_MASK)
			mask = (acl->e[i].perm & perm) == perm;
	}
	return user && mask;
}

static int acl_write(const char *path, const char *attr, const struct acl *acl)
{
	unsigned char buf[4 + ACL_MAX_ENTRIES * 8] = { ACL_VERSION, 0, 0, 0 };
	for (size_t i = 0; i < acl->n; i++) {
		unsigned char *p = buf + 4 + i * 8;
		p[0] = acl->e[i].tag & 0xff;
		p[1] = (unsigned char)(acl->e[i].tag >> 8);
		p[2] = acl->e[i].perm & 0xff;
		p[3] = (unsigned char)(acl->e[i].perm >> 8);
		for (int b = 0; b < 4; b++)
			p[4 + b] = (unsigned char)(acl->e[i].id >> (8 * b));
	}
	return setxattr(path, attr, buf, 4 + acl->n * 8, 0);
}

static int grant_one(const char *path, uid_t uid)
{
	struct stat st;
	struct acl acl;
	int dir;

	if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
		return 0;
	if (st.st_uid == uid)
		return 0;
	dir = S_ISDIR(st.st_mode);
	if (acl_read(path, "system.posix_acl_access", st.st_mode, &acl) < 0)
		return -1;
	if (!acl_allows(&acl, (uint32_t)uid, dir ? 7 : 6)) {
		acl_grant(&acl, (uint32_t)uid, dir ? 7 : 6);
		if (acl_write(path, "system.posix_acl_access", &acl) < 0)
			return -1;
	}
	if (!dir)
		return 0;
	/* New files and folders inside inherit the grant. */
	if (acl_read(path, "system.posix_acl_default", st.st_mode, &acl) < 0)
		return -1;
	if (acl_allows(&acl, (uint32_t)uid, 7))
		return 0;
	acl_grant(&acl, (uint32_t)uid, 7);
	return acl_write(path, "system.posix_acl_default", &acl);
}

static int grant_tree(const char *path, uid_t uid)
{
	DIR *d;
	struct dirent *ent;
	int ret = grant_one(path, uid);

	if (ret < 0 || !is_dir(path) || !(d = opendir(path)))
		return ret;
	while (!ret && (ent = readdir(d))) {
		char *p;
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		p = path_join(path, ent->d_name);
		ret = grant_tree(p, uid);
		free(p);
	}
	closedir(d);
	return ret;
}

/*
 * Everything already in the three folders, not only their tops: a DAG run
 * on the host before the workspace started (make demo does one) made
 * generated/DAG/ and uploadable/DATASET/ as root, and the workspace's runs
 * of the same DAG write there.  'run' calls this each time, so whatever
 * the host made since is covered too; entries already there are not
 * written again.  What the host makes later inside a granted folder
 * inherits the grant from its default ACL.
 */
int ws_grant_access(const char *data_dir, uid_t uid)
{
	static const char *const parts[] = { "flow", "generated", "uploadable" };

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		char *p = path_join(data_dir, parts[i]);
		int r = 0;
		if (is_dir(p))
			r = grant_tree(p, uid);
		if (r < 0) {
			error_errno("cannot give UID %u write access to '%s' with an ACL; give it "
				    "yourself ('chown -R %u %s') or run synthflow as a non-root user",
				    (unsigned)uid, p, (unsigned)uid, p);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}
