/*
 * synthflow verify FILE: is a bundle sound?  Hashes against its manifest,
 * entry names inside the bundle, and uploadable/ self-contained (no symlink
 * leaving it, no absolute path of the packing machine in its text files).
 */
#include "cmd/cmd.h"
#include "pack/bundle.h"
#include "util/common.h"

static int exec_verify(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *file = a->argv[0];
	struct bundle b;
	int ret;

	if (bundle_verify(file, &b) < 0)
		return 1;
	for (size_t i = 0; i < b.problems.nr; i++)
		fprintf(stderr, "%s\n", b.problems.v[i]);
	if (b.problems.nr)
		error("bundle '%s' is not sound (%zu problem%s)", file, b.problems.nr,
		      b.problems.nr == 1 ? "" : "s");
	else
		printf("%s: sound: run %s of '%s', %zu outputs\n", file,
		       json_string_value(json_object_get(b.meta, "run_id")),
		       json_string_value(json_object_get(b.meta, "dag_id")),
		       json_array_size(json_object_get(b.meta, "outputs")));
	ret = b.problems.nr ? 1 : 0;
	bundle_release(&b);
	return ret;
}

const struct cmd_entry cmd_verify_entry = {
	.name = "verify",
	.summary = "check a bundle: hashes, paths, self-contained uploadable/",
	.usage = "synthflow verify FILE\n"
		 "\n"
		 "Checks every file of the bundle against its manifest, that every entry stays\n"
		 "inside the bundle, and that uploadable/ is self-contained: no symlink leaving\n"
		 "it, no absolute path of the packing machine (its data folder, its home, /data)\n"
		 "in its text files.  Exit 0 when sound, else 1 with one line per problem.\n",
	.args = "FILE",
	.exec = exec_verify,
};
