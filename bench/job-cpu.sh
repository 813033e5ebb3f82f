#!/usr/bin/env bash
# Run from anywhere as root, e.g. after `make build links`: bench/job-cpu.sh $PWD/bin 1000
# (issue 19: the CPU a job costs outside itself). Needs the machine otherwise quiet:
# "whole-machine" close to "agent-tree" says nothing else ran.
# job-cpu.sh BIN_DIR [N] -- per-job CPU of shoal agent -dev: burst drain of N held `true` jobs
# (agent tree CPU incl. reaped children, from /proc/PID/stat), then a sequential loop of N
# `sbatch --parsable --wrap true` while they run (loop rate, drain rate).
set -u
B=$1; N=${2:-1000}
# shellcheck source=devagent.sh
. "$(dirname "$0")/devagent.sh"
dev_agent "$B" hstart
now() { printf '%s' "$EPOCHREALTIME"; }
calc() { awk "BEGIN{printf \"%.${2:-2}f\\n\", $1}"; }
cpu() { awk '{print $14+$15+$16+$17}' /proc/$AP/stat; }   # ticks, 100/s
active() { local o; o=$(squeue -h -t PD,R,CG,CF,S -o %i 2>/dev/null) || { echo 1; return; }; [ -z "$o" ] && echo 0 || wc -l <<<"$o"; }
drain() { while [ "$(active)" != 0 ]; do sleep 0.2; done; now; }
cd "$W"
# warm up
for i in $(seq 20); do sbatch --parsable --wrap true >/dev/null; done; drain >/dev/null
# (1) burst: N held, released at once
for i in $(seq $N); do echo x; done | xargs -P2 -n1 sh -c 'sbatch --parsable --hold --wrap true' >ids 2>err
c0=$(cpu); s0=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat); t0=$(now)
scontrol release "$(paste -sd, ids)"
t2=$(drain); c1=$(cpu); s1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
echo "burst: $(wc -l <ids) jobs in $(calc "$t2-$t0") s = $(calc "$(wc -l <ids)/($t2-$t0)" 1) jobs/s; agent-tree CPU $(calc "($c1-$c0)*10/$N") ms/job; whole-machine CPU $(calc "($s1-$s0)*10/$N") ms/job"
# (2) sequential loop while jobs run
c0=$(cpu); t0=$(now); ok=0
for i in $(seq $N); do sbatch --parsable --wrap true >>ids2 2>>err && ok=$((ok+1)); done
t1=$(now); t2=$(drain); c1=$(cpu)
echo "loop: $ok sbatch in $(calc "$t1-$t0") s = $(calc "$ok/($t1-$t0)" 1) /s; drain $(calc "$ok/($t2-$t0)" 1) jobs/s; agent-tree CPU $(calc "($c1-$c0)*10/$N") ms/job"
grep -c . err | sed 's/^/errors: /'
sacct -X -n -o state 2>/dev/null | sort | uniq -c | head
