/*
 * synthflow doctor [--json] [--gpu-test]: checks this machine for
 * workspaces (src/workspace/doctor.c) and prints each finding, ok, warn or
 * fail, with what to do about it.  Exit status 1 when anything failed.
 */
#include <jansson.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/doctor.h"

static void print_text(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->v[i];
		printf("%-5s %-13s %s\n", doctor_level_name(f->level), f->check, f->message);
		if (f->fix)
			printf("      %-13s fix: %s\n", "", f->fix);
	}
}

static void print_json(const struct doctor_report *r)
{
	json_t *arr = json_array(), *o;
	size_t count[3] = { 0, 0, 0 };

	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->v[i];
		count[f->level]++;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s?}", "check", f->check, "level",
						     doctor_level_name(f->level), "message",
						     f->message, "fix", f->fix));
	}
	o = json_pack("{s:o,s:i,s:i,s:i}", "findings", arr, "ok", (int)count[DOCTOR_OK], "warn",
		      (int)count[DOCTOR_WARN], "fail", (int)count[DOCTOR_FAIL]);
	cmd_print_json(o);
	json_decref(o);
}

void cmd_doctor_hint(void)
{
	note("'synthflow doctor' checks this machine (engine, GPUs, ports, disk, data folder) and "
	     "says how to fix what it finds");
}

static int exec_doctor(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct doctor_opts o = { .cfg = &ctx->cfg, .gpu_test = cmd_flag(a, "gpu-test") };
	struct doctor_report r = { 0 };
	bool own_cfg = false;
	int failed = 0;

	/* No data folder is a finding, not an error. */
	error_set_quiet(1);
	if (cmd_load_data(ctx) < 0) {
		config_defaults(&ctx->cfg);
		own_cfg = true;
	}
	error_set_quiet(0);
	doctor_run(&o, &r);
	if (cmd_flag(a, "json"))
		print_json(&r);
	else
		print_text(&r);
	for (size_t i = 0; i < r.n; i++)
		failed |= r.v[i].level == DOCTOR_FAIL;
	doctor_report_release(&r);
	if (own_cfg)
		config_release(&ctx->cfg);
	return failed ? 1 : 0;
}

const struct cmd_entry cmd_doctor_entry = {
	.name = "doctor",
	.summary = "check this machine for workspaces and say how to fix it",
	.usage = "synthflow doctor [--json] [--gpu-test]\n"
		 "\n"
		 "Checks what workspaces need from this machine and prints each finding as\n"
		 "ok, warn or fail, with the fix on Debian/Ubuntu: the container engine\n"
		 "(installed, running, usable by this user), free disk space for the data\n"
		 "folder and the engine's storage, the ports of synthflow.yaml, the NVIDIA\n"
		 "driver and the CUDA version the base image needs, the NVIDIA runtime or a\n"
		 "CDI spec in the engine, and the data folder's layout and permissions.\n"
		 "Nothing is changed.  Exit status 1 when a check failed.\n",
	.options = (const struct cmd_option[]){
		CMD_FLAG("json", 0, "the findings as JSON"),
		CMD_FLAG("gpu-test", 0, "also run nvidia-smi in a container of the base image"),
		CMD_END,
	},
	.exec = exec_doctor,
};
