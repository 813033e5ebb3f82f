#!/usr/bin/env bash
# make demo: start a one-machine shoal (controller + node daemon), run the
# README's walk-through against it with the real CLI, then stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL=$PWD/bin/shoal
# The commands a user types go through the client binary (what `make
# links` points sbatch and the rest at); the agent is the full binary.
CLIENT=$PWD/bin/shoal-client
if [ "$(id -u)" != 0 ]; then
  echo "demo: shoal runs jobs in sandboxes (namespaces, cgroups) and needs root; run: sudo make demo" >&2
  exit 1
fi

work=$(mktemp -d /tmp/shoal-demo.XXXXXX)
chmod 755 "$work"
export SHOAL_ADDR=$work/shoal.sock
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"; wait "$agent_pid" || true
  fi
  rmdir /sys/fs/cgroup/*/shoal-demo 2>/dev/null || true
  rm -rf "$work" /run/shoal-demo
}
trap cleanup EXIT

"$SHOAL" agent -dev -data-dir "$work/data" -socket "$SHOAL_ADDR" \
  -sandbox-root /run/shoal-demo -cgroup-parent shoal-demo -grace 1s 2>"$work/agent.log" &
agent_pid=$!
# The agent logs "node daemon running" once it accepts jobs.
timeout 30 grep -q 'node daemon running' <(tail -F "$work/agent.log" 2>/dev/null) || {
  echo "demo: the agent did not start:" >&2; cat "$work/agent.log" >&2; exit 1; }

# run prints a command as typed, then runs it; a failing command (a refused
# submit, a wait on a job that failed) shows its exit code and the demo goes on.
run() {
  printf '\n$ shoal'; printf " %q" "$@"; printf '\n'
  "$CLIENT" "$@" || echo "(exit $?)"
}
cd "$work"
run nodes
run submit --name hello -- echo hello
run submit --name dep --depends-on 1 -- sh -c 'echo after'
hello=1 dep=2
run wait "$dep"
run logs "$hello"
run logs "$dep"
sleeper=$("$CLIENT" submit --name sleeper -- sleep 3600)
blocked=$("$CLIENT" submit --name blocked --depends-on "$sleeper" -- true)
run wait --state RUNNING "$sleeper"
run queue
run queue --state PENDING,RUNNING
run cancel "$blocked" --reason 'Due to lack of memory.'
run terminate "$sleeper" --reason 'Forced to fail.'
run wait "$sleeper"
run describe "$blocked"
run submit --name huge --mem 100T -- true
run queue
echo
echo "demo: done"
