# Sourced by the bench scripts: dev_agent BIN_DIR NAME [FLAG...] starts
# `BIN_DIR/shoal agent -dev FLAG...` in a fresh directory under /var/tmp (W), with a sandbox root and cgroups named
# NAME-PORT, exports SHOAL_ADDR and puts BIN_DIR first in PATH, waits until it answers,
# and removes all of it when the script exits. AP is the agent's pid.
dev_agent() {
    local b=$1 name=$2 port=$((20000 + RANDOM % 10000))
    W=$(mktemp -d "/var/tmp/$name.XXXXXX") && chmod 755 "$W" || exit 1
    (cd "$W" && exec "$b/shoal" agent -dev -data-dir "$W/data" -socket "$W/s.sock" -bind "127.0.0.1:$port" \
        -sandbox-root "/run/$name-$port" -cgroup-parent "$name-$port" "${@:3}" >"$W/agent.log" 2>&1) &
    AP=$!
    # shellcheck disable=SC2064 # the names are fixed now
    trap "kill $AP 2>/dev/null; wait $AP 2>/dev/null; rm -rf '/run/$name-$port' '$W'; for d in /sys/fs/cgroup/*/$name-$port; do [ -d \"\$d\" ] && rmdir \"\$d\" 2>/dev/null; done" EXIT
    export SHOAL_ADDR=$W/s.sock PATH=$b:$PATH
    for _ in $(seq 100); do "$b/shoal" nodes >/dev/null 2>&1 && break; sleep 0.1; done
}
