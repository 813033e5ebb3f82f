#!/bin/bash

# Parameters
#SBATCH --array=0-3%2
#SBATCH --cpus-per-task=10
#SBATCH --error=/ck/%A_%a_0_log.err
#SBATCH --gpus-per-node=2
#SBATCH --job-name=submitit
#SBATCH --mem=16GB
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --open-mode=append
#SBATCH --output=/ck/%A_%a_0_log.out
#SBATCH --signal=USR2@90
#SBATCH --time=60
#SBATCH --wckey=submitit

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output /ck/%j_%t_log.out --error /ck/%j_%t_log.err python -u -m submitit.core._submit /ck
