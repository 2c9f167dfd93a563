#!/usr/bin/env bash
# Starts (or stops) a real Slurm cluster on this machine: munged, slurmctld and one slurmd per node,
# with a generated slurm.conf. For trying slurm/sweep.sbatch on a laptop or in CI. Needs root.
#   scripts/slurm-local.sh start [--nodes N]  # idempotent; prints the partition when ready
#   scripts/slurm-local.sh stop                # stops whatever start started
#   scripts/slurm-local.sh status
# One node (the default) is this machine; the daemons talk over 127.0.0.1, so the machine's own
# name need not resolve. Two or three nodes are node1..nodeN: each slurmd runs in a network
# namespace of its own (address 10.77.0.1I on a bridge that holds slurmctld's 10.77.0.1, nothing
# routed beyond it) and a UTS namespace of its own (host name nodeI). The jobs' processes inherit
# both, so the MPI ranks of a job on two nodes talk TCP between two addresses and report two hosts.
# Each node's namespaces are kept alive by a holder process (`xbarsweep-nodeI infinity` in ps), not
# by `ip netns`, which needs / to be a mount point and so fails in a chroot.
set -euo pipefail
die() { echo "slurm-local: $*" >&2; exit 1; }

ACTION=${1:-start}
[ $# -eq 0 ] || shift
NODES=1
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) [ $# -ge 2 ] || die "--nodes needs a number"; NODES=$2; shift 2 ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) die "usage: $0 start [--nodes 1|2|3] | stop | status" ;;
  esac
done
[[ $NODES =~ ^[123]$ ]] || die "--nodes takes 1, 2 or 3, not '$NODES'"

STATE=/var/lib/xbarsweep-slurm
CONF_DIR=/etc/slurm
NODE=$(hostname -s 2>/dev/null || uname -n)
NODE=${NODE%%.*}
# The multi-node network: names short enough for interfaces (15 characters at most).
NET=10.77.0
BRIDGE=xbarsweep0
HOLDER=xbarsweep-node  # + node number: the holders' name in ps

[ "$(id -u)" -eq 0 ] || die "needs root (it starts munged, slurmctld and slurmd)"

# The pids of the running processes called $1 in this root (in a chroot, /proc also lists the
# host's processes). Reads /proc itself: pgrep may not be installed.
pids_of() {
  local p comm root
  root=$(stat -L -c %d:%i /)
  for p in /proc/[0-9]*; do
    read -r comm 2>/dev/null < "$p/comm" || continue
    [ "$comm" = "$1" ] && [ "$(stat -L -c %d:%i "$p/root/" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done
  return 0
}

ctld_up() { scontrol ping 2>/dev/null | grep -q UP; }
holders_up() { local i; for i in $(seq "$NODES"); do holder_of "$i" >/dev/null || return 1; done; }

# The node count of the cluster that start last made (1 for one started before --nodes existed).
running_nodes() { cat "$STATE/nodes" 2>/dev/null || echo 1; }

# The pid of node $1's holder: a sleeping process whose only job is to keep the node's network and
# UTS namespaces alive (a namespace ends with its last process) and to be what nsenter enters them
# by. Fails if it is gone; the namespace id recorded beside the pid tells a reused pid.
holder_of() {
  local pid ns
  pid=$(cat "$STATE/node$1.pid" 2>/dev/null) && ns=$(cat "$STATE/node$1.ns" 2>/dev/null) && [ -n "$ns" ] &&
    [ "$(stat -L -c %d:%i "/proc/$pid/ns/net" 2>/dev/null)" = "$ns" ] || return 1
  echo "$pid"
}

# "PID NS" for every process in one of the network namespaces NS... (device:inode, as stat -L gives
# them for /proc/PID/ns/net): the holders, slurmds and job steps. No process of the host can be in
# them, so unlike pids_of this needs no care for a chroot. One stat for all: this runs in loops.
in_namespaces() {
  [ $# -gt 0 ] || return 0
  { stat -L -c '%n %d:%i' /proc/[0-9]*/ns/net 2>/dev/null || true; } |
    awk -v want="$*" 'BEGIN { n = split(want, w, " "); for (k = 1; k <= n; k++) ns[w[k]] = 1 }
                      $2 in ns { split($1, p, "/"); print p[3], $2 }'
}

# Starts node $1's holder, in a network and UTS namespace of its own with the host name nodeI set.
start_holder() {
  local i=$1 pid
  rm -f "$STATE/node$i.pid" "$STATE/node$i.ns"
  # setsid, / as its directory and none of our descriptors: the holder outlives this script and its
  # terminal, keeps no file system busy and holds no pipe open that a caller reads us to the end by.
  # shellcheck disable=SC2016  # expanded by the holder's bash
  setsid unshare --net --uts bash -c \
    'hostname "$1" && cd / && echo $$ > "$2" && exec -a "$3" sleep infinity 2>/dev/null' \
    holder "node$i" "$STATE/node$i.pid" "$HOLDER$i" < /dev/null > /dev/null 2> "$STATE/node$i.err" &
  for _ in $(seq 50); do [ -s "$STATE/node$i.pid" ] && break; sleep 0.1; done
  pid=$(cat "$STATE/node$i.pid" 2>/dev/null) ||
    die "cannot make the namespaces of node$i (needs CAP_SYS_ADMIN): $(cat "$STATE/node$i.err")"
  stat -L -c %d:%i "/proc/$pid/ns/net" > "$STATE/node$i.ns"
  rm -f "$STATE/node$i.err"
}

# Runs a command in node $1's network namespace.
in_node() {
  local pid
  pid=$(holder_of "$1") || die "the namespaces of node$1 are gone"
  nsenter --target "$pid" --net "${@:2}"
}

start_munge() {
  [ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || /usr/sbin/create-munge-key -f; }
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    # --origin: the credentials' origin address, which munged otherwise looks up from the host name.
    # One munged serves every node: its socket is a file, which the namespaces share.
    runuser -u munge -- /usr/sbin/munged --force --origin=127.0.0.1
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  munge -n | unmunge >/dev/null || die "munged does not answer"
}

make_network() {
  local i
  mkdir -p "$STATE"
  ip link add "$BRIDGE" type bridge || die "cannot create a bridge (needs CAP_NET_ADMIN)"
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for i in $(seq "$NODES"); do
    start_holder "$i"
    ip link add "xbarsweep-n$i" type veth peer name eth0 netns "$(holder_of "$i")"
    ip link set "xbarsweep-n$i" master "$BRIDGE" up
    in_node "$i" ip addr add "$NET.1$i/24" dev eth0
    in_node "$i" ip link set eth0 up
    in_node "$i" ip link set lo up
  done
}

# After the nodes' processes are gone.
remove_network() {
  local i _
  command -v ip >/dev/null || return 0
  # A namespace's end of a veth pair takes the pair with it as the namespace ends, which the kernel
  # finishes a little after its last process; a host end still there would block the next start's.
  for i in 1 2 3; do ip link delete "xbarsweep-n$i" >/dev/null 2>&1 || true; done
  for _ in $(seq 50); do
    ip link show xbarsweep-n1 >/dev/null 2>&1 || ip link show xbarsweep-n2 >/dev/null 2>&1 ||
      ip link show xbarsweep-n3 >/dev/null 2>&1 || break
    sleep 0.1
  done
  ! ip link show "$BRIDGE" >/dev/null 2>&1 || ip link delete "$BRIDGE"
}

write_conf() {
  local hw i ctld_addr=127.0.0.1 per_node="" nodes=$NODE node_lines
  hw=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]* //')
  node_lines="NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $hw State=UNKNOWN"
  mkdir -p "$STATE/ctld" "$STATE/d" /var/log/slurm
  if [ "$NODES" -gt 1 ]; then
    # Every node claims this machine's CPUs: they are shared, as the OverSubscribe below allows.
    ctld_addr=$NET.1 per_node=-%n nodes="node[1-$NODES]" node_lines=""
    for i in $(seq "$NODES"); do
      node_lines+="NodeName=node$i NodeAddr=$NET.1$i NodeHostname=node$i $hw State=UNKNOWN"$'\n'
      mkdir -p "$STATE/d-node$i"
    done
  fi
  cat > "$CONF_DIR/slurm.conf" <<CONF
# Generated by xbarsweep scripts/slurm-local.sh: a cluster of $NODES node(s) for testing.
ClusterName=xbarsweep-local
SlurmctldHost=$NODE($ctld_addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d$per_node
SlurmctldPidFile=/run/slurmctld-xbarsweep.pid
SlurmdPidFile=/run/slurmd-xbarsweep$per_node.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd$per_node.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
${node_lines%$'\n'}
PartitionName=debug Nodes=$nodes Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
}

start_slurmds() {
  local i holder p up
  if [ "$NODES" -eq 1 ]; then
    [ -n "$(pids_of slurmd)" ] || slurmd -N "$NODE"
    return
  fi
  for i in $(seq "$NODES"); do
    holder=$(holder_of "$i") || die "the namespaces of node$i are gone"
    up=""
    for p in $(pids_of slurmd); do
      if [ "/proc/$p/ns/net" -ef "/proc/$holder/ns/net" ]; then up=1; fi
    done
    # Only the network and UTS namespaces: the node shares this machine's mounts, /sys with the
    # cgroup file system that slurmd needs included.
    [ -n "$up" ] || nsenter --target "$holder" --net --uts slurmd -N "node$i" ||
      die "slurmd of node$i does not start; its log ends:
$(tail -n 5 "/var/log/slurm/slurmd-node$i.log" 2>/dev/null)"
  done
}

ready_nodes() { sinfo -h -N -o %t 2>/dev/null | grep -cE '^(idle|mix|alloc)' || true; }

stop_cluster() {
  local sig i pids in_nodes nss
  scontrol shutdown >/dev/null 2>&1 || true
  # The nodes' namespaces, even if a holder has died: a namespace lives on while any process is in it.
  nss=$(cat "$STATE"/node[1-3].ns 2>/dev/null || true)
  # Whatever the shutdown did not reach, the holders and job steps in the nodes' namespaces included:
  # SIGTERM, then SIGKILL after 10 s.
  for sig in TERM KILL; do
    for i in $(seq 100); do
      # shellcheck disable=SC2086
      in_nodes=$(in_namespaces $nss)
      # A namespace that has emptied is forgotten: its id may be reused by a namespace not ours.
      nss=$(awk '{ print $2 }' <<< "$in_nodes" | sort -u)
      pids=$(pids_of slurmd; pids_of slurmctld; awk '{ print $1 }' <<< "$in_nodes")
      [ -n "$pids" ] || break 2
      # shellcheck disable=SC2086
      if [ "$i" -eq 1 ]; then kill -s "$sig" $pids 2>/dev/null || true; fi
      sleep 0.1
    done
  done
  [ -z "$pids" ] || die "still running after SIGKILL: $pids"
  remove_network
  rm -f "$STATE"/node[1-3].pid "$STATE"/node[1-3].ns
  # Without the bridge, 10.77.0.1 routes off the machine: leave the clients the one-node conf.
  if [ "$(running_nodes)" -gt 1 ]; then NODES=1 write_conf; fi
  rm -f "$STATE/nodes"
}

case "$ACTION" in
  start)
    [ "$NODES" -eq 1 ] || command -v ip >/dev/null || die "--nodes $NODES needs ip (Debian: iproute2)"
    start_munge
    # The node list is in slurm.conf, which the daemons read at start: another size starts afresh,
    # and so does a multi-node cluster without its slurmctld or a node's holder.
    if [ "$(running_nodes)" != "$NODES" ] || { [ "$NODES" -gt 1 ] && ! { ctld_up && holders_up; }; }; then
      stop_cluster
    fi
    if ! ctld_up; then
      [ "$NODES" -eq 1 ] || make_network
      write_conf
      echo "$NODES" > "$STATE/nodes"
      slurmctld -i
      for _ in $(seq 100); do ctld_up && break; sleep 0.1; done
      ctld_up || die "slurmctld does not answer (another Slurm on ports 6817/6818?); its log ends:
$(tail -n 5 /var/log/slurm/slurmctld.log 2>/dev/null)"
    fi
    start_slurmds
    for _ in $(seq 150); do [ "$(ready_nodes)" -ge "$NODES" ] && break; sleep 0.2; done
    nodelist=$NODE; [ "$NODES" -eq 1 ] || nodelist="node[1-$NODES]"
    scontrol update NodeName="$nodelist" State=RESUME >/dev/null 2>&1 || true
    [ "$(ready_nodes)" -ge "$NODES" ] || die "$NODES node(s) not ready: $(sinfo -N 2>&1)"
    echo "slurm-local: up: $(sinfo -h -o 'partition %P, %D node(s), state %t, %c CPUs')"
    ;;
  stop)
    stop_cluster
    echo "slurm-local: stopped"
    ;;
  status)
    sinfo
    ;;
  *) die "usage: $0 start [--nodes 1|2|3] | stop | status" ;;
esac
