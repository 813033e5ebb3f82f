package api

// PathWatch answers, as a long poll, when watched jobs change (shoal
// watch): jobs by id, a user's jobs or a queue's.
const PathWatch = "/shoal/v1/jobs/watch"

// WatchJobsRequest names the jobs to watch: IDs, else those of User
// and/or Queue in the controller's live state (finished ones stay there
// for its -min-job-age). AfterDigest is the Digest of the caller's last
// answer: the call blocks until the jobs' states, reasons, estimated
// starts or nodes differ from it, or WaitMillis (at most 5 minutes) pass;
// empty, it answers at once.
type WatchJobsRequest struct {
	IDs         []uint64 `json:"ids,omitempty"`
	User        string   `json:"user,omitempty"`
	Queue       string   `json:"queue,omitempty"`
	AfterDigest string   `json:"afterDigest,omitempty"`
	WaitMillis  int64    `json:"waitMillis,omitempty"`
}

// WatchJobsResponse is the watched jobs at Index (by id, as the caller
// may see them, without environments) and their Digest.
type WatchJobsResponse struct {
	Index  uint64 `json:"index"`
	Digest string `json:"digest"`
	Jobs   []Job  `json:"jobs"`
}
