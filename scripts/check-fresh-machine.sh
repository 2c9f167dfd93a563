#!/usr/bin/env bash
# Checks README's two commands on a fresh Debian 12: builds a minimal root with debootstrap
# (--variant=minbase bookworm, from the mirror this machine's apt uses), gives it what a real
# machine has and a bare root lacks (/proc, /sys with the cgroup filesystems, /dev, /dev/pts,
# /etc/hosts naming this host, /etc/resolv.conf), copies the project in as a new user gets it,
# and runs scripts/quickstart.sh, `scripts/kokkos-openmp.sh --fetch` (the source test.sh's Kokkos
# OpenMP step builds) and scripts/test.sh inside it with chroot, printing how long each took and
# ctest's summary. Exits non-zero if either fails. Whatever happens (failure, Ctrl-C), every
# process left running in the root is ended and everything mounted there is unmounted.
# scripts/test.sh runs in a network namespace of its own, with no way out (the quickstart has
# downloaded everything by then): the Slurm its test starts would otherwise share ports 6817/6818
# with any Slurm running on this machine, and talk to it.
#
# A manual check, too slow for CI: 25-40 minutes on 2 cores (debootstrap under a minute, first
# run only; the quickstart 6-16 minutes, most of it the build, more when other builds compete;
# the tests 6-8, then about 12 for the Kokkos OpenMP build and its tests). Needs root. The
# minimal root is cached as a tarball and the packages apt downloads
# are kept, so a second run downloads only the package lists.
#   scripts/check-fresh-machine.sh               # the working tree: tracked and untracked, non-ignored files
#   scripts/check-fresh-machine.sh --ref HEAD    # a git clone of that commit instead
# Options: --keep (keep the root for inspection), --dir DIR (where to make it; default a new
# directory under /var/tmp), --cache DIR (default /var/cache/xbarsweep-fresh-machine),
# --refresh (debootstrap again instead of using the cached root).
# shellcheck disable=SC2317  # cleanup and its helpers run from the EXIT trap
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SUITE=bookworm
REF=""
KEEP=0
DIR=""
CACHE=/var/cache/xbarsweep-fresh-machine
REFRESH=0

die() { echo "check-fresh-machine: $*" >&2; exit 1; }
say() { echo "check-fresh-machine: $*"; }
usage() { sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --ref) [ $# -ge 2 ] || die "--ref needs a revision"; REF=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a directory"; DIR=$2; shift 2 ;;
    --cache) [ $# -ge 2 ] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
    --refresh) REFRESH=1; shift ;;
    -h|--help) usage ;;
    *) echo "check-fresh-machine: unknown argument '$1'" >&2; usage 2 >&2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot)"
for tool in unshare ip flock mountpoint; do command -v $tool >/dev/null || die "needs $tool (util-linux, iproute2)"; done

# --- The package source: the first enabled 'deb' entry of this machine's apt for a suite ---------

# One-line format (sources.list, *.list): deb [options] URI SUITE COMPONENTS...
list_uri() {
  awk -v want="$1" '
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == want) { print $i; exit }
    }' "${@:2}" 2>/dev/null || true
}
# deb822 format (*.sources): stanzas of Types, URIs, Suites, Enabled, separated by blank lines.
sources_uri() {
  awk -v want="$1" '
    function flush(  n, s, u, i) {
      if (!found && types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
        n = split(suites, s, " ")
        for (i = 1; i <= n; i++) if (s[i] == want) { split(uris, u, " "); print u[1]; found = 1 }
      }
      types = uris = suites = enabled = key = ""
    }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { if (key == "uris") uris = uris " " $0; else if (key == "suites") suites = suites " " $0; next }
    {
      key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
      if (key == "types") types = val; else if (key == "uris") uris = val
      else if (key == "suites") suites = val; else if (key == "enabled") enabled = val
    }
    END { flush() }' "${@:2}" 2>/dev/null || true
}
apt_uri() {
  local suite=$1 uri="" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] && [ -z "$uri" ] && uri=$(list_uri "$suite" "$f")
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] && [ -z "$uri" ] && uri=$(sources_uri "$suite" "$f")
  done
  echo "${uri%/}"
}

MIRROR=$(apt_uri "$SUITE")
[ -n "$MIRROR" ] || { MIRROR=http://deb.debian.org/debian; say "no $SUITE entry in /etc/apt: using $MIRROR"; }
SECURITY=$(apt_uri "$SUITE-security")
UPDATES=$(apt_uri "$SUITE-updates")
ARCH=$(dpkg --print-architecture)

# --- Cleanup: end every process whose root is ours, unmount in reverse order, remove the root ----

ROOT=""
MOUNTS=()
cleaned=0
mounts_under() { awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo; }
procs_in_root() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [[ "$r" == "$ROOT" || "$r" == "$ROOT"/* ]] && echo "${p#/proc/}"
  done
  return 0
}
end_processes() {
  local sig pids _
  for sig in TERM KILL; do
    pids=$(procs_in_root)
    [ -n "$pids" ] || return 0
    say "ending $(echo "$pids" | wc -l) process(es) left in the root (SIG$sig)"
    # shellcheck disable=SC2086
    kill -"$sig" $pids 2>/dev/null || true
    for _ in $(seq 50); do [ -n "$(procs_in_root)" ] || return 0; sleep 0.1; done
  done
  [ -z "$(procs_in_root)" ] || say "processes still in the root: $(procs_in_root | tr '\n' ' ')"
}
cleanup() {
  local rc=$? i m
  [ "$cleaned" -eq 0 ] || return 0
  cleaned=1
  trap - EXIT INT TERM HUP
  [ -n "$ROOT" ] || exit "$rc"
  end_processes
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${MOUNTS[i]}
    mountpoint -q "$m" 2>/dev/null || continue
    umount -R "$m" 2>/dev/null || { sleep 1; umount -R "$m"; } || say "could not unmount $m"
  done
  # What debootstrap mounts while it runs, if it was interrupted.
  for m in $(mounts_under "$ROOT" | sort -r); do umount -R "$m" 2>/dev/null || true; done
  # Never remove a root with anything still mounted in it: /dev or /sys would go with it.
  m=$(mounts_under "$ROOT")
  if [ -n "$m" ]; then
    say "still mounted, so the root is kept: $(echo "$m" | tr '\n' ' ')"
  elif [ "$KEEP" -eq 1 ]; then
    say "root kept in $ROOT (enter it: chroot $ROOT; mount /proc, /sys and /dev first to run things)"
  else
    rm -rf --one-file-system "$ROOT"
  fi
  [ -n "$DIR" ] && say "logs are in $DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# --- The minimal root -----------------------------------------------------------------------------

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

if [ -z "$DIR" ]; then
  DIR=$(mktemp -d /var/tmp/xbarsweep-fresh.XXXXXX)
else
  mkdir -p "$DIR"
fi
DIR=$(cd "$DIR" && pwd -P)
[ ! -e "$DIR/root" ] || die "$DIR/root exists: remove it or choose another --dir"
mkdir -p "$CACHE/apt-archives"
# One run at a time per cache: two roots' apt-get would fight over the shared download directory.
exec 9> "$CACHE/lock"
flock -n 9 || die "another check is running with the cache $CACHE (use --cache DIR for a second one)"
mkdir -p "$DIR/root"
ROOT=$DIR/root
tarball=$CACHE/$SUITE-minbase-$ARCH-$(echo "$MIRROR" | md5sum | cut -c1-8).tar

say "mirror $MIRROR, root $ROOT"
t0=$SECONDS
if [ "$REFRESH" -eq 0 ] && [ -s "$tarball" ]; then
  say "unpacking the cached minimal root ($tarball)"
  tar -C "$ROOT" --numeric-owner -xpf "$tarball"
else
  say "debootstrap --variant=minbase $SUITE (log: $DIR/debootstrap.log)"
  debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$ROOT" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$DIR/debootstrap.log"; die "debootstrap failed"; }
  # A pristine copy, so that the next run neither downloads nor unpacks packages.
  tar -C "$ROOT" --numeric-owner -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
say "minimal root ready in $(duration $((SECONDS - t0)))"

# The package sources of a Debian 12 installed from the same mirrors as this machine.
stanza() { printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' "$1" "$2"; }
rm -f "$ROOT/etc/apt/sources.list"
{
  stanza "$MIRROR" "$SUITE"
  if [ -n "$UPDATES" ]; then stanza "$UPDATES" "$SUITE-updates"; fi
  if [ -n "$SECURITY" ]; then stanza "$SECURITY" "$SUITE-security"; fi
} > "$ROOT/etc/apt/sources.list.d/debian.sources"

# What an installed machine has and a debootstrap root lacks.
host=$(hostname -s 2>/dev/null || uname -n); host=${host%%.*}
fqdn=$(hostname -f 2>/dev/null || echo "$host")
echo "$host" > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
  "$( [ "$fqdn" != "$host" ] && echo "$fqdn $host" || echo "$host")" > "$ROOT/etc/hosts"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

mount_in_root() {  # mount_in_root TARGET mount-arguments...
  local target=$ROOT$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
}
mount_in_root /proc -t proc proc
mount_in_root /sys --rbind /sys
mount --make-rslave "$ROOT/sys"   # so that unmounting it later cannot propagate to the host's /sys
mount_in_root /dev --rbind /dev
mount --make-rslave "$ROOT/dev"
mountpoint -q "$ROOT/dev/pts" || mount_in_root /dev/pts -t devpts -o gid=5,mode=620,ptmxmode=666 devpts
mountpoint -q "$ROOT/sys/fs/cgroup" || say "warning: this machine has no cgroup filesystem under /sys/fs/cgroup"
# Packages downloaded by an earlier run (apt-get reuses them; what gets installed is the same).
mount_in_root /var/cache/apt/archives --bind "$CACHE/apt-archives"

# --- The project, as a new user gets it -----------------------------------------------------------

dest=$ROOT/root/xbarsweep
t0=$SECONDS
if [ -n "$REF" ]; then
  rev=$(git -c safe.directory="$SRC" -C "$SRC" rev-parse --verify "$REF^{commit}") || die "no commit '$REF' in $SRC"
  say "project: git clone of $REF ($rev)"
  git -c safe.directory="$SRC" clone -q --no-checkout "$SRC" "$dest"
  git -C "$dest" checkout -q --detach "$rev"
else
  say "project: the working tree of $SRC (tracked and untracked, non-ignored files)"
  mkdir -p "$dest"
  git -c safe.directory="$SRC" -C "$SRC" ls-files -z -co --exclude-standard \
    | (cd "$SRC" && while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done) \
    | tar -C "$SRC" --null --no-recursion -T - -cf - | tar -C "$dest" -xpf -
fi
say "project copied in $(duration $((SECONDS - t0))): $(find "$dest" -type f -not -path '*/.git/*' | wc -l) files"

# --- README's two commands --------------------------------------------------------------------------

# A network namespace of its own: the loopback interface and an eth0 that leads nowhere (one end of
# a veth pair, with a documentation address), like a machine with its cable out. With lo alone,
# glibc reports no IPv4 (slurmctld cannot listen) and OpenMPI finds no network.
OWN_NET='ip link set lo up && ip link add eth0 type veth peer name eth0-peer && ip link set eth0-peer up &&
  ip link set eth0 up && ip addr add 192.0.2.1/24 dev eth0'
test_net=own
unshare --net -- sh -c "$OWN_NET" 2>/dev/null ||
  { test_net=host; say "warning: cannot make a network namespace (veth): the tests share this machine's network"; }

in_root() {  # in_root LOG NET COMMAND: COMMAND in the project inside the root, as a root login would
  local log=$1 net=$2 cmd=$3 pid rc=0 netns=()
  [ "$net" = own ] && netns=(unshare --net -- sh -c "$OWN_NET"' && exec "$@"' sh)
  # --default-signal: a background command starts with SIGINT ignored; a user's shell would not.
  "${netns[@]}" chroot "$ROOT" /usr/bin/env -i --default-signal=INT,QUIT HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/xbarsweep && $cmd" > >(tee "$log") 2>&1 &
  pid=$!
  wait "$pid" || rc=$?   # a background wait, so that a signal reaches the traps at once
  return "$rc"
}

results=()
failed=0
# Between the two, with the network: the source scripts/test.sh's Kokkos OpenMP step builds.
for cmd in scripts/quickstart.sh "scripts/kokkos-openmp.sh --fetch" scripts/test.sh; do
  net=host
  [ "$cmd" = scripts/test.sh ] && net=$test_net
  log=$DIR/$(basename "${cmd%% *}" .sh).log
  say "running $cmd inside the root ($( [ $net = own ] && echo "own network namespace, " )log: $log)"
  t0=$SECONDS
  rc=0
  in_root "$log" "$net" "$cmd" || rc=$?
  took=$(duration $((SECONDS - t0)))
  say "$cmd exited $rc after $took"
  results+=("$cmd: exit $rc, $took")
  [ "$rc" -eq 0 ] || failed=1
done
sleep 0.2   # let tee finish the log

echo
say "summary (mirror $MIRROR, project ${REF:-working tree})"
for r in "${results[@]}"; do echo "  $r"; done
# Every ctest run of the test command: the main suite, then the Kokkos OpenMP tree's tests.
summaries=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$DIR/test.log" || true)
[ -n "$summaries" ] || summaries="no summary line (the suite did not run)"
while IFS= read -r line; do echo "  ctest: $line"; done <<< "$summaries"
sed -n '/^The following tests FAILED:/,/^Errors while running CTest/p' "$DIR/test.log" | sed 's/^/  /'
exit "$failed"
