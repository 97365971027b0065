#!/bin/sh
# Writes the man pages and the bash completion that the synthflow binary
# generates from its command entries, under SHARE:
#   SHARE/man/man1/synthflow.1, SHARE/man/man1/synthflow-COMMAND.1,
#   SHARE/bash-completion/completions/synthflow
#   scripts/gen-docs.sh SYNTHFLOW [SHARE [STAMP]]
# Meson runs it at build time (SHARE = build/doc) and from `meson install`
# (no SHARE: the install prefix's share/, with DESTDIR).
set -eu
bin=$1
# meson install names the built binary relative to the build folder
case $bin in */*) ;; *) bin=${MESON_BUILD_ROOT:-.}/$bin ;; esac
share=${2:-${MESON_INSTALL_DESTDIR_PREFIX:?no SHARE and not run by meson install}/share}
man1=$share/man/man1
comp=$share/bash-completion/completions
mkdir -p "$man1" "$comp"
"$bin" --man synthflow >"$man1/synthflow.1"
for c in $("$bin" --complete commands); do
	"$bin" --man "$c" >"$man1/synthflow-$c.1"
done
"$bin" --completion >"$comp/synthflow"
if [ $# -ge 3 ]; then
	: >"$3"
fi
