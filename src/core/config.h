#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stdint.h>

#include "util/spawn.h"

/*
 * run-data/synthflow.yaml.  Every key is in one table in config.c with its
 * type, default, range and comment; that table also writes the commented
 * synthflow.yaml of `synthflow init` (config_write_default), so a key is
 * added in one place.  The file overrides the defaults and
 * SYNTHFLOW_<SECTION>_<KEY> environment variables override the file
 * (e.g. SYNTHFLOW_WEB_PORT=9000).  An unknown section or key, or a bad
 * value, is an error at file:line:col (with "did you mean").
 *
 * Value types: strings, integers in a range, durations as in DAG files
 * ("500ms", "30s", "10m", "2h", "1d"; stored in ms), booleans
 * (true|false|yes|no|on|off), comma-separated lists ("a, b"; a YAML
 * sequence works too) and choices ("docker|podman").
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
	struct strvec flow_gpu_devices; /* empty = nvidia-smi -L; "none" alone = no GPUs */
	int64_t flow_rescan_ms; /* rescan of downloaded/ by serve */
	int flow_inotify;     /* serve also watches downloaded/ with inotify */
	int64_t flow_delivery_timeout_ms; /* callbacks and event scripts are stopped after */
	int flow_provenance;  /* record each task instance's provenance (docs/replication.md) */

	/* slurm: the Slurm executor (docs/slurm.md) */
	int64_t slurm_poll_ms;
	int64_t slurm_fs_grace_ms;
	char *slurm_partition; /* "" = the cluster's default */
	char *slurm_account;   /* "" = the user's default */

	/*
	 * schedulers: the lease every serve holds in the store (docs/engine.md,
	 * "Schedulers and leases"); config_load checks them together
	 */
	int64_t sched_heartbeat_ms; /* the lease is renewed this often */
	int64_t sched_lease_ttl_ms; /* live while the heartbeat is younger */
	int64_t sched_grace_ms;     /* another host takes its work at TTL + grace */
	int64_t sched_watchdog_ms;  /* no heartbeat this long: the watchdog kills its tries */

	/* web: */
	char *web_bind;
	int web_port;
};

/* The types a key can have; config_parse_value() checks and converts one. */
enum config_type { CFG_STRING, CFG_INT, CFG_DURATION, CFG_BOOL, CFG_LIST, CFG_CHOICE };

/*
 * Parses text as a value of type into *out (char **, int *, int64_t *,
 * int * or struct strvec *); for CHOICE, choices is "a|b|c".  Returns 0, or
 * -1 with the reason in why ("expected a duration such as 30s, got 'x'").
 * Ranges are checked by the caller.
 */
int config_parse_value(enum config_type type, const char *choices, const char *text, void *out,
		       struct strbuf *why);

/* The commented synthflow.yaml that `synthflow init` writes: every key with its default. */
void config_write_default(struct strbuf *out);

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
