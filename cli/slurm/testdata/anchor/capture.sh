#!/bin/bash
# capture.sh: run each command of cases.txt against the real Slurm of
# ../../../../../shared/slurm-anchor (Slurm 22.05, started by its setup.sh;
# `. env.sh` first) and write what it printed to <name>.txt: the command,
# the exit status, stdout and stderr. Job ids are replaced by $JOBID and
# times by $TIME, so that transcripts compare across runs. Jobs a case
# creates are held and cancelled at once.
#
#   . /work/shared/slurm-anchor/env.sh && ./capture.sh
set -u
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\ntrue\n' > "$work/job.sh"
printf 'echo no shebang\n' > "$work/noshebang.sh"
: > "$work/empty.sh"
version=$(sbatch --version)
norm() {
	sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}/$TIME/g' \
		-e 's/(Submitted batch job |^|Job |job |job id |allocation )[0-9]+/\1$JOBID/g' \
		-e "s|$work|\$WORK|g"
}
while IFS='|' read -r name cmd; do
	[[ -z "$name" || "$name" == \#* ]] && continue
	(cd "$work" && bash -c "$cmd" >"$work/out" 2>"$work/err" </dev/null)
	rc=$?
	{
		echo "# $version, slurm-anchor, $(date -u +%F)"
		echo "\$ ${cmd//$work/\$WORK}"
		echo "rc $rc"
		echo "--- stdout"
		norm <"$work/out"
		echo "--- stderr"
		norm <"$work/err"
	} >"$name.txt"
	# Cancel whatever a case submitted (held, so nothing ran).
	grep -oE '^[0-9]+$|Submitted batch job [0-9]+' "$work/out" | grep -oE '[0-9]+' | xargs -r scancel
done <cases.txt
