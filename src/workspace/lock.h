#ifndef SF_LOCK_H
#define SF_LOCK_H

#include <stdbool.h>

#include "util/spawn.h"
#include "util/strbuf.h"
#include "workspace/ws.h"

/*
 * A workspace's lock, run-data/src/NAME/container/synthflow.lock
 * (docs/replication.md "The lock"): what its image was built from and what
 * it has installed, one entry per line so that a diff of two locks reads
 * as the change of the environment.  'synthflow lock' writes it from a
 * built image; 'synthflow build --frozen' builds exactly it.
 */
#define WS_LOCK "synthflow.lock"
#define WS_LOCK_FORMAT 1

/* Labels 'synthflow base' puts on its image: it has no registry digest. */
#define WS_LABEL_BASE_SUITE "synthflow.base.suite"
#define WS_LABEL_BASE_MIRROR "synthflow.base.mirror"
#define WS_LABEL_BASE_BUILT "synthflow.base.built"

struct ws_lock {
	int format;
	char *synthflow;  /* the version of synthflow that wrote it (the engine in the image) */
	char *engine;     /* the container engine and its version: "docker 20.10.24" */
	char *base;       /* the base image as configured (workspace.base_image) */
	char *base_id;    /* its image id */
	char *base_digest; /* its registry digest (NAME@sha256:...), or NULL */
	char *base_suite, *base_mirror, *base_built; /* a 'synthflow base' image; else NULL */
	struct strvec hooks;    /* "FILE SHA256" per hook file present, in image order */
	/*
	 * What the image has installed, sorted (C locale): "apt NAME VERSION",
	 * "pip LINE" (a line of pip freeze), or "pip-absent" for an image with
	 * no pip.  The lines sf-packages prints.
	 */
	struct strvec packages;
};

void ws_lock_release(struct ws_lock *l);
/* Parses the text of a lock; errors name PATH:LINE.  0 or -1. */
int ws_lock_parse(const char *text, const char *path, struct ws_lock *l);
/* Reads run-data/src/NAME/container/synthflow.lock: 0, 1 when there is none, -1 on error. */
int ws_lock_read(const struct ws *ws, struct ws_lock *l);
/* The lock's text, for workspace name. */
void ws_lock_format(const struct ws_lock *l, const char *name, struct strbuf *out);

/*
 * Of an image's RepoDigests (digests: separated by spaces or newlines), the
 * one of base's repository (workspace.base_image, with or without tag):
 * the same image pushed under other names has other digests, which the
 * lock must not name.  NULL when none is (an image never pulled from or
 * pushed to base's registry).  Malloc'd.
 */
char *ws_lock_base_digest(const char *base, const char *digests);

/* The hook files of the workspace as "FILE SHA256" lines (those present). */
int ws_lock_hooks(const struct ws *ws, struct strvec *out);
/*
 * Parses sf-packages' output into sorted lines (the lock's packages); an
 * unexpected line is an error naming it.
 */
int ws_lock_packages(const char *text, struct strvec *out);
/*
 * Compares sorted package lists: one line per difference appended to why
 * ("apt tree: 2.1.0-1 in the lock, 2.1.1-1 in the image"); returns their
 * number.
 */
size_t ws_lock_diff(const struct strvec *lock, const struct strvec *image, struct strvec *why);
/* The hook files that differ between the lock and now (changed, added, removed). */
size_t ws_lock_hooks_diff(const struct strvec *lock, const struct strvec *now, struct strvec *why);

/*
 * The files of the context of a frozen build (context/synthflow/frozen/):
 * apt.txt ("NAME=VERSION" per line), requirements.txt (the index options
 * of the workspace's requirements.txt, then the lock's pip lines; "" when
 * the lock has none) and packages.txt (the lock's packages, which the
 * image must list exactly).  requirements is the workspace's file (NULL
 * when it has none).
 */
void ws_lock_frozen_files(const struct ws_lock *l, const char *requirements, struct strbuf *apt,
			  struct strbuf *pip, struct strbuf *packages);

#endif
