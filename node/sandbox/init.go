package sandbox

import (
	"fmt"
	"os"
	"runtime"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/shoal-batch/shoal/internal/timerslack"

	// Registers the cgroup v1 device controller manager; without it device
	// rules cannot be applied.
	_ "github.com/opencontainers/cgroups/devices"
	// The C constructor that joins namespaces in the re-executed init
	// before the Go runtime starts.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// Init runs libcontainer's container init: the re-executed child that sets
// up the sandbox from the inside and then executes the job; or, when the
// binary was re-executed as a job's supervisor (also with "init", and an
// environment variable that says so), the supervisor. Call it first thing
// in main (or TestMain) when os.Args[1] == "init"; it never returns. See
// the package documentation.
func Init() {
	if isShim() {
		runShim()
	}
	// The job's program is executed from this, the main thread (locked
	// to the main goroutine, below): it gets the kernel's default timer
	// slack, not the daemon's it inherited. The init's other threads
	// keep the daemon's until the exec ends them.
	if err := timerslack.SetThread(timerslack.Job); err != nil {
		fmt.Fprintf(os.Stderr, "shoal init: %v\n", err)
		os.Exit(1)
	}
	libcontainer.Init()
}

// Keep the main goroutine on the main thread for good, so that no other
// goroutine ever runs there. libcontainer starts each container with a
// goroutine that locks its thread, setns(2)es it into the container's mount
// namespace and returns, relying on the runtime to destroy a thread that is
// still locked when its goroutine exits. The runtime cannot destroy the main
// thread: it parks it, forever inside that container's mount namespace,
// which then never goes away, and /proc/self/mountinfo of the whole process
// shows that namespace from then on.
func init() {
	runtime.LockOSThread()
}
