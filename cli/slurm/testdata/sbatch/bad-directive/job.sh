#!/bin/sh
#SBATCH -J x foo
echo
