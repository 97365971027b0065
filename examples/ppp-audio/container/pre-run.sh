#!/bin/sh
# Runs each time the workspace container starts, as root, before the engine
# starts as the workspace user.  Nothing to prepare for this example.
set -e
