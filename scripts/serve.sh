#!/usr/bin/env bash
# Set up and run the containerz server on this machine: README command (1).
#   scripts/serve.sh [server.py flags...]      e.g. scripts/serve.sh --listen [::]:9339
# Installs the project into .venv, finds or starts a Docker engine, then runs server.py.
set -euo pipefail
source "$(dirname "$0")/common.sh"

command -v curl >/dev/null || { say "installing curl"; apt-get update -qq && apt-get install -y -qq curl >&2; }
ensure_venv
DOCKER_URL="$(ensure_engine)"
export CONTAINERZ_DOCKER_HOST="$DOCKER_URL"
say "starting server.py $* (Ctrl-C to stop)"
exec "$VENV/bin/python" "$ROOT/server.py" "$@"
