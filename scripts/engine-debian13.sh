#!/usr/bin/env bash
# Debian 13's Docker engine (docker.io 26.1, API 1.45) as a second engine beside the host's, in a
# network namespace of its own, so the stack can be tested on it from a Debian 12 host.
#
#   scripts/engine-debian13.sh fetch        download, verify and extract the pinned .debs (cached)
#   scripts/engine-debian13.sh start        fetch, then start containerd + dockerd in the namespace
#   scripts/engine-debian13.sh images       copy this clone's images from the host engine into it
#   scripts/engine-debian13.sh run CMD...   run CMD in the namespace, DOCKER_HOST set to the engine
#   scripts/engine-debian13.sh stop         stop the engine and remove the namespace, nothing left
#   scripts/engine-debian13.sh test         all of the above around test/engine/ (npm run test:engine:debian13)
#
# Why a network namespace: iptables, bridges and 127.0.0.1 are per namespace, so the two daemons
# never fight over the DOCKER chains or docker0, and a stack's ports on 127.0.0.1 live in the
# namespace, where its clients run too (`run`). The host's dockerd is never touched.
set -euo pipefail

# The pins: Debian 13's packages. runc and tini (docker-init) come from the host's docker.io:
# trixie's need libc6 2.38, Debian 12 has 2.36; dockerd and containerd need 2.34.
DOCKER_VERSION=26.1.5+dfsg1-9+deb13u1+b1
CONTAINERD_VERSION=1.7.24~ds1-6+deb13u1
SUITE=trixie
MIRROR=${KRYONIX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=${KRYONIX_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

NETNS=kryonix-d13
RUN_DIR=/run/kryonix-d13
SOCK=unix://$RUN_DIR/docker.sock
CACHE=${KRYONIX_CACHE:-$HOME/.cache/kryonix}
ENGINE_DIR=$CACHE/engines/docker.io-$DOCKER_VERSION
BIN=$ENGINE_DIR/bin
# The data root outlives a run: images loaded once are there the next time (a warm run).
DATA=$ENGINE_DIR/data
LOG=$CACHE/logs/dockerd-d13.log
REPO=$(cd "$(dirname "$0")/.." && pwd)
# The project's pinned Node for tsx, npx and vitest, here and in the namespace, also when this
# script is run by hand from a shell whose node is another (npm run puts it first already).
PATH="$REPO/node_modules/.bin:$PATH"

say() { printf '[engine-d13] %s\n' "$*"; }
die() { printf '[engine-d13] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# One field of one package's paragraph in a Packages file: pkgfield FILE PACKAGE VERSION FIELD.
pkgfield() {
  awk -v p="$2" -v v="$3" -v f="$4" 'BEGIN { RS = ""; FS = "\n" }
    { pkg = ""; ver = ""; val = ""
      for (i = 1; i <= NF; i++) {
        if ($i == "Package: " p) pkg = 1
        if ($i == "Version: " v) ver = 1
        if (index($i, f ": ") == 1) val = substr($i, length(f) + 3)
      }
      if (pkg && ver) { print val; exit } }' "$1"
}

# A subshell, so that its EXIT trap removes the partial download however it ends.
fetch() (
  if [ -f "$ENGINE_DIR/.complete" ]; then say "fetch: cached in $ENGINE_DIR"; exit 0; fi
  local t0 tmp
  t0=$(now)
  { command -v gpgv >/dev/null && [ -f "$KEYRING" ]; } || die "gpgv and $KEYRING are needed (apt-get install gpgv debian-archive-keyring)"
  mkdir -p "$CACHE/engines"
  tmp=$(mktemp -d "$CACHE/engines/.fetch.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  say "fetch: $MIRROR $SUITE: InRelease, Packages"
  curl -fsS --retry 3 -o "$tmp/InRelease" "$MIRROR/dists/$SUITE/InRelease"
  # The index is trusted only through Debian's signature, checked with the archive keyring apt uses.
  gpgv --keyring "$KEYRING" --output "$tmp/Release" "$tmp/InRelease" 2>"$tmp/gpgv.log" \
    || die "InRelease of $SUITE: bad or missing signature ($(tr '\n' ' ' <"$tmp/gpgv.log"))"
  local want
  want=$(awk '$3 == "main/binary-amd64/Packages.xz" && length($1) == 64 { print $1 }' "$tmp/Release")
  [ -n "$want" ] || die "the signed Release of $SUITE lists no SHA256 for main/binary-amd64/Packages.xz"
  curl -fsS --retry 3 -o "$tmp/Packages.xz" "$MIRROR/dists/$SUITE/main/binary-amd64/Packages.xz"
  echo "$want  $tmp/Packages.xz" | sha256sum -c --quiet - || die "Packages.xz does not match the signed Release's SHA256"
  xz -dc "$tmp/Packages.xz" >"$tmp/Packages"
  local pkg ver file sha
  mkdir -p "$tmp/debs" "$tmp/root" "$tmp/bin"
  for pkg in docker.io:$DOCKER_VERSION docker-cli:$DOCKER_VERSION containerd:$CONTAINERD_VERSION; do
    ver=${pkg#*:}
    pkg=${pkg%%:*}
    file=$(pkgfield "$tmp/Packages" "$pkg" "$ver" Filename)
    sha=$(pkgfield "$tmp/Packages" "$pkg" "$ver" SHA256)
    if [ -z "$file" ] || [ -z "$sha" ]; then
      die "$SUITE no longer lists $pkg $ver (it lists: $(awk -v p="$pkg" 'BEGIN{RS="";FS="\n"} $1=="Package: " p {for(i=1;i<=NF;i++) if ($i ~ /^Version: /) print substr($i,10)}' "$tmp/Packages" | tr '\n' ' ')): update the pins at the top of scripts/engine-debian13.sh"
    fi
    say "fetch: $pkg $ver"
    curl -fsS --retry 3 -o "$tmp/debs/${file##*/}" "$MIRROR/$file"
    echo "$sha  $tmp/debs/${file##*/}" | sha256sum -c --quiet - || die "${file##*/} does not match the SHA256 in the signed index"
    dpkg-deb -x "$tmp/debs/${file##*/}" "$tmp/root"
  done
  for b in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/docker usr/bin/containerd usr/bin/containerd-shim-runc-v2; do
    cp "$tmp/root/$b" "$tmp/bin/"
  done
  "$tmp/bin/dockerd" --version | grep -q "26\.1\." || die "the extracted dockerd is not 26.1: $("$tmp/bin/dockerd" --version)"
  mkdir -p "$ENGINE_DIR"
  rm -rf "$BIN"
  mv "$tmp/bin" "$BIN"
  mkdir -p "$ENGINE_DIR/debs" && mv "$tmp"/debs/*.deb "$ENGINE_DIR/debs/"
  touch "$ENGINE_DIR/.complete"
  say "fetch: verified and extracted into $BIN ($(took "$t0"))"
)

# Commands in the namespace see the engine's binaries first (its CLI is 26.1 too) and its socket.
in_ns() { ip netns exec "$NETNS" env PATH="$BIN:$PATH" DOCKER_HOST="$SOCK" "$@"; }

answers() { [ -S "$RUN_DIR/docker.sock" ] && DOCKER_HOST=$SOCK "$BIN/docker" version >/dev/null 2>&1; }

start() {
  fetch
  if answers; then say "start: the engine already answers on $SOCK"; return; fi
  local t0
  t0=$(now)
  { command -v runc >/dev/null && command -v docker-init >/dev/null; } || die "runc and docker-init are needed (the host's docker.io installs both)"
  ip netns list | grep -qw "^$NETNS" || ip netns add "$NETNS"
  ip netns exec "$NETNS" ip link set lo up
  mkdir -p "$RUN_DIR" "$DATA" "$(dirname "$LOG")"
  # dockerd runs in the namespace's network and in a mount namespace of its own (its mounts, and
  # containerd's, which it starts itself with its own root, state and socket under the data and
  # exec roots, never show on the host), with a /sys of the network namespace (the bridge's
  # settings) and the host's cgroup hierarchies bound back under it: a fresh sysfs has none, and
  # dockerd refuses to start without them (`ip netns exec` alone leaves exactly that gap).
  # setsid: the engine outlives this shell, and a ^C to the caller does not reach it.
  # shellcheck disable=SC2016 # expanded by the inner sh
  setsid nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation slave env PATH="$BIN:$PATH" sh -c '
    set -e
    mkdir -p "$3/cgroup"
    mount --rbind /sys/fs/cgroup "$3/cgroup"
    umount -l /sys
    mount -t sysfs sysfs /sys
    mount --rbind "$3/cgroup" /sys/fs/cgroup
    umount -l "$3/cgroup"
    exec dockerd --host "$1" --data-root "$2" --exec-root "$3/exec" --pidfile "$3/docker.pid" \
      --cgroup-parent /kryonix-d13 --log-level warn
  ' sh "$SOCK" "$DATA" "$RUN_DIR" </dev/null >>"$LOG" 2>&1 &
  local engine=$! deadline=$((SECONDS + 90))
  until answers; do
    kill -0 "$engine" 2>/dev/null || { tail -5 "$LOG" >&2; die "dockerd exited before it answered (log: $LOG)"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$LOG" >&2; die "the engine did not answer \`docker version\` on $SOCK within 90 s (log: $LOG)"; }
    sleep 0.5
  done
  say "start: $(DOCKER_HOST=$SOCK "$BIN/docker" version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}') on $SOCK, namespace $NETNS ($(took "$t0"); log: $LOG)"
}

stop() {
  local t0 pid deadline
  t0=$(now)
  if [ -f "$RUN_DIR/docker.pid" ]; then
    pid=$(cat "$RUN_DIR/docker.pid")
    # SIGTERM: dockerd stops its containers (each within its stop timeout), then its containerd.
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      deadline=$((SECONDS + 120))
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && { say "stop: dockerd $pid still running after 120 s: SIGKILL"; kill -KILL "$pid"; }
    fi
  fi
  if ip netns list | grep -qw "^$NETNS"; then
    # Whatever still runs in the namespace is the engine's (shims, a container's processes).
    local left
    left=$(ip netns pids "$NETNS" | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
      say "stop: still in $NETNS: $left: SIGTERM"
      # shellcheck disable=SC2086 # a list of pids
      kill -TERM $left 2>/dev/null || true
      deadline=$((SECONDS + 20))
      while [ -n "$(ip netns pids "$NETNS")" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
      left=$(ip netns pids "$NETNS" | tr '\n' ' ')
      # shellcheck disable=SC2086
      [ -z "${left// /}" ] || kill -KILL $left 2>/dev/null || true
    fi
    ip netns del "$NETNS"
  fi
  # The engine's cgroup parents (--cgroup-parent), empty once its containers are gone.
  rmdir /sys/fs/cgroup/*/kryonix-d13 2>/dev/null || true
  rm -rf "$RUN_DIR"
  say "stop: no engine, no namespace $NETNS ($(took "$t0"))"
}

# This clone's images (the toolchain's status file) and the base image, on the host engine.
wanted_images() {
  (cd "$REPO" && node_modules/.bin/tsx -e '
    import { readStatus } from "./toolchain/toolchain-state";
    const s = readStatus();
    console.log([s.baseImage, ...Object.values(s.images)].join("\n"));
  ')
}

images() {
  answers || die "the engine does not answer on $SOCK: run \`$0 start\` first"
  local t0 want missing=() tag
  t0=$(now)
  want=$(wanted_images)
  for tag in $want; do
    DOCKER_HOST=$SOCK "$BIN/docker" image inspect "$tag" >/dev/null 2>&1 || missing+=("$tag")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    # save | load keeps the image IDs, so the toolchain on this engine finds every tag up to date
    # (its hashes cover the base image's ID) and builds nothing; it needs no network either.
    say "images: copying ${missing[*]} from the host engine"
    docker save "${missing[@]}" | DOCKER_HOST=$SOCK "$BIN/docker" load -q >/dev/null
  fi
  # Tags of older builds go, so the engine's data root does not grow with every image change.
  local stale
  stale=$(DOCKER_HOST=$SOCK "$BIN/docker" image ls --format '{{.Repository}}:{{.Tag}}' 'kryonix/*' | grep -vxF -f <(echo "$want") || true)
  if [ -n "$stale" ]; then
    # shellcheck disable=SC2086
    DOCKER_HOST=$SOCK "$BIN/docker" rmi $stale >/dev/null
    DOCKER_HOST=$SOCK "$BIN/docker" image prune -f >/dev/null
  fi
  say "images: ${#missing[@]} copied, $(echo "$want" | wc -w) present ($(took "$t0"))"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  images) images ;;
  stop) stop ;;
  run) shift; in_ns "$@" ;;
  test)
    shift
    t0=$(now)
    # One run at a time on this machine: the namespace and the socket are fixed names. Another
    # clone's run (CI beside a developer) is waited for, not failed.
    exec 9>"/run/lock/kryonix-d13.lock"
    if ! flock -n 9; then
      say "test: waiting for another run of this engine to finish (/run/lock/kryonix-d13.lock, up to 30 min)"
      flock -w 1800 9 || die "another run of the Debian 13 engine held /run/lock/kryonix-d13.lock for 30 min"
    fi
    trap stop EXIT
    # A ^C or a kill ends the run through the EXIT trap too, so the engine never outlives it.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    (cd "$REPO" && npm run --silent toolchain >/dev/null) || die "npm run toolchain failed (run it for its log)"
    start
    images
    # shellcheck disable=SC2016 # expanded by the inner bash
    # In the background, so that a signal to this script is handled at once (bash runs a trap only
    # after its foreground command ends); stop then ends whatever of the test still runs in the namespace.
    in_ns bash -c 'cd "$1" && shift && npx vitest run --project engine "$@"' sh "$REPO" "$@" &
    wait $!
    say "test: passed ($(took "$t0") in all)"
    ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
