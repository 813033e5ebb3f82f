package slurm

import (
	"context"
	"sort"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// nodeState is the Slurm view of an api.Node: UP with nothing allocated
// is idle, partly allocated mixed, fully allocated (CPUs) allocated;
// DRAIN with jobs is draining, without drained; DOWN is down. A node that
// stopped answering its controller gets Slurm's "*" (sinfo down*,
// scontrol State=DOWN*+NOT_RESPONDING).
type nodeState struct {
	long, short string // sinfo %T and %t
	upper       string // scontrol State=
	num         int    // Slurm's state number, flags included: sinfo sorts on it
	drain       bool
	base        string // the state without the drain flag: idle, mixed, allocated, down
}

// Slurm's node state numbers (NODE_STATE_*) and the drain flag.
const (
	nodeStateDown  = 1
	nodeStateIdle  = 2
	nodeStateAlloc = 3
	nodeStateMixed = 5
	nodeFlagDrain  = 0x200
	nodeFlagNoResp = 0x800
)

// stateOfNode maps a node to its Slurm state.
func stateOfNode(n *api.Node) nodeState {
	s := baseStateOfNode(n)
	if n.NotResponding {
		s.long += "*"
		s.short += "*"
		s.num |= nodeFlagNoResp
		base, flags, _ := strings.Cut(s.upper, "+")
		s.upper = base + "*"
		if flags != "" {
			s.upper += "+" + flags
		}
		s.upper += "+NOT_RESPONDING"
	}
	return s
}

// baseStateOfNode is stateOfNode without the not-responding flag.
func baseStateOfNode(n *api.Node) nodeState {
	if n.State == api.NodeDown {
		return nodeState{long: "down", short: "down", upper: "DOWN", num: nodeStateDown, base: "down"}
	}
	s := nodeState{long: "idle", short: "idle", upper: "IDLE", num: nodeStateIdle, base: "idle"}
	switch alloc := n.Allocated.CPUs; {
	case alloc > 0 && alloc >= n.Capacity.CPUs:
		s = nodeState{long: "allocated", short: "alloc", upper: "ALLOCATED", num: nodeStateAlloc, base: "allocated"}
	case alloc > 0:
		s = nodeState{long: "mixed", short: "mix", upper: "MIXED", num: nodeStateMixed, base: "mixed"}
	}
	if n.State == api.NodeDrain {
		s.drain = true
		s.num |= nodeFlagDrain
		s.upper += "+DRAIN"
		if s.base == "idle" {
			s.long, s.short = "drained", "drain"
		} else {
			s.long, s.short = "draining", "drng"
		}
	}
	return s
}

// cpuStates is %C: allocated, idle, other (drained or down) and total
// CPUs of nodes.
func cpuStates(nodes []*api.Node) (alloc, idle, other, total int) {
	for _, n := range nodes {
		st := stateOfNode(n)
		total += n.Capacity.CPUs
		a := min(max(n.Allocated.CPUs, 0), n.Capacity.CPUs)
		switch {
		case st.base == "down":
			other += n.Capacity.CPUs
		case st.drain:
			alloc += a
			other += n.Capacity.CPUs - a
		default:
			alloc += a
			idle += n.Capacity.CPUs - a
		}
	}
	return
}

// nodeStates is %F: nodes allocated (or mixed), idle, other, total.
func nodeStates(nodes []*api.Node) (alloc, idle, other, total int) {
	for _, n := range nodes {
		st := stateOfNode(n)
		total++
		switch {
		case st.base == "down", st.drain && st.base == "idle":
			other++
		case st.base == "idle":
			idle++
		default:
			alloc++
		}
	}
	return
}

// partition is a Slurm partition: a shoal job queue and the nodes of its
// compute environments.
type partition struct {
	name      string
	avail     string // up, or drain for a DISABLED queue
	nodes     []*api.Node
	isDefault bool
	// tier is the queue's priority (Slurm's PriorityTier), preemptMode
	// its PreemptMode (OFF when not set).
	tier        int
	preemptMode string
	graceTime   int // seconds
}

// batchCaller is the part of core.Client that reaches the AWS Batch
// describe calls; a Controller that has it lets sinfo and scontrol map
// queues to nodes.
type batchCaller interface {
	Call(ctx context.Context, path string, req, resp any) error
}

// loadPartitions builds the partitions from the job queues and compute
// environments, in the controller's order. Without the describe calls it
// falls back to the queues ClusterInfo names, each over every node.
func loadPartitions(ctx context.Context, c *Ctx, nodes []api.Node) ([]*partition, error) {
	all := make([]*api.Node, len(nodes))
	for i := range nodes {
		all[i] = &nodes[i]
	}
	sortNodes(all)
	if bc, ok := c.Client.(batchCaller); ok {
		var qs struct {
			JobQueues []api.JobQueue `json:"jobQueues"`
		}
		var ces struct {
			ComputeEnvironments []api.ComputeEnvironment `json:"computeEnvironments"`
		}
		err := bc.Call(ctx, "/v1/describejobqueues", map[string]any{}, &qs)
		if err == nil {
			err = bc.Call(ctx, "/v1/describecomputeenvironments", map[string]any{}, &ces)
		}
		if err == nil {
			byName := map[string]*api.ComputeEnvironment{}
			for i := range ces.ComputeEnvironments {
				byName[ces.ComputeEnvironments[i].Name] = &ces.ComputeEnvironments[i]
			}
			var out []*partition
			for i := range qs.JobQueues {
				q := &qs.JobQueues[i]
				p := &partition{name: q.Name, avail: "up", isDefault: q.Name == defaultPartition, tier: q.Priority, preemptMode: q.PreemptMode, graceTime: q.GraceTimeSeconds}
				if q.State == api.Disabled {
					p.avail = "drain"
				}
				seen := map[string]bool{}
				for _, ce := range api.QueueEnvironments(q, func(n string) *api.ComputeEnvironment { return byName[n] }) {
					for _, n := range all {
						if !seen[n.Name] && ce.Includes(n) {
							seen[n.Name] = true
							p.nodes = append(p.nodes, n)
						}
					}
				}
				sortNodes(p.nodes)
				out = append(out, p)
			}
			return out, nil
		}
	}
	info, err := c.Client.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	names := info.Queues
	if len(names) == 0 {
		names = []string{defaultPartition}
	}
	var out []*partition
	for _, n := range names {
		out = append(out, &partition{name: n, avail: "up", nodes: all, isDefault: n == defaultPartition})
	}
	return out, nil
}

// sortNodes orders nodes as Slurm's hostlists do: by prefix, then number.
func sortNodes(nodes []*api.Node) {
	sort.SliceStable(nodes, func(a, b int) bool { return hostLess(nodes[a].Name, nodes[b].Name) })
}

// hostLess orders two node names by prefix, then trailing number.
func hostLess(a, b string) bool {
	x, y := splitHost(a), splitHost(b)
	if x.prefix != y.prefix {
		return x.prefix < y.prefix
	}
	if x.num != y.num {
		return x.num < y.num
	}
	return a < b
}

// nodeNames returns the names of nodes.
func nodeNames(nodes []*api.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// labelsString writes node labels as Slurm features: "k=v,k2=v2", or
// "(null)".
func labelsString(labels map[string]string) string {
	if len(labels) == 0 {
		return "(null)"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
