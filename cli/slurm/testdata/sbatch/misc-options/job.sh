#!/bin/sh
#SBATCH --no-requeue
#SBATCH --mem-per-gpu=1G
true
