#!/usr/bin/env bash
# A private, plain-HTTP Docker registry on 127.0.0.1 (Debian's docker-registry), for pull tests.
#   scripts/registry.sh start|stop [--dir DIR] [--port PORT]
# DIR defaults to ${CONTAINERZ_REGISTRY_DIR:-/var/tmp/containerz-registry}, PORT to 5000. Blobs are
# stored under DIR/storage; there is no authentication. Docker engines allow plain HTTP to
# registries in 127.0.0.0/8 without any configuration. start prints, as its last stdout line,
# REGISTRY=127.0.0.1:PORT; everything else goes to stderr. stop leaves DIR in place.
set -euo pipefail

say() { printf '[registry] %s\n' "$*" >&2; }
usage() {
  say "usage: $0 start|stop [--dir DIR] [--port PORT]"
  exit 2
}

action="${1:-}"
[ $# -gt 0 ] && shift
DIR="${CONTAINERZ_REGISTRY_DIR:-/var/tmp/containerz-registry}"
PORT=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; DIR="$2"; shift 2 ;;
    --dir=*) DIR="${1#--dir=}"; shift ;;
    --port) [ $# -ge 2 ] || usage; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    *) usage ;;
  esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] || usage
DIR="$(realpath -m "$DIR")"
PIDFILE="$DIR/registry.pid"
LOG="$DIR/registry.log"
CONFIG="$DIR/config.yml"
URL="http://127.0.0.1:$PORT/v2/"

answers() { curl -sf --max-time 3 "$URL" >/dev/null 2>&1; }

# The pid of this DIR's registry, if it runs (not a zombie, not a recycled pid).
registry_pid() {
  local pid command
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] || return 1
  command="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$command" == *docker-registry*" $CONFIG "* ]] || return 1
  printf '%s\n' "$pid"
}

# Whether a process exists and is not a zombie.
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # the state follows the command name, which may itself contain ") "
  [ "${stat:0:1}" != Z ]
}

install_missing() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

start() {
  install_missing
  if registry_pid >/dev/null && answers; then
    say "the registry in $DIR already answers at $URL"
    printf 'REGISTRY=127.0.0.1:%s\n' "$PORT"
    return
  fi
  if registry_pid >/dev/null; then
    say "the registry of $DIR runs but does not answer at $URL (another port?): stop it first"
    exit 1
  fi
  if answers; then
    # e.g. the docker-registry service that installing the Debian package starts on :5000
    say "something else already answers at $URL: choose another --port"
    exit 1
  fi
  mkdir -p "$DIR/storage"
  cat >"$CONFIG" <<EOF
version: 0.1
log:
  level: info
  fields:
    service: containerz-test-registry
storage:
  filesystem:
    rootdirectory: $DIR/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  say "starting docker-registry on 127.0.0.1:$PORT for $DIR (log: $LOG)"
  # Detached (own session, no terminal) so it outlives this script.
  setsid nohup docker-registry serve "$CONFIG" >>"$LOG" 2>&1 </dev/null &
  local pid=$! deadline=$((SECONDS + 30))
  printf '%s\n' "$pid" >"$PIDFILE"
  until answers; do
    if ! alive "$pid" || [ $SECONDS -ge $deadline ]; then
      say "docker-registry did not come up (exited, or no answer within 30 s); last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      kill -TERM "$pid" 2>/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
  say "the registry answers at $URL"
  printf 'REGISTRY=127.0.0.1:%s\n' "$PORT"
}

stop() {
  local pid
  if ! pid="$(registry_pid)"; then
    say "no registry runs for $DIR"
    return
  fi
  say "stopping docker-registry $pid of $DIR"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 20))
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
