#ifndef SF_WS_H
#define SF_WS_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config.h"
#include "util/spawn.h"
#include "util/strbuf.h"

/*
 * Workspaces (docs/workspaces.md): a repository under run-data/src/NAME
 * with a container/ folder of hooks, built into an image and run as a
 * container.  This header covers names and folders, the hooks, the
 * generated Dockerfile and the build context with its content hash; the
 * container engine's command lines are in engine.h.
 */

/* The optional files of container/, in the order the image uses them. */
#define WS_PRE_INSTALL "pre-install.sh"
#define WS_PACKAGES "packages.txt"
#define WS_REQUIREMENTS "requirements.txt"
#define WS_POST_INSTALL "post-install.sh"
#define WS_PRE_RUN "pre-run.sh"

/* Where synthflow's own scripts and the hooks live inside the image. */
#define WS_IMAGE_DIR "/opt/synthflow"
/* Labels on images and containers. */
#define WS_LABEL_WORKSPACE "synthflow.workspace"
#define WS_LABEL_HASH "synthflow.hash"
#define WS_LABEL_DATA "synthflow.data"
#define WS_LABEL_USER "synthflow.user"
#define WS_LABEL_GPUS "synthflow.gpus"
#define WS_LABEL_WEB "synthflow.port.web"
#define WS_LABEL_JUPYTER "synthflow.port.jupyter"

struct ws {
	char *name;
	char *data_dir;      /* absolute run-data/ */
	char *src_dir;       /* run-data/src/NAME */
	char *hooks_dir;     /* run-data/src/NAME/container */
	char *build_dir;     /* run-data/build-data/NAME: Dockerfile, build.log, context/ */
	char *image;         /* synthflow/NAME:latest, lowercased as image names must be */
	char *container;     /* synthflow-NAME */
};

/*
 * Checks that NAME can be a workspace: a single folder name under src/,
 * [A-Za-z0-9_.-], not starting with '.' or '-' ('..' and '/' are refused).
 * Reports why not with error() and returns -1.
 */
int ws_check_name(const char *name);

/* Fills ws for NAME in the data folder (no file system checks). */
void ws_init(struct ws *ws, const char *data_dir, const char *name);
/*
 * ws_init() plus the checks a build or run needs: src/NAME/ and its
 * container/ folder exist.  Errors say how to fix each case.
 */
int ws_open(struct ws *ws, const char *data_dir, const char *name);
void ws_release(struct ws *ws);

/*
 * packages.txt: one package per line; '#' starts a comment; blank lines
 * are fine.  Names are checked against what apt accepts (name, optionally
 * =version, /release or :arch) so a stray shell character is an error at
 * PATH:LINE instead of a failure deep in the build.
 */
int ws_parse_packages(const char *text, const char *path, struct strvec *out);
/* 1 when requirements.txt text has any line that is not blank or a comment. */
int ws_has_requirements(const char *text);

/* Everything the generated Dockerfile depends on besides the files in the context. */
struct ws_spec {
	const char *name;
	const char *base_image;
	const char *user;
	unsigned uid, gid;
	bool pre_install, requirements, post_install, pre_run;
	const char *const *packages; /* NULL-terminated; may be empty */
	/*
	 * build --frozen (NULL otherwise): the files of context/synthflow/frozen/
	 * (lock.h, ws_lock_frozen_files()) installed instead of packages.txt and
	 * requirements.txt, then checked against the image.
	 */
	const char *frozen_apt, *frozen_pip, *frozen_packages;
};

/*
 * The UID/GID for the image's user: the host user's, except that root on
 * the host maps to 1000:1000 (the workspace user is never root).
 */
void ws_image_ids(uid_t uid, gid_t gid, unsigned *out_uid, unsigned *out_gid);

/* The Dockerfile for spec, without its final LABEL line (see ws_dockerfile_label). */
void ws_dockerfile(const struct ws_spec *spec, struct strbuf *out);
/* Appends the LABEL instruction carrying the workspace name and the content hash. */
void ws_dockerfile_label(struct strbuf *out, const char *name, const char *hash);

/* synthflow's helper scripts, copied into the context under synthflow/bin/. */
struct ws_script {
	const char *name;
	const char *text;
};
extern const struct ws_script ws_scripts[];
extern const size_t ws_nscripts;
/* The text of the helper script NAME (a BUG when there is none). */
const char *ws_script_text(const char *name);

/*
 * Prepares ws->build_dir/context/ from the hooks, the helper scripts and
 * the synthflow source tree at source_dir, writes the Dockerfile and
 * inputs.txt (one line per input: path, mode, SHA-256) and returns in hash
 * the SHA-256 of all of it plus extra (e.g. the base image id).
 */
int ws_prepare(const struct ws *ws, const struct ws_spec *spec, const char *source_dir,
	       const char *extra, char hash[65]);
/* Reads the hooks folder into spec (packages are pushed onto pkgs, which spec points into). */
int ws_read_hooks(const struct ws *ws, struct ws_spec *spec, struct strvec *pkgs);


/*
 * The synthflow source tree the engine stage compiles: $SYNTHFLOW_SOURCE,
 * else the tree this binary was built from.  NULL after error().
 */
const char *ws_source_dir(void);

/*
 * Lets UID write to run-data's flow/ (all of it), generated/ and
 * uploadable/ (the folders themselves) through POSIX ACL entries, changing
 * no owner.  Used when the host user is root and the workspace user is not.
 */
int ws_grant_access(const char *data_dir, uid_t uid);

/*
 * The first Debian archive URI (ending in /debian) in apt sources text, in
 * one-line ("deb [opts] URI ...") or deb822 ("URIs: ...") form: 1 when found.
 */
int ws_debian_mirror(const char *text, struct strbuf *out);
/* The host apt's Debian mirror, else http://deb.debian.org/debian (malloc'd). */
char *ws_host_mirror(void);

/* 1 when nothing listens on 127.0.0.1:port (we could bind it). */
int ws_port_free(int port);
/*
 * GET http://127.0.0.1:PORT/PATH with an overall timeout.  Returns the HTTP
 * status (0 when nothing answered); the body is appended to body if non-NULL.
 */
int ws_http_get(int port, const char *path, int timeout_ms, struct strbuf *body);
/*
 * Polls ws_http_get until the server answers at all (any HTTP status: it is
 * alive); 0 then, -1 after timeout_ms.
 */
int ws_http_wait(int port, const char *path, int timeout_ms);
/*
 * The engine's GET /api/v1/health: 0 when nothing answered, else the HTTP
 * status.  Any answer means a server is alive (never start a second one);
 * for one other than 200, why gets its "reason" (or the status).
 */
int ws_engine_health(int port, int timeout_ms, struct strbuf *why);

/* rm -rf below a folder we own (build contexts, debootstrap roots). */
int ws_remove_tree(const char *path);

#endif
