#!/usr/bin/env bash
# The most a loop shaped like the anchor's bench.sh sequential loop can
# reach against the client's own start rate (issue 19 asked for 0.8).
#
#   bench/loopbound.sh BIN_DIR [N]   BIN_DIR holds the sbatch link (`make build links`)
#
# side-by-side.sh takes the client's start rate from a bare loop of `sbatch
# --version`; bench.sh's loop also runs `(($(sec) >= dl))` on every pass, a
# subshell of its own. This times N passes (default 200) of each: the bare
# loop, the subshell alone, and `sbatch --version` in bench.sh's loop shape.
# The last over the first is what a submit that cost nothing beyond the
# client's start would reach; no real submit does better. Needs no agent.
set -u
B=$1
N=${2:-200}
sec() { printf '%s' "${EPOCHREALTIME%.*}"; }
dl=$(($(sec) + 3600))
t0=$EPOCHREALTIME
for ((i = 0; i < N; i++)); do "$B/sbatch" --version >/dev/null 2>&1; done
t1=$EPOCHREALTIME
for ((i = 0; i < N; i++)); do (($(sec) >= dl)) && break; done
t2=$EPOCHREALTIME
for ((i = 0; i < N; i++)); do
    "$B/sbatch" --version >/dev/null 2>&1
    (($(sec) >= dl)) && break
done
t3=$EPOCHREALTIME
awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
    printf "client start (bare loop): %.1f ms, %.0f/s\n", (b - a) * 1000 / n, n / (b - a)
    printf "bench.sh deadline subshell: %.1f ms\n", (c - b) * 1000 / n
    printf "sbatch --version in bench.sh loop shape: %.1f ms, %.0f/s\n", (d - c) * 1000 / n, n / (d - c)
    printf "bound on the sequential loop against the client start rate: %.2f\n", (b - a) / (d - c)
}'
