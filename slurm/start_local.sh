#!/usr/bin/env bash
# Start a single-node Slurm cluster on localhost whose every file lives under DIR.
#
#   slurm/start_local.sh DIR [CPUS]      # CPUS defaults to nproc
#   eval "$(slurm/start_local.sh DIR)"   # same, and point this shell at the cluster
#
# Writes DIR/slurm.conf, starts munged when none runs (host-wide, shared by such clusters),
# then slurmctld and slurmd (their PIDs in DIR/slurmctld.pid and DIR/slurmd.pid), waits
# until the node is idle and prints the `export SLURM_CONF=...` line on stdout (messages go
# to stderr). Idempotent: when the daemons of DIR already run, only waits for the node and
# prints the line again. Exit codes: 2 for a bad call (usage, not root, Slurm not installed),
# 1 when the cluster does not come up.
# Stop with slurm/stop_local.sh DIR. Needs root (slurmd starts jobs as their users) and the
# Debian packages slurm-wlm and munge (slurm/install.sh).
set -euo pipefail

WAIT_S=30
MUNGED_MARK=/run/munge/start_local.pid
say() { echo "start_local: $*" >&2; }
die() { echo "error: $*" >&2; exit 2; }
fail() { echo "error: $*" >&2; exit 1; }

{ [ $# -ge 1 ] && [ $# -le 2 ]; } || die "usage: $0 DIR [CPUS]"
[ "$(id -u)" = 0 ] || die "$0 must run as root (slurmd launches jobs as their users)"
for cmd in slurmctld slurmd munged sinfo; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null \
    || die "$cmd not found; install Slurm first with slurm/install.sh"
done
export PATH="$PATH:/usr/sbin:/sbin"

# nproc alone honours OMP_NUM_THREADS (1 in a test worker): count the cores themselves.
CPUS=${2:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
[[ "$CPUS" =~ ^[1-9][0-9]*$ ]] || die "CPUS must be a positive integer, got '$CPUS'"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
export SLURM_CONF="$DIR/slurm.conf"

# alive PIDFILE NAME: the process recorded in PIDFILE runs and is NAME (not a reused PID).
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(<"$1")
  [ -r "/proc/$pid/comm" ] && [ "$(<"/proc/$pid/comm")" = "$2" ]
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_conf() {
  local mem_kb mem_mb port=6817
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  mem_mb=$((mem_kb * 8 / 10 / 1024))
  # Other clusters may run on this host: take the first free pair of ports from 6817 on.
  while ! { port_free "$port" && port_free $((port + 1)); }; do
    port=$((port + 2))
    [ "$port" -lt 7817 ] || fail "no free pair of TCP ports in 6817-7817 for slurmctld/slurmd"
  done
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$SLURM_CONF" <<EOF
# Written by slurm/start_local.sh: a single-node cluster on localhost, no accounting.
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=1001
MinJobAge=300
# Let preemption and time-limit signals (submitit's USR2) reach the jobs.
SlurmctldParameters=preempt_send_user_signal
# A requeued or cancelled job gets SIGTERM, then SIGKILL this many seconds later (Slurm's
# default is 30; submitit ignores SIGTERM, so short cells would otherwise just finish).
KillWait=5
# Schedule a batch job when it arrives, not up to 3 s later: quick jobs, quick tests.
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  say "wrote $SLURM_CONF (CPUs=$CPUS, RealMemory=${mem_mb}MB, ports $port/$((port + 1)))"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0
  fi
  [ -s /etc/munge/munge.key ] || fail "/etc/munge/munge.key is missing; reinstall munge"
  mkdir -p /run/munge
  chown munge:munge /run/munge
  # Daemons keep no descriptor of ours: a caller that captures our output must see EOF.
  runuser -u munge -- munged </dev/null >/dev/null 2>>"$DIR/munged.log" \
    || fail "munged failed to start; see $DIR/munged.log and /var/log/munge/munged.log"
  # Mark it as ours: the last stop_local.sh on this host stops it, and never a munged it
  # found running.
  cp /run/munge/munged.pid "$MUNGED_MARK"
  say "started munged (pid $(<"$MUNGED_MARK"))"
}

# start NAME ARGS...: start the daemon NAME of DIR unless it already runs.
start() {
  local name=$1
  shift
  if alive "$DIR/$name.pid" "$name"; then
    say "$name already running (pid $(<"$DIR/$name.pid"))"
    return 0
  fi
  rm -f "$DIR/$name.pid"
  "$name" "$@" </dev/null >>"$DIR/$name.log" 2>&1 \
    || fail "$name failed to start; see $DIR/$name.log"
  local i
  for ((i = 0; i < 50; i++)); do
    [ -s "$DIR/$name.pid" ] && break
    sleep 0.1
  done
  alive "$DIR/$name.pid" "$name" || fail "$name exited at start; see $DIR/$name.log"
  say "started $name (pid $(<"$DIR/$name.pid"))"
}

if ! alive "$DIR/slurmctld.pid" slurmctld && ! alive "$DIR/slurmd.pid" slurmd; then
  write_conf
fi
start_munge
start slurmctld -i
start slurmd -N localhost

# Up means schedulable: idle, or busy with jobs when the cluster already ran.
up() { case "$1" in idle | mix | alloc) return 0 ;; *) return 1 ;; esac; }
state=""
for ((i = 0; i < WAIT_S * 2; i++)); do
  state=$(timeout 5 sinfo -h -n localhost -o %t 2>/dev/null || true)
  up "$state" && break
  sleep 0.5
done
if ! up "$state"; then
  tail -n 5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
  fail "node localhost is '${state:-unreachable}' after ${WAIT_S}s;" \
    "logs in $DIR; stop with slurm/stop_local.sh $DIR"
fi
say "node localhost is $state"
echo "export SLURM_CONF=$SLURM_CONF"
