#ifndef SF_DOCTOR_H
#define SF_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/*
 * The checks behind `synthflow doctor`: what a workspace needs from this
 * machine (the container engine and access to it, disk space, free ports,
 * the NVIDIA driver and the CUDA version the base image needs, the NVIDIA
 * runtime or a CDI spec in the engine, the data folder).  Each finding is
 * ok, warn or fail, and every warn or fail says what to do on
 * Debian/Ubuntu.  They only look (and, with gpu_test, run nvidia-smi in a
 * throwaway container); nothing is changed.
 */
enum doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_finding {
	const char *check;      /* "engine", "cuda", ... (static) */
	enum doctor_level level;
	char *message;
	char *fix;              /* NULL when ok */
};

struct doctor_report {
	struct doctor_finding *v;
	size_t n, alloc;
};

struct doctor_opts {
	const struct config *cfg;  /* cfg->data_dir NULL: no data folder was found */
	bool gpu_test;             /* also run nvidia-smi in a container of the base image */
};

void doctor_run(const struct doctor_opts *o, struct doctor_report *r);
void doctor_report_release(struct doctor_report *r);
const char *doctor_level_name(enum doctor_level l);

#endif
