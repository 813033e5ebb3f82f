package api

// TopPriority is the default priority of job 0: Slurm's priority/basic
// starts at 0xffff0000 and gives each new job one less.
const TopPriority int64 = 0xffff0000

// MaxNice bounds a nice value either way, as Slurm's --nice does.
const MaxNice = 2147483645

// DefaultPriority is the priority of a job submitted without one: one
// less for each job submitted before it, so that jobs of equal nice run
// in submit order.
func DefaultPriority(id uint64) int64 {
	return max(TopPriority-int64(id), 1)
}
