#!/usr/bin/env bash
# A private Docker engine (dockerd) living entirely in one directory, next to any other engine.
#   scripts/engine.sh start|stop|status|env [--dir DIR] [--netns NAME]
# With --netns, dockerd runs in the existing network namespace /var/run/netns/NAME (entered with
# nsenter --net, not ip netns exec, which remounts /sys and breaks dockerd's cgroups), and so do its
# bridge and its host-network containers. DIR defaults to ${CONTAINERZ_ENGINE_DIR:-/var/tmp/containerz-engine}. start prints, as its last
# stdout line, DOCKER_HOST=unix://DIR/docker.sock; everything else goes to stderr. stop leaves
# DIR (images, containers, volumes) in place. /var/run/docker.sock, /var/lib/docker and a system
# engine are never touched.
set -euo pipefail

say() { printf '[engine] %s\n' "$*" >&2; }
usage() {
  say "usage: $0 start|stop|status|env [--dir DIR] [--netns NAME]"
  exit 2
}

action="${1:-}"
[ $# -gt 0 ] && shift
DIR="${CONTAINERZ_ENGINE_DIR:-/var/tmp/containerz-engine}"
NETNS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; DIR="$2"; shift 2 ;;
    --dir=*) DIR="${1#--dir=}"; shift ;;
    --netns) [ $# -ge 2 ] || usage; NETNS="$2"; shift 2 ;;
    --netns=*) NETNS="${1#--netns=}"; shift ;;
    *) usage ;;
  esac
done
DIR="$(realpath -m "$DIR")"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/docker.pid"
LOG="$DIR/dockerd.log"
# Names that must differ between engines on one host, derived from DIR.
TAG="$(printf '%s' "$DIR" | sha256sum | cut -c1-10)"
BRIDGE="cz$TAG" # at most 15 characters, as Linux requires
# Serialises starts on this host: the subnet of a new bridge is chosen by dockerd among those
# no route uses yet, so two engines starting at once could otherwise pick the same one.
LOCK="/run/containerz-engine.lock"
# Commands that act on the engine's network: in its namespace when it has one.
IP=(ip)
IN_NETNS=()
if [ -n "$NETNS" ]; then
  [ -e "/var/run/netns/$NETNS" ] || { say "no network namespace $NETNS (ip netns add $NETNS)"; exit 1; }
  IP=(ip -n "$NETNS")
  IN_NETNS=(nsenter "--net=/var/run/netns/$NETNS")
fi

answers() {
  [ -S "$SOCK" ] && curl -sf --max-time 3 --unix-socket "$SOCK" http://docker/_ping >/dev/null 2>&1
}

# The pid of this DIR's dockerd, if it runs (a recycled pid belonging to something else is ignored).
engine_pid() {
  local pid command
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] || return 1
  command="$(running "$pid")" || return 1
  [[ "$command" == *dockerd*" --pidfile $PIDFILE "* ]] || return 1
  printf '%s\n' "$pid"
}

# Print the command line of a live process; fail for a dead one or a zombie (empty command line).
# Not for a process that may be exec'ing: its command line is briefly empty then, too.
running() {
  local command
  command="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" || return 1
  [ -n "$command" ] && printf '%s\n' "$command"
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
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

start() {
  local pid
  if answers; then
    say "the engine in $DIR is already running"
    printf 'DOCKER_HOST=unix://%s\n' "$SOCK"
    return
  fi
  install_missing
  mkdir -p "$DIR"
  exec 9>"$LOCK"
  flock -w 120 9 || { say "could not take $LOCK within 120 s"; exit 1; }
  if answers; then # another start of this DIR won the race
    printf 'DOCKER_HOST=unix://%s\n' "$SOCK"
    return
  fi
  if pid="$(engine_pid)"; then
    say "dockerd $pid of $DIR runs but does not answer: waiting for it"
  else
    rm -f "$PIDFILE"
    # After dockerd dies, its containerd lingers as a zombie until reaped; dockerd would take it for
    # a live containerd to reconnect to, and time out.
    local containerd_pid
    containerd_pid="$(cat "$DIR/exec/containerd/containerd.pid" 2>/dev/null || true)"
    if [ -n "$containerd_pid" ] && ! alive "$containerd_pid"; then
      rm -f "$DIR/exec/containerd/containerd.pid"
    fi
    # With a non-default --bridge, dockerd uses the device but will not create it; it gives it an
    # address itself, from its default pools, avoiding subnets that routes already use.
    if ! "${IP[@]}" link show "$BRIDGE" >/dev/null 2>&1; then
      say "creating bridge $BRIDGE${NETNS:+ in network namespace $NETNS}"
      "${IP[@]}" link add name "$BRIDGE" type bridge
    fi
    "${IP[@]}" link set "$BRIDGE" up
    # Its own config file, so an /etc/docker/daemon.json meant for the system engine does not apply;
    # and its own key.json, which dockerd 20.10 would otherwise create as /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$DIR" >"$DIR/daemon.json"
    # Flags:
    #  --bridge=$BRIDGE: the default docker0 would be shared with any other engine on the host, and
    #    whichever starts or stops last would reconfigure it under the others.
    #  --iptables=false --ip-forward=false: the host firewall and sysctls stay as they are, and
    #    engines do not share (and rewrite) the host's DOCKER chains. Containers on the bridge and
    #    on --network host still run, reach the host at the bridge address, and published ports
    #    work through docker-proxy (the userland proxy). Only NAT to the outside world is lost,
    #    which the tests do not need.
    #  --containerd-namespace(s): if a system containerd runs at /run/containerd, dockerd uses it
    #    instead of starting its own; distinct namespaces keep the engines' containers apart.
    local flags=(
      --data-root "$DIR/root" --exec-root "$DIR/exec" -H "unix://$SOCK" --pidfile "$PIDFILE"
      --config-file "$DIR/daemon.json"
      --bridge "$BRIDGE" --iptables=false --ip-forward=false
      --containerd-namespace "containerz-$TAG" --containerd-plugins-namespace "containerz-$TAG-plugins"
    )
    say "starting dockerd for $DIR (log: $LOG)"
    printf '\n==== %s engine.sh start: dockerd %s\n' "$(date -u +%FT%TZ)" "${flags[*]}" >>"$LOG"
    # Detached (own session, no terminal, lock fd closed) so it outlives this script.
    setsid nohup "${IN_NETNS[@]}" dockerd "${flags[@]}" >>"$LOG" 2>&1 </dev/null 9>&- &
    pid=$! # setsid and nohup exec, so this is dockerd's pid
  fi
  local deadline=$((SECONDS + 60))
  until answers; do
    if ! alive "$pid" || [ $SECONDS -ge $deadline ]; then
      say "dockerd for $DIR did not come up (exited, or no answer within 60 s); last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      terminate "$pid"
      exit 1
    fi
    sleep 0.2
  done
  say "the engine in $DIR answers at unix://$SOCK"
  printf 'DOCKER_HOST=unix://%s\n' "$SOCK"
}

stop() {
  local pid
  if pid="$(engine_pid)"; then
    say "stopping dockerd $pid of $DIR"
    terminate "$pid"
  else
    say "no dockerd runs for $DIR"
  fi
  # Runtime leftovers, not data. A dockerd that had to be killed leaves DIR/root bind-mounted on
  # itself, and any dockerd leaves its network namespace files mounted: both would keep DIR from
  # being deleted. The bridge holds one of the 31 subnets of dockerd's default pools:
  # kept, bridges of engines in many DIRs would exhaust them. start recreates it.
  local mounted
  awk -v prefix="$DIR/exec/" '$3 == "nsfs" && index($2, prefix) == 1 { print $2 }' /proc/mounts |
    while read -r mounted; do umount "$mounted" 2>/dev/null || true; done
  ! mountpoint -q "$DIR/root" || umount "$DIR/root" 2>/dev/null || true
  "${IP[@]}" link delete "$BRIDGE" type bridge 2>/dev/null || true
}

# SIGTERM, then SIGKILL after 20 s.
terminate() {
  local pid="$1" deadline=$((SECONDS + 20))
  kill -TERM "$pid" 2>/dev/null || return 0
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      say "dockerd $pid still runs after 20 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      return
    fi
    sleep 0.2
  done
}

case "$action" in
  start) start ;;
  stop) stop ;;
  status) answers || exit 1 ;;
  env) printf 'DOCKER_HOST=unix://%s\n' "$SOCK" ;;
  *) usage ;;
esac
