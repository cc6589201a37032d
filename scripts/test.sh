#!/usr/bin/env bash
# Set up and run the whole test suite: README command (2), and what CI runs (.ci/run).
#   scripts/test.sh [pytest args...]
# Installs what the tests need (Debian packages, the project with its test extras), starts a private
# Docker engine, runs ruff, mypy and pytest. The tests start the registry, HTTP servers and clients
# they need themselves.
set -euo pipefail
source "$(dirname "$0")/common.sh"

missing=()
for tool_pkg in curl:curl dockerd:docker.io busybox:busybox-static docker-registry:docker-registry \
                openssl:openssl ip:iproute2 sshd:openssh-server scp:openssh-client; do
  command -v "${tool_pkg%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool_pkg%%:*}" ] || missing+=("${tool_pkg#*:}")
done
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

ensure_venv test
# Tests never touch a system engine: they get a private dockerd unless told otherwise.
if [ -z "${CONTAINERZ_TEST_DOCKER_HOST:-}" ]; then
  CONTAINERZ_TEST_DOCKER_HOST="$(bash "$ROOT/scripts/engine.sh" start | tail -n 1 | sed 's/^DOCKER_HOST=//')"
fi
export CONTAINERZ_TEST_DOCKER_HOST
cd "$ROOT"

say "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
say "mypy (containerz/, state/)"
"$VENV/bin/mypy"
say "pytest"
exec "$VENV/bin/python" -m pytest "$@"
