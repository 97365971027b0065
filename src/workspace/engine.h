#ifndef SF_ENGINE_H
#define SF_ENGINE_H

#include <stdbool.h>

#include "core/config.h"
#include "util/spawn.h"
#include "util/strbuf.h"

/*
 * The container engine's command line: Docker's CLI, or Podman through its
 * Docker-compatible one.  The engine_*_args() functions only build argv
 * arrays (pure, unit-tested); engine_probe() and the lookups run them.
 */
enum engine_kind { ENGINE_DOCKER, ENGINE_PODMAN };

struct engine {
	enum engine_kind kind;
	const char *cli;   /* "docker" | "podman" */
	bool rootless;     /* podman run by a non-root user: --userns=keep-id applies */
};

/* From workspace.engine ("docker" | "podman"). */
void engine_init(struct engine *e, const char *name, bool rootless);

/*
 * Checks that the engine answers, filling info with the output of
 * `ENGINE info --format '{{json .}}'` (for the GPU decision).  When it does
 * not, says what to install or how to start it.
 */
int engine_probe(const struct engine *e, struct strbuf *info);
/*
 * `ENGINE info` without the advice: 0 with its JSON in info; -1 when the
 * client is not installed; 1 when it failed, the first line of its stderr
 * (possibly empty) appended to why.
 */
int engine_info(const struct engine *e, struct strbuf *info, struct strbuf *why);
/*
 * Why the engine does not answer, from its client's stderr (NULL when it
 * did not run): what is wrong, and the fix on Debian/Ubuntu (static text).
 */
void engine_trouble(const struct engine *e, const char *client_err, const char **what,
		    const char **fix);

/* How GPUs are passed to the container. */
enum engine_gpu {
	ENGINE_GPU_NONE,
	ENGINE_GPU_RUNTIME, /* --gpus all: the NVIDIA container runtime */
	ENGINE_GPU_CDI,     /* --device nvidia.com/gpu=all: a CDI spec */
};
const char *engine_gpu_name(enum engine_gpu g);

/*
 * The GPU decision for --gpus MODE (auto | all | none), from the engine's
 * info JSON and whether a CDI spec for nvidia.com/gpu exists on the host.
 * auto uses the NVIDIA runtime when the engine lists one, else a CDI spec
 * when the engine reports nvidia.com/gpu devices or the host has a spec,
 * else none, with the reason in why (shown as a warning).  all insists:
 * the runtime flag even when nothing was found, so the engine says what is
 * missing.  Returns -1 on an unknown MODE.
 */
int engine_gpu_decide(const char *mode, const char *info_json, bool host_cdi_nvidia,
		      enum engine_gpu *out, struct strbuf *why);
/* The CDI spec folders the engine reports (else /etc/cdi and /var/run/cdi). */
void engine_cdi_dirs(const char *info_json, struct strvec *dirs);
/* 1 when a spec file in one of dirs declares kind nvidia.com/gpu. */
int engine_host_has_cdi_nvidia(const struct strvec *dirs);

struct engine_build_opts {
	const char *dockerfile, *context, *image;
	bool no_cache, pull;
};
void engine_build_args(const struct engine *e, const struct engine_build_opts *o, struct strvec *av);

struct engine_run_opts {
	const char *container, *image, *workspace, *user;
	const char *data_dir;       /* host run-data/, mounted at /data */
	const char *downloaded_dir; /* host run-data/downloaded, read-only over /data/downloaded */
	int port_web, port_jupyter; /* published on 127.0.0.1 only, same number inside */
	enum engine_gpu gpu;
	const char *jupyter_token;
	const char *tz;             /* the host's zone ($TZ inside, so schedules agree), or NULL */
	const char *image_id;       /* the image's id, recorded in provenance (pack --with-image) */
};
/* `ENGINE run --detach ...`: the container starts pre-run.sh and the engine. */
void engine_run_args(const struct engine *e, const struct engine_run_opts *o, struct strvec *av);
/* `ENGINE run --rm` of image with the GPUs as gpu passes them, running nvidia-smi -L. */
void engine_gpu_test_args(const struct engine *e, enum engine_gpu gpu, const char *image,
			  struct strvec *av);

struct engine_exec_opts {
	const char *container;
	const char *user;    /* name or uid; "0" for root */
	const char *workdir; /* NULL: the image's */
	bool interactive, tty, detach;
	const char *const *cmd; /* NULL-terminated */
};
void engine_exec_args(const struct engine *e, const struct engine_exec_opts *o, struct strvec *av);
/* Runs engine_exec_args() with our terminal; returns the command's exit status (-1: not run). */
int engine_exec(const struct engine *e, const struct engine_exec_opts *o);

/* The containers of one data folder, found by label (names only, running or not). */
int engine_find_containers(const struct engine *e, const char *data_dir, struct strvec *names);

/* A container as `ENGINE inspect` shows it, reduced to what synthflow uses. */
struct engine_container {
	char *name, *image, *state, *workspace, *user, *gpus;
	char *image_id;      /* the id of the image it runs (the tag may have moved since) */
	int port_web, port_jupyter;
	char *jupyter_token; /* from the container's environment */
	bool running;
};
/* 0 and filled; 1 when there is no such container; -1 on error. */
int engine_inspect_container(const struct engine *e, const char *name, struct engine_container *c);
/* Parses inspect JSON (an array of one object) into c; pure. */
int engine_container_parse(const char *json, struct engine_container *c);
void engine_container_release(struct engine_container *c);

/* The running workspace container of data_dir: 0 and filled, 1 when none runs, -1 on error. */
int engine_running_workspace(const struct engine *e, const char *data_dir,
			     struct engine_container *c);

/* `ENGINE image inspect --format TMPL IMAGE`, trimmed (malloc'd); NULL when there is no such image. */
char *engine_image_format(const struct engine *e, const char *image, const char *tmpl);
/*
 * The value of an image label (malloc'd; "" when unset), or NULL when the
 * image does not exist.  Also its id, when id is not NULL.
 */
char *engine_image_label(const struct engine *e, const char *image, const char *label, char **id);

/* engine_init() from workspace.engine, then engine_probe(). */
int engine_open(const struct config *cfg, struct engine *e, struct strbuf *info);
/* engine_open(), then the data folder's running workspace, or an error saying how to start one. */
int engine_open_running(const struct config *cfg, struct engine *e, struct engine_container *c);
/* Shows the last lines of a container's output on stderr (after a failed start). */
void engine_logs_tail(const struct engine *e, const char *container, int lines);
/* Removes a container, running or not, ignoring errors (cleanup after a failure). */
void engine_remove(const struct engine *e, const char *container);

/*
 * `ENGINE exec` of o, with env ("K=V" strings, NULL-terminated; may be
 * NULL), its output captured; returns the command's exit status.
 */
int engine_exec_capture(const struct engine *e, const struct engine_exec_opts *o,
			const char *const *env, struct strbuf *out, struct strbuf *err);
/* `ENGINE stop`, `ENGINE rm`: the exit status, the engine's message in err when non-NULL. */
int engine_stop(const struct engine *e, const char *container, struct strbuf *err);
int engine_rm(const struct engine *e, const char *container, struct strbuf *err);
/*
 * `ENGINE save -o PATH IMAGE` (an image with its layers, as a tar), `ENGINE
 * load -i PATH` (its output, naming what it loaded, in out), `ENGINE tag
 * IMAGE TAG`, `ENGINE pull --quiet IMAGE`: the exit status, the engine's
 * message in err when non-NULL.
 */
int engine_save(const struct engine *e, const char *image, const char *path, struct strbuf *err);
int engine_load(const struct engine *e, const char *path, struct strbuf *out, struct strbuf *err);
int engine_tag(const struct engine *e, const char *image, const char *tag, struct strbuf *err);
int engine_pull(const struct engine *e, const char *image, struct strbuf *err);
/* Removes an image, ignoring errors (an old build's image still in use stays). */
void engine_rmi(const struct engine *e, const char *image);
/* A container's whole output (stdout and stderr) appended to out. */
void engine_logs(const struct engine *e, const char *container, struct strbuf *out);
/*
 * `ENGINE import` of a root file system tar read from stdin as image, with
 * labels (KEY, VALUE, KEY, VALUE, ..., NULL; may be NULL).
 */
void engine_import_args(const struct engine *e, const char *image, const char *const *labels,
			struct strvec *av);
/*
 * `ENGINE run --rm` of image as root with no network and no entry point,
 * running cmd (NULL-terminated): to read what an image holds.
 */
void engine_image_run_args(const struct engine *e, const char *image, const char *const *cmd,
			   struct strvec *av);
/* Runs engine_image_run_args(), capturing its output; returns its exit status. */
int engine_image_run_capture(const struct engine *e, const char *image, const char *const *cmd,
			     struct strbuf *out, struct strbuf *err);
/* The engine's name and server version ("docker 20.10.24"), malloc'd; NULL when it does not say. */
char *engine_version(const struct engine *e);

#endif
