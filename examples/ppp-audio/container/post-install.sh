#!/bin/sh
# Runs at build time, as root, after packages.txt: fail the build early if a
# tool the DAG calls is missing, rather than in the middle of a run.
set -e
sox --version >/dev/null
espeak-ng --version >/dev/null
python3 -c 'import hashlib, shutil'
