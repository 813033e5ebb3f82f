package api

// PathExplain answers why a job waits and until when (ExplainRequest,
// Explanation): shoal explain.
const PathExplain = "/shoal/v1/jobs/explain"

// ExplainRequest names the job to explain.
type ExplainRequest struct {
	ID uint64 `json:"jobId"`
}

// Explanation is the scheduler's view of one job, from a pass it made for
// the asking on the controller's current state.
type Explanation struct {
	Job Job `json:"job"`
	// Now is when the pass was made (epoch ms).
	Now int64 `json:"now"`
	// Reason is the pass's (Slurm's words: Resources, Priority, ...);
	// "" when the job does not wait, or the pass would place it now.
	Reason string `json:"reason,omitempty"`
	// Detail says it in words a person can act on.
	Detail string `json:"detail,omitempty"`
	// EstimatedStartAt is when it may start (epoch ms), 0: unknown;
	// Reserved says backfill will not delay it, Node where.
	EstimatedStartAt int64  `json:"estimatedStartAt,omitempty"`
	Reserved         bool   `json:"reserved,omitempty"`
	Node             string `json:"node,omitempty"`
	// Shortfall quantifies Resources and ReqNodeNotAvail.
	Shortfall *Shortfall `json:"shortfall,omitempty"`
	// Ahead counts the jobs of its queue before it that also wait for
	// resources; Heads are the first of those waiting in the queue.
	Ahead int      `json:"ahead"`
	Heads []uint64 `json:"heads,omitempty"`
	// Blocker (Priority) is the reserved job it would delay, BlockerAt
	// when that job's reservation begins (epoch ms).
	Blocker   uint64 `json:"blocker,omitempty"`
	BlockerAt int64  `json:"blockerAt,omitempty"`
	// Placeable: the job fits now, and the scheduler's next pass places it.
	Placeable bool `json:"placeable,omitempty"`
}

// Shortfall is what a job asks that its queue's nodes lack: Resource is
// "cpus", "memory" (MiB), "gpus" or "gpus:TYPE" ("" when each part is
// free somewhere but no node has all at once); FreeNow the most of it an
// UP node of the queue has free now, AtMost the most one has at all,
// BestNode that node; Unavailable names nodes that could take the job but
// are not UP.
type Shortfall struct {
	Resource    string   `json:"resource"`
	Asked       int64    `json:"asked"`
	FreeNow     int64    `json:"freeNow"`
	AtMost      int64    `json:"atMost"`
	BestNode    string   `json:"bestNode,omitempty"`
	UpNodes     int      `json:"upNodes"`
	Unavailable []string `json:"unavailable,omitempty"`
}
