package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
)

// sandboxID names the sandbox of a job's current attempt.
func sandboxID(j *api.Job) string { return fmt.Sprintf("job-%d-%d", j.ID, j.Attempt) }

// bootFile keeps the node's boot id across daemon restarts, with the
// kernel's boot id it belongs to.
const bootFile = "boot"

// loadBoot returns the node's boot id: the one an earlier daemon of this
// machine boot registered with, so that the controller keeps the jobs a
// restarted daemon recovers (a new boot id tells it the node's jobs are
// gone), or a new one after the machine has rebooted (its sandboxes went
// with it).
func loadBoot(dataDir string) (string, error) {
	kb, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read the kernel's boot id: %w", err)
	}
	kernel := strings.TrimSpace(string(kb))
	path := filepath.Join(dataDir, bootFile)
	if b, err := os.ReadFile(path); err == nil {
		k, boot, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
		if ok && k == kernel && boot != "" {
			return boot, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node boot id: %w", err)
	}
	boot := newBootID()
	if err := os.WriteFile(path, []byte(kernel+" "+boot+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node boot id: %w", err)
	}
	return boot, nil
}

// adopt takes over, at startup, the jobs an earlier daemon left: it asks
// the controller which jobs are this node's, and for each one that was
// recovered (running, or ended while no daemon ran) it resumes watching
// it: reports RUNNING if the controller has not heard so, enforces its
// time limit from when it started, and reports its end as if the daemon
// had never left. An assigned RUNNING job with nothing recovered has lost
// its sandbox (the supervisor died, /run was wiped): it fails with a
// reason that says so. Recovered jobs the controller no longer assigns
// here (it gave up on them) are killed. STARTING jobs with nothing
// recovered start as usual once the daemon follows its work.
func (a *Agent) adopt(ctx context.Context, recovered map[string]Process) error {
	var resp api.NodeWorkResponse
	if err := a.client().Call(ctx, api.PathNodeWork, api.NodeWorkRequest{Name: a.cfg.Name, Boot: a.boot}, &resp); err != nil {
		return fmt.Errorf("node %s: read its assigned jobs: %w", a.cfg.Name, err)
	}
	var lost []api.JobEvent
	a.mu.Lock()
	for i := range resp.Jobs {
		j := resp.Jobs[i]
		id := sandboxID(&j)
		proc, ok := recovered[id]
		switch {
		case ok:
			delete(recovered, id)
			t := &task{id: j.ID, attempt: j.Attempt, proc: proc, started: make(chan struct{}), timeLimit: j.TimeLimit}
			t.ctx, t.cancel = context.WithCancel(context.Background())
			t.cancel()
			close(t.started)
			// Signals asked before now were the earlier daemon's to
			// deliver: none is sent twice (one asked while no daemon ran
			// is lost).
			for _, s := range j.SignalRequests {
				t.lastSeq = max(t.lastSeq, s.Seq)
			}
			a.tasks[j.ID] = t
			a.log.Info("recovered job", "job", j.ID, "sandbox", id, "state", j.State)
			go a.resume(j, t)
		case j.State == api.StateRunning:
			a.log.Warn("job lost: no sandbox of it survived the daemon's restart", "job", j.ID, "sandbox", id)
			lost = append(lost, api.JobEvent{ID: j.ID, Attempt: j.Attempt, Node: a.cfg.Name, State: api.StateFailed, Cause: api.CauseNodeLost,
				Reason: fmt.Sprintf("%s: node %s restarted and found no trace of the job's sandbox", api.ReasonNodeLost, a.cfg.Name)})
		}
	}
	a.mu.Unlock()
	for _, ev := range lost {
		a.send(ev)
	}
	// Ended and reported before the restart (the acknowledgement was
	// lost), or given up on by the controller: nothing of it may run. They
	// are killed before the daemon's first heartbeat, so the controller
	// never sees the node UP while one of them runs.
	var killed sync.WaitGroup
	for id, proc := range recovered {
		a.log.Warn("a recovered job is no longer assigned to this node: killing it if it runs", "sandbox", id)
		killed.Go(func() {
			if err := proc.Stop(0); err != nil {
				a.log.Warn("kill unassigned job", "sandbox", id, "err", err)
			}
			if _, err := proc.Wait(); err != nil {
				a.log.Warn("kill unassigned job", "sandbox", id, "err", err)
			}
			if err := proc.Forget(); err != nil {
				a.log.Warn("kill unassigned job", "sandbox", id, "err", err)
			}
		})
	}
	killed.Wait()
	return nil
}

// resume watches a recovered job to its end, as run does for one it
// started. It holds again the very GPUs it was given (recordGPUs), so
// that no new job is given one of them.
func (a *Agent) resume(j api.Job, t *task) {
	gpus, err := a.reclaimGPUs(j)
	if err != nil {
		a.log.Warn("recovered job's GPUs", "job", j.ID, "err", err)
	}
	if j.State == api.StateStarting {
		a.send(api.JobEvent{ID: j.ID, Node: a.cfg.Name, State: api.StateRunning, Attempt: j.Attempt})
	}
	a.mu.Lock()
	t.runningAt = a.clock.Now()
	if j.StartedAt > 0 {
		t.runningAt = time.UnixMilli(j.StartedAt)
	}
	a.armLimit(t, &j)
	a.mu.Unlock()
	a.await(j, t, t.proc, gpus, a.watchGPUs(j.ID, gpus))
}

// gpuRecord is where the node keeps which GPUs a running job holds, so
// that a restarted daemon gives the job the same ones again.
func (a *Agent) gpuRecord(id uint64) string {
	return filepath.Join(a.cfg.DataDir, "gpus", strconv.FormatUint(id, 10))
}

// recordGPUs writes down the UUIDs of the GPUs job id was given.
func (a *Agent) recordGPUs(id uint64, gpus []gpu.GPU) error {
	if len(gpus) == 0 {
		return nil
	}
	uuids := make([]string, len(gpus))
	for i, g := range gpus {
		uuids[i] = g.UUID
	}
	if err := os.MkdirAll(filepath.Dir(a.gpuRecord(id)), 0o700); err != nil {
		return fmt.Errorf("record job %d's GPUs: %w", id, err)
	}
	if err := os.WriteFile(a.gpuRecord(id), []byte(strings.Join(uuids, "\n")), 0o600); err != nil {
		return fmt.Errorf("record job %d's GPUs: %w", id, err)
	}
	return nil
}

func (a *Agent) forgetGPUs(id uint64) { os.Remove(a.gpuRecord(id)) }

// reclaimGPUs gives a recovered job the GPUs recordGPUs wrote down; a job
// started by a daemon that kept no record gets free ones of its kinds.
func (a *Agent) reclaimGPUs(j api.Job) ([]gpu.GPU, error) {
	b, err := os.ReadFile(a.gpuRecord(j.ID))
	if errors.Is(err, os.ErrNotExist) {
		return a.gpus.Allocate(j.ID, j.Resources.GPUs, j.Resources.GPUTypes)
	}
	if err != nil {
		return nil, err
	}
	return a.gpus.Claim(j.ID, strings.Fields(string(b)))
}
