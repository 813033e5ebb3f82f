package node

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// logSweepEvery is how often the node looks for logs past their retention.
const logSweepEvery = time.Hour

// DefaultLogRetention is how long the node keeps the logs of jobs given
// no output file, after their last write (Config.LogRetention).
const DefaultLogRetention = 30 * 24 * time.Hour

// sweepLogs removes, every logSweepEvery until ctx ends, the logs in the
// node's log dir not written for LogRetention (0: never) whose job does
// not run here: each is bounded (MaxLogBytes), and this bounds how many
// stay, so that the node's disk does not fill up with history.
func (a *Agent) sweepLogs(ctx context.Context) {
	if a.cfg.LogRetention <= 0 {
		return
	}
	for {
		a.removeOldLogs(a.clock.Now().Add(-a.cfg.LogRetention))
		t := a.clock.NewTimer(logSweepEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// removeOldLogs removes the job logs (ID.out, ID.err) last written before
// cutoff whose job this daemon does not run.
func (a *Agent) removeOldLogs(cutoff time.Time) {
	entries, err := os.ReadDir(a.logDir)
	if err != nil {
		a.log.Warn("list job logs", "err", err)
		return
	}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".out")
		if !ok {
			base, ok = strings.CutSuffix(e.Name(), ".err")
		}
		id, err := strconv.ParseUint(base, 10, 64)
		if !ok || err != nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		a.mu.Lock()
		_, running := a.tasks[id]
		a.mu.Unlock()
		if running {
			continue // a quiet job: its log stays open
		}
		if err := os.Remove(filepath.Join(a.logDir, e.Name())); err != nil && !os.IsNotExist(err) {
			a.log.Warn("remove an old job log", "file", e.Name(), "err", err)
		}
	}
}
