#!/bin/sh
#SBATCH --tmp=2G
true
