#!/usr/bin/env bash
# The anchor's sbatch loops against one dev agent (issue 19: submits while jobs run).
#
#   bench/loops.sh BIN_DIR [DEFER]   a fresh `shoal agent -dev -sched-burst-defer DEFER`
#                                    (default: the agent's) from BIN_DIR, as root, after
#                                    `make build links`; ANCHOR: the slurm-anchor directory
#                                    (default ../shared/slurm-anchor)
#
# Runs bench.sh's phases a (one loop of 300 sbatch), b (four loops, 600), c (drain of
# 300 submitted by one loop) and f (an afterok chain of 30), and prints their rates.
set -u
B=$1
ANCHOR=${ANCHOR:-$(cd "$(dirname "$0")/../../shared/slurm-anchor" 2>/dev/null && pwd)}
[ -x "$ANCHOR/bench.sh" ] || { echo "no bench.sh in ANCHOR=$ANCHOR" >&2; exit 1; }
flags=()
[ -n "${2:-}" ] && flags=(-sched-burst-defer "$2")
# shellcheck source=devagent.sh
. "$(dirname "$0")/devagent.sh"
dev_agent "$B" hloops "${flags[@]}"
cd "$W" || exit 1
BENCH_USE_ANCHOR=0 BENCH_DIR=$W/b BENCH_SERVER_PID=$AP BENCH_OUT=$W/out.txt BENCH_PHASES="a b c f" \
    BENCH_N_SEQ=300 BENCH_N_PAR=600 BENCH_N_DRAIN=300 BENCH_N_CHAIN=30 BENCH_CHAIN_WAIT=60 \
    "$ANCHOR/bench.sh" >/dev/null 2>"$W/bench.err" || { tail -n 3 "$W/bench.err" >&2; exit 1; }
echo "-sched-burst-defer ${2:-default}: $(grep -E '^(submit_seq_rate|submit_par4_rate|drain_rate|chain_per_link):' "$W/out.txt" | tr '\n' ' ')"
