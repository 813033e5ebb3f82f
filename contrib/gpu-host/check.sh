#!/bin/bash
# GPU-host check (GPUs through NVML, cgroup v2): see README.md beside it. Run on a GPU
# host from the repo root with .dev prepared:  bash .dev/check.sh   (about 2-3 minutes).
# Needs .dev/shoal, .dev/sandbox.test, .dev/gpu.test, .dev/e2e.test and .dev/busybox (README.md).
# Prints PASS/FAIL lines and "== N failures" at the end.
exec 2>&1
D=$PWD/.dev; S=$D/shoal; fails=0
ok() { echo "PASS: $*"; }; no() { echo "FAIL: $*"; fails=$((fails + 1)); }
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-} PATH=/usr/local/nvidia/bin:$PATH
useradd -m alice 2>/dev/null
[ -x /bin/busybox ] || install -m 0755 "$D/busybox" /bin/busybox   # the image tests' busybox
echo "== host: cgroup $(stat -fc %T /sys/fs/cgroup), kernel $(uname -r); $(nvidia-smi -L | head -2)"
if [ -z "${SKIP_UNIT:-}" ]; then   # SKIP_UNIT=1: only the end-to-end part
echo "== NVML discovery through go-nvml (node/gpu TestNVMLHost)"
(cd "$D" && timeout 60 ./gpu.test -test.run TestNVMLHost -test.v -test.count 1 2>&1 | grep -E 'NVML here|^(--- |ok|PASS|FAIL)' | cut -c1-600)
echo "== sandbox unit tests (OOM, limits, usage and devices on this hierarchy; TestRealGPU)"
apt_busybox() { [ -x /bin/busybox ] || echo "(no /bin/busybox: image tests skip)"; }; apt_busybox
(cd "$D" && timeout 240 ./sandbox.test -test.count 1 -test.timeout 230s -test.v 2>&1 |
  grep -E '^(--- FAIL|--- SKIP|FAIL|PASS|ok)|nvidia-smi -L in a job|GPU [0-9]:|usage on cgroup|^\s+\S+_test.go' | head -60)
fi
W=$(mktemp -d /var/tmp/gpu.XXXX); chmod 755 "$W"; cd "$W"
install -m 0755 "$S" "$W/shoal"; S=$W/shoal   # the repo root may be closed to other users
"$S" agent -dev -data-dir "$W/data" -socket "$W/s.sock" >"$W/agent.log" 2>&1 & AP=$!
export SHOAL_ADDR=$W/s.sock
for _ in $(seq 100); do "$S" nodes >/dev/null 2>&1 && break; sleep 0.2; done
echo "-- agent log (GPU discovery)"; grep -iE 'gpu|nvidia|nvml' "$W/agent.log" | head -5
"$S" nodes; "$S" slurm sinfo -o '%N %G'; "$S" slurm scontrol show node | grep -i gres
ngpu=$("$S" nodes --output json | jq '[(.[]? // .nodes[]?) | .capacity.gpus // 0] | add')
[ "${ngpu:-0}" -ge 1 ] && ok "shoal nodes reports $ngpu GPU(s)" || no "no GPU in shoal nodes"
as() { runuser -u alice -- env SHOAL_ADDR="$W/s.sock" PATH="$PATH" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$@"; }
g=$(as "$S" slurm sbatch --parsable -D /home/alice --gres=gpu:1 -o /home/alice/g.out --wrap 'nvidia-smi -L
echo CVD=$CUDA_VISIBLE_DEVICES NVD=$NVIDIA_VISIBLE_DEVICES JOB_GPUS=$SLURM_JOB_GPUS ORD=$GPU_DEVICE_ORDINAL
ls /dev/nvidia*; python3 -c "
import torch,time; a=torch.randn(8192,8192,device=\"cuda\",dtype=torch.bfloat16); t=time.time()
while time.time()-t<10: (a@a).sum().item()
print(\"cuda ok\", torch.cuda.device_count(), torch.cuda.get_device_name(0))"')
# A second 1-GPU job while the only GPU is held: it must wait, then get GPU 0.
g2=$(as "$S" slurm sbatch --parsable -D /home/alice --gpus 1 -o /home/alice/g2.out --wrap 'echo JOB_GPUS=$SLURM_JOB_GPUS; nvidia-smi -L')
n=$(as "$S" slurm sbatch --parsable -D /home/alice -o /home/alice/n.out --wrap 'ls -la /dev/nvidia0; cat /dev/nvidia0 >/dev/null 2>&1 && echo OPENED || echo DENIED; echo CVD=${CUDA_VISIBLE_DEVICES-unset}; nvidia-smi -L 2>&1 | head -2')
sleep 3; st2=$("$S" slurm squeue -h -j "$g2" -o %T); st1=$("$S" slurm squeue -h -j "$g" -o %T)
echo "while job $g is $st1: second GPU job $g2 is $st2"
[ "$st1" = RUNNING ] && [ "$st2" = PENDING ] && ok "a second GPU job waits while the only GPU is held" || no "second GPU job state $st2 while the first is $st1"
timeout 150 "$S" wait "$g" >/dev/null 2>&1; timeout 60 "$S" wait "$g2" >/dev/null 2>&1; timeout 60 "$S" wait "$n" >/dev/null 2>&1
echo "-- gpu job"; cat /home/alice/g.out; echo "-- second gpu job"; cat /home/alice/g2.out; echo "-- no-gpu job"; cat /home/alice/n.out
[ "$(grep -c '^GPU ' /home/alice/g.out)" = 1 ] && grep -q 'cuda ok 1' /home/alice/g.out && grep -q 'CVD=GPU-' /home/alice/g.out &&
  ok "GPU job sees its one GPU and runs CUDA" || no "GPU job"
grep -q 'JOB_GPUS=0' /home/alice/g2.out && [ "$(grep -c '^GPU ' /home/alice/g2.out)" = 1 ] && ok "second GPU job got GPU 0 once it was free" || no "second GPU job"
grep -q DENIED /home/alice/n.out && ! grep -q '^GPU ' /home/alice/n.out && ok "a job without GPUs cannot open one" || no "a job without GPUs reached the GPU"
echo "-- efficiency: the job record, sacct and shoal eff"
"$S" describe "$g" | jq -c '.usage'
"$S" describe "$g" | jq -e '.usage.gpuUtilMeanPercent > 0 and .usage.gpuSeconds > 0' >/dev/null &&
  ok "GPU efficiency in the job record (mean SM % > 0)" || no "no GPU efficiency in job $g's record"
"$S" slurm sacct -j "$g" -o JobID,State,MaxRSS,TotalCPU,TRESUsageInMax%70 -P
"$S" eff "$g"
o=$("$S" slurm sbatch --parsable --mem 64M --wrap "python3 -c \"b = b'x' * (512 << 20)\"")
timeout 60 "$S" wait "$o" >/dev/null 2>&1
st=$("$S" slurm sacct -n -X -j "$o" -o State%20 | tr -d ' ')
[ "$st" = OUT_OF_MEMORY ] && ok "OOM seen on $(stat -fc %T /sys/fs/cgroup)" || no "OOM reported as $st"
kill $AP; wait $AP
left=$(find /sys/fs/cgroup -maxdepth 3 -path '*/shoal/job-*' 2>/dev/null | head -5)   # the agent's -cgroup-parent shoal
[ -z "$left" ] && ok "no job cgroup left behind" || no "job cgroups left: $left"
echo "== end-to-end suite (cmd/shoal test binary) on $(stat -fc %T /sys/fs/cgroup)"
(cd "$D" && timeout 200 ./e2e.test -test.count 1 -test.timeout 190s -test.v 2>&1 |
  grep -E '^(--- FAIL|--- SKIP|FAIL|PASS|ok)|^ +--- FAIL|^\s+\S+_test.go' | head -80)
echo "== $fails failures"
