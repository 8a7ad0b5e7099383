#!/usr/bin/env bash
# Stop the single-node cluster that slurm/start_local.sh started in DIR.
#
#   slurm/stop_local.sh DIR
#
# Cancels the cluster's jobs, then stops slurmd and slurmctld by the PIDs recorded in DIR
# (never by name: other clusters may run on this host) and waits for them to exit. A munged
# that some start_local.sh started (its PID in /run/munge/start_local.pid) is stopped too
# once no slurmctld or slurmd is left on this host; a munged found running is left. Idempotent.
set -euo pipefail

STOP_S=20
MUNGED_MARK=/run/munge/start_local.pid
say() { echo "stop_local: $*" >&2; }
die() { echo "error: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: $0 DIR"
[ -d "$1" ] || die "no such directory: $1"
DIR=$(cd "$1" && pwd)
export SLURM_CONF="$DIR/slurm.conf"
export PATH="$PATH:/usr/sbin:/sbin"

# pid_of PIDFILE NAME: the PID recorded in PIDFILE when that process runs and is NAME.
pid_of() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(<"$1")
  [ -r "/proc/$pid/comm" ] && [ "$(<"/proc/$pid/comm")" = "$2" ] && echo "$pid"
}

# stop NAME:PIDFILE...: stop each daemon NAME recorded in PIDFILE, then wait for them to exit.
stop() {
  local arg name pid i
  local -A pids=()
  for arg in "$@"; do
    name=${arg%%:*}
    if pid=$(pid_of "${arg#*:}" "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "${arg#*:}"
  done
  for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    for ((i = 0; i < STOP_S * 10; i++)); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
      say "$name (pid $pid) ignored SIGTERM for ${STOP_S}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while [ -d "/proc/$pid" ]; do sleep 0.1; done
    fi
    say "stopped $name (pid $pid)"
  done
}

# others_running: a slurmctld or slurmd runs on this host (another cluster's, as ours are gone).
others_running() {
  local comm name
  for comm in /proc/[0-9]*/comm; do
    read -r name 2>/dev/null <"$comm" || continue
    case "$name" in slurmctld | slurmd) return 0 ;; esac
  done
  return 1
}

if pid_of "$DIR/slurmctld.pid" slurmctld >/dev/null && command -v squeue >/dev/null; then
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086  # one word per job id
    timeout 10 scancel $jobs 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [ -z "$(timeout 10 squeue -h -o %A 2>/dev/null || true)" ] && break
      sleep 0.1
    done
    say "cancelled jobs: ${jobs//$'\n'/ }"
  fi
fi

stop "slurmd:$DIR/slurmd.pid" "slurmctld:$DIR/slurmctld.pid"
if pid_of "$MUNGED_MARK" munged >/dev/null; then
  if others_running; then
    say "leaving munged running: another slurmctld or slurmd on this host uses it"
  else
    stop "munged:$MUNGED_MARK"
  fi
fi
