package slurm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// Partitions for operators: scontrol create, update and delete
// PartitionName=. A shoal partition is a job queue and the compute
// environment of the same name that holds its nodes, made and changed
// through the AWS Batch object calls (root only, as the controller
// checks); what shoal's partitions do not have (a maximum time, hidden
// partitions, a second default) is refused, not dropped, except the
// value every shoal partition has (MaxTime=UNLIMITED, Default=NO).

// partitionSpec is what create and update partition parse.
type partitionSpec struct {
	name     string
	nodes    []string // nil: not given; Nodes=ALL: every node (allNodes)
	allNodes bool
	state    string // api.Enabled or api.Disabled, "" not given
	priority *int
	// preemptMode (PreemptMode=): OFF, CANCEL or REQUEUE; "" not given.
	preemptMode string
	// graceTime (GraceTime=, seconds): nil not given.
	graceTime *int
}

// isPartitionKey reports whether key names the partition (PartitionName,
// or a prefix of it of three letters or more, as Slurm's scontrol reads).
func isPartitionKey(key string) bool {
	return len(key) >= 3 && strings.HasPrefix("partitionname", strings.ToLower(key))
}

// parsePartition reads PartitionName=NAME KEY=VALUE... for create/update;
// it prints what is wrong and returns false.
func (r *scontrolRun) parsePartition(args []string) (partitionSpec, bool) {
	var p partitionSpec
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\n", a)
			return p, false
		}
		switch key := strings.ToLower(k); {
		case isPartitionKey(key):
			p.name = v
		case key == "nodes":
			if strings.EqualFold(v, "ALL") {
				p.allNodes, p.nodes = true, []string{}
				continue
			}
			hosts, err := expandHosts(v)
			if err != nil || len(hosts) == 0 {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid node name specified: %s\n", v)
				return p, false
			}
			p.nodes = hosts
		case key == "state":
			switch strings.ToUpper(v) {
			case "UP":
				p.state = api.Enabled
			case "DOWN", "DRAIN", "INACTIVE":
				p.state = api.Disabled
			default:
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\nscontrol: error: Acceptable State values are UP, DOWN, DRAIN and INACTIVE\n", a)
				return p, false
			}
		case key == "maxtime":
			if u := strings.ToUpper(v); u != "UNLIMITED" && u != "INFINITE" && u != "-1" {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\nscontrol: error: shoal partitions have no time limit of their own: only MaxTime=UNLIMITED (a job's --time limits it)\n", a)
				return p, false
			}
		case key == "default":
			if !strings.EqualFold(v, "NO") {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\nscontrol: error: the default partition is always %s in shoal\n", a, defaultPartition)
				return p, false
			}
		case key == "priority" || key == "prioritytier":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\n", a)
				return p, false
			}
			p.priority = &n
		case key == "preemptmode":
			m := strings.ToUpper(v)
			if m != api.PreemptOff && m != api.PreemptCancel && m != api.PreemptRequeue {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\nscontrol: error: shoal's PreemptMode values are OFF, CANCEL and REQUEUE\n", a)
				return p, false
			}
			p.preemptMode = m
		case key == "gracetime":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fmt.Fprintf(r.c.Stderr, "scontrol: error: Invalid input: %s\n", a)
				return p, false
			}
			p.graceTime = &n
		default:
			fmt.Fprintf(r.c.Stderr, "scontrol: error: Update of this parameter is not supported: %s\n", a)
			return p, false
		}
	}
	if p.name == "" {
		fmt.Fprintln(r.c.Stderr, "scontrol: error: PartitionName must be given.")
		return p, false
	}
	return p, true
}

// checkPartitionNodes refuses node names the cluster does not have.
func (r *scontrolRun) checkPartitionNodes(names []string) bool {
	nodes, err := r.c.Client.Nodes(r.ctx)
	if err != nil {
		r.c.Errorf("scontrol", "%s", safeErr(err))
		return false
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	for _, n := range names {
		if !known[n] {
			fmt.Fprintf(r.c.Stderr, "Error creating the partition: Invalid node name specified (%s)\n", n)
			return false
		}
	}
	return true
}

// batch is the controller's AWS Batch caller, or an error message.
func (r *scontrolRun) batch(what string) (batchCaller, bool) {
	bc, ok := r.c.Client.(batchCaller)
	if !ok {
		fmt.Fprintf(r.c.Stderr, "%s: this controller connection cannot manage partitions\n", what)
	}
	return bc, ok
}

// createPartition is scontrol create PartitionName=NAME Nodes=LIST: a
// compute environment NAME over the nodes and a queue NAME over it. If
// the queue cannot be made, the compute environment is removed again.
func (r *scontrolRun) createPartition(args []string) int {
	p, ok := r.parsePartition(args)
	if !ok {
		return 1
	}
	if strings.EqualFold(p.name, "default") {
		fmt.Fprintln(r.c.Stderr, `scontrol: error: PartitionName cannot be "DEFAULT".`)
		return 1
	}
	if p.nodes == nil {
		fmt.Fprintln(r.c.Stderr, "scontrol: error: Nodes= must be given: the nodes of the new partition (or ALL)")
		return 1
	}
	if !r.checkPartitionNodes(p.nodes) {
		return 1
	}
	bc, ok := r.batch("Error creating the partition")
	if !ok {
		return 1
	}
	state := p.state
	if state == "" {
		state = api.Enabled
	}
	ce := api.ComputeEnvironment{Name: p.name, Type: "UNMANAGED", State: api.Enabled, Nodes: p.nodes}
	if p.allNodes {
		ce.Nodes = nil
	}
	if err := bc.Call(r.ctx, "/v1/createcomputeenvironment", api.AWSCreateComputeEnvironmentRequest{ComputeEnvironment: ce}, nil); err != nil {
		fmt.Fprintf(r.c.Stderr, "Error creating the partition: %s\n", safeErr(err))
		return 1
	}
	q := api.JobQueue{Name: p.name, Priority: 1, State: state,
		ComputeEnvironmentOrder: []api.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: p.name}}}
	if p.priority != nil {
		q.Priority = *p.priority
	}
	q.PreemptMode = p.preemptMode
	if p.graceTime != nil {
		q.GraceTimeSeconds = *p.graceTime
	}
	if err := bc.Call(r.ctx, "/v1/createjobqueue", q, nil); err != nil {
		fmt.Fprintf(r.c.Stderr, "Error creating the partition: %s\n", safeErr(err))
		if rerr := r.removeCE(bc, p.name); rerr != nil {
			fmt.Fprintf(r.c.Stderr, "scontrol: error: compute environment %s was left behind: %s\n", p.name, safeErr(rerr))
		}
		return 1
	}
	return 0
}

// removeCE disables and deletes a compute environment.
func (r *scontrolRun) removeCE(bc batchCaller, name string) error {
	err := bc.Call(r.ctx, "/v1/updatecomputeenvironment", api.AWSUpdateComputeEnvironmentRequest{ComputeEnvironment: name, State: api.Disabled}, nil)
	if err == nil {
		err = bc.Call(r.ctx, "/v1/deletecomputeenvironment", api.AWSDeleteComputeEnvironmentRequest{ComputeEnvironment: name}, nil)
	}
	return err
}

// updatePartition is scontrol update PartitionName=NAME: State= (the
// queue's), Priority=, Nodes= (its compute environment of the same name).
func (r *scontrolRun) updatePartition(args []string) int {
	p, ok := r.parsePartition(args)
	if !ok {
		return 1
	}
	bc, ok := r.batch("slurm_update error")
	if !ok {
		return 1
	}
	if p.state != "" || p.priority != nil || p.preemptMode != "" || p.graceTime != nil {
		req := api.AWSUpdateJobQueueRequest{JobQueue: p.name, State: p.state, Priority: p.priority, PreemptMode: p.preemptMode, GraceTimeSeconds: p.graceTime}
		if err := bc.Call(r.ctx, "/v1/updatejobqueue", req, nil); err != nil {
			fmt.Fprintf(r.c.Stderr, "slurm_update error: %s\n", partitionError(err))
			return 1
		}
	}
	if p.nodes != nil {
		if !r.checkPartitionNodes(p.nodes) {
			return 1
		}
		req := api.AWSUpdateComputeEnvironmentRequest{ComputeEnvironment: p.name, Nodes: p.nodes}
		if p.allNodes { // every node: no list, no labels
			req.Nodes, req.NodeLabels = nil, map[string]string{}
		}
		if err := bc.Call(r.ctx, "/v1/updatecomputeenvironment", req, nil); err != nil {
			fmt.Fprintf(r.c.Stderr, "slurm_update error: %s\n", partitionError(err))
			return 1
		}
	}
	return 0
}

// deletePartition is scontrol delete PartitionName=NAME: the queue
// (disabled first, and refused while it holds unfinished jobs), then its
// compute environment of the same name if no other queue uses it.
func (r *scontrolRun) deletePartition(arg, name string) int {
	bc, ok := r.batch("delete_partition " + arg)
	if !ok {
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(r.c.Stderr, "delete_partition %s: %s\n", arg, partitionError(err))
		return 1
	}
	if err := bc.Call(r.ctx, "/v1/updatejobqueue", api.AWSUpdateJobQueueRequest{JobQueue: name, State: api.Disabled}, nil); err != nil {
		return fail(err)
	}
	if err := bc.Call(r.ctx, "/v1/deletejobqueue", api.AWSDeleteJobQueueRequest{JobQueue: name}, nil); err != nil {
		return fail(err)
	}
	if err := r.removeCE(bc, name); err != nil && !api.IsCode(err, api.CodeNotFound) && !api.IsCode(err, api.CodeConflict) {
		return fail(err)
	}
	return 0
}

// partitionError words a refusal: Slurm's for a partition that does not
// exist, else the controller's.
func partitionError(err error) string {
	if api.IsCode(err, api.CodeNotFound) {
		return "Invalid partition name specified"
	}
	if api.IsCode(err, api.CodeForbidden) {
		return "Access/permission denied"
	}
	return safeErr(err)
}

// deleteEntity is scontrol delete ENTITY=ID or ENTITY ID (partitions only).
func (r *scontrolRun) deleteEntity(args []string) int {
	var tag, val string
	switch len(args) {
	case 1:
		var ok bool
		if tag, val, ok = strings.Cut(args[0], "="); !ok {
			tag = ""
		}
	case 2:
		tag, val = args[0], args[1]
	}
	if tag == "" || val == "" {
		fmt.Fprintln(r.c.Stderr, "scontrol: error: Proper format is 'delete <ENTITY>=<ID>' or 'delete <ENTITY> <ID>'")
		return 1
	}
	if k := strings.ToLower(tag); k == "nodename" || k == "node" {
		return r.deleteNodes(val)
	}
	if !isPartitionKey(tag) {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: shoal deletes only partitions (delete PartitionName=NAME) and nodes (delete NodeName=NAME), not %s\n", tag)
		return 1
	}
	return r.deletePartition(strings.Join(args, " "), val)
}

// nodeDeleter is the controller's delete-node call (core.Client's).
type nodeDeleter interface {
	DeleteNode(ctx context.Context, name string) error
}

// deleteNodes is scontrol delete NodeName=LIST: each node, which must run
// nothing, is removed, and its name may register anew with the join token
// (a lost node's replacement).
func (r *scontrolRun) deleteNodes(list string) int {
	d, ok := r.c.Client.(nodeDeleter)
	if !ok {
		fmt.Fprintln(r.c.Stderr, "scontrol: error: this controller client cannot delete nodes")
		return 1
	}
	names, err := expandHosts(list)
	if err != nil || len(names) == 0 {
		fmt.Fprintln(r.c.Stderr, "delete_node error: Invalid node name specified")
		return 1
	}
	rc := 0
	for _, n := range names {
		err := d.DeleteNode(r.ctx, n)
		switch {
		case err == nil:
		case api.IsCode(err, api.CodeNotFound):
			fmt.Fprintf(r.c.Stderr, "delete_node %s error: Invalid node name specified\n", n)
			rc = 1
		case api.IsCode(err, api.CodeForbidden):
			fmt.Fprintf(r.c.Stderr, "delete_node %s error: Access/permission denied\n", n)
			rc = 1
		default:
			fmt.Fprintf(r.c.Stderr, "delete_node %s error: %s\n", n, safeErr(err))
			rc = 1
		}
	}
	return rc
}

// topJobs is scontrol top JOB_LIST: the jobs, in that order, ahead of
// their owner's other waiting jobs of the same partition.
func (r *scontrolRun) topJobs(args []string) int {
	switch {
	case len(args) < 1:
		fmt.Fprintln(r.c.Stderr, "too few arguments for keyword:top")
		return 1
	case len(args) > 1:
		fmt.Fprintln(r.c.Stderr, "too many arguments for keyword:top")
		return 1
	}
	list := args[0]
	for _, p := range []string{"jobid=", "job="} {
		if len(list) >= len(p) && strings.EqualFold(list[:len(p)], p) {
			list = list[len(p):]
		}
	}
	var ids []uint64
	for _, s := range splitList(list) {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil || id == 0 {
			fmt.Fprintf(r.c.Stderr, "Invalid job id specified for job %s\n", list)
			return 1
		}
		ids = append(ids, id)
	}
	bc, ok := r.c.Client.(batchCaller)
	if !ok {
		fmt.Fprintf(r.c.Stderr, "this controller connection cannot reorder jobs for job %s\n", list)
		return 1
	}
	if err := bc.Call(r.ctx, api.PathTopJobs, api.TopJobsRequest{IDs: ids}, nil); err != nil {
		if !r.quiet {
			fmt.Fprintf(r.c.Stderr, "%s for job %s\n", r.jobError(ids[0], err), list)
		}
		return 1
	}
	return 0
}
