#!/bin/bash
#SBATCH -J fromscript
#SBATCH --time=1:00:00 --mem=2G
#SBATCH -c 4  # four cores

# a comment
#SBATCH -p gpu
echo hi
#SBATCH -A late-ignored
