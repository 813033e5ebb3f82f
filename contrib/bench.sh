#!/usr/bin/env bash
# make bench, second half: the CLI side, measured with the real binary
# against a real one-machine cluster (bin/shoal agent -dev). Prints
# "name: value unit" lines; asserts nothing.
#
#   cli-submit       one `shoal submit` per job, sequential, process start
#                    included (the jobs stay PENDING behind a running job,
#                    so nothing but the CLI and the controller is measured)
#   cli-nodes        the smallest API call, for comparison
#   cli-queue        `shoal queue` with the jobs present (and with 10k more)
#   agent-rss        VmRSS of the agent (controller + node daemon)
#
# Everything it starts is stopped on exit: the agent (which stops its
# jobs), leftover job processes, the cgroups, the sandbox root and the
# temp dir. Environment: SHOAL_BENCH_SUBMITS (default 200),
# SHOAL_BENCH_QUEUE_JOBS (default 10000; 0 skips the large queue).
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL=$PWD/bin/shoal
SUBMITS=${SHOAL_BENCH_SUBMITS:-200}
QUEUE_JOBS=${SHOAL_BENCH_QUEUE_JOBS:-10000}
QUEUE_RUNS=20

if [ "$(id -u)" != 0 ]; then
  echo "bench.sh: the agent runs jobs in sandboxes (namespaces, cgroups) and needs root; skipping" >&2
  exit 0
fi
if [ ! -x "$SHOAL" ]; then
  echo "bench.sh: $SHOAL is missing; run make build first" >&2
  exit 1
fi

work=$(mktemp -d /tmp/shoal-bench.XXXXXX)
chmod 755 "$work"
sandbox_root=/run/shoal-bench-sh-$$
cgroup_parent=shoal-bench-sh-$$
export SHOAL_ADDR=$work/shoal.sock
agent_pid=

# kill_cgroup_procs kills what is left in the jobs' cgroups (only if the
# agent could not stop its jobs itself).
kill_cgroup_procs() {
  local f pid
  for f in /sys/fs/cgroup/*/"$cgroup_parent"/*/cgroup.procs; do
    [ -r "$f" ] || continue
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$f"
  done
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do # up to 15 s: the agent stops its jobs first
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$agent_pid" 2>/dev/null; then
      echo "bench.sh: agent $agent_pid did not stop on SIGTERM; killing it" >&2
      kill -KILL "$agent_pid" 2>/dev/null || true
    fi
    wait "$agent_pid" 2>/dev/null || true
  fi
  kill_cgroup_procs
  # Job cgroups first, then the parent, in every hierarchy.
  find /sys/fs/cgroup/*/"$cgroup_parent" -depth -type d -exec rmdir {} + 2>/dev/null || true
  if compgen -G "/sys/fs/cgroup/*/$cgroup_parent" >/dev/null; then
    echo "bench.sh: cgroups left behind:" /sys/fs/cgroup/*/"$cgroup_parent" >&2
  fi
  rm -rf "$work" "$sandbox_root"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { echo "${EPOCHREALTIME/./}"; }

# stats FILE: "median p90 mean" in ms of the microsecond values in FILE.
stats() {
  sort -n "$1" | awk '{ v[NR] = $1; sum += $1 }
    function pct(p,  x, lo) { x = p * (NR - 1) + 1; lo = int(x); return v[lo] + (x - lo) * (v[lo + 1 < NR ? lo + 1 : NR] - v[lo]) }
    END { printf "%.1f %.1f %.1f\n", pct(0.5) / 1000, pct(0.9) / 1000, sum / NR / 1000 }'
}

rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

"$SHOAL" agent -dev -data-dir "$work/data" -socket "$SHOAL_ADDR" \
  -sandbox-root "$sandbox_root" -cgroup-parent "$cgroup_parent" -grace 1s 2>"$work/agent.log" &
agent_pid=$!
# The agent logs "node daemon running" once it accepts jobs.
for ((i = 0; i < 600; i++)); do
  grep -q 'node daemon running' "$work/agent.log" && break
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q 'node daemon running' "$work/agent.log"; then
  echo "bench.sh: the agent did not start:" >&2
  cat "$work/agent.log" >&2
  exit 1
fi
cd "$work"
echo "agent-rss idle: $(rss_mb "$agent_pid") MB (VmRSS of bin/shoal agent -dev, no jobs)"

# A job that runs until the end holds every submitted job PENDING.
blocker=$("$SHOAL" submit --name blocker -- sleep 3600)
"$SHOAL" wait --state RUNNING "$blocker" >/dev/null

# The smallest API call, as a baseline for process start + one request.
: >"$work/nodes.us"
for ((i = 0; i < 50; i++)); do
  t0=$(now_us)
  "$SHOAL" nodes >/dev/null
  echo $(($(now_us) - t0)) >>"$work/nodes.us"
done
read -r med p90 mean < <(stats "$work/nodes.us")
echo "cli-nodes median: $med ms p90: $p90 ms (n=50, \`shoal nodes\`, process start included)"

: >"$work/submit.us"
start=$(now_us)
for ((i = 0; i < SUBMITS; i++)); do
  t0=$(now_us)
  "$SHOAL" submit --name "bench-$i" --depends-on "$blocker" -- true >/dev/null
  echo $(($(now_us) - t0)) >>"$work/submit.us"
done
total_us=$(($(now_us) - start))
read -r med p90 mean < <(stats "$work/submit.us")
echo "cli-submit median: $med ms p90: $p90 ms mean: $mean ms (n=$SUBMITS, sequential \`shoal submit\`, process start included)"
echo "cli-submit-rate: $(awk -v n="$SUBMITS" -v us="$total_us" 'BEGIN { printf "%.0f", n / (us / 1e6) }') jobs/s (one shell loop)"
pending=$("$SHOAL" queue --state PENDING | tail -n +2 | wc -l)
if [ "$pending" != "$SUBMITS" ]; then
  echo "bench.sh: $pending jobs PENDING after $SUBMITS submits" >&2
  exit 1
fi

# queue_bench LABEL: time `shoal queue` (all jobs, table output) QUEUE_RUNS times.
queue_bench() {
  local jobs
  jobs=$("$SHOAL" queue | tail -n +2 | wc -l)
  : >"$work/queue.us"
  for ((i = 0; i < QUEUE_RUNS; i++)); do
    t0=$(now_us)
    "$SHOAL" queue >/dev/null
    echo $(($(now_us) - t0)) >>"$work/queue.us"
  done
  read -r med p90 mean < <(stats "$work/queue.us")
  echo "cli-queue jobs=$jobs median: $med ms p90: $p90 ms (n=$QUEUE_RUNS, \`shoal queue\` > /dev/null)"
  echo "agent-rss jobs=$jobs: $(rss_mb "$agent_pid") MB (VmRSS of the agent after the queue listings)"
}
queue_bench

# A larger queue, submitted in batches through the native API (the CLI
# has no batch submit).
if [ "$QUEUE_JOBS" -gt 0 ] && command -v curl >/dev/null && command -v jq >/dev/null; then
  for ((done_jobs = 0; done_jobs < QUEUE_JOBS; done_jobs += 1000)); do
    n=$((QUEUE_JOBS - done_jobs < 1000 ? QUEUE_JOBS - done_jobs : 1000))
    jq -nc --argjson n "$n" --argjson dep "$blocker" --arg dir "$work" \
      '{jobs: [range($n) | {jobName: "bulk-\(.)", command: ["true"], workingDir: $dir, dependsOn: [{jobId: $dep}]}]}' |
      curl -sf --unix-socket "$SHOAL_ADDR" -H 'Content-Type: application/json' --data-binary @- \
        http://unix/shoal/v1/jobs/submit-batch >/dev/null
  done
  queue_bench
else
  echo "bench.sh: skipping the ${QUEUE_JOBS}-job queue (needs curl and jq)" >&2
fi
