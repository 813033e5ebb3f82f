package main

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/sched"
)

// preemptFlags are the controller's preemption settings, Slurm's
// PreemptType and PreemptMode.
func preemptFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "preempt-type", Value: sched.PreemptPartitionPrio, Usage: "controller: which waiting jobs may preempt which running ones (Slurm's PreemptType): partition_prio (a higher-priority queue preempts lower, preemptable queues), qos (a job preempts the jobs of the QOS its QOS's Preempt list names: sacctmgr modify qos NAME set Preempt=...) or none"},
		&ucli.StringFlag{Name: "preempt-mode", Usage: "controller: under -preempt-type qos, what becomes of a preempted job whose QOS and queue set no PreemptMode (Slurm's cluster PreemptMode): CANCEL (the default) or REQUEUE; OFF only with -preempt-type none"},
	}
}

// preemptConfig reads the flags into the scheduler's options.
func preemptConfig(c *ucli.Context, o *sched.Options) error {
	t, err := sched.ParsePreemptType(c.String("preempt-type"))
	if err != nil {
		return fmt.Errorf("-preempt-type: %w", err)
	}
	m, err := sched.ParsePreemptMode(c.String("preempt-mode"), t)
	if err != nil {
		return fmt.Errorf("-preempt-mode: %w", err)
	}
	o.PreemptType, o.PreemptMode = t, m
	return nil
}
