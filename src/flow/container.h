#ifndef SF_CONTAINER_H
#define SF_CONTAINER_H

/*
 * A task with `container: WORKSPACE` (docs/slurm.md, "Containers") runs in
 * that workspace's image: locally through the workspace engine (docker or
 * podman, exec-container.c), on Slurm through whatever the node has, in
 * the order apptainer, singularity, docker, podman (the batch script,
 * slurm.c).  This header holds the command lines, as pure code: the
 * data folder is bound at its own path, so the paths in the expanded
 * command, environment and working folder mean the same inside.
 */

#include <stddef.h>

#include "util/spawn.h"
#include "util/strbuf.h"

/* Where the workspace image has synthflow (ws dockerfile): $SF_SYNTHFLOW inside. */
#define CTR_SYNTHFLOW "/usr/local/bin/synthflow"

struct ctr_run {
	const char *name;       /* the container's name (docker, podman) */
	const char *data_dir;   /* bound at the same path */
	const char *workdir;    /* where the command starts; bound too when outside data_dir */
	unsigned uid, gid;      /* who it runs as (docker, podman): the scheduler's user */
	int keep_id;            /* rootless podman: --userns=keep-id, so that uid is ours */
	int auto_remove;        /* --rm: the engine removes it once it ended (docker run) */
	char *const *env;       /* the try's own variables ("K=V"), passed by name */
	size_t nenv;
};

/*
 * `docker run|create` / `podman run|create` options, to the last -e: the
 * values of the variables come from the client's own environment.  The
 * caller adds the gpus (ctr_gpu_opts), the image, and the command.
 */
void ctr_run_opts(const struct ctr_run *r, struct strvec *av);
/*
 * The devices ("0,2") of a try: docker `--gpus "device=0,2"`, podman one
 * `--device nvidia.com/gpu=N` each (CDI).  Nothing when devices is NULL or "".
 */
void ctr_gpu_opts(int podman, const char *devices, struct strvec *av);
/*
 * `apptainer exec` / `singularity exec` options up to the image: a clean
 * environment (the try's variables reach it as APPTAINERENV_NAME /
 * SINGULARITYENV_NAME), the binds, the working folder, --nv with gpus.
 */
void ctr_apptainer_opts(const struct ctr_run *r, int nv, struct strvec *av);

struct ws;
/* The apptainer image file of a workspace, if one was made: build-data/NAME/image.sif. */
char *ctr_sif_path(const struct ws *ws);

/* A container name from a try key: [A-Za-z0-9_.-], starting "sf-". */
char *ctr_name(const char *key);

/*
 * The part of a Slurm batch script that runs "$sf_cmd" in "$sf_dir" inside
 * the image (a bash function, sf_container): it picks the node's runtime,
 * says which are missing when there is none, and for docker and podman
 * checks that the image is on the node and stops the container when the
 * job is signalled.  sif: the apptainer image file (used when it exists
 * on the node), image: the engine's image name.
 */
void ctr_script_text(struct strbuf *out, const char *workspace, const char *image,
		     const char *sif, const struct ctr_run *r, int gpus);

#endif
