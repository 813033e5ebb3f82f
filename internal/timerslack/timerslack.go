// Package timerslack sets how late the kernel may fire a process's
// timers (prctl(2) PR_SET_TIMERSLACK), so that it can batch their
// wake-ups.
//
// Every Go process has a monitor thread (the runtime's sysmon) that,
// while any goroutine runs or sits in a system call, sleeps 20 µs at a
// time. With the kernel's default slack of 50 µs that is over 10,000
// wake-ups a second, each a timer programmed and fired, which costs far
// more in a virtual machine than on bare metal. In the node daemon, a
// job's supervisor and libcontainer's init it was 15% of their CPU. A
// slack of a millisecond caps those wake-ups near 1,000 a second, and
// cut the machine CPU of a job start by a quarter on a 2-core VM. The
// cost is that the daemons' timers fire up to a millisecond late; none
// of their timers needs better.
//
// A thread's slack is inherited by the threads and processes it
// creates, so a job would inherit the daemon's. Its init therefore sets
// the kernel's default back (Job) on the thread that executes the job's
// program.
package timerslack

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// Daemon is the slack the node daemon and the controller run with.
	Daemon = time.Millisecond
	// Job is the kernel's default slack for a normal process: what a
	// job's program runs with, whatever its node daemon's is.
	Job = 50 * time.Microsecond
)

// SetThread sets the calling thread's slack; the caller should hold its
// thread (runtime.LockOSThread) for this to mean anything.
func SetThread(d time.Duration) error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("set timer slack: %w", err)
	}
	return nil
}

// SetProcess sets the slack of every thread of this process; threads
// made later inherit it from the thread that makes them. Another
// thread's slack is written through /proc/TID/timerslack_ns, which
// needs CAP_SYS_NICE: without it SetProcess fails and leaves the slack
// of some threads as it was.
func SetProcess(d time.Duration) error {
	value := []byte(strconv.FormatInt(d.Nanoseconds(), 10))
	done := map[string]bool{}
	// A thread made during a pass, by a thread not yet set, has the old
	// slack: pass again until a pass meets no thread it has not set.
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("set timer slack: list this process's threads: %w", err)
		}
		fresh := 0
		for _, task := range tasks {
			tid := task.Name()
			if done[tid] {
				continue
			}
			fresh++
			err := os.WriteFile("/proc/"+tid+"/timerslack_ns", value, 0)
			if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ESRCH) { // a thread that ended is no matter
				return fmt.Errorf("set timer slack of thread %s: %w", tid, err)
			}
			done[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
}

// Of returns the slack of thread tid (a process's main thread by its pid).
func Of(tid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
	if err != nil {
		return 0, fmt.Errorf("read timer slack: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read timer slack of thread %d: %q: %w", tid, data, err)
	}
	return time.Duration(ns), nil
}
