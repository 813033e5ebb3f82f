package raftfsm

import (
	"encoding/json"
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// Op is the first byte of every raft log entry: what the rest decodes to.
type Op uint8

// The commands. Never renumber: the log outlives the binary.
const (
	OpBatch        Op = 1 // Batch: several commands in one entry
	OpSubmit       Op = 2 // SubmitCmd
	OpStop         Op = 3 // StopCmd
	OpPlan         Op = 4 // PlanCmd
	OpJobEvents    Op = 5 // JobEventsCmd
	OpRegisterNode Op = 6 // RegisterNodeCmd (a node daemon's start; heartbeats stay in the leader's memory)
	OpHold         Op = 7 // HoldCmd
	OpUpdateJob    Op = 8 // UpdateJobCmd
	OpUpdateNode   Op = 9 // UpdateNodeCmd
)

// SubmitCmd stores new jobs. The leader has filled in owner, queue and
// resources; the FSM assigns ids and expands arrays and dependencies. All
// jobs of one command are stored or none is.
type SubmitCmd struct {
	Jobs   []api.Job   `json:"jobs"`
	Arrays []ArraySpec `json:"arrays,omitempty"`
	Now    int64       `json:"now"`
	// Ended are the jobs the dependencies name that have left the state
	// (ExpireCmd), as the leader found them in its archive.
	Ended []EndedJob `json:"ended,omitempty"`
}

// ArraySpec makes Jobs[Job] of a SubmitCmd an array: one task per index,
// with consecutive ids; the array's id is its first task's.
type ArraySpec struct {
	Job        int   `json:"job"`
	Indexes    []int `json:"indexes"`
	MaxRunning int   `json:"maxRunning,omitempty"`
}

// StopCmd cancels (Terminate false) or terminates a job, or requeues it
// (Terminate and Requeue). Caller, if not root, must own the job.
type StopCmd struct {
	ID        uint64 `json:"id"`
	Reason    string `json:"reason"`
	Terminate bool   `json:"terminate"`
	Requeue   bool   `json:"requeue,omitempty"`
	// Deadline (the leader's, Terminate false): the job waited past its
	// deadline (DeadlineCutoff) and ends DEADLINE; refused if Now is not.
	Deadline bool `json:"deadline,omitempty"`
	// Hold (with Requeue): hold the job once it is queued again
	// (scontrol requeuehold).
	Hold      bool   `json:"hold,omitempty"`
	CallerUID uint32 `json:"callerUid"`
	Now       int64  `json:"now"`
}

// HoldCmd holds or releases unstarted jobs: all of them or none.
type HoldCmd struct {
	IDs       []uint64 `json:"ids"`
	Hold      bool     `json:"hold"`
	CallerUID uint32   `json:"callerUid"`
	Now       int64    `json:"now"`
}

// UpdateJobCmd changes a job's name, queue, priority or time limit.
type UpdateJobCmd struct {
	Update    api.UpdateJobRequest `json:"update"`
	CallerUID uint32               `json:"callerUid"`
}

// UpdateNodeCmd drains, downs or resumes a node; jobs on a node set DOWN
// are stopped.
type UpdateNodeCmd struct {
	Update api.UpdateNodeRequest `json:"update"`
	Now    int64                 `json:"now"`
	// By and ByUID are the admin who asked (recorded with the reason).
	By    string `json:"by,omitempty"`
	ByUID uint32 `json:"byUid,omitempty"`
}

// Placement puts one job on one node of a compute environment.
type Placement struct {
	JobID uint64 `json:"jobId"`
	Node  string `json:"node"`
	CE    string `json:"ce"`
	// Queue is the queue, of those the job may run in (Job.Queues), it
	// starts in, when not its Queue; empty: its Queue.
	Queue string `json:"queue,omitempty"`
}

// PlanCmd commits a scheduler plan. Placements that no longer fit (the job
// moved on, the node filled up) are skipped, not applied.
type PlanCmd struct {
	Placements []Placement `json:"placements"`
	Now        int64       `json:"now"`
}

// JobEventsCmd records what nodes report about their jobs.
type JobEventsCmd struct {
	Events []api.JobEvent `json:"events"`
	Now    int64          `json:"now"`
}

// RegisterNodeCmd adds a node or records that its daemon restarted.
type RegisterNodeCmd struct {
	// Node is the node as its daemon describes it. Its SecretHash, when
	// set, is a new credential the controller made for it: stored only
	// if the node has none (else the registration is refused).
	Node api.Node `json:"node"`
	Now  int64    `json:"now"`
	// Proven is the credential hash the caller proved it holds (a node
	// daemon's registration by its credential): the node must still
	// have it. "" for an operator's or a join-token registration.
	Proven string `json:"proven,omitempty"`
	// ByJoinToken: the caller presented the join token, checked against
	// the join secret the controller's state had, whose Sealed is
	// JoinSealed ("": never rotated). The registration is refused if
	// the cluster's join secret is another when it is applied: a token
	// checked before a rotation (its body sent after it, or checked by a
	// leader yet to apply it) registers nothing once it is rotated away.
	ByJoinToken bool   `json:"byJoinToken,omitempty"`
	JoinSealed  string `json:"joinSealed,omitempty"`
}

// Command is one decoded-or-encodable command.
type Command struct {
	Op   Op              `json:"op"`
	Body json.RawMessage `json:"body"`
}

// Encode frames a command as a log entry: the op byte, then JSON.
func Encode(op Op, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode command %d: %w", op, err)
	}
	return append([]byte{byte(op)}, data...), nil
}

// EncodeBatch frames several already-encoded entries as one log entry
// (OpBatchBin).
func EncodeBatch(entries [][]byte) ([]byte, error) { return encodeBatchBin(entries) }

// EncodeBatchJSON frames several entries as one OpBatch entry, the JSON
// batch of earlier versions (their logs still hold them).
func EncodeBatchJSON(entries [][]byte) ([]byte, error) {
	cmds := make([]Command, len(entries))
	for i, e := range entries {
		if len(e) == 0 {
			return nil, fmt.Errorf("encode batch: entry %d is empty", i)
		}
		cmds[i] = Command{Op: Op(e[0]), Body: e[1:]}
	}
	return Encode(OpBatch, cmds)
}

// Result is what applying one command produced.
type Result struct {
	Err *api.Error `json:"err,omitempty"`
	IDs []uint64   `json:"ids,omitempty"` // ids of submitted jobs
	// Placed counts applied placements of a plan.
	Placed int `json:"placed,omitempty"`
	// Revision is a registered job definition's.
	Revision int `json:"revision,omitempty"`
	// Errs holds, for a command on many jobs (StopManyCmd), each job's
	// refusal in the command's order (nil where it applied); nil when all
	// applied.
	Errs []*api.Error `json:"errs,omitempty"`
	// Repeated: a tokened submit (SubmitOnceCmd) whose token was recorded
	// already; IDs are the jobs the first one stored.
	Repeated bool `json:"repeated,omitempty"`
}

// Error returns the result's error as an error (nil when none).
func (r Result) Error() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}
