#!/bin/bash
# GPU types, typed jobs and driver binds on a real GPU host: bash .dev/check-types.sh from the repo root (see README.md).
exec 2>&1
D=$PWD/.dev; fails=0
ok() { echo "PASS: $*"; }; no() { echo "FAIL: $*"; fails=$((fails + 1)); }
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}
[ -x /bin/busybox ] || install -m 0755 "$D/busybox" /bin/busybox
nvidia-smi -L; nvidia-smi --query-gpu=mig.mode.current --format=csv,noheader
echo "== node/gpu on the real driver"
(cd "$D" && timeout 60 ./gpu.test -test.count 1 -test.run 'TestNVMLHost|TestFindDriverHost' -test.v 2>&1 | grep -vE '^=== RUN' | tail -12)
echo "== sandbox: image job with and without the host driver's files"
(cd "$D" && timeout 150 ./sandbox.test -test.count 1 -test.run 'TestDriverRealGPU|TestDriverMountsInImage|TestDevicesOnlyTheJobs' -test.v 2>&1 | grep -vE '^=== RUN' | tail -30)
W=$(mktemp -d /var/tmp/gpu.XXXX); chmod 755 "$W"; install -m 0755 "$D/shoal" "$W/shoal"; S=$W/shoal
"$S" agent -dev -data-dir "$W/data" -socket "$W/s.sock" >"$W/agent.log" 2>&1 & AP=$!
export SHOAL_ADDR=$W/s.sock
for _ in $(seq 100); do "$S" nodes >/dev/null 2>&1 && break; sleep 0.2; done
echo "== (1) types"; "$S" nodes; "$S" slurm sinfo -o '%N %G'; "$S" slurm scontrol show node | grep -E 'Gres=|TRES='
"$S" slurm sinfo -h -o '%G' | grep -q '^gpu:h200:1$' && ok "sinfo %G = gpu:h200:1" || no "sinfo %G: $("$S" slurm sinfo -h -o '%G')"
echo "== (2) typed requests"
j=$("$S" slurm sbatch --parsable -o "$W/t.out" --gres=gpu:h200:1 --wrap 'nvidia-smi -L; echo CVD=$CUDA_VISIBLE_DEVICES')
"$S" slurm sbatch --parsable --gres=gpu:a100:1 --wrap true; echo "a100 rc=$?"
"$S" slurm sbatch --parsable --gpus=h200:2 --wrap true; echo "h200:2 rc=$?"
timeout 60 "$S" wait "$j" >/dev/null 2>&1; cat "$W/t.out"
"$S" slurm scontrol show job "$j" | grep -E 'TRES=|TresPerNode|JOB_GRES'; "$S" slurm squeue -t all -o '%i %T %b'
[ "$(grep -c '^GPU ' "$W/t.out")" = 1 ] && ok "h200:1 job ran on its one GPU" || no "h200:1 job"
"$S" slurm scontrol show job "$j" | grep -q 'gres/gpu:h200=1' && ok "TRES gres/gpu:h200=1" || no "TRES"
kill $AP; wait $AP; echo "== $fails failures"
