#!/usr/bin/env bash
# Installs the Debian packages SynthFlow needs, only those that are missing.
#   scripts/install-deps.sh build|test|bench|demo|all
# build: compile the binary.  test: everything `make check` exercises.
# bench: the peers `make bench` times synthflow against, and GNU time.
# demo: what the example workspace's DAG runs (`make demo`).
set -eu
what=${1:-all}

build_pkgs="gcc make meson ninja-build pkg-config libyaml-dev libjansson-dev libsqlite3-dev
  libpq-dev libmicrohttpd-dev libssl-dev libsndfile1-dev libsoxr-dev libebur128-dev
  libarchive-dev"
test_pkgs="libcmocka-dev clang libclang-rt-14-dev sqlite3 espeak-ng sox libsox-fmt-all
  docker.io debootstrap postgresql chromium wrk curl jq procps iproute2 python3 nodejs npm
  ninja-build snakemake time slurm-wlm munge ffmpeg"
# t0953 renders the generated man pages
test_pkgs="$test_pkgs groff-base"
# t1007 sets serve's wall clock back and forth (LD_PRELOAD), t1003 drops root's file capabilities
test_pkgs="$test_pkgs libfaketime util-linux"
# t1107 starts a registry of its own on loopback (a base image pulled by digest)
test_pkgs="$test_pkgs docker-registry"
# schedules read time zones from /usr/share/zoneinfo (t1011, test-cron: Berlin, New York)
build_pkgs="$build_pkgs tzdata"
bench_pkgs="gcc make ninja-build snakemake time python3"
demo_pkgs="sox libsox-fmt-all espeak-ng python3"

case $what in
build) want=$build_pkgs ;;
bench) want=$bench_pkgs ;;
demo) want=$demo_pkgs ;;
test | all) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 build|test|bench|demo|all" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		# a tool the machine already has from elsewhere is fine (e.g. node, docker)
		case $p in
		nodejs) command -v node >/dev/null && continue ;;
		npm) command -v npm >/dev/null && continue ;;
		esac
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "synthflow: missing packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >/dev/null
