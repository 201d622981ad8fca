#!/usr/bin/env bash
# A real, small Slurm cluster on this host for the Slurm runtime's tests and benchmarks:
# munged, slurmctld and two slurmd (`slurmd -N n1`, `-N n2`: two nodes on one host), with
# fake GPUs (character devices), no systemd. Every file (config, state, logs, pid files,
# the munge socket) lives in one state directory outside the repository.
#
# Usage: scripts/slurm-env.sh [start | stop | status | env]
#   start   install the packages if missing (apt), start what is not running, wait until both
#           nodes are idle, then print the environment to use (`eval "$(scripts/slurm-env.sh)"`)
#   stop    stop exactly the daemons this script started (by their pid files)
#   status  exit 0 if every daemon of the cluster runs (and print sinfo), 1 otherwise
#   env     print the environment only
# State directory: $OPENDLC_SLURM_STATE (default /tmp/opendlc-slurm). Idempotent.
# Exit status: 0 when the cluster is up (start) or down (stop); 1 when it could not be started.
set -euo pipefail

state="${OPENDLC_SLURM_STATE:-/tmp/opendlc-slurm}"
conf="$state/slurm.conf"
munge_socket="$state/munge/munge.socket"
log() { printf 'slurm-env: %s\n' "$*" >&2; }

print_env() {
    printf 'export SLURM_CONF=%q\n' "$conf"
    printf 'export OPENDLC_SLURM_STATE=%q\n' "$state"
    printf 'export OPENDLC_SLURM_PARTITION=debug\n'
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
        log "Slurm is not installed and cannot be installed here (needs root and apt-get)"
        return 1
    fi
    log "installing slurm-wlm and munge (apt)"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >&2
}

write_config() {
    mkdir -p "$state"/{munge,log,spool,ctld,dev}
    chown munge:munge "$state/munge"
    chmod 0755 "$state/munge"
    chown slurm:slurm "$state/ctld" "$state/log"
    for i in 0 1 2 3; do
        [[ -c "$state/dev/fakegpu$i" ]] || mknod "$state/dev/fakegpu$i" c 1 3
    done
    local host
    host="$(hostname)"
    # Heterogeneous jobs are placed only by the backfill scheduler: bf_interval=1 (default 30 s).
    # config_overrides: the nodes declare more CPUs than the host has, so that many one-CPU
    # jobs start per scheduling tick (this is a test cluster, not a performance one).
    local old=""
    [[ -f "$conf" ]] && old="$(cat "$conf" "$state/gres.conf")"
    cat >"$conf" <<EOF
ClusterName=opendlc
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd-%n.pid
SlurmdSpoolDir=$state/spool/%n
StateSaveLocation=$state/ctld
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd-%n.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=600
KillWait=5
GresTypes=gpu
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=17101 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=17102 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=500
EOF
    cat >"$state/gres.conf" <<EOF
NodeName=n1 Name=gpu File=$state/dev/fakegpu[0-1]
NodeName=n2 Name=gpu File=$state/dev/fakegpu[2-3]
EOF
    cat >"$state/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
EOF
    changed=0
    [[ -n "$old" && "$old" != "$(cat "$conf" "$state/gres.conf")" ]] && changed=1
    return 0
}

start() {
    install_packages || exit 1
    # The pid files of the daemons this call starts: stopped again if the cluster does not come up.
    local started=()
    write_config
    export SLURM_CONF="$conf"
    if ! alive "$state/munged.pid"; then
        log "starting munged"
        runuser -u munge -- /usr/sbin/munged --socket="$munge_socket" \
            --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" \
            --seed-file="$state/munge/munged.seed"
        cp "$state/munge/munged.pid" "$state/munged.pid"
        started+=("$state/munged.pid")
    fi
    # `-c`: a cluster for tests keeps nothing from its last run. Without it slurmctld recovers
    # that run's jobs and its nodes' DRAIN states (a node drained once, say for a full disk,
    # would stay drained for every later run).
    if ! alive "$state/slurmctld.pid"; then
        log "starting slurmctld"
        /usr/sbin/slurmctld -c -i
        started+=("$state/slurmctld.pid")
    fi
    for node in n1 n2; do
        if ! alive "$state/slurmd-$node.pid"; then
            log "starting slurmd -N $node"
            /usr/sbin/slurmd -N "$node"
            started+=("$state/slurmd-$node.pid")
        fi
    done
    if ((changed)); then
        # A node's address is only read at start: restart the daemons rather than reconfigure.
        log "the configuration changed: restarting slurmctld and the slurmd"
        for f in "$state"/slurmd-*.pid "$state/slurmctld.pid"; do stop_daemon "$f"; done
        /usr/sbin/slurmctld -c -i
        for node in n1 n2; do /usr/sbin/slurmd -N "$node"; done
        started+=("$state/slurmctld.pid" "$state/slurmd-n1.pid" "$state/slurmd-n2.pid")
    fi
    local deadline=$((SECONDS + 60))
    until [[ "$(sinfo -h -o '%t' -N 2>/dev/null | sort -u | tr '\n' ' ')" =~ ^(idle|mix|alloc)\ *(idle|mix|alloc)?\ ?$ ]] &&
        [[ "$(sinfo -h -N -o '%N' 2>/dev/null | sort -u | wc -l)" -eq 2 ]]; do
        if ((SECONDS > deadline)); then
            log "the nodes did not become idle within 60 s:"
            sinfo -N >&2 || true
            tail -n 20 "$state/log/slurmctld.log" >&2 || true
            local i
            for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_daemon "${started[i]}"; done
            exit 1
        fi
        sleep 0.2
    done
    log "up: $(sinfo -h -N -o '%N=%t' | tr '\n' ' ')"
    print_env
}

# Stops the daemon of pid file `$1`, if it runs, and removes the file.
stop_daemon() {
    local f="$1"
    [[ -f "$f" ]] || return 0
    if alive "$f"; then
        local pid
        pid="$(cat "$f")"
        log "stopping $(basename "$f" .pid) (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$f"
}

stop() {
    local f
    for f in "$state"/slurmd-*.pid "$state/slurmctld.pid" "$state/munged.pid"; do
        stop_daemon "$f"
    done
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status)
    for f in "$state/munged.pid" "$state/slurmctld.pid" "$state/slurmd-n1.pid" "$state/slurmd-n2.pid"; do
        alive "$f" || { log "not running ($(basename "$f" .pid))"; exit 1; }
    done
    SLURM_CONF="$conf" sinfo -N
    ;;
env) print_env ;;
-h | --help) sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" ;;
*) log "unknown command: $1"; exit 2 ;;
esac
