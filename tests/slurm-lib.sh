# A real single-node Slurm cluster for tests, started in a scratch folder.
#
#   . "$TEST_ROOT/slurm-lib.sh"
#   slurm_start || exit 1      # munged, slurmctld -D, slurmd -D; waits for an idle node
#   ... sbatch/squeue/synthflow with SLURM_CONF exported ...
#   slurm_stop                 # also run from the EXIT trap
#
# Debian's slurm-wlm 22.05 and munge, unmodified.  Nothing is written outside
# $SLURM_DIR: the munge key, socket and logs, slurm.conf, the controller's
# state and slurmd's spool all live there, and the clients find the cluster
# through $SLURM_CONF.  Accounting is off (the squeue + sentinel path);
# processes are tracked by process group and tasks are not confined
# (proctrack/pgid, task/none), because a container seldom lets slurmd own a
# cgroup.  MaxArraySize is small (SLURM_MAX_ARRAY, default 11) so that array
# splitting is exercised by a few dozen items.  KillWait, Slurm's grace
# between SIGTERM and SIGKILL when a job is cancelled, is 2 s
# (SLURM_KILL_WAIT; Slurm's own default is 30 s).
#
# Ports are picked free at start, so several clusters (a plain and an ASan
# run of the suite) can run side by side.

SLURM_MAX_ARRAY=${SLURM_MAX_ARRAY:-11}
SLURM_NODE=sfnode
SLURM_PIDS=""

# A TCP port nobody listens on, from a range the kernel does not hand out
# for outgoing connections.
slurm_free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		if ! ss -Htln "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

slurm_fail() {
	echo "slurm-lib: $*" >&2
	for f in "$SLURM_DIR"/munged.log "$SLURM_DIR"/slurmctld.log "$SLURM_DIR"/slurmd.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
	done
	return 1
}

# Writes slurm.conf; $1 = controller port, $2 = slurmd port.
slurm_write_conf() {
	local cpus mem host
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
	host=$(hostname -s)
	cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=sftest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge.socket
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool/%n
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=$SLURM_MAX_ARRAY
MaxJobCount=100000
MinJobAge=${SLURM_MIN_JOB_AGE:-30}
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
KillWait=${SLURM_KILL_WAIT:-2}
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
NodeName=$SLURM_NODE NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$SLURM_NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

slurm_start() {
	local cport dport
	for b in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
		command -v "$b" >/dev/null || { echo "slurm-lib: '$b' is not installed (scripts/install-deps.sh test)" >&2; return 1; }
	done
	SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sf-slurm.XXXXXX")
	mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool"
	chmod 700 "$SLURM_DIR"
	mungekey --create --keyfile="$SLURM_DIR/munge.key" || return 1
	chmod 600 "$SLURM_DIR/munge.key"
	munged --foreground --force --key-file="$SLURM_DIR/munge.key" \
		--socket="$SLURM_DIR/munge.socket" --pid-file="$SLURM_DIR/munged.pid" \
		--log-file="$SLURM_DIR/munged.log" --seed-file="$SLURM_DIR/munged.seed" \
		>"$SLURM_DIR/munged.out" 2>&1 &
	SLURM_PIDS="$!"
	cport=$(slurm_free_port) && dport=$(slurm_free_port) || { slurm_fail "no free port"; return 1; }
	[ "$cport" != "$dport" ] || dport=$((cport + 1))
	slurm_write_conf "$cport" "$dport"
	SLURM_CONF=$SLURM_DIR/slurm.conf
	export SLURM_CONF SLURM_DIR
	# munged creates its socket once the key is loaded.
	for _ in $(seq 1 300); do
		[ -S "$SLURM_DIR/munge.socket" ] && break
		kill -0 "${SLURM_PIDS%% *}" 2>/dev/null || { slurm_fail "munged exited"; return 1; }
		sleep 0.1
	done
	[ -S "$SLURM_DIR/munge.socket" ] || { slurm_fail "munged did not start"; return 1; }
	slurmctld -D -i -f "$SLURM_CONF" >"$SLURM_DIR/slurmctld.out" 2>&1 &
	SLURM_PIDS="$SLURM_PIDS $!"
	slurmd -D -N "$SLURM_NODE" -f "$SLURM_CONF" >"$SLURM_DIR/slurmd.out" 2>&1 &
	SLURM_PIDS="$SLURM_PIDS $!"
	# Ready when the node takes jobs: sinfo reports it idle.
	for _ in $(seq 1 600); do
		for pid in $SLURM_PIDS; do
			kill -0 "$pid" 2>/dev/null || { slurm_fail "a daemon exited (pid $pid)"; return 1; }
		done
		if [ "$(sinfo -h -n "$SLURM_NODE" -o %T 2>/dev/null)" = idle ]; then
			return 0
		fi
		sleep 0.1
	done
	slurm_fail "node '$SLURM_NODE' did not become idle in 60 s: $(sinfo -h -o '%N %T' 2>&1)"
}

slurm_stop() {
	local pid
	[ -n "${SLURM_DIR:-}" ] || return 0
	# Jobs end with the cluster (only while its controller still answers).
	kill -0 "$(echo "$SLURM_PIDS" | cut -d' ' -f2)" 2>/dev/null &&
		timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null
	# slurmd first (it kills its jobs), then the controller, then munged.
	for pid in $(echo "$SLURM_PIDS" | tr ' ' '\n' | tac); do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SLURM_PIDS=""
	rm -rf "$SLURM_DIR"
	SLURM_DIR=""
}
