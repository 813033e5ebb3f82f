package daemon

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// Bounds on what node daemons send: a registration (one node record, kept
// in the state, the raft log and every snapshot) and job event batches
// (each a raft entry; a reason becomes the job's statusReason, kept with
// the job in the archive). A node holds the join secret, but a bug or a
// stolen secret must not take the controller's memory, overflow the
// scheduler's sums of capacities, or make `shoal nodes` pad every row to
// a megabyte.
const (
	// MaxNodeNameBytes bounds a node name. A node name is a host name
	// (Slurm's NodeName is what `hostname -s` says): letters, digits,
	// '-', '.' and '_' (Slurm's node names take it), beginning with a
	// letter or digit, at most one DNS label's 63 bytes plus one.
	MaxNodeNameBytes = 64
	// MaxNodes bounds the nodes the cluster records (registered again,
	// a known node is no new one).
	MaxNodes = 10_000
	// MaxNodeCPUs, MaxNodeMemoryMiB and MaxNodeGPUs bound a node's
	// capacity far above any machine (a million CPUs, a TiB of TiBs, 65536
	// GPUs), low enough that sched's sums over MaxNodes nodes cannot
	// overflow an int64.
	MaxNodeCPUs      = 1 << 20
	MaxNodeMemoryMiB = 1 << 40
	MaxNodeGPUs      = 1 << 16
	// MaxNodeLabels, MaxNodeLabelKeyBytes, MaxNodeLabelValueBytes and
	// MaxNodeLabelsBytes bound a node's labels (Kubernetes allows 63-byte
	// names and values; room for a prefix on keys): 64 labels, 4 KiB of
	// keys and values together.
	MaxNodeLabels          = 64
	MaxNodeLabelKeyBytes   = 128
	MaxNodeLabelValueBytes = 256
	MaxNodeLabelsBytes     = 4 << 10
	// MaxNodeIDBytes bounds a node's boot id, log token and log key hash
	// (a boot id is 36 bytes, a token 64 hex digits, a hash 71 bytes).
	MaxNodeIDBytes = 256
	// MaxNodeAddrBytes bounds the log server's address (a unix socket's
	// path or host:port).
	MaxNodeAddrBytes = 4096
	// MaxEventsPerRequest bounds the job events of one report (a node
	// sends at most 1024 at once).
	MaxEventsPerRequest = 1024
	// MaxRunningPerHeartbeat bounds the jobs a heartbeat says its node
	// runs. Every job holds at least one CPU of its node (0 CPUs asked
	// is DefaultCPUs), so a node runs at most as many jobs as the CPUs
	// it offers, and a few it is still stopping; no machine has 65,536
	// CPUs (MaxNodeCPUs is far above any, to keep sums from overflowing,
	// not a count a node may reach). A heartbeat's body (bodySmall)
	// holds some 33,000 entries of real ids, but over 300,000 empty ones
	// ({}): the controller would look each up and answer them all as
	// strays.
	MaxRunningPerHeartbeat = 1 << 16
	// MaxEventReasonBytes bounds an event's reason, which becomes the
	// job's statusReason: a longer one is cut, ending "…", as Slurm
	// truncates reasons.
	MaxEventReasonBytes = 1024
	// maxUsageSeconds bounds an event's cpuSeconds and gpuSeconds: a
	// hundred years of MaxNodeCPUs.
	maxUsageSeconds = float64(MaxNodeCPUs) * 100 * 365 * 86400
	// maxUsedGPUUUIDBytes bounds a used GPU's UUID (NVML's are 40 bytes).
	maxUsedGPUUUIDBytes = 128
)

// maxNodes is MaxNodes; tests lower it.
var maxNodes = MaxNodes

// checkNodeBounds refuses a registration over a bound above. It runs
// before registerNode's own checks, so that no error echoes an oversized
// name.
func (c *Controller) checkNodeBounds(req *api.RegisterNodeRequest) error {
	if err := checkNodeName(req.Name); err != nil {
		return api.Errorf(api.CodeInvalid, "register node: %v", err).WithField("name")
	}
	bad := func(field, format string, args ...any) error {
		return api.Errorf(api.CodeInvalid, "register node %s: %s", req.Name, fmt.Sprintf(format, args...)).WithField(field)
	}
	capa := req.Capacity
	switch {
	case capa.CPUs > MaxNodeCPUs:
		return bad("capacity", "%d CPUs; at most %d", capa.CPUs, MaxNodeCPUs)
	case capa.MemoryMB > MaxNodeMemoryMiB:
		return bad("capacity", "%d MiB of memory; at most %d", capa.MemoryMB, int64(MaxNodeMemoryMiB))
	case capa.GPUs < 0 || capa.GPUs > MaxNodeGPUs:
		return bad("capacity", "%d GPUs; give 0 to %d", capa.GPUs, MaxNodeGPUs)
	}
	typed, tooMany := 0, false
	capa.GPUTypes.Each(func(_ string, n int) {
		tooMany = tooMany || n < 0 || n > MaxNodeGPUs
		typed += min(max(n, 0), MaxNodeGPUs+1)
	})
	if tooMany || typed > capa.GPUs {
		return bad("capacity", "GPUs by type %s are more than its %d GPUs", capa.GPUTypes, capa.GPUs)
	}
	for _, f := range []struct {
		field, what, v string
		limit          int
	}{
		{"boot", "boot id", req.Boot, MaxNodeIDBytes}, {"logToken", "log token", req.LogToken, MaxNodeIDBytes},
		{"logCertHash", "log key hash", req.LogCertHash, MaxNodeIDBytes}, {"logAddr", "log address", req.LogAddr, MaxNodeAddrBytes},
	} {
		if err := checkText(f.what, f.v, f.limit); err != nil {
			return bad(f.field, "%v", err)
		}
	}
	if len(req.Labels) > MaxNodeLabels {
		return bad("labels", "%d labels; at most %d", len(req.Labels), MaxNodeLabels)
	}
	total := 0
	for k, v := range req.Labels {
		if k == "" {
			return bad("labels", "a label has no name")
		}
		if err := checkText("label name", k, MaxNodeLabelKeyBytes); err != nil {
			return bad("labels", "%v", err)
		}
		if err := checkText("value of label "+clip(k), v, MaxNodeLabelValueBytes); err != nil {
			return bad("labels", "%v", err)
		}
		total += len(k) + len(v)
	}
	if total > MaxNodeLabelsBytes {
		return bad("labels", "its labels are %d bytes, names and values together; at most %d", total, MaxNodeLabelsBytes)
	}
	state := c.fsm.State()
	if state.Node(req.Name) == nil {
		if n := len(state.Nodes()); n >= maxNodes {
			return api.Errorf(api.CodeConflict, "register node %s: the cluster has %d nodes, the most it takes (%d); delete nodes no longer used first",
				req.Name, n, maxNodes)
		}
	}
	return nil
}

// checkHeartbeat refuses a heartbeat whose list of running jobs is over
// MaxRunningPerHeartbeat.
func checkHeartbeat(req *api.NodeHeartbeatRequest) error {
	if n := len(req.Running); n > MaxRunningPerHeartbeat {
		return api.Errorf(api.CodeInvalid, "heartbeat of node %s: %d running jobs; at most %d (a node runs at most one job per CPU)",
			req.Name, n, MaxRunningPerHeartbeat).WithField("running")
	}
	return nil
}

// checkNodeName refuses a name that is not a host name of at most
// MaxNodeNameBytes: letters, digits, '-', '.', '_', beginning with a letter
// or digit. The name is shown in every listing and read back in host
// lists (n[1-4]), so brackets, commas, spaces and control characters are
// no part of one.
func checkNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("a node needs a name")
	}
	if len(name) > MaxNodeNameBytes {
		return fmt.Errorf("the node name %q is %d bytes; at most %d, a short host name: give the agent -name", clip(name), len(name), MaxNodeNameBytes)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && (i == 0 || b != '-' && b != '.' && b != '_') {
			return fmt.Errorf("node name %q: use a host name: letters, digits, '-', '.' and '_', beginning with a letter or digit (give the agent -name)", clip(strings.ToValidUTF8(name, "?")))
		}
	}
	return nil
}

// boundNodeEvents checks a node's report before it is proposed: at most
// MaxEventsPerRequest events; reasons cut to MaxEventReasonBytes; usage
// figures that are negative, not finite or past any machine's are dropped
// (the event itself stands: the job's end must not wait on them); events
// of jobs that do not exist are dropped, so they make no raft entry.
func (c *Controller) boundNodeEvents(req *api.JobEventsRequest) error {
	if len(req.Events) > MaxEventsPerRequest {
		return api.Errorf(api.CodeInvalid, "%d job events in one report; at most %d", len(req.Events), MaxEventsPerRequest).WithField("events")
	}
	// Which jobs exist is certain on a leader that has applied every
	// former leader's entries (read before the state, so the state has
	// them); on any other controller the state may lag, and a job it
	// lacks may be one it has not heard of yet (an id from NextJobID on):
	// those events go on, and the FSM drops them if the job is unknown.
	// A job missing below NextJobID is gone for good: ids are not reused.
	leading, _ := c.leaderReady()
	state := c.fsm.State()
	next := state.NextJobID()
	kept := req.Events[:0]
	for _, ev := range req.Events {
		if stored, _ := state.JobArray(ev.ID); !stored && (leading || ev.ID < next) {
			continue
		}
		ev.Reason = clipReason(ev.Reason)
		if ev.Usage != nil {
			boundUsage(ev.Usage) // the request's own, decoded for this call
		}
		kept = append(kept, ev)
	}
	clear(req.Events[len(kept):])
	req.Events = kept
	return nil
}

// clipReason cuts a reason to MaxEventReasonBytes, ending "…", at a
// character's start; bytes that are no UTF-8 become U+FFFD.
func clipReason(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxEventReasonBytes {
		return s
	}
	const ellipsis = "…"
	return cutUTF8(s, MaxEventReasonBytes-len(ellipsis)) + ellipsis
}

// boundUsage zeroes the figures of u that no job could have used.
func boundUsage(u *api.JobUsage) {
	seconds := func(v *float64) {
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || *v > maxUsageSeconds {
			*v = 0
		}
	}
	seconds(&u.CPUSeconds)
	seconds(&u.GPUSeconds)
	if u.MaxRSSBytes < 0 || u.MaxRSSBytes > MaxNodeMemoryMiB<<20 {
		u.MaxRSSBytes = 0
	}
	if u.GPUMemMaxBytes < 0 {
		u.GPUMemMaxBytes = 0
	}
	if u.GPUSamples < 0 {
		u.GPUSamples = 0
	}
	if math.IsNaN(u.GPUUtilMeanPercent) || u.GPUUtilMeanPercent < 0 || u.GPUUtilMeanPercent > 100 {
		u.GPUUtilMeanPercent = 0
	}
	if u.GPUUtilMaxPercent < 0 || u.GPUUtilMaxPercent > 100 {
		u.GPUUtilMaxPercent = 0
	}
	if len(u.GPUs) > MaxNodeGPUs {
		u.GPUs = u.GPUs[:MaxNodeGPUs]
	}
	for i := range u.GPUs {
		u.GPUs[i].UUID = cutUTF8(u.GPUs[i].UUID, maxUsedGPUUUIDBytes)
	}
}
