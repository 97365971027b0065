/*
 * synthflow doctor's checks (see doctor.h).  The advice is for Debian and
 * Ubuntu, the systems our users set up by hand following long guides.
 */
#include "workspace/doctor.h"

#include <jansson.h>
#include <stdarg.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

#define GIB (1024ULL * 1024 * 1024)
/* A CUDA base image alone is about 10 GiB; a workspace adds its packages. */
#define DISK_WARN_GIB 20
#define DISK_FAIL_GIB 5

static void add(struct doctor_report *r, const char *check, enum doctor_level level,
		const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct doctor_report *r, const char *check, enum doctor_level level,
		const char *fix, const char *fmt, ...)
{
	struct doctor_finding *f;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(r->v, r->n + 1, r->alloc);
	f = &r->v[r->n++];
	f->check = check;
	f->level = level;
	f->message = sb_detach(&sb, NULL);
	f->fix = fix ? xstrdup(fix) : NULL;
}

const char *doctor_level_name(enum doctor_level l)
{
	return l == DOCTOR_OK ? "ok" : l == DOCTOR_WARN ? "warn" : "fail";
}

void doctor_report_release(struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].message);
		free(r->v[i].fix);
	}
	free(r->v);
	r->v = NULL;
	r->n = r->alloc = 0;
}

/* The engine answers `info`: 0 with its JSON in info, else a failed finding. */
static int check_engine(struct doctor_report *r, const struct engine *e, struct strbuf *info)
{
	struct strbuf err = STRBUF_INIT;
	const char *what, *fix;
	json_t *j;

	if (engine_info(e, info, &err) != 0) {
		engine_trouble(e, err.len ? err.buf : NULL, &what, &fix);
		add(r, "engine", DOCTOR_FAIL, fix, "%s%s%s%s", what, err.len ? " (" : "", err.buf,
		    err.len ? ")" : "");
		sb_release(&err);
		return -1;
	}
	j = json_loads(info->buf, 0, NULL);
	add(r, "engine", DOCTOR_OK, NULL, "%s %s answers%s", e->cli,
	    json_string_value(json_object_get(j, "ServerVersion")) ?: "(version unknown)",
	    geteuid() == 0 ? " (as root: the workspace user gets ACL entries on the data folder)"
			   : " and this user may use it");
	json_decref(j);
	sb_release(&err);
	return 0;
}

static void check_disk(struct doctor_report *r, const char *check, const char *what,
		       const char *path)
{
	struct statvfs vfs;
	unsigned long long free_b;
	static const char fix[] = "free some space there (docker system prune removes unused "
				  "images), or move the data folder or the engine's storage "
				  "(data-root in /etc/docker/daemon.json) to a bigger disk";

	if (!path || statvfs(path, &vfs) < 0) {
		add(r, check, DOCTOR_WARN, "check that the folder exists and is readable",
		    "cannot see the free space of %s '%s'", what, path ? path : "(unknown)");
		return;
	}
	free_b = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	if (free_b < DISK_FAIL_GIB * GIB)
		add(r, check, DOCTOR_FAIL, fix, "%.1f GiB free for %s '%s' (a CUDA image alone "
		    "needs about 10)", (double)free_b / GIB, what, path);
	else if (free_b < DISK_WARN_GIB * GIB)
		add(r, check, DOCTOR_WARN, fix, "%.1f GiB free for %s '%s' (%d or more is "
		    "comfortable)", (double)free_b / GIB, what, path, DISK_WARN_GIB);
	else
		add(r, check, DOCTOR_OK, NULL, "%.0f GiB free for %s '%s'", (double)free_b / GIB,
		    what, path);
}

static void check_port(struct doctor_report *r, const char *check, const char *key, int port)
{
	struct strbuf why = STRBUF_INIT, fix = STRBUF_INIT;
	int st;

	if (ws_port_free(port)) {
		add(r, check, DOCTOR_OK, NULL, "port %d (%s) is free on 127.0.0.1", port, key);
	} else if (!strcmp(key, "ports.web") &&
		   (st = ws_engine_health(port, 1000, &why)) && (st == 200 || st == 503)) {
		add(r, check, DOCTOR_OK, NULL, "port %d (%s) is a synthflow engine's (a workspace or "
		    "serve already runs)", port, key);
	} else {
		sb_addf(&fix, "find the program with 'sudo ss -ltnp sport = :%d' and stop it, or "
			"set %s in synthflow.yaml to a free port", port, key);
		add(r, check, DOCTOR_FAIL, fix.buf, "port %d (%s) is in use by another program: "
		    "'synthflow run' would fail", port, key);
	}
	sb_release(&why);
	sb_release(&fix);
}

/* "12.1.0" or "CUDA Version: 12.2" -> 12001, 12002; 0 when there is no number. */
static int cuda_num(const char *s)
{
	int major = 0, minor = 0;
	if (!s || sscanf(s, "%d.%d", &major, &minor) < 1)
		return 0;
	return major * 1000 + minor;
}

/* The CUDA version the driver supports, from nvidia-smi's header; 0 without a driver. */
static int check_driver(struct doctor_report *r, char **driver)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	const char *p;
	int cuda = 0, st;

	*driver = NULL;
	if (!spawn_in_path("nvidia-smi")) {
		add(r, "nvidia-driver", DOCTOR_WARN,
		    "for GPUs, install the NVIDIA driver: on Debian enable the contrib, non-free and "
		    "non-free-firmware components and 'sudo apt-get install nvidia-driver "
		    "firmware-misc-nonfree'; on Ubuntu 'sudo ubuntu-drivers install'; then reboot",
		    "no NVIDIA driver (nvidia-smi is not installed): workspaces run on the CPU");
		return 0;
	}
	st = spawn_capture((const char *const[]){ "nvidia-smi", NULL }, &out, &err);
	if (st != 0) {
		sb_rtrim(&err);
		sb_rtrim(&out);
		add(r, "nvidia-driver", DOCTOR_FAIL,
		    "the driver's kernel module is not loaded or does not match the tools: reboot "
		    "after a driver install or kernel update; 'sudo dmesg | grep -i nvidia' says why",
		    "nvidia-smi fails (exit %d): %s", st, err.len ? err.buf : out.buf);
		goto out;
	}
	if ((p = strstr(out.buf, "Driver Version:"))) {
		size_t n;
		p += strlen("Driver Version:");
		p += strspn(p, " ");
		n = strcspn(p, " |\n");
		*driver = xstrndup(p, n);
	}
	if ((p = strstr(out.buf, "CUDA Version:")))
		cuda = cuda_num(p + strlen("CUDA Version:") + strspn(p + strlen("CUDA Version:"), " "));
	if (!cuda)
		add(r, "nvidia-driver", DOCTOR_WARN, "update the driver (see its CUDA support with "
		    "nvidia-smi)", "NVIDIA driver %s found, but nvidia-smi names no CUDA version",
		    *driver ? *driver : "(version unknown)");
	else
		add(r, "nvidia-driver", DOCTOR_OK, NULL, "NVIDIA driver %s, for CUDA up to %d.%d",
		    *driver ? *driver : "(version unknown)", cuda / 1000, cuda % 1000);
out:
	sb_release(&out);
	sb_release(&err);
	return cuda;
}

/* The base image's CUDA_VERSION: 0 when it has none, -1 when the image is not here. */
static int image_cuda(const struct engine *e, const char *image, char **version)
{
	char *out;
	json_t *env;
	size_t i;
	json_t *v;
	int cuda = 0;

	*version = NULL;
	if (!(out = engine_image_format(e, image, "{{json .Config.Env}}")))
		return -1;
	env = json_loads(out, 0, NULL);
	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && !strncmp(s, "CUDA_VERSION=", 13)) {
			*version = xstrdup(s + 13);
			cuda = cuda_num(*version);
		}
	}
	json_decref(env);
	free(out);
	return cuda;
}

static void check_cuda(struct doctor_report *r, const struct engine *e, const char *image,
		       int driver_cuda)
{
	char *want = NULL;
	int need = image_cuda(e, image, &want);
	struct strbuf fix = STRBUF_INIT;

	if (need < 0) {
		add(r, "cuda", DOCTOR_WARN, "run 'synthflow build NAME' (it fetches the base image), "
		    "then 'synthflow doctor' again", "the base image '%s' is not on this machine "
		    "yet: its CUDA version is unknown", image);
	} else if (!need) {
		add(r, "cuda", DOCTOR_OK, NULL, "the base image '%s' sets no CUDA_VERSION (no CUDA "
		    "inside, or it brings its own)", image);
	} else if (need > driver_cuda) {
		sb_addf(&fix, "install a newer NVIDIA driver (Debian: 'sudo apt-get install -t "
			"bookworm-backports nvidia-driver'; Ubuntu: 'sudo ubuntu-drivers install'), or "
			"set workspace.base_image to an image for CUDA %d.%d or older",
			driver_cuda / 1000, driver_cuda % 1000);
		add(r, "cuda", DOCTOR_FAIL, fix.buf, "the base image '%s' needs CUDA %s, but the "
		    "driver supports CUDA up to %d.%d", image, want, driver_cuda / 1000,
		    driver_cuda % 1000);
	} else {
		add(r, "cuda", DOCTOR_OK, NULL, "the base image '%s' needs CUDA %s; the driver "
		    "supports up to %d.%d", image, want, driver_cuda / 1000, driver_cuda % 1000);
	}
	free(want);
	sb_release(&fix);
}

/* How the engine passes GPUs (ENGINE_GPU_NONE: it cannot). */
static enum engine_gpu check_gpu_runtime(struct doctor_report *r, const struct strbuf *info)
{
	struct strvec dirs = STRVEC_INIT;
	struct strbuf why = STRBUF_INIT;
	enum engine_gpu gpu = ENGINE_GPU_NONE;

	engine_cdi_dirs(info->buf, &dirs);
	engine_gpu_decide("auto", info->buf, engine_host_has_cdi_nvidia(&dirs), &gpu, &why);
	if (gpu == ENGINE_GPU_RUNTIME)
		add(r, "gpu-runtime", DOCTOR_OK, NULL, "the engine has the NVIDIA runtime "
		    "(containers get --gpus all)");
	else if (gpu == ENGINE_GPU_CDI)
		add(r, "gpu-runtime", DOCTOR_OK, NULL, "a CDI spec declares nvidia.com/gpu "
		    "(containers get --device nvidia.com/gpu=all)");
	else
		add(r, "gpu-runtime", DOCTOR_FAIL,
		    "install the NVIDIA Container Toolkit (nvidia-container-toolkit, from NVIDIA's apt "
		    "repository), then 'sudo nvidia-ctk runtime configure --runtime=docker' and 'sudo "
		    "systemctl restart docker'",
		    "the driver is there but the engine cannot give containers the GPUs: no NVIDIA "
		    "runtime in 'docker info' and no CDI spec for nvidia.com/gpu");
	strvec_clear(&dirs);
	sb_release(&why);
	return gpu;
}

static void check_gpu_test(struct doctor_report *r, const struct engine *e, enum engine_gpu gpu,
			   const char *image)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT;
	int st;

	engine_gpu_test_args(e, gpu, image, &av);
	st = spawn_capture(strvec_argv(&av), &out, &out);
	sb_rtrim(&out);
	if (st == 0)
		add(r, "gpu-test", DOCTOR_OK, NULL, "nvidia-smi in a container of '%s': %s", image,
		    out.buf);
	else
		add(r, "gpu-test", DOCTOR_FAIL,
		    "check the findings above (driver, toolkit); 'sudo nvidia-ctk runtime configure "
		    "--runtime=docker' and restarting the engine fixes most of the rest",
		    "nvidia-smi in a container of '%s' failed (exit %d): %s", image, st, out.buf);
	strvec_clear(&av);
	sb_release(&out);
}

static void check_data(struct doctor_report *r, const struct config *cfg)
{
	static const char *const dirs[] = { "flow", "downloaded", "uploadable", "generated", "src" };
	static const char *const writable[] = { "flow", "uploadable", "generated" };
	struct strbuf missing = STRBUF_INIT, fix = STRBUF_INIT;

	if (!cfg->data_dir) {
		add(r, "data-folder", DOCTOR_WARN, "'synthflow init' makes ./run-data (or point to "
		    "yours with --data DIR or SYNTHFLOW_DATA)", "no data folder here (no run-data/ "
		    "at or above this folder, no --data, no SYNTHFLOW_DATA)");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = path_join(cfg->data_dir, dirs[i]);
		if (!is_dir(p))
			sb_addf(&missing, "%s%s/", missing.len ? ", " : "", dirs[i]);
		free(p);
	}
	if (missing.len) {
		sb_addf(&fix, "'synthflow init %s' adds what is missing (it overwrites nothing)",
			cfg->data_dir);
		add(r, "data-folder", DOCTOR_FAIL, fix.buf, "the data folder '%s' lacks %s",
		    cfg->data_dir, missing.buf);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(writable); i++) {
		char *p = path_join(cfg->data_dir, writable[i]);
		int ok = access(p, W_OK) == 0;
		if (!ok) {
			sb_addf(&fix, "'sudo chown -R $(id -un) %s' (the folder is someone else's)", p);
			add(r, "data-folder", DOCTOR_FAIL, fix.buf, "'%s' is not writable by this user",
			    p);
		}
		free(p);
		if (!ok)
			goto out;
	}
	add(r, "data-folder", DOCTOR_OK, NULL, "the data folder '%s' has its layout and is "
	    "writable", cfg->data_dir);
out:
	sb_release(&missing);
	sb_release(&fix);
}

void doctor_run(const struct doctor_opts *o, struct doctor_report *r)
{
	const struct config *cfg = o->cfg;
	struct strbuf info = STRBUF_INIT;
	struct engine e;
	char *root = NULL, *driver = NULL;
	int engine_ok, driver_cuda;
	json_t *j;

	engine_init(&e, cfg->ws_engine, geteuid() != 0);
	engine_ok = check_engine(r, &e, &info) == 0;
	if (engine_ok && (j = json_loads(info.buf, 0, NULL))) {
		const char *d = json_string_value(json_object_get(j, "DockerRootDir"));
		root = d ? xstrdup(d) : NULL;
		json_decref(j);
	}
	check_data(r, cfg);
	if (cfg->data_dir)
		check_disk(r, "disk-data", "the data folder", cfg->data_dir);
	if (engine_ok)
		check_disk(r, "disk-engine", "the engine's storage", root);
	check_port(r, "port-web", "ports.web", cfg->port_web);
	check_port(r, "port-jupyter", "ports.jupyter", cfg->port_jupyter);
	driver_cuda = check_driver(r, &driver);
	if (driver_cuda && engine_ok) {
		enum engine_gpu gpu;
		check_cuda(r, &e, cfg->ws_base_image, driver_cuda);
		gpu = check_gpu_runtime(r, &info);
		if (o->gpu_test && gpu != ENGINE_GPU_NONE)
			check_gpu_test(r, &e, gpu, cfg->ws_base_image);
	} else if (o->gpu_test) {
		add(r, "gpu-test", DOCTOR_WARN, "fix the findings above first",
		    "--gpu-test not run: %s", engine_ok ? "no working NVIDIA driver" :
		    "the engine does not answer");
	}
	free(root);
	free(driver);
	sb_release(&info);
}
