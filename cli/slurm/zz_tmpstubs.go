//go:build shoaltmpstubs

package slurm

func Squeue(c *Ctx, args []string) int   { return 99 }
func Sacct(c *Ctx, args []string) int    { return 99 }
func Sinfo(c *Ctx, args []string) int    { return 99 }
func Scontrol(c *Ctx, args []string) int { return 99 }
