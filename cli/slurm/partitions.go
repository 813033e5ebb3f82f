package slurm

import (
	"context"
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// A job may be submitted to several partitions (--partition=a,b): it runs
// in whichever can start it first. Slurm shows the list until it starts,
// then the partition it runs in.

// setPartitions puts --partition's value in a request: one partition is
// Queue; a list is Queues, in its order, with Queue its first.
func setPartitions(spec *api.JobSpec, value string) {
	parts := splitList(value)
	if len(parts) <= 1 {
		spec.Queue = strings.TrimSpace(value)
		return
	}
	spec.Queue, spec.Queues = parts[0], parts
}

// partitionOf is a job's Partition as Slurm shows it: the partitions it
// may start in, comma separated, while it waits; the one it runs (or
// ran) in once started.
func partitionOf(j *api.Job) string {
	return strings.Join(j.WaitingQueues(), ",")
}

// inPartitions reports whether a job is in one of the partitions a -p
// filter lists: the one it runs in, or any it may start in.
func inPartitions(filter []string, j *api.Job) bool {
	return slices.ContainsFunc(filter, j.InQueue)
}

// invalidPartition names the partition a refused submission named that
// does not exist (the first, as Slurm's "invalid partition specified:
// NAME" does), asking the controller for its queues; the whole list if
// that fails or all exist.
func invalidPartition(ctx context.Context, c *Ctx, spec api.JobSpec) string {
	if len(spec.Queues) < 2 {
		return spec.Queue
	}
	info, err := c.Client.Cluster(ctx)
	if err == nil {
		for _, q := range spec.Queues {
			if !slices.Contains(info.Queues, q) {
				return q
			}
		}
	}
	return strings.Join(spec.Queues, ",")
}
