package sandbox

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
)

// A job's cgroup is frozen only while the daemon signals its processes
// (Job.terminate, Job.signal): so that none forks past the list or exits
// and has its pid reused. A daemon that exited inside that window would
// leave the job frozen for good: its processes neither run nor die (a
// cgroup v1 task does not even die of SIGKILL until thawed), and its
// supervisor waits on it forever. So:
//   - the freezing sections of one job are serialized (Job.frozenMu), and
//     the Runner counts those in progress: Runner.Quiesce, on shutdown,
//     refuses new ones and waits for the rest to thaw;
//   - a job found frozen where no section of this daemon froze it (at
//     Recover, or at the start of a section) was left so by a daemon that
//     died (SIGKILL) in the window: it is thawed.

// ErrQuiesced is returned by Stop and Signal once Runner.Quiesce has been
// called: the daemon is going away and leaves its jobs as they are.
var ErrQuiesced = errors.New("sandbox runner is shutting down")

// Quiesce refuses every later freeze of a job's cgroup (Stop and Signal
// then fail with ErrQuiesced) and waits until those in progress have
// thawed their jobs. A daemon calls it last, before it exits, so that no
// job is left frozen.
func (r *Runner) Quiesce() {
	r.mu.Lock()
	r.quiesced = true
	r.mu.Unlock()
	r.freezing.Wait()
}

// beginFreeze counts one freezing section in, unless Quiesce was called.
func (r *Runner) beginFreeze() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.quiesced {
		return false
	}
	r.freezing.Add(1)
	return true
}

// freeze freezes the job's cgroup, holding the job's freezing section
// until the returned thaw is called. A job already frozen (by a daemon
// that died in such a section) counts as frozen here and is thawed all
// the same.
func (j *Job) freeze() (thaw func() error, err error) {
	if !j.r.beginFreeze() {
		return nil, ErrQuiesced
	}
	j.frozenMu.Lock()
	release := func() {
		j.frozenMu.Unlock()
		j.r.freezing.Done()
	}
	if err := j.c.Pause(); err != nil {
		if st, serr := j.c.Status(); serr != nil || st != libcontainer.Paused {
			release()
			return nil, fmt.Errorf("freeze: %w", err)
		}
	}
	return func() error {
		defer release()
		// SIGKILL thaws by itself: then it is not paused any more.
		if err := j.c.Resume(); err != nil && !errors.Is(err, libcontainer.ErrNotPaused) {
			return fmt.Errorf("thaw: %w", err)
		}
		return nil
	}, nil
}

// thawLeftFrozen thaws a recovered job whose cgroup a dead daemon left
// frozen.
func thawLeftFrozen(c *libcontainer.Container) error {
	if c == nil {
		return nil
	}
	st, err := c.Status()
	if err != nil || st != libcontainer.Paused {
		return nil
	}
	if err := c.Resume(); err != nil && !errors.Is(err, libcontainer.ErrNotPaused) {
		return fmt.Errorf("thaw a job left frozen by an earlier daemon: %w", err)
	}
	return nil
}
