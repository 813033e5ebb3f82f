#!/bin/bash

#SBATCH --job-name=parsl.slurm.123
#SBATCH --output=/r/parsl.slurm.123.stdout
#SBATCH --error=/r/parsl.slurm.123.stderr
#SBATCH --nodes=1
#SBATCH --time=10
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
#SBATCH --mem=4g

export PARSL_CORES=$SLURM_CPUS_ON_NODE
srun --ntasks 1 -l bash cmd_$SLURM_JOB_NAME.sh
