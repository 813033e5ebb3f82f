#!/bin/sh
#SBATCH --mem=4G
true
