/* Command lines of tasks run in a workspace's image, as pure code (see container.h). */
#include "flow/container.h"

#include <ctype.h>

#include "util/common.h"
#include "workspace/ws.h"

/* 1 when path is dir or below it. */
static int below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * The names of the try's variables that go in.  $SF_SYNTHFLOW names the
 * scheduler's binary, which is not in the image (the image has its own);
 * CUDA_* from the local gpu pool number the host's devices, while a
 * container given its devices sees them from 0 on.
 */
static int passed(const char *entry)
{
	return strncmp(entry, "SF_SYNTHFLOW=", 13) && strncmp(entry, "CUDA_VISIBLE_DEVICES=", 21) &&
	       strncmp(entry, "CUDA_DEVICE_ORDER=", 18) && strchr(entry, '=') != entry &&
	       strchr(entry, '=');
}

static void push_bind(struct strvec *av, const char *opt, const char *path, int twice)
{
	strvec_push(av, opt);
	if (twice)
		strvec_pushf(av, "%s:%s", path, path);
	else
		strvec_push(av, path);
}

void ctr_run_opts(const struct ctr_run *r, struct strvec *av)
{
	if (r->auto_remove)
		strvec_push(av, "--rm");
	/* a signal to the container reaches the command (sh is not its pid 1) */
	strvec_push(av, "--init");
	strvec_pushf(av, "--name=%s", r->name);
	strvec_pushf(av, "--user=%u:%u", r->uid, r->gid);
	if (r->keep_id)
		strvec_push(av, "--userns=keep-id");
	push_bind(av, "--volume", r->data_dir, 1);
	if (!below(r->workdir, r->data_dir))
		push_bind(av, "--volume", r->workdir, 1);
	strvec_pushf(av, "--workdir=%s", r->workdir);
	strvec_push(av, "--env=SF_SYNTHFLOW=" CTR_SYNTHFLOW);
	for (size_t i = 0; i < r->nenv; i++) {
		if (!passed(r->env[i]))
			continue;
		strvec_pushf(av, "--env=%.*s", (int)(strchr(r->env[i], '=') - r->env[i]), r->env[i]);
	}
}

void ctr_gpu_opts(int podman, const char *devices, struct strvec *av)
{
	const char *p = devices;

	if (!devices || !*devices)
		return;
	if (!podman) {
		/* quoted: Docker reads the value as CSV, and "device=0,2" is one field */
		strvec_push(av, "--gpus");
		strvec_pushf(av, "\"device=%s\"", devices);
		return;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		strvec_pushf(av, "--device=nvidia.com/gpu=%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
}

void ctr_apptainer_opts(const struct ctr_run *r, int nv, struct strvec *av)
{
	strvec_push(av, "--cleanenv");
	push_bind(av, "--bind", r->data_dir, 0);
	if (!below(r->workdir, r->data_dir))
		push_bind(av, "--bind", r->workdir, 0);
	strvec_push(av, "--pwd");
	strvec_push(av, r->workdir);
	if (nv)
		strvec_push(av, "--nv");
}

char *ctr_sif_path(const struct ws *ws)
{
	return xasprintf("%s/image.sif", ws->build_dir);
}

char *ctr_name(const char *key)
{
	char *name = xasprintf("sf-%s", key);
	for (char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			*p = '-';
	return name;
}

static void quoted_array(struct strbuf *out, const char *var, const struct strvec *av)
{
	sb_addf(out, "%s=(", var);
	for (size_t i = 0; i < av->nr; i++) {
		if (i)
			sb_addch(out, ' ');
		sb_add_shell_quoted(out, av->v[i]);
	}
	sb_adds(out, ")\n");
}

void ctr_script_text(struct strbuf *out, const char *workspace, const char *image,
		     const char *sif, const struct ctr_run *r, int gpus)
{
	struct strvec opts = STRVEC_INIT, aopts = STRVEC_INIT, names = STRVEC_INIT;

	ctr_run_opts(r, &opts);
	ctr_apptainer_opts(r, gpus > 0, &aopts);
	for (size_t i = 0; i < r->nenv; i++)
		if (passed(r->env[i]))
			strvec_pushf(&names, "%.*s", (int)(strchr(r->env[i], '=') - r->env[i]),
				     r->env[i]);
	sb_adds(out, "# container: the try runs in workspace ");
	sb_add_shell_quoted(out, workspace);
	sb_adds(out, "'s image (docs/slurm.md, Containers).\nsf_ws=");
	sb_add_shell_quoted(out, workspace);
	sb_adds(out, "\nsf_image=");
	sb_add_shell_quoted(out, image);
	sb_adds(out, "\nsf_sif=");
	sb_add_shell_quoted(out, sif);
	sb_adds(out, "\nsf_name=");
	sb_add_shell_quoted(out, r->name);
	sb_addf(out, "\nsf_gpus=%d\n", gpus);
	quoted_array(out, "sf_opts", &opts);
	quoted_array(out, "sf_aopts", &aopts);
	quoted_array(out, "sf_envs", &names);
	/*
	 * apptainer and singularity run the command as a process of the job, so
	 * Slurm's signals and cgroup reach it; with docker and podman the
	 * daemon runs it, so a signalled job stops its container.  The device
	 * numbers Slurm gave the job are the host's in SLURM_JOB_GPUS.
	 */
	sb_adds(out,
		"sf_container() {\n"
		"\tlocal rt= p n img pid rc=0 devs gpu=() sf_stop\n"
		"\tfor p in apptainer singularity docker podman; do\n"
		"\t\tcommand -v \"$p\" >/dev/null 2>&1 && { rt=$p; break; }\n"
		"\tdone\n"
		"\tcase $rt in\n"
		"\t'')\n"
		"\t\techo \"synthflow: workspace '$sf_ws' (container:) needs apptainer, singularity, docker or podman on node $(hostname): none of them is on PATH\" >&2\n"
		"\t\treturn 127 ;;\n"
		"\tapptainer | singularity)\n"
		"\t\tp=APPTAINERENV_\n"
		"\t\t[ \"$rt\" = singularity ] && p=SINGULARITYENV_\n"
		"\t\tfor n in \"${sf_envs[@]}\"; do export \"$p$n=${!n}\"; done\n"
		"\t\texport \"${p}SF_SYNTHFLOW=" CTR_SYNTHFLOW "\"\n"
		"\t\t[ -n \"${CUDA_VISIBLE_DEVICES:-}\" ] && export \"${p}CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\"\n"
		"\t\timg=$sf_sif\n"
		"\t\t[ -f \"$img\" ] || img=docker-daemon://$sf_image\n"
		"\t\texec \"$rt\" exec \"${sf_aopts[@]}\" \"$img\" /bin/sh -c \"$sf_cmd\" ;;\n"
		"\tesac\n"
		"\tif ! \"$rt\" image inspect \"$sf_image\" >/dev/null 2>&1; then\n"
		"\t\techo \"synthflow: the image '$sf_image' of workspace '$sf_ws' is not on node $(hostname) ($rt): load it there (docs/slurm.md, Containers)\" >&2\n"
		"\t\treturn 125\n"
		"\tfi\n"
		"\tif [ \"$sf_gpus\" -gt 0 ]; then\n"
		"\t\tdevs=${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-}}\n"
		"\t\tif [ -z \"$devs\" ]; then\n"
		"\t\t\techo \"synthflow: the job has no gpus from Slurm (neither SLURM_JOB_GPUS nor CUDA_VISIBLE_DEVICES is set) to give the container\" >&2\n"
		"\t\t\treturn 125\n"
		"\t\tfi\n"
		"\t\tif [ \"$rt\" = docker ]; then\n"
		"\t\t\tgpu=(--gpus \"\\\"device=$devs\\\"\")\n"
		"\t\telse\n"
		"\t\t\tfor n in ${devs//,/ }; do gpu+=(\"--device=nvidia.com/gpu=$n\"); done\n"
		"\t\tfi\n"
		"\tfi\n"
		/*
		 * Created apart from its start: a job signalled while the engine
		 * still creates the container would leave it to start behind the
		 * job's back.  The creation runs in a session of its own, so the
		 * signal waits for it (the trap runs once it is back), and the
		 * container goes whenever the job is signalled.
		 */
				"\ttrap 'sf_stop=1; \"$rt\" rm -f \"$sf_name\" >/dev/null 2>&1' TERM INT\n"
		"\tsetsid -w \"$rt\" create \"${sf_opts[@]}\" \"${gpu[@]}\" \"$sf_image\" /bin/sh -c \"$sf_cmd\" >/dev/null || return 125\n"
		"\tif [ -z \"$sf_stop\" ]; then\n"
		"\t\t\"$rt\" start --attach \"$sf_name\" &\n"
		"\t\tpid=$!\n"
		"\t\twait \"$pid\"\n"
		"\t\trc=$?\n"
		"\t\twhile kill -0 \"$pid\" 2>/dev/null; do wait \"$pid\"; rc=$?; done\n"
		"\tfi\n"
		"\t\"$rt\" rm -f \"$sf_name\" >/dev/null 2>&1\n"
		"\t[ -z \"$sf_stop\" ] || rc=143\n"
		"\treturn \"$rc\"\n"
		"}\n");
	strvec_clear(&opts);
	strvec_clear(&aopts);
	strvec_clear(&names);
}
