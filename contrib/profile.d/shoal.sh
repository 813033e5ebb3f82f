# /etc/profile.d/shoal.sh: put shoal's Slurm commands (sbatch, squeue, ...)
# first on every login shell's PATH, ahead of Debian's slurm-client, and
# point them at the controller. Install with:
#   make install PREFIX=/opt/shoal
#   install -m 0644 contrib/profile.d/shoal.sh /etc/profile.d/shoal.sh
# Jobs inherit PATH (sbatch --export=ALL is the default), so scripts that
# call sbatch or srun from inside a job reach shoal too.
SHOAL_PREFIX=${SHOAL_PREFIX:-/opt/shoal}
case ":$PATH:" in
  *":$SHOAL_PREFIX/bin:"*) ;;
  *) PATH="$SHOAL_PREFIX/bin:$PATH" ;;
esac
export PATH
# The controller's socket; the default is /run/shoal/shoal.sock.
# export SHOAL_ADDR=/run/shoal/shoal.sock
