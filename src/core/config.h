#ifndef SF_CONFIG_H
#define SF_CONFIG_H

/*
 * run-data/synthflow.yaml (DESIGN.md section 6).  Every field has an embedded
 * default, the file overrides it, and SYNTHFLOW_<SECTION>_<KEY> environment
 * variables override the file (e.g. SYNTHFLOW_WEB_PORT=9000).
 */
struct config {
	char *data_dir; /* absolute path of run-data/ */

	/* workspace: */
	char *ws_engine;     /* docker | podman */
	char *ws_base_image;
	char *ws_gpus;       /* auto | all | none */
	char *ws_user;

	/* ports: published on 127.0.0.1 only */
	int port_web;
	int port_jupyter;

	/* flow: */
	char *flow_store;    /* sqlite:PATH (relative to data_dir) | postgresql://... */
	char *flow_executor; /* local | slurm */
	int flow_parallelism; /* 0 = number of CPUs */

	/* web: */
	char *web_bind;
	int web_port;
};

void config_defaults(struct config *cfg);
/* Loads DATA_DIR/synthflow.yaml (missing file = defaults) and the environment. */
int config_load(struct config *cfg, const char *data_dir);
void config_release(struct config *cfg);
/* An absolute path below the data folder (malloc'd). */
char *config_path(const struct config *cfg, const char *rel);
/* flow.parallelism resolved (the CPU count when 0). */
int config_parallelism(const struct config *cfg);

/*
 * The data folder: --data DIR, else $SYNTHFLOW_DATA, else the nearest
 * run-data/ at or above the current directory.  Returns an absolute,
 * malloc'd path, or NULL after printing an error that says how to fix it.
 */
char *datadir_find(const char *opt_dir);

#endif
