# What people type.  The real build is Meson + Ninja; this file only names
# the everyday entry points (see README).
PREFIX ?= /usr/local
BUILD  ?= build

.PHONY: all deps build check test demo install bench bench-web bench-dataset bench-audio bench-slurm bench-prov bench-files bench-cache bench-pg bench-chaos fuzz clean

all: build

deps:
	@scripts/install-deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Everything: unit + CLI + end-to-end tests, again under ASan+UBSan, and the
# fuzzers for a short fixed time.  Ends with "N passed, N failed, N skipped".
check:
	@scripts/check.sh

# Only the fast suites against the development build.
test: build
	tests/run.sh $(BUILD) unit cli

demo: build
	@scripts/demo.sh

install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX) >/dev/null
	meson install -C $(BUILD)

bench: build
	@bench/run.sh

# The web server's figures (API and page timings, wrk); see bench/web.sh.
bench-web: build
	@bench/web.sh

# The dataset view with 100,000 clips against its 200 ms goal; see bench/dataset.sh.
bench-dataset: build
	@bench/dataset.sh

# synthflow audio against sox and ffmpeg, the example DAG batched against sox per clip; see bench/audio.sh.
bench-audio: build
	@bench/audio.sh

# The Slurm executor against raw sbatch --array on a local cluster; see bench/slurm.sh.
bench-slurm: build
	@bench/slurm.sh

# What provenance costs: the engine with flow.provenance on and off; see bench/prov.sh.
bench-prov: build
	@bench/prov.sh

# Files in downloaded/: arrival-to-run latency, rescan and memory at 100,000 files; see bench/files.sh.
bench-files: build
	@bench/files.sh

# Several serves on one PostgreSQL against one and against SQLite (fan-outs, several runs); see bench/pg-serves.sh.
bench-pg: build
	@bench/pg-serves.sh

# Three serves on one PostgreSQL, killed (-9) and stopped at random while 2,000 tasks run; see bench/chaos.sh.
bench-chaos: build
	@bench/chaos.sh

# What the content cache saves: the example DAG run first, unchanged, one clip changed; see bench/cache.sh.
bench-cache: build
	@bench/cache.sh

fuzz:
	@scripts/check.sh fuzz

clean:
	rm -rf build build-asan build-fuzz
