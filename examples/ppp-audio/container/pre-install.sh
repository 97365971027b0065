#!/bin/sh
# Runs at build time, as root, before packages.txt is installed.
# The example needs no extra apt sources.
set -e
