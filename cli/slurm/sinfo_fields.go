package slurm

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// siRow is one line of sinfo: a partition and the nodes grouped on it.
type siRow struct {
	part  *partition
	loc   *time.Location // where times are printed
	nodes []*api.Node
}

// first is the row's first node (nil for an empty partition line).
func (r *siRow) first() *api.Node {
	if len(r.nodes) == 0 {
		return nil
	}
	return r.nodes[0]
}

// siField is one thing sinfo can print. Aggregate fields sum or list the
// row's nodes; the others are a property each node of a row shares (sinfo
// groups nodes on them).
type siField struct {
	header    string
	aggregate bool
	// One of these gives the value: of the row, of its first node, of its
	// partition, or a constant. Package-level fields are then made without
	// a closure each, which sinfo's every sibling command would pay for at
	// start (they share this package).
	row   func(r *siRow) string
	node  func(n *api.Node) string
	part  func(p *partition) string
	fixed string
}

// known reports whether f is a field (an unknown letter's is the zero one).
func (f siField) known() bool { return f.header != "" }

// value is the field's value on row r.
func (f siField) value(r *siRow) string {
	switch {
	case f.row != nil:
		return f.row(r)
	case f.node != nil:
		if n := r.first(); n != nil {
			return f.node(n)
		}
		return ""
	case f.part != nil:
		return f.part(r.part)
	}
	return f.fixed
}

// perNode makes a field from a property of one node; an empty partition
// line shows empty.
func perNode(header string, f func(n *api.Node) string) siField {
	return siField{header: header, node: f}
}

// perPart makes a field from a property of the row's partition.
func perPart(header string, f func(p *partition) string) siField {
	return siField{header: header, part: f}
}

func constField(header, v string) siField {
	return siField{header: header, fixed: v}
}

func aggregate(header string, f func(r *siRow) string) siField {
	return siField{header: header, aggregate: true, row: f}
}

var (
	siPartition = perPart("PARTITION", func(p *partition) string {
		if p.isDefault {
			return p.name + "*"
		}
		return p.name
	})
	siPartName = perPart("PARTITION", func(p *partition) string { return p.name })
	siAvail    = perPart("AVAIL", func(p *partition) string { return p.avail })
	siNodes    = aggregate("NODES", func(r *siRow) string { return strconv.Itoa(len(r.nodes)) })
	siNodeList = aggregate("NODELIST", func(r *siRow) string { return compressHosts(nodeNames(r.nodes)) })
	siStateT   = siField{header: "STATE", row: func(r *siRow) string {
		if n := r.first(); n != nil {
			return stateOfNode(n).short
		}
		return "n/a"
	}}
	siStateLong = siField{header: "STATE", row: func(r *siRow) string {
		if n := r.first(); n != nil {
			return stateOfNode(n).long
		}
		return "n/a"
	}}
	siCPUState = aggregate("CPUS(A/I/O/T)", func(r *siRow) string {
		a, i, o, t := cpuStates(r.nodes)
		return fmt.Sprintf("%d/%d/%d/%d", a, i, o, t)
	})
	siNodeAIOT = aggregate("NODES(A/I/O/T)", func(r *siRow) string {
		a, i, o, t := nodeStates(r.nodes)
		return fmt.Sprintf("%d/%d/%d/%d", a, i, o, t)
	})
	siNodeAI = aggregate("NODES(A/I)", func(r *siRow) string {
		a, i, _, _ := nodeStates(r.nodes)
		return fmt.Sprintf("%d/%d", a, i)
	})
	siCPUs     = perNode("CPUS", func(n *api.Node) string { return strconv.Itoa(n.Capacity.CPUs) })
	siMemory   = perNode("MEMORY", func(n *api.Node) string { return strconv.FormatInt(n.Capacity.MemoryMB, 10) })
	siAllocMem = perNode("ALLOCMEM", func(n *api.Node) string { return strconv.FormatInt(n.Allocated.MemoryMB, 10) })
	siFreeMem  = perNode("FREE_MEM", func(n *api.Node) string {
		return strconv.FormatInt(n.Capacity.MemoryMB-n.Allocated.MemoryMB, 10)
	})
	siGres     = perNode("GRES", func(n *api.Node) string { return gresString(n.Capacity) })
	siGresUsed = perNode("GRES_USED", gresUsed)
	siReason   = perNode("REASON", func(n *api.Node) string {
		if n.Reason == "" {
			return "none"
		}
		return n.Reason
	})
	// shoal does not record when or by whom a node was drained.
	// Who set a node's reason, and when, as Slurm records them.
	siTimestamp = siField{header: "TIMESTAMP", row: func(r *siRow) string {
		if n := r.first(); n != nil {
			return stamp(epochTime(n.ReasonAt, r.loc), "Unknown")
		}
		return ""
	}}
	siUser = perNode("USER", func(n *api.Node) string {
		if n.ReasonBy == "" {
			return "Unknown"
		}
		return n.ReasonBy
	})
	siUserUID = perNode("USER", func(n *api.Node) string {
		if n.ReasonBy == "" {
			return "Unknown"
		}
		return fmt.Sprintf("%s(%d)", n.ReasonBy, n.ReasonUID)
	})
	siFeatures  = perNode("AVAIL_FEATURES", func(n *api.Node) string { return labelsString(n.Labels) })
	siActive    = perNode("ACTIVE_FEATURES", func(n *api.Node) string { return labelsString(n.Labels) })
	siSCT       = perNode("S:C:T", func(n *api.Node) string { return fmt.Sprintf("%d:1:1", n.Capacity.CPUs) })
	siSockets   = perNode("SOCKETS", func(n *api.Node) string { return strconv.Itoa(n.Capacity.CPUs) })
	siHostnames = aggregate("HOSTNAMES", func(r *siRow) string { return compressHosts(nodeNames(r.nodes)) })
)

// siLetters are sinfo -o's field letters.
var siLetters = sync.OnceValue(func() map[byte]siField {
	return map[byte]siField{
		'a': siAvail,
		'A': siNodeAI,
		'b': siActive,
		'B': constField("MAX_CPUS_PER_NODE", "UNLIMITED"),
		'c': siCPUs,
		'C': siCPUState,
		'd': constField("TMP_DISK", "0"),
		'D': siNodes,
		'e': siFreeMem,
		'E': siReason,
		'f': siFeatures,
		'F': siNodeAIOT,
		'g': constField("GROUPS", "all"),
		'G': siGres,
		'h': constField("OVERSUBSCRIBE", "NO"),
		'H': siTimestamp,
		'I': constField("PRIO_JOB_FACTOR", "1"),
		'l': constField("TIMELIMIT", "infinite"),
		'L': constField("DEFAULTTIME", "n/a"),
		'm': siMemory,
		'M': siPreemptMode,
		'n': siHostnames,
		'N': siNodeList,
		'o': aggregate("NODE_ADDR", func(r *siRow) string { return compressHosts(nodeNames(r.nodes)) }),
		'O': perNode("CPU_LOAD", cpuLoad),
		'p': siPrioTier,
		'P': siPartition,
		'r': constField("ROOT", "no"),
		'R': siPartName,
		's': constField("JOB_SIZE", "1"),
		'S': constField("ALLOCNODES", "all"),
		't': siStateT,
		'T': siStateLong,
		'u': siUser,
		'U': siUserUID,
		'V': constField("CLUSTER", shoalCluster),
		'v': constField("VERSION", slurmRelease),
		'w': constField("WEIGHT", "1"),
		'X': siSockets,
		'Y': constField("CORES", "1"),
		'z': siSCT,
		'Z': constField("THREADS", "1"),
	}
})

// siNames are sinfo -O's field names (lower case).
var siNames = sync.OnceValue(func() map[string]siField {
	return map[string]siField{
		"allocmem":          siAllocMem,
		"allocnodes":        constField("ALLOCNODES", "all"),
		"available":         siAvail,
		"cluster":           constField("CLUSTER", shoalCluster),
		"cores":             constField("CORES", "1"),
		"cpus":              siCPUs,
		"cpusload":          perNode("CPU_LOAD", cpuLoad),
		"cpusstate":         siCPUState,
		"defaulttime":       constField("DEFAULTTIME", "n/a"),
		"disk":              constField("TMP_DISK", "0"),
		"features":          siFeatures,
		"features_act":      siActive,
		"freemem":           siFreeMem,
		"gres":              siGres,
		"gresused":          siGresUsed,
		"groups":            constField("GROUPS", "all"),
		"maxcpuspernode":    constField("MAX_CPUS_PER_NODE", "UNLIMITED"),
		"memory":            siMemory,
		"nodeaddr":          aggregate("NODE_ADDR", func(r *siRow) string { return compressHosts(nodeNames(r.nodes)) }),
		"nodeai":            siNodeAI,
		"nodeaiot":          siNodeAIOT,
		"nodehost":          siHostnames,
		"nodelist":          siNodeList,
		"nodes":             siNodes,
		"oversubscribe":     constField("OVERSUBSCRIBE", "NO"),
		"partition":         siPartition,
		"partitionname":     siPartName,
		"reason":            siReason,
		"root":              constField("ROOT", "no"),
		"size":              constField("JOB_SIZE", "1"),
		"socketcorethread":  siSCT,
		"sockets":           siSockets,
		"statecompact":      siStateT,
		"statelong":         siStateLong,
		"threads":           constField("THREADS", "1"),
		"time":              constField("TIMELIMIT", "infinite"),
		"timestamp":         siTimestamp,
		"user":              siUser,
		"userlong":          siUser,
		"weight":            constField("WEIGHT", "1"),
		"version":           constField("VERSION", slurmRelease),
		"statecomplete":     siStateLong,
		"preemptmode":       siPreemptMode,
		"priorityjobfactor": constField("PRIO_JOB_FACTOR", "1"),
		"prioritytier":      siPrioTier,
	}
})
