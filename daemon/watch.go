package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// watchJobs is a long poll on the watched jobs: it answers when what a
// watcher follows (state, wait reason, estimated start, node, attempt)
// differs from the caller's last answer, woken by each commit, never by
// polling. The jobs are listed as PathListJobs lists them, so a caller
// sees only what it may.
func (c *Controller) watchJobs(ctx context.Context, who caller, req api.WatchJobsRequest) (api.WatchJobsResponse, error) {
	if len(req.IDs) == 0 && req.User == "" && req.Queue == "" {
		return api.WatchJobsResponse{}, api.Errorf(api.CodeInvalid, "watch: name the jobs to watch: ids, a user or a queue")
	}
	timer := time.NewTimer(min(time.Duration(req.WaitMillis)*time.Millisecond, maxWorkWait))
	defer timer.Stop()
	list := api.ListJobsRequest{IDs: req.IDs, User: req.User, Queue: req.Queue}
	for {
		index, changed := c.fsm.Changed()
		resp := api.WatchJobsResponse{Index: index, Jobs: []api.Job{}}
		h := sha256.New()
		err := c.eachListed(who, list, func(j *api.Job) error {
			j.Env = nil
			resp.Jobs = append(resp.Jobs, *j)
			var b []byte
			b = binary.AppendUvarint(b, j.ID)
			b = binary.AppendVarint(b, j.EstimatedStartAt)
			b = binary.AppendVarint(b, int64(j.Attempt))
			for _, s := range []string{string(j.State), j.WaitReason, j.Node, j.StatusReason} {
				b = binary.AppendUvarint(b, uint64(len(s)))
				b = append(b, s...)
			}
			h.Write(b)
			return nil
		})
		if err != nil {
			return api.WatchJobsResponse{}, err
		}
		resp.Digest = hex.EncodeToString(h.Sum(nil)[:16])
		if resp.Digest != req.AfterDigest || req.AfterDigest == "" {
			return resp, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return resp, nil
		case <-ctx.Done(): // errShuttingDown when the controller stops
			return api.WatchJobsResponse{}, context.Cause(ctx)
		}
	}
}
