/*
 * The generated Dockerfile and the small scripts it runs.  Layers go from
 * what changes least to what changes most (docs/workspaces.md), so editing
 * post-install.sh rebuilds only the layers after it.  Every instruction that
 * carries user input uses the exec form (a JSON array), so package names
 * and paths reach their program as argv elements, never through a shell.
 */
#include "workspace/ws.h"

#include "util/common.h"
#include "workspace/lock.h"

#define BIN WS_IMAGE_DIR "/bin/"
#define HOOKS WS_IMAGE_DIR "/hooks/"
#define FROZEN WS_IMAGE_DIR "/frozen/"
#define BIN_SF_PACKAGES BIN "sf-packages"

static const char sf_hook[] =
	"#!/bin/sh\n"
	"# Runs one hook from container/ at build time and names it when it fails,\n"
	"# so the error points at the user's file rather than at a Dockerfile line.\n"
	"cd " HOOKS " || exit 1\n"
	"echo \"==> synthflow: running hook $1\"\n"
	"\"./$1\"\n"
	"status=$?\n"
	"if [ \"$status\" -ne 0 ]; then\n"
	"\techo \"==> synthflow: hook $1 failed with exit status $status\"\n"
	"\texit \"$status\"\n"
	"fi\n";

static const char sf_apt[] =
	"#!/bin/sh\n"
	"# Installs the packages of packages.txt (given as arguments): the index\n"
	"# update, the install and the cleanup in one layer, so no stale index is kept.\n"
	"echo \"==> synthflow: running hook packages.txt\"\n"
	"export DEBIAN_FRONTEND=noninteractive\n"
	"apt-get -q update && apt-get install -y -q --no-install-recommends \"$@\"\n"
	"status=$?\n"
	"apt-get clean\n"
	"rm -rf /var/lib/apt/lists/*\n"
	"if [ \"$status\" -ne 0 ]; then\n"
	"\techo \"==> synthflow: hook packages.txt failed with exit status $status\"\n"
	"\texit \"$status\"\n"
	"fi\n";

static const char sf_pip[] =
	"#!/bin/sh\n"
	"# Installs requirements.txt with pip, first installing pip from the\n"
	"# distribution when the base image has none (debootstrap bases do not).\n"
	"# With a file argument (build --frozen) it installs that file, the lock's\n"
	"# pins, and names each requirement pip cannot find.\n"
	"req=${1:-" HOOKS "requirements.txt}\n"
	"hook=requirements.txt\n"
	"[ -z \"${1:-}\" ] || hook=" WS_LOCK "\n"
	"echo \"==> synthflow: running hook $hook\"\n"
	"export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore\n"
	"# Debian 12 marks its Python as externally managed; the image is ours to change.\n"
	"export PIP_BREAK_SYSTEM_PACKAGES=1\n"
	"status=0\n"
	"if ! python3 -m pip --version >/dev/null 2>&1; then\n"
	"\t{ apt-get -q update && apt-get install -y -q --no-install-recommends python3-pip; } || status=$?\n"
	"\tapt-get clean\n"
	"\trm -rf /var/lib/apt/lists/*\n"
	"fi\n"
	"if [ \"$status\" -eq 0 ]; then\n"
	"\tpython3 -m pip install -r \"$req\" >/tmp/sf-pip.out 2>&1 || status=$?\n"
	"\tcat /tmp/sf-pip.out\n"
	"\tsed -n 's/^ERROR: No matching distribution found for \\(.*\\)$/==> synthflow: cannot have \\1: pip finds no such version/p' /tmp/sf-pip.out\n"
	"\trm -f /tmp/sf-pip.out\n"
	"fi\n"
	"if [ \"$status\" -ne 0 ]; then\n"
	"\techo \"==> synthflow: hook $hook failed with exit status $status\"\n"
	"\texit \"$status\"\n"
	"fi\n";

static const char sf_apt_frozen[] =
	"#!/bin/sh\n"
	"# build --frozen: installs exactly the lock's Debian packages (NAME=VERSION\n"
	"# per line of $1) and names each one the mirror cannot give.\n"
	"echo \"==> synthflow: running hook " WS_LOCK "\"\n"
	"export DEBIAN_FRONTEND=noninteractive\n"
	"out=/tmp/sf-apt.out\n"
	"# shellcheck disable=SC2046\n"
	"{ apt-get -q update && apt-get install -y -q --no-install-recommends --allow-downgrades $(cat \"$1\"); } >\"$out\" 2>&1\n"
	"status=$?\n"
	"cat \"$out\"\n"
	"sed -n -e \"s/^E: Version '\\(.*\\)' for '\\(.*\\)' was not found\\$/==> synthflow: cannot have \\2=\\1: not in the mirror/p\" \\\n"
	"\t-e \"s/^E: Unable to locate package \\(.*\\)\\$/==> synthflow: cannot have \\1: not in the mirror/p\" \"$out\"\n"
	"rm -f \"$out\"\n"
	"apt-get clean\n"
	"rm -rf /var/lib/apt/lists/*\n"
	"if [ \"$status\" -ne 0 ]; then\n"
	"\techo \"==> synthflow: hook " WS_LOCK " failed with exit status $status\"\n"
	"\texit \"$status\"\n"
	"fi\n";

static const char sf_packages[] =
	"#!/bin/sh\n"
	"# Prints what the image has installed, in the lock's format: \"apt NAME\n"
	"# VERSION\" per Debian package, \"pip LINE\" per line of pip freeze, or\n"
	"# \"pip-absent\" when there is no pip (docs/replication.md).\n"
	"if command -v dpkg-query >/dev/null 2>&1; then\n"
	"\tdpkg-query -W -f '${db:Status-Abbrev} ${binary:Package} ${Version}\\n' |\n"
	"\t\tawk '$1 == \"ii\" { print \"apt \" $2 \" \" $3 }' | LC_ALL=C sort\n"
	"fi\n"
	"if python3 -m pip --version >/dev/null 2>&1; then\n"
	"\tPIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip freeze --all 2>/dev/null |\n"
	"\t\tgrep -v '^#' | sed 's/^/pip /' | LC_ALL=C sort\n"
	"else\n"
	"\techo pip-absent\n"
	"fi\n";

static const char sf_frozen_check[] =
	"#!/bin/sh\n"
	"# build --frozen, last step: the image must have installed exactly the\n"
	"# lock's packages ($1); every difference is named.\n"
	"echo \"==> synthflow: running hook " WS_LOCK "\"\n"
	BIN_SF_PACKAGES " >/tmp/sf-installed\n"
	"if [ \"$(cat \"$1\")\" = \"$(cat /tmp/sf-installed)\" ]; then\n"
	"\trm -f /tmp/sf-installed\n"
	"\texit 0\n"
	"fi\n"
	"LC_ALL=C comm -23 \"$1\" /tmp/sf-installed | sed 's/^/==> synthflow: lock only: /'\n"
	"LC_ALL=C comm -13 \"$1\" /tmp/sf-installed | sed 's/^/==> synthflow: image only: /'\n"
	"rm -f /tmp/sf-installed\n"
	"echo \"==> synthflow: hook " WS_LOCK " failed with exit status 1\"\n"
	"exit 1\n";

static const char sf_engine_deps[] =
	"#!/bin/sh\n"
	"# Installs what compiling the synthflow engine needs from the base image's\n"
	"# own distribution, so the engine links against the libraries it will run with.\n"
	"set -eu\n"
	"export DEBIAN_FRONTEND=noninteractive\n"
	"apt-get -q update\n"
	"apt-get install -y -q --no-install-recommends gcc libc6-dev meson ninja-build pkg-config \\\n"
	"\tlibyaml-dev libjansson-dev libsqlite3-dev libpq-dev libmicrohttpd-dev libssl-dev libcmocka-dev \\\n"
	"\tlibsndfile1-dev libsoxr-dev libebur128-dev libarchive-dev\n"
	"# Meson before 1.0 (e.g. Ubuntu 22.04) cannot read our build files: use pip's.\n"
	"if ! meson --version | grep -q '^[1-9]'; then\n"
	"\tapt-get install -y -q --no-install-recommends python3-pip\n"
	"\tPIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q 'meson>=1.0'\n"
	"fi\n";

static const char sf_engine_build[] =
	"#!/bin/sh\n"
	"# Compiles the engine from the source copied into the build context and\n"
	"# lists the packages its shared libraries come from, for the final stage.\n"
	"set -eu\n"
	"src=$1\n"
	"out=$2\n"
	"meson setup /tmp/engine-build \"$src\" --buildtype=release -Dwerror=false >/tmp/meson-setup.log \\\n"
	"\t|| { cat /tmp/meson-setup.log; exit 1; }\n"
	"ninja -C /tmp/engine-build synthflow\n"
	"mkdir -p \"$out\"\n"
	"cp /tmp/engine-build/synthflow \"$out/synthflow\"\n"
	"for lib in $(ldd \"$out/synthflow\" | awk '$3 ~ /^\\// { print $3 }'); do\n"
	"\tdpkg -S \"*/${lib##*/}\" 2>/dev/null | sed -n '1s/^\\([^:,]*\\).*/\\1/p'\n"
	"done | sort -u >\"$out/runtime-packages\"\n";

static const char sf_engine_install[] =
	"#!/bin/sh\n"
	"# Installs the libraries the engine links to (those the image lacks) and\n"
	"# puts the engine on PATH.\n"
	"set -eu\n"
	"export DEBIAN_FRONTEND=noninteractive\n"
	"missing=\n"
	"for p in $(cat " WS_IMAGE_DIR "/engine/runtime-packages); do\n"
	"\tdpkg-query -W -f '${Status}' \"$p\" 2>/dev/null | grep -q 'ok installed' || missing=\"$missing $p\"\n"
	"done\n"
	"if [ -n \"$missing\" ]; then\n"
	"\tapt-get -q update\n"
	"\t# shellcheck disable=SC2086\n"
	"\tapt-get install -y -q --no-install-recommends $missing\n"
	"\tapt-get clean\n"
	"\trm -rf /var/lib/apt/lists/*\n"
	"fi\n"
	"ln -sf " WS_IMAGE_DIR "/engine/synthflow /usr/local/bin/synthflow\n"
	"synthflow --version\n";

static const char sf_adduser[] =
	"#!/bin/sh\n"
	"# Creates the workspace user NAME with the host user's UID and GID, taking\n"
	"# over a user or group the base image already has with those ids.\n"
	"set -eu\n"
	"name=$1\n"
	"uid=$2\n"
	"gid=$3\n"
	"if ! getent group \"$gid\" >/dev/null; then\n"
	"\tif getent group \"$name\" >/dev/null; then\n"
	"\t\tgroupmod -g \"$gid\" \"$name\"\n"
	"\telse\n"
	"\t\tgroupadd -g \"$gid\" \"$name\"\n"
	"\tfi\n"
	"fi\n"
	"old=$(getent passwd \"$uid\" | cut -d: -f1)\n"
	"if [ -n \"$old\" ] && [ \"$old\" != \"$name\" ]; then\n"
	"\tusermod -l \"$name\" -d \"/home/$name\" -m -g \"$gid\" \"$old\"\n"
	"elif [ -n \"$old\" ]; then\n"
	"\tusermod -g \"$gid\" \"$name\"\n"
	"elif getent passwd \"$name\" >/dev/null; then\n"
	"\tusermod -u \"$uid\" -g \"$gid\" \"$name\"\n"
	"else\n"
	"\t# -l: no lastlog entry (a large UID would make a huge sparse file)\n"
	"\tuseradd -l -m -u \"$uid\" -g \"$gid\" -s /bin/bash \"$name\"\n"
	"fi\n"
	"mkdir -p \"/home/$name\"\n"
	"chown \"$uid:$gid\" \"/home/$name\"\n";

static const char sf_start[] =
	"#!/bin/sh\n"
	"# The container's main process, started as root: pre-run.sh, then the\n"
	"# engine as the workspace user on PORT (all addresses inside the container;\n"
	"# the host publishes it on 127.0.0.1 only).  When the engine stops the container\n"
	"# stays up for its shells; 'synthflow web' starts the engine again.\n"
	"port=$1\n"
	"if [ -f " HOOKS "pre-run.sh ]; then\n"
	"\techo \"==> synthflow: running hook pre-run.sh\"\n"
	"\t(cd /data && " HOOKS "pre-run.sh) || {\n"
	"\t\tstatus=$?\n"
	"\t\techo \"==> synthflow: hook pre-run.sh failed with exit status $status\" >&2\n"
	"\t\texit \"$status\"\n"
	"\t}\n"
	"fi\n"
	"home=$(getent passwd \"$SYNTHFLOW_USER\" | cut -d: -f6)\n"
	"cd /data\n"
	"setpriv --reuid=\"$SYNTHFLOW_USER\" --regid=\"$(id -g \"$SYNTHFLOW_USER\")\" --init-groups \\\n"
	"\tenv HOME=\"$home\" USER=\"$SYNTHFLOW_USER\" SYNTHFLOW_WEB_BIND=0.0.0.0 SYNTHFLOW_WEB_PORT=\"$port\" \\\n"
	"\tsynthflow serve &\n"
	"serve=$!\n"
	"trap 'kill -TERM \"$serve\" 2>/dev/null; wait \"$serve\"; exit 0' TERM INT\n"
	"wait \"$serve\"\n"
	"echo \"==> synthflow: the engine exited with status $?; 'synthflow web' starts it again\"\n"
	"trap - TERM INT\n"
	"exec sleep infinity\n";

static const char sf_jupyter[] =
	"#!/bin/sh\n"
	"# Starts Jupyter in the background on PORT as the calling user, serving\n"
	"# /data.  Its token is $JUPYTER_TOKEN, set when the container started.\n"
	"port=$1\n"
	"if ! jupyter notebook --version >/dev/null 2>&1; then\n"
	"\techo \"Jupyter Notebook is not installed in this image; add jupyter-notebook to\" >&2\n"
	"\techo \"container/packages.txt (or notebook to requirements.txt) and rebuild\" >&2\n"
	"\texit 3\n"
	"fi\n"
	"cd /data || exit 1\n"
	"setsid nohup jupyter notebook --no-browser --ip=0.0.0.0 --port=\"$port\" --port-retries=0 \\\n"
	"\t>/tmp/synthflow-jupyter.log 2>&1 </dev/null &\n";

const struct ws_script ws_scripts[] = {
	{ "sf-hook", sf_hook },
	{ "sf-apt", sf_apt },
	{ "sf-pip", sf_pip },
	{ "sf-apt-frozen", sf_apt_frozen },
	{ "sf-packages", sf_packages },
	{ "sf-frozen-check", sf_frozen_check },
	{ "sf-engine-deps", sf_engine_deps },
	{ "sf-engine-build", sf_engine_build },
	{ "sf-engine-install", sf_engine_install },
	{ "sf-adduser", sf_adduser },
	{ "sf-start", sf_start },
	{ "sf-jupyter", sf_jupyter },
};
const size_t ws_nscripts = ARRAY_SIZE(ws_scripts);

const char *ws_script_text(const char *name)
{
	for (size_t i = 0; i < ws_nscripts; i++)
		if (!strcmp(ws_scripts[i].name, name))
			return ws_scripts[i].text;
	BUG("no helper script '%s'", name);
}

void ws_image_ids(uid_t uid, gid_t gid, unsigned *out_uid, unsigned *out_gid)
{
	if (uid == 0) {
		*out_uid = 1000;
		*out_gid = 1000;
		return;
	}
	*out_uid = (unsigned)uid;
	*out_gid = gid == 0 ? (unsigned)uid : (unsigned)gid;
}

/* A JSON string for the exec form: names are pre-checked, but quote anyway. */
static void add_json_string(struct strbuf *out, const char *s)
{
	sb_addch(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addch(out, '\\');
		sb_addch(out, *s);
	}
	sb_addch(out, '"');
}

static void add_hook_step(struct strbuf *out, const char *hook)
{
	sb_addf(out, "COPY hooks/%s " HOOKS "%s\n", hook, hook);
	sb_addf(out, "RUN [\"" BIN "sf-hook\", \"%s\"]\n", hook);
}

static void add_engine_stage(struct strbuf *out, const struct ws_spec *spec)
{
	sb_addf(out,
		"# Stage 1: the synthflow engine, compiled on the base image itself so the\n"
		"# host and the image may run different distributions.\n"
		"FROM %s AS engine\n"
		"COPY synthflow/bin/sf-engine-deps " BIN "\n"
		"RUN [\"" BIN "sf-engine-deps\"]\n"
		"COPY synthflow/src/ /usr/src/synthflow/\n"
		"COPY synthflow/bin/sf-engine-build " BIN "\n"
		"RUN [\"" BIN "sf-engine-build\", \"/usr/src/synthflow\", \"" WS_IMAGE_DIR "/engine\"]\n"
		"\n",
		spec->base_image);
}

static void add_packages_step(struct strbuf *out, const struct ws_spec *spec)
{
	if (!spec->packages || !spec->packages[0]) {
		sb_adds(out, "# packages.txt: no packages\n");
		return;
	}
	sb_adds(out, "# packages.txt\nRUN [\"" BIN "sf-apt\"");
	for (const char *const *p = spec->packages; *p; p++) {
		sb_adds(out, ", ");
		add_json_string(out, *p);
	}
	sb_adds(out, "]\n");
}

/*
 * build --frozen: the lock's packages instead of packages.txt and
 * requirements.txt.  Each file is copied just before the step that reads
 * it, so a changed pip pin does not install the Debian packages again.
 */
static void add_frozen_steps(struct strbuf *out, const struct ws_spec *spec)
{
	sb_adds(out, "# " WS_LOCK " (build --frozen) instead of packages.txt and requirements.txt\n");
	if (*spec->frozen_apt)
		sb_adds(out, "COPY synthflow/frozen/apt.txt " FROZEN "\n"
			     "RUN [\"" BIN "sf-apt-frozen\", \"" FROZEN "apt.txt\"]\n");
	if (*spec->frozen_pip)
		sb_adds(out, "COPY synthflow/frozen/requirements.txt " FROZEN "\n"
			     "RUN [\"" BIN "sf-pip\", \"" FROZEN "requirements.txt\"]\n");
}

void ws_dockerfile(const struct ws_spec *spec, struct strbuf *out)
{
	sb_addf(out,
		"# Generated by 'synthflow build %s' from run-data/src/%s/container/.\n"
		"# Edit the hooks there, not this file: every build writes it again.\n"
		"\n",
		spec->name, spec->name);
	add_engine_stage(out, spec);
	sb_addf(out,
		"# Stage 2: the workspace.\n"
		"FROM %s\n"
		"ENV LANG=C.UTF-8\n"
		"COPY synthflow/bin/ " BIN "\n",
		spec->base_image);
	if (spec->pre_install)
		add_hook_step(out, WS_PRE_INSTALL);
	else
		sb_adds(out, "# pre-install.sh: none\n");
	if (spec->frozen_packages) {
		add_frozen_steps(out, spec);
	} else {
		add_packages_step(out, spec);
		if (spec->requirements)
			sb_adds(out, "COPY hooks/" WS_REQUIREMENTS " " HOOKS WS_REQUIREMENTS "\n"
				     "RUN [\"" BIN "sf-pip\"]\n");
		else
			sb_adds(out, "# requirements.txt: no requirements\n");
	}
	sb_adds(out, "# the engine from stage 1\n"
		     "COPY --from=engine " WS_IMAGE_DIR "/engine/ " WS_IMAGE_DIR "/engine/\n"
		     "RUN [\"" BIN "sf-engine-install\"]\n");
	if (spec->post_install)
		add_hook_step(out, WS_POST_INSTALL);
	else
		sb_adds(out, "# post-install.sh: none\n");
	if (spec->pre_run)
		sb_adds(out, "COPY hooks/" WS_PRE_RUN " " HOOKS WS_PRE_RUN "\n");
	sb_addf(out, "# the user, with the host user's UID and GID\n"
		     "RUN [\"" BIN "sf-adduser\", ");
	add_json_string(out, spec->user);
	sb_addf(out, ", \"%u\", \"%u\"]\n", spec->uid, spec->gid);
	if (spec->frozen_packages)
		sb_adds(out, "# build --frozen: the image has exactly the lock's packages\n"
			     "COPY synthflow/frozen/packages.txt " FROZEN "\n"
			     "RUN [\"" BIN "sf-frozen-check\", \"" FROZEN "packages.txt\"]\n");
	sb_addf(out, "ENV SYNTHFLOW_DATA=/data SYNTHFLOW_USER=%s\n", spec->user);
	sb_addf(out, "USER %u:%u\n", spec->uid, spec->gid);
	sb_addf(out, "WORKDIR /data/src/%s\n", spec->name);
}

void ws_dockerfile_label(struct strbuf *out, const char *name, const char *hash)
{
	sb_addf(out, "LABEL " WS_LABEL_WORKSPACE "=\"%s\" " WS_LABEL_HASH "=\"%s\"\n", name, hash);
}
