#!/usr/bin/env bash
# One command over a job array of N held tasks (issue 19: arrays against Slurm).
#
#   bench/arrays.sh BIN_DIR [N]   a fresh `shoal agent -dev` from BIN_DIR (as root, after
#                                 `make build links`), its Slurm commands
#   bench/arrays.sh - [N]         whatever sbatch, squeue and scancel PATH gives
#                                 (e.g. a Slurm cluster's, to compare on the same machine)
#
# Prints: the array's submit, `squeue -r` and `squeue` (collapsed) three times each, and
# `scancel` of the array until `squeue -t PD,R,CG` lists nothing.
# With BIN_DIR, also the controller's VmRSS and RssAnon with the array queued.
set -u
B=$1; N=${2:-10000}
ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)*1000}'; }
if [ "$B" != - ]; then
    # shellcheck source=devagent.sh
    . "$(dirname "$0")/devagent.sh"
    dev_agent "$B" harrays
    cd "$W" || exit 1
fi
t0=$EPOCHREALTIME; id=$(sbatch --parsable --hold --array=0-$((N - 1)) -o /dev/null --wrap true); t1=$EPOCHREALTIME
id=${id%%;*}
echo "sbatch --array=0-$((N - 1)) --hold: $(ms "$t0" "$t1") ms"
sleep 1
for _ in 1 2 3; do t0=$EPOCHREALTIME; n=$(squeue -h -r | wc -l); t1=$EPOCHREALTIME; echo "squeue -r ($n lines): $(ms "$t0" "$t1") ms"; done
for _ in 1 2 3; do t0=$EPOCHREALTIME; n=$(squeue -h | wc -l); t1=$EPOCHREALTIME; echo "squeue, collapsed ($n lines): $(ms "$t0" "$t1") ms"; done
[ "$B" != - ] && echo "controller with the array queued: $(awk '/^VmRSS|^RssAnon/{printf "%s %s kB  ", $1, $2}' /proc/$AP/status)"
t0=$EPOCHREALTIME; scancel "$id"
while [ -n "$(squeue -h -t PD,R,CG -o %i | head -1)" ]; do sleep 0.01; done
t1=$EPOCHREALTIME; echo "scancel of the array until gone: $(ms "$t0" "$t1") ms"
