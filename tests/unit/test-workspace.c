/*
 * Unit tests for src/workspace (and util/spawn): names, packages.txt, the
 * generated Dockerfile, the engine's argument lists including the GPU
 * decision for each `docker info` answer, apt mirrors, inspect parsing,
 * the build context hash, ACL grants and the loopback probes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "workspace/engine.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

static void names(void **state)
{
	error_set_quiet(1);
	assert_int_equal(ws_check_name("clipper"), 0);
	assert_int_equal(ws_check_name("Cookie_TTS-2.0"), 0);
	assert_int_equal(ws_check_name(""), -1);
	assert_int_equal(ws_check_name("a/b"), -1);
	assert_int_equal(ws_check_name(".."), -1);
	assert_int_equal(ws_check_name("../x"), -1);
	assert_int_equal(ws_check_name(".hidden"), -1);
	assert_int_equal(ws_check_name("-rf"), -1);
	assert_int_equal(ws_check_name("template"), -1);
	assert_int_equal(ws_check_name("a b"), -1);
	assert_int_equal(ws_check_name("a;b"), -1);
	error_set_quiet(0);
}

static void ws_paths(void **state)
{
	struct ws ws;
	ws_init(&ws, "/d/run-data", "CookieTTS");
	assert_string_equal(ws.src_dir, "/d/run-data/src/CookieTTS");
	assert_string_equal(ws.hooks_dir, "/d/run-data/src/CookieTTS/container");
	assert_string_equal(ws.build_dir, "/d/run-data/build-data/CookieTTS");
	assert_string_equal(ws.image, "synthflow/cookietts:latest");
	assert_string_equal(ws.container, "synthflow-CookieTTS");
	ws_release(&ws);
}

static void packages(void **state)
{
	struct strvec sv = STRVEC_INIT;
	assert_int_equal(ws_parse_packages("# comment\n\nsox  # audio\nffmpeg libsndfile1\n"
					   "python3=3.11.2-1 libc6:amd64 foo/bookworm-backports\n",
					   "p.txt", &sv),
			 0);
	assert_int_equal(sv.nr, 6);
	assert_string_equal(sv.v[0], "sox");
	assert_string_equal(sv.v[1], "ffmpeg");
	assert_string_equal(sv.v[2], "libsndfile1");
	assert_string_equal(sv.v[3], "python3=3.11.2-1");
	assert_string_equal(sv.v[5], "foo/bookworm-backports");
	strvec_clear(&sv);

	error_set_quiet(1);
	assert_int_equal(ws_parse_packages("sox\nrm;-rf\n", "p.txt", &sv), -1);
	assert_int_equal(ws_parse_packages("$(reboot)\n", "p.txt", &sv), -1);
	error_set_quiet(0);
	assert_int_equal(sv.nr, 1); /* the good line is kept, the bad ones reported */
	strvec_clear(&sv);
	assert_int_equal(ws_parse_packages("", "p.txt", &sv), 0);
	assert_int_equal(sv.nr, 0);
	strvec_clear(&sv);
}

static void requirements(void **state)
{
	assert_int_equal(ws_has_requirements("# only comments\n\n   \n# more\n"), 0);
	assert_int_equal(ws_has_requirements(""), 0);
	assert_int_equal(ws_has_requirements("# x\nnumpy==1.26\n"), 1);
	assert_int_equal(ws_has_requirements("  librosa"), 1);
}

static void image_ids(void **state)
{
	unsigned u, g;
	ws_image_ids(0, 0, &u, &g);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1000);
	ws_image_ids(1234, 100, &u, &g);
	assert_int_equal(u, 1234);
	assert_int_equal(g, 100);
	ws_image_ids(1234, 0, &u, &g);
	assert_int_equal(g, 1234);
}

/* Positions of needles in order; fails when one is missing or out of order. */
static void assert_in_order(const char *hay, const char *const *needles)
{
	const char *at = hay;
	for (; *needles; needles++) {
		const char *p = strstr(at, *needles);
		if (!p)
			fail_msg("'%s' missing or out of order in:\n%s", *needles, hay);
		at = p + strlen(*needles);
	}
}

static void dockerfile_layer_order(void **state)
{
	const char *pkgs[] = { "sox", "ffmpeg", NULL };
	struct ws_spec spec = { .name = "clipper", .base_image = "synthflow-base:bookworm",
				.user = "anon", .uid = 1000, .gid = 1000, .pre_install = true,
				.requirements = true, .post_install = true, .pre_run = true,
				.packages = pkgs };
	struct strbuf df = STRBUF_INIT;

	ws_dockerfile(&spec, &df);
	ws_dockerfile_label(&df, "clipper", "abc123");
	assert_in_order(df.buf, (const char *const[]){
		"FROM synthflow-base:bookworm AS engine",
		"RUN [\"/opt/synthflow/bin/sf-engine-deps\"]",
		"COPY synthflow/src/ /usr/src/synthflow/",
		"RUN [\"/opt/synthflow/bin/sf-engine-build\"",
		"\nFROM synthflow-base:bookworm\n",
		"COPY hooks/pre-install.sh",
		"RUN [\"/opt/synthflow/bin/sf-hook\", \"pre-install.sh\"]",
		"RUN [\"/opt/synthflow/bin/sf-apt\", \"sox\", \"ffmpeg\"]",
		"COPY hooks/requirements.txt",
		"RUN [\"/opt/synthflow/bin/sf-pip\"]",
		"COPY --from=engine /opt/synthflow/engine/",
		"RUN [\"/opt/synthflow/bin/sf-engine-install\"]",
		"COPY hooks/post-install.sh",
		"RUN [\"/opt/synthflow/bin/sf-hook\", \"post-install.sh\"]",
		"RUN [\"/opt/synthflow/bin/sf-adduser\", \"anon\", \"1000\", \"1000\"]",
		"ENV SYNTHFLOW_DATA=/data",
		"USER 1000:1000",
		"WORKDIR /data/src/clipper",
		"LABEL synthflow.workspace=\"clipper\" synthflow.hash=\"abc123\"",
		NULL });
	/* Exactly one apt-get update in the packages layer: inside sf-apt, not the Dockerfile. */
	assert_null(strstr(df.buf, "apt-get"));
	assert_null(strstr(df.buf, "USER 0"));
	sb_release(&df);
}

static void dockerfile_missing_hooks(void **state)
{
	const char *none[] = { NULL };
	struct ws_spec spec = { .name = "w", .base_image = "debian:12", .user = "anon",
				.uid = 1500, .gid = 1500, .packages = none };
	struct strbuf df = STRBUF_INIT;

	ws_dockerfile(&spec, &df);
	assert_null(strstr(df.buf, "COPY hooks/"));
	assert_null(strstr(df.buf, "sf-hook"));
	assert_null(strstr(df.buf, "sf-apt"));
	assert_null(strstr(df.buf, "sf-pip"));
	assert_non_null(strstr(df.buf, "# pre-install.sh: none"));
	assert_non_null(strstr(df.buf, "# packages.txt: no packages"));
	assert_non_null(strstr(df.buf, "USER 1500:1500"));
	sb_release(&df);
}

static void dockerfile_quotes_exec_form(void **state)
{
	const char *pkgs[] = { "a\"b", NULL };
	struct ws_spec spec = { .name = "w", .base_image = "b", .user = "anon", .uid = 1, .gid = 1,
				.packages = pkgs };
	struct strbuf df = STRBUF_INIT;
	ws_dockerfile(&spec, &df);
	assert_non_null(strstr(df.buf, "\"a\\\"b\""));
	sb_release(&df);
}

/* argv as one string with '|' between elements, for exact comparisons. */
static char *joined(struct strvec *av)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < av->nr; i++) {
		if (i)
			sb_addch(&sb, '|');
		sb_adds(&sb, av->v[i]);
	}
	return sb_detach(&sb, NULL);
}

static const char lock_text[] =
	"# a comment\n"
	"format 1\n"
	"synthflow 0.1.0\n"
	"engine docker 20.10.24\n"
	"base synthflow-base:bookworm\n"
	"base-id sha256:9e54\n"
	"base-suite bookworm\n"
	"base-mirror http://deb.debian.org/debian\n"
	"base-built 2026-11-30T08:53:58Z\n"
	"hook packages.txt 3b2a000000000000000000000000000000000000000000000000000000000001\n"
	"pip sfdemo==1.0\n"
	"apt tree 2.1.0-1\n"
	"apt libc6 2.36-9+deb12u4\n";

static void lock_parse_format(void **state)
{
	struct ws_lock l, again;
	struct strbuf out = STRBUF_INIT;

	assert_int_equal(ws_lock_parse(lock_text, "l", &l), 0);
	assert_string_equal(l.base_id, "sha256:9e54");
	assert_string_equal(l.base_suite, "bookworm");
	assert_null(l.base_digest);
	assert_int_equal(l.hooks.nr, 1);
	/* sorted whatever order the file had: what the image's list is compared with */
	assert_int_equal(l.packages.nr, 3);
	assert_string_equal(l.packages.v[0], "apt libc6 2.36-9+deb12u4");
	assert_string_equal(l.packages.v[2], "pip sfdemo==1.0");
	ws_lock_format(&l, "w", &out);
	assert_int_equal(ws_lock_parse(out.buf, "again", &again), 0);
	assert_string_equal(again.base_mirror, l.base_mirror);
	assert_int_equal(again.packages.nr, 3);
	assert_string_equal(again.hooks.v[0], l.hooks.v[0]);
	ws_lock_release(&again);
	ws_lock_release(&l);
	sb_release(&out);
}

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void lock_base_digest(void **state)
{
	/* the same image pushed under several names: the lock names the configured one's */
	const char *digests = "127.0.0.1:5000/aaa@sha256:" H64 " 127.0.0.1:5000/base@sha256:" H64
			      " debian@sha256:" H64 " ";
	struct {
		const char *base, *want;
	} cases[] = {
		{ "127.0.0.1:5000/base:bookworm", "127.0.0.1:5000/base@sha256:" H64 },
		{ "127.0.0.1:5000/base", "127.0.0.1:5000/base@sha256:" H64 },
		{ "debian:bookworm", "debian@sha256:" H64 },
		{ "docker.io/library/debian:12", "debian@sha256:" H64 },
		{ "debian@sha256:" H64, "debian@sha256:" H64 },
		{ "127.0.0.1:5000/other:x", NULL },
		{ "synthflow-base:bookworm", NULL },
		{ "127.0.0.1:5000/aaa/sub:1", NULL },
	};
	char *got;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		got = ws_lock_base_digest(cases[i].base, digests);
		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else
			assert_null(got);
		free(got);
	}
	assert_null(ws_lock_base_digest("debian:12", ""));
	assert_null(ws_lock_base_digest("debian:12", "debian@sha256:short "));
}

static void lock_parse_errors(void **state)
{
	static const char *const bad[] = {
		"format 1\nbase-id x\napt tree\n",              /* no version */
		"format 1\nbase-id x\napt tree 1 2\n",          /* two versions */
		"format 1\nbase-id x\napt tr;ee 1\n",           /* not a package name */
		"format 1\nbase-id x\nwhat 1\n",                /* unknown entry */
		"format 1\nbase-id x\nbase-id y\n",             /* twice */
		"format 1\nbase-id x\nhook run.sh 00\n",        /* not a hook, no sha256 */
		"format 2\nbase-id x\n",                        /* newer */
		"base-id x\n",                                  /* no format */
		"format 1\napt tree 1\n",                       /* no base */
		"format 1\nbase-digest debian:12\n",            /* a tag, not a digest */
		"format 1\nbase-digest d@sha256:ab\n",          /* a short digest */
		"format 1\nbase-digest d AS x@sha256:" H64 "\n", /* words for FROM */
	};
	struct ws_lock l;
	error_set_quiet(1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(ws_lock_parse(bad[i], "l", &l), -1);
		assert_null(l.base_id); /* nothing half-filled */
	}
	error_set_quiet(0);
}

static void lock_diffs(void **state)
{
	struct strvec lock = STRVEC_INIT, image = STRVEC_INIT, why = STRVEC_INIT;
	struct strvec h1 = STRVEC_INIT, h2 = STRVEC_INIT;

	assert_int_equal(ws_lock_packages("apt tree 2.1.0-1\napt zsh 5.9\npip a==1\npip b==2\n",
					  &lock), 0);
	assert_int_equal(ws_lock_packages("apt tree 2.1.1-1\npip a==1\npip c==3\npip b==2\n",
					  &image), 0);
	assert_int_equal(ws_lock_diff(&lock, &image, &why), 3);
	assert_string_equal(why.v[0], "apt tree: 2.1.0-1 in the lock, 2.1.1-1 in the image");
	assert_string_equal(why.v[1], "apt zsh 5.9: in the lock, not in the image");
	assert_string_equal(why.v[2], "pip c==3: in the image, not in the lock");
	strvec_clear(&why);
	assert_int_equal(ws_lock_diff(&lock, &lock, &why), 0);
	error_set_quiet(1);
	assert_int_equal(ws_lock_packages("apt tree 1\nWARNING: something\n", &why), -1);
	error_set_quiet(0);
	strvec_clear(&why);

	strvec_push(&h1, "packages.txt aa");
	strvec_push(&h1, "post-install.sh bb");
	strvec_push(&h2, "packages.txt aa");
	strvec_push(&h2, "post-install.sh cc");
	strvec_push(&h2, "pre-run.sh dd");
	assert_int_equal(ws_lock_hooks_diff(&h1, &h2, &why), 2);
	assert_string_equal(why.v[0], "post-install.sh changed");
	assert_string_equal(why.v[1], "pre-run.sh added");
	strvec_clear(&lock);
	strvec_clear(&image);
	strvec_clear(&why);
	strvec_clear(&h1);
	strvec_clear(&h2);
}

static void lock_frozen_files(void **state)
{
	struct ws_lock l;
	struct strbuf apt = STRBUF_INIT, pip = STRBUF_INIT, pk = STRBUF_INIT;

	assert_int_equal(ws_lock_parse(lock_text, "l", &l), 0);
	ws_lock_frozen_files(&l, "# wheels\n--no-index\n  --find-links /opt/w\nsfdemo\n-r other.txt\n",
			     &apt, &pip, &pk);
	assert_string_equal(apt.buf, "libc6=2.36-9+deb12u4\ntree=2.1.0-1\n");
	assert_string_equal(pip.buf, "--no-index\n--find-links /opt/w\nsfdemo==1.0\n");
	assert_string_equal(pk.buf, "apt libc6 2.36-9+deb12u4\napt tree 2.1.0-1\npip sfdemo==1.0\n");
	ws_lock_release(&l);
	sb_release(&apt);
	sb_release(&pip);
	sb_release(&pk);
}

static void dockerfile_frozen(void **state)
{
	const char *pkgs[] = { "sox", NULL };
	struct ws_spec spec = { .name = "w", .base_image = "sha256:9e54", .user = "anon",
				.uid = 1000, .gid = 1000, .requirements = true, .post_install = true,
				.packages = pkgs, .frozen_apt = "sox=1\n", .frozen_pip = "",
				.frozen_packages = "apt sox 1\npip-absent\n" };
	struct strbuf df = STRBUF_INIT;

	ws_dockerfile(&spec, &df);
	assert_in_order(df.buf, (const char *const[]){
		"FROM sha256:9e54 AS engine",
		"\nFROM sha256:9e54\n",
		"COPY synthflow/frozen/apt.txt /opt/synthflow/frozen/",
		"RUN [\"/opt/synthflow/bin/sf-apt-frozen\", \"/opt/synthflow/frozen/apt.txt\"]",
		"RUN [\"/opt/synthflow/bin/sf-engine-install\"]",
		"RUN [\"/opt/synthflow/bin/sf-hook\", \"post-install.sh\"]",
		"RUN [\"/opt/synthflow/bin/sf-adduser\"",
		"COPY synthflow/frozen/packages.txt /opt/synthflow/frozen/",
		"RUN [\"/opt/synthflow/bin/sf-frozen-check\", \"/opt/synthflow/frozen/packages.txt\"]",
		"USER 1000:1000",
		NULL });
	/* the lock's packages instead of the hooks': no packages.txt list, no pip without pins */
	assert_null(strstr(df.buf, "sf-apt\""));
	assert_null(strstr(df.buf, "sf-pip"));
	sb_release(&df);
}

static void import_and_image_run_args(void **state)
{
	struct engine e;
	struct strvec av = STRVEC_INIT;
	char *s;

	engine_init(&e, "docker", false);
	engine_import_args(&e, "synthflow-base:bookworm",
			   (const char *const[]){ "a.b", "x\"y", NULL }, &av);
	s = joined(&av);
	assert_string_equal(s, "docker|import|--change|ENV LANG=C.UTF-8|--change|CMD [\"/bin/bash\"]|"
			       "--change|LABEL a.b=\"x\\\"y\"|-|synthflow-base:bookworm");
	free(s);
	strvec_clear(&av);
	engine_image_run_args(&e, "sha256:1", (const char *const[]){ "sh", "-c", "x", NULL }, &av);
	s = joined(&av);
	assert_string_equal(s, "docker|run|--rm|--network|none|--user|0:0|--entrypoint||sha256:1|sh|-c|x");
	free(s);
	strvec_clear(&av);
}

static void build_args(void **state)
{
	struct engine e;
	struct strvec av = STRVEC_INIT;
	struct engine_build_opts o = { "/b/Dockerfile", "/b/context", "synthflow/w:latest", false,
				       false };
	char *s;

	engine_init(&e, "docker", false);
	engine_build_args(&e, &o, &av);
	s = joined(&av);
	assert_string_equal(s, "docker|build|--file|/b/Dockerfile|--tag|synthflow/w:latest|"
			       "--force-rm|/b/context");
	free(s);
	strvec_clear(&av);
	o.no_cache = o.pull = true;
	engine_init(&e, "podman", true);
	engine_build_args(&e, &o, &av);
	s = joined(&av);
	assert_string_equal(s, "podman|build|--file|/b/Dockerfile|--tag|synthflow/w:latest|"
			       "--force-rm|--no-cache|--pull|/b/context");
	free(s);
	strvec_clear(&av);
}

static char *run_args(const char *engine, bool rootless, enum engine_gpu gpu)
{
	struct engine e;
	struct strvec av = STRVEC_INIT;
	struct engine_run_opts o = { "synthflow-w", "synthflow/w:latest", "w", "anon", "/d/run-data",
				     "/d/run-data/downloaded", 8881, 8888, gpu, "tok", "Europe/Berlin",
				     "sha256:0123" };
	char *s;
	engine_init(&e, engine, rootless);
	engine_run_args(&e, &o, &av);
	s = joined(&av);
	strvec_clear(&av);
	return s;
}

static void run_args_docker(void **state)
{
	char *s = run_args("docker", false, ENGINE_GPU_NONE);
	assert_in_order(s, (const char *const[]){
		"docker|run|--detach|--init|--name|synthflow-w|--hostname|synthflow",
		"--label=synthflow.workspace=w", "--label=synthflow.data=/d/run-data",
		"--user|0:0",
		"--mount|type=bind,source=/d/run-data,target=/data|",
		"--mount|type=bind,source=/d/run-data/downloaded,target=/data/downloaded,readonly|",
		"--publish|127.0.0.1:8881:8881|--publish|127.0.0.1:8888:8888",
		"--env|JUPYTER_TOKEN=tok|--env|SYNTHFLOW_WORKSPACE=w|--env|SYNTHFLOW_IMAGE=synthflow/w:latest",
		"--env|SYNTHFLOW_IMAGE_ID=sha256:0123|--env|TZ=Europe/Berlin",
		"|synthflow/w:latest|/opt/synthflow/bin/sf-start|8881", NULL });
	assert_null(strstr(s, "--gpus"));
	assert_null(strstr(s, "--device"));
	assert_null(strstr(s, "0.0.0.0"));
	assert_null(strstr(s, "--userns"));
	free(s);
}

static void run_args_gpus(void **state)
{
	char *s = run_args("docker", false, ENGINE_GPU_RUNTIME);
	assert_non_null(strstr(s, "|--gpus|all|synthflow/w:latest|"));
	assert_non_null(strstr(s, "--label=synthflow.gpus=all"));
	free(s);
	s = run_args("docker", false, ENGINE_GPU_CDI);
	assert_non_null(strstr(s, "|--device|nvidia.com/gpu=all|synthflow/w:latest|"));
	assert_null(strstr(s, "--gpus"));
	free(s);
}

static void run_args_podman(void **state)
{
	char *s = run_args("podman", true, ENGINE_GPU_NONE);
	assert_in_order(s, (const char *const[]){
		"podman|run|", "target=/data/downloaded,ro=true|",
		"|--userns=keep-id|--security-opt|label=disable|synthflow/w:latest|", NULL });
	free(s);
	/* Rootful podman has no host user to keep: the image's UID is used as is. */
	s = run_args("podman", false, ENGINE_GPU_CDI);
	assert_null(strstr(s, "--userns"));
	assert_non_null(strstr(s, "|--device|nvidia.com/gpu=all|--security-opt|label=disable|"));
	free(s);
}

static void exec_args(void **state)
{
	struct engine e;
	struct strvec av = STRVEC_INIT;
	const char *cmd[] = { "id", "-u", NULL };
	struct engine_exec_opts o = { "synthflow-w", "anon", "/data/src/w", true, false, false, cmd };
	char *s;

	engine_init(&e, "docker", false);
	engine_exec_args(&e, &o, &av);
	s = joined(&av);
	assert_string_equal(s, "docker|exec|--interactive|--user|anon|--workdir|/data/src/w|"
			       "synthflow-w|id|-u");
	free(s);
	strvec_clear(&av);
	o.tty = o.detach = true;
	o.interactive = false;
	o.workdir = NULL;
	o.user = "0";
	engine_exec_args(&e, &o, &av);
	s = joined(&av);
	assert_string_equal(s, "docker|exec|--detach|--tty|--user|0|synthflow-w|id|-u");
	free(s);
	strvec_clear(&av);
}

static const char info_nvidia[] =
	"{\"Runtimes\":{\"nvidia\":{\"path\":\"nvidia-container-runtime\"},\"runc\":{\"path\":\"runc\"}},"
	"\"CDISpecDirs\":[\"/etc/cdi\",\"/var/run/cdi\"]}";
static const char info_cdi[] =
	"{\"Runtimes\":{\"runc\":{\"path\":\"runc\"}},\"CDISpecDirs\":[\"/etc/cdi\"],"
	"\"DiscoveredDevices\":[{\"Source\":\"cdi\",\"ID\":\"nvidia.com/gpu=0\"}]}";
static const char info_plain[] =
	"{\"Runtimes\":{\"io.containerd.runc.v2\":{\"path\":\"runc\"},\"runc\":{\"path\":\"runc\"}},"
	"\"CDISpecDirs\":null}";

static enum engine_gpu decide(const char *mode, const char *info, bool host_cdi, struct strbuf *why)
{
	enum engine_gpu g = (enum engine_gpu)-1;
	assert_int_equal(engine_gpu_decide(mode, info, host_cdi, &g, why), 0);
	return g;
}

static void gpu_decisions(void **state)
{
	struct strbuf why = STRBUF_INIT;

	/* auto, for each answer of docker info */
	assert_int_equal(decide("auto", info_nvidia, false, &why), ENGINE_GPU_RUNTIME);
	assert_int_equal(decide("auto", info_cdi, false, &why), ENGINE_GPU_CDI);
	assert_int_equal(decide("auto", info_plain, true, &why), ENGINE_GPU_CDI);
	assert_int_equal(why.len, 0);
	assert_int_equal(decide("auto", info_plain, false, &why), ENGINE_GPU_NONE);
	assert_non_null(strstr(why.buf, "no NVIDIA runtime"));
	sb_reset(&why);
	/* a broken or missing answer counts as no GPUs, not as an error */
	assert_int_equal(decide("auto", "not json", false, &why), ENGINE_GPU_NONE);
	assert_int_equal(decide("auto", NULL, false, &why), ENGINE_GPU_NONE);
	sb_reset(&why);
	/* the runtime wins over CDI when both are there */
	assert_int_equal(decide("all", info_nvidia, true, &why), ENGINE_GPU_RUNTIME);
	/* all insists even without either: the engine then says what is missing */
	assert_int_equal(decide("all", info_plain, false, &why), ENGINE_GPU_RUNTIME);
	assert_int_equal(decide("none", info_nvidia, true, &why), ENGINE_GPU_NONE);
	assert_int_equal(why.len, 0);
	error_set_quiet(1);
	{
		enum engine_gpu g;
		assert_int_equal(engine_gpu_decide("some", info_plain, false, &g, &why), -1);
	}
	error_set_quiet(0);
	sb_release(&why);
}

static void cdi_dirs(void **state)
{
	struct strvec d = STRVEC_INIT;
	char tmpl[] = "/tmp/sf-cdi.XXXXXX", *dir = mkdtemp(tmpl), *spec;

	engine_cdi_dirs(info_cdi, &d);
	assert_int_equal(d.nr, 1);
	assert_string_equal(d.v[0], "/etc/cdi");
	strvec_clear(&d);
	engine_cdi_dirs(info_plain, &d);
	assert_int_equal(d.nr, 2); /* the defaults */
	strvec_clear(&d);

	assert_non_null(dir);
	strvec_push(&d, dir);
	assert_int_equal(engine_host_has_cdi_nvidia(&d), 0);
	spec = path_join(dir, "nvidia.yaml");
	assert_int_equal(write_file_atomic(spec, "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n", 39,
					   0644), 0);
	assert_int_equal(engine_host_has_cdi_nvidia(&d), 1);
	unlink(spec);
	rmdir(dir);
	free(spec);
	strvec_clear(&d);
}

static void mirrors(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(ws_debian_mirror("# deb http://old/debian bookworm main\n"
					  "deb [signed-by=/k.gpg arch=amd64] http://mirror.example/debian/ "
					  "bookworm main\n",
					  &sb),
			 1);
	assert_string_equal(sb.buf, "http://mirror.example/debian/");
	sb_reset(&sb);
	assert_int_equal(ws_debian_mirror("Types: deb\nURIs: http://deb.debian.org/debian\n"
					  "Suites: bookworm\n\nTypes: deb\n"
					  "URIs: http://deb.debian.org/debian-security\n",
					  &sb),
			 1);
	assert_string_equal(sb.buf, "http://deb.debian.org/debian");
	sb_reset(&sb);
	/* security-only, Ubuntu and other repositories are not a Debian archive */
	assert_int_equal(ws_debian_mirror("URIs: http://deb.debian.org/debian-security\n"
					  "deb http://archive.ubuntu.com/ubuntu jammy main\n"
					  "deb https://packages.cloud.google.com/apt cloud-sdk main\n",
					  &sb),
			 0);
	sb_release(&sb);
}

static void inspect_parse(void **state)
{
	static const char json[] =
		"[{\"Name\":\"/synthflow-w\",\"State\":{\"Status\":\"running\",\"Running\":true},"
		"\"Config\":{\"Image\":\"synthflow/w:latest\",\"Env\":[\"PATH=/bin\","
		"\"JUPYTER_TOKEN=abc\"],\"Labels\":{\"synthflow.workspace\":\"w\","
		"\"synthflow.user\":\"anon\",\"synthflow.gpus\":\"none\","
		"\"synthflow.port.web\":\"9881\",\"synthflow.port.jupyter\":\"9888\"}}}]";
	struct engine_container c;

	assert_int_equal(engine_container_parse(json, &c), 0);
	assert_string_equal(c.name, "synthflow-w");
	assert_string_equal(c.state, "running");
	assert_true(c.running);
	assert_string_equal(c.workspace, "w");
	assert_string_equal(c.user, "anon");
	assert_string_equal(c.jupyter_token, "abc");
	assert_int_equal(c.port_web, 9881);
	assert_int_equal(c.port_jupyter, 9888);
	engine_container_release(&c);
	error_set_quiet(1);
	assert_int_equal(engine_container_parse("[]", &c), -1);
	error_set_quiet(0);
	engine_container_release(&c);
}

static void write_hook(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = path_join(dir, name);
	assert_int_equal(write_file_atomic(p, text, strlen(text), mode), 0);
	chmod(p, mode);
	free(p);
}

static void context_hash(void **state)
{
	char tmpl[] = "/tmp/sf-ws.XXXXXX", *data = mkdtemp(tmpl), *hooks, *ctx_hook;
	const char *src = ws_source_dir();
	struct ws ws;
	struct ws_spec spec = { 0 };
	struct strvec pkgs = STRVEC_INIT;
	char h1[65], h2[65], h3[65];
	struct stat st;

	assert_non_null(data);
	assert_non_null(src);
	hooks = xasprintf("%s/src/w/container", data);
	assert_int_equal(mkdir_p(hooks, 0755), 0);
	write_hook(hooks, "packages.txt", "tree\n", 0644);
	write_hook(hooks, "post-install.sh", "#!/bin/sh\necho one\n", 0644); /* not executable */
	assert_int_equal(ws_open(&ws, data, "w"), 0);
	assert_int_equal(ws_read_hooks(&ws, &spec, &pkgs), 0);
	spec.name = "w";
	spec.base_image = "b";
	spec.user = "anon";
	assert_true(spec.post_install);
	assert_false(spec.pre_install);
	assert_string_equal(spec.packages[0], "tree");

	assert_int_equal(ws_prepare(&ws, &spec, src, "base-id", h1), 0);
	assert_int_equal(ws_prepare(&ws, &spec, src, "base-id", h2), 0);
	assert_string_equal(h1, h2);
	ctx_hook = path_join(ws.build_dir, "context/hooks/post-install.sh");
	assert_int_equal(stat(ctx_hook, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	/* every input counts: a hook's text, the base image */
	write_hook(hooks, "post-install.sh", "#!/bin/sh\necho two\n", 0755);
	assert_int_equal(ws_prepare(&ws, &spec, src, "base-id", h3), 0);
	assert_string_not_equal(h1, h3);
	assert_int_equal(ws_prepare(&ws, &spec, src, "other-base", h2), 0);
	assert_string_not_equal(h2, h3);

	free(ctx_hook);
	strvec_clear(&pkgs);
	ws_release(&ws);
	assert_int_equal(ws_remove_tree(data), 0);
	assert_int_equal(access(data, F_OK), -1);
	free(hooks);
}

static void open_errors(void **state)
{
	char tmpl[] = "/tmp/sf-ws.XXXXXX", *data = mkdtemp(tmpl), *p;
	struct ws ws = { 0 };

	error_set_quiet(1);
	assert_int_equal(ws_open(&ws, data, "missing"), -1);
	ws_release(&ws);
	p = xasprintf("%s/src/nohooks", data);
	mkdir_p(p, 0755);
	assert_int_equal(ws_open(&ws, data, "nohooks"), -1);
	ws_release(&ws);
	assert_int_equal(ws_open(&ws, data, "../etc"), -1);
	error_set_quiet(0);
	free(p);
	ws_remove_tree(data);
}

/* Does path's ACL (attr) give uid at least perm? */
static int acl_has(const char *path, const char *attr, unsigned uid, unsigned perm)
{
	unsigned char buf[256];
	ssize_t n = getxattr(path, attr, buf, sizeof(buf));

	for (ssize_t off = 4; off + 8 <= n; off += 8)
		if (buf[off] == 0x02 && (unsigned)(buf[off + 4] | buf[off + 5] << 8) == uid &&
		    (buf[off + 2] & perm) == perm)
			return 1;
	return 0;
}

static void acl_grant(void **state)
{
	char tmpl[] = "/tmp/sf-acl.XXXXXX", *data = mkdtemp(tmpl), *gen, *flow, *f, *old, *up;
	unsigned char buf[256];
	ssize_t n;
	int found = 0;
	struct stat before, after;

	gen = path_join(data, "generated");
	flow = path_join(data, "flow");
	f = path_join(data, "flow/synthflow.db");
	/* made by a host run before the workspace started (as make demo does) */
	old = path_join(data, "generated/ppp-preprocess/run1");
	up = path_join(data, "uploadable/espeak-sample/filelist_train.txt");
	mkdir_p(gen, 0755);
	mkdir_p(flow, 0755);
	mkdir_p(old, 0755);
	*strrchr(up, '/') = '\0';
	mkdir_p(up, 0755);
	up[strlen(up)] = '/';
	write_hook(data, "flow/synthflow.db", "x", 0644);
	write_hook(data, "uploadable/espeak-sample/filelist_train.txt", "x", 0644);
	stat(gen, &before);
	error_set_quiet(1);
	if (ws_grant_access(data, 4242) < 0) {
		error_set_quiet(0);
		ws_remove_tree(data);
		skip(); /* a file system without ACLs: 'run' reports that with the fix */
	}
	error_set_quiet(0);
	n = getxattr(gen, "system.posix_acl_access", buf, sizeof(buf));
	assert_true(n > 4);
	for (ssize_t off = 4; off + 8 <= n; off += 8)
		if (buf[off] == 0x02 && (buf[off + 4] | buf[off + 5] << 8) == 4242 &&
		    (buf[off + 2] & 7) == 7)
			found = 1;
	assert_true(found);
	assert_true(getxattr(gen, "system.posix_acl_default", buf, sizeof(buf)) > 4);
	assert_true(getxattr(f, "system.posix_acl_access", buf, sizeof(buf)) > 4);
	assert_true(acl_has(old, "system.posix_acl_access", 4242, 7));
	assert_true(acl_has(old, "system.posix_acl_default", 4242, 7));
	assert_true(acl_has(up, "system.posix_acl_access", 4242, 6));
	stat(gen, &after);
	assert_int_equal(before.st_uid, after.st_uid); /* nothing re-owned */
	assert_int_equal(before.st_gid, after.st_gid);
	/* run grants at every start: what is already granted is not written again */
	stat(old, &before);
	assert_int_equal(ws_grant_access(data, 4242), 0);
	stat(old, &after);
	assert_true(before.st_ctim.tv_sec == after.st_ctim.tv_sec &&
		    before.st_ctim.tv_nsec == after.st_ctim.tv_nsec);
	ws_remove_tree(data);
	free(gen);
	free(flow);
	free(f);
	free(old);
	free(up);
}

static void probes(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	assert_int_equal(ws_port_free(port), 0);
	/* listening but never answering: the timeout holds */
	assert_int_equal(ws_http_get(port, "/api/v1/health", 200, NULL), 0);
	close(fd);
	assert_int_equal(ws_port_free(port), 1);
	assert_int_equal(ws_http_get(port, "/", 200, NULL), 0);
}

/* A child that answers each of n connections with one canned HTTP answer. */
static pid_t answer_with(int fd, int n, const char *answer)
{
	pid_t pid = fork();
	char buf[1024];

	assert_true(pid >= 0);
	if (pid)
		return pid;
	for (int i = 0; i < n; i++) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			_exit(1);
		if (read(c, buf, sizeof(buf)) < 0 || write(c, answer, strlen(answer)) < 0)
			_exit(1);
		close(c);
	}
	_exit(0);
}

/* An engine that answers 503 is alive: reported unhealthy with its reason, never "down". */
static void unhealthy_engine_is_alive(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port, status;
	struct strbuf why = STRBUF_INIT;
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	pid = answer_with(fd, 2,
			  "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n"
			  "{\"status\": \"unhealthy\", \"reason\": \"the store cannot be read\"}");
	assert_int_equal(ws_engine_health(port, 5000, &why), 503);
	assert_string_equal(why.buf, "the store cannot be read");
	assert_int_equal(ws_http_wait(port, "/api/v1/health", 5000), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	sb_release(&why);
}

static void spawn_helpers(void **state)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	assert_int_equal(spawn_capture((const char *const[]){ "sh", "-c", "echo out; echo err >&2; "
									  "exit 3",
							      NULL },
				       &out, &err),
			 3);
	assert_string_equal(out.buf, "out\n");
	assert_string_equal(err.buf, "err\n");
	error_set_quiet(1);
	assert_int_equal(spawn_capture((const char *const[]){ "/no/such/program", NULL }, NULL,
				       NULL),
			 -1);
	error_set_quiet(0);
	assert_true(spawn_in_path("sh"));
	assert_false(spawn_in_path("no-such-program-here"));
	sb_release(&out);
	sb_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(unhealthy_engine_is_alive),
		cmocka_unit_test(ws_paths),
		cmocka_unit_test(packages),
		cmocka_unit_test(requirements),
		cmocka_unit_test(image_ids),
		cmocka_unit_test(dockerfile_layer_order),
		cmocka_unit_test(dockerfile_missing_hooks),
		cmocka_unit_test(dockerfile_quotes_exec_form),
		cmocka_unit_test(build_args),
		cmocka_unit_test(lock_parse_format),
		cmocka_unit_test(lock_parse_errors),
		cmocka_unit_test(lock_base_digest),
		cmocka_unit_test(lock_diffs),
		cmocka_unit_test(lock_frozen_files),
		cmocka_unit_test(dockerfile_frozen),
		cmocka_unit_test(import_and_image_run_args),
		cmocka_unit_test(run_args_docker),
		cmocka_unit_test(run_args_gpus),
		cmocka_unit_test(run_args_podman),
		cmocka_unit_test(exec_args),
		cmocka_unit_test(gpu_decisions),
		cmocka_unit_test(cdi_dirs),
		cmocka_unit_test(mirrors),
		cmocka_unit_test(inspect_parse),
		cmocka_unit_test(context_hash),
		cmocka_unit_test(open_errors),
		cmocka_unit_test(acl_grant),
		cmocka_unit_test(probes),
		cmocka_unit_test(spawn_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
