# Shared by scripts/serve.sh and scripts/test.sh: a project virtualenv, and a reachable Docker engine.
# Everything it does is said on stderr.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CONTAINERZ_VENV:-$ROOT/.venv}"

say() { printf '[containerz] %s\n' "$*" >&2; }

# ensure_venv [EXTRAS]: create $VENV if needed and install the project (editable) into it.
ensure_venv() {
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed${extras:+-$extras}"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing containerz-py${extras:+[$extras]} into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${extras:+[$extras]}" >&2
    touch "$stamp"
  fi
}

engine_answers() { # engine_answers unix:///path.sock
  local sock="${1#unix://}"
  [ -S "$sock" ] && curl -sf --max-time 3 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1
}

# ensure_engine: print a DOCKER_HOST URL that answers. Uses, in order: CONTAINERZ_DOCKER_HOST or
# DOCKER_HOST if set, the system engine at /var/run/docker.sock, else a private dockerd started by
# scripts/engine.sh (installing Debian's docker.io if needed). The system engine is never modified.
ensure_engine() {
  local wanted="${CONTAINERZ_DOCKER_HOST:-${DOCKER_HOST:-}}"
  if [ -n "$wanted" ]; then
    say "using the Docker engine at $wanted (from the environment)"
    printf '%s\n' "$wanted"
    return
  fi
  if engine_answers unix:///var/run/docker.sock; then
    say "using the system Docker engine at unix:///var/run/docker.sock"
    printf 'unix:///var/run/docker.sock\n'
    return
  fi
  say "no Docker engine is reachable: starting a private dockerd (scripts/engine.sh)"
  bash "$ROOT/scripts/engine.sh" start | tail -n 1 | sed 's/^DOCKER_HOST=//'
}
