package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Recover finds the jobs an earlier daemon started with this Runner's
// Root: those still running, under their supervisors, and those that
// ended while no daemon was there, whose supervisors recorded their end.
// It returns them by id, as Jobs of this Runner: Wait reports their end as
// if this daemon had started them, Stop and Signal reach them. Everything
// else it finds (a container whose supervisor died without a record, one
// whose init was never released to run the job, anything without a
// supervisor) it destroys, as Cleanup does. Call it once, at startup,
// before any Start.
func (r *Runner) Recover() (map[string]*Job, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(r.shimRoot())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list supervisors: %w", err)
	}
	jobs := map[string]*Job{}
	var errs []error
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || !idPattern.MatchString(id) || r.isLive(id) {
			continue
		}
		j, err := r.adopt(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", id, err))
		}
		if j != nil && r.claim(id) {
			jobs[id] = j
		}
	}
	// The rest: whatever no supervisor answers for.
	if err := r.Cleanup(); err != nil {
		errs = append(errs, err)
	}
	return jobs, errors.Join(errs...)
}

// adopt returns the Job of one supervisor directory, or nil if there is
// none to recover (Cleanup then destroys what is left).
func (r *Runner) adopt(id string) (*Job, error) {
	dir := r.shimDir(id)
	var st shimState
	if err := readJSON(filepath.Join(dir, shimStateFile), &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // its init never ran: killed with the rest
		}
		return nil, err
	}
	shimFd, err := openPidfd(st.ShimPid, st.ShimStart)
	if err != nil {
		return nil, err
	}
	if shimFd >= 0 && pidfdExited(shimFd) {
		// A zombie its new parent has not reaped yet: gone all the same.
		unix.Close(shimFd)
		shimFd = -1
	}
	var rec exitRecord
	recErr := readJSON(filepath.Join(dir, shimExitFile), &rec)
	if shimFd < 0 {
		// The supervisor has gone: it recorded the end, or it died.
		if recErr != nil || rec.NeverStarted {
			return nil, nil
		}
		exited := make(chan struct{})
		close(exited)
		return &Job{r: r, id: id, initPid: st.InitPid, initFd: -1, cg: jobCgroupsOf(st.CgroupPaths),
			shimDir: dir, exited: exited, c: loadOrNil(r.Root, id)}, nil
	}
	c, err := libcontainer.Load(r.Root, id)
	var thawErr error
	if err == nil {
		// A daemon killed while it had the job frozen (freeze.go) left
		// it so; thawed first, so that a job frozen before its init was
		// released reads Created again.
		thawErr = thawLeftFrozen(c)
		var status libcontainer.Status
		if status, err = c.Status(); err == nil && status == libcontainer.Created {
			// Its daemon died between Start and Exec: the job never ran.
			unix.Close(shimFd)
			return nil, nil
		}
	}
	if err != nil && recErr != nil {
		unix.Close(shimFd)
		return nil, fmt.Errorf("load container: %w", err)
	}
	initFd, _ := openPidfd(st.InitPid, st.InitStart)
	exited := make(chan struct{})
	go func() {
		waitPidfd(shimFd)
		unix.Close(shimFd)
		close(exited)
	}()
	if c == nil {
		c = loadOrNil(r.Root, id)
	}
	return &Job{r: r, id: id, c: c, initPid: st.InitPid, initFd: initFd, cg: jobCgroupsOf(st.CgroupPaths),
		shimDir: dir, exited: exited}, thawErr
}

// loadOrNil loads a container that may already be gone.
func loadOrNil(root, id string) *libcontainer.Container {
	c, err := libcontainer.Load(root, id)
	if err != nil {
		return nil
	}
	return c
}
