#!/usr/bin/env bash

#SBATCH -J dask-worker
#SBATCH -e /d/dask-worker-%J.err
#SBATCH -o /d/dask-worker-%J.out
#SBATCH -p normal
#SBATCH -A acct
#SBATCH -n 1
#SBATCH --cpus-per-task=4
#SBATCH --mem=15G
#SBATCH -t 00:30:00
JOB_ID=${SLURM_JOB_ID%;*}
echo $JOB_ID
