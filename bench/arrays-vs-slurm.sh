#!/usr/bin/env bash
# A held 10,000-task array on the Slurm anchor and on a fresh shoal dev agent, in one run
# (issue 19: arrays against Slurm).
#
#   bench/arrays-vs-slurm.sh BIN_DIR [ROUNDS]   as root, after `make build links`; ANCHOR:
#                                                the slurm-anchor directory (default
#                                                ../shared/slurm-anchor), started and
#                                                stopped here
#
# Each round, on each: `sbatch --parsable --hold --array=0-9999 -o /dev/null --wrap true`
# (its time), the controller's RssAnon and VmRSS growth 1 s after it (slurmctld's, or the
# dev agent's; nothing lists the array in between), then `scancel` of the array until
# `squeue -t PD,R,CG` lists nothing (its time).
set -u
B=$1
ROUNDS=${2:-3}
ANCHOR=${ANCHOR:-$(cd "$(dirname "$0")/../../shared/slurm-anchor" 2>/dev/null && pwd)}
[ -x "$ANCHOR/setup.sh" ] || { echo "no setup.sh in ANCHOR=$ANCHOR" >&2; exit 1; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)*1000}'; }
kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }
round() { # PID of the controller
    local p=$1 a0 v0 a1 v1 t0 t1 id sub
    a0=$(kb "$p" RssAnon) v0=$(kb "$p" VmRSS)
    t0=$EPOCHREALTIME
    id=$(sbatch --parsable --hold --array=0-9999 -o /dev/null --wrap true)
    t1=$EPOCHREALTIME
    id=${id%%;*} sub=$(ms "$t0" "$t1")
    sleep 1
    a1=$(kb "$p" RssAnon) v1=$(kb "$p" VmRSS)
    t0=$EPOCHREALTIME
    scancel "$id"
    while [ -n "$(squeue -h -t PD,R,CG -o %i | head -1)" ]; do sleep 0.01; done
    t1=$EPOCHREALTIME
    echo "  submit $sub ms; RssAnon +$((a1 - a0)) kB, VmRSS +$((v1 - v0)) kB (from $v0 kB); scancel until gone $(ms "$t0" "$t1") ms"
}
echo "== Slurm (the anchor)"
log=$(mktemp)
if bash "$ANCHOR/setup.sh" >"$log" 2>&1; then
    (
        # shellcheck source=/dev/null
        . "$ANCHOR/env.sh"
        p=$(cat "$ANCHOR_DIR/run/slurmctld.pid")
        for _ in $(seq "$ROUNDS"); do round "$p"; sleep 2; done
    )
else
    echo "anchor setup failed:"; tail -5 "$log"
fi
bash "$ANCHOR/teardown.sh" >/dev/null 2>&1
rm -f "$log"
echo "== shoal dev agent ($B)"
(
    # shellcheck source=devagent.sh
    . "$(dirname "$0")/devagent.sh"
    dev_agent "$B" harrays-vs
    cd "$W" || exit 1
    sleep 1
    for _ in $(seq "$ROUNDS"); do round "$AP"; sleep 2; done
)
