package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// execFifo is the fifo in a container's state directory that its init
// opens, and writes to, when it may exec the job's program
// (libcontainer's). Its removal marks the container running.
const execFifo = "exec.fifo"

// errInitEnded is why a job whose init ended before it was released never
// ran.
var errInitEnded = errors.New("the job's init ended before it started the job's program")

// releaseInit lets a created container's init exec the job's program, as
// libcontainer's Container.Exec does, without that method's race. Exec
// waits in a blocking open of the fifo while it looks at the init's /proc
// entry every 100 ms; finding the init gone, it opens the fifo once more.
// But a short job on a loaded machine may have run and ended by then, and
// its supervisor removed the container, fifo included: Exec then said
// "container process is already dead" of a job that had run (seen once
// in 5,000 under the HA test).
//
// Here the fifo is opened first, without blocking. The init cannot go on,
// nor its supervisor remove the container, before a reader has opened it.
// The init's pidfd (initFd) tells its end, and the fifo is read once more
// after that: what the init wrote stays in it while this end is open.
func releaseInit(fifo string, initFd int) error {
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT { // its supervisor removed the container
		return fmt.Errorf("open exec fifo: %w (%w)", err, errInitEnded)
	}
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	var buf [1]byte
	hup, ended := false, false
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(initFd), Events: unix.POLLIN}}
	for {
		n, err := unix.Read(fd, buf[:])
		switch {
		case n > 0:
			if err := os.Remove(fifo); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove exec fifo: %w", err)
			}
			return nil
		case err == unix.EINTR:
			continue
		case err != nil && err != unix.EAGAIN:
			return fmt.Errorf("read exec fifo: %w", err)
		case hup || ended: // read once more after either: nothing was written
			return errInitEnded
		}
		// Nothing yet: wait for the init's write, the init closing the
		// fifo (no POLLHUP before a writer has opened it), or its end.
		p[0].Revents, p[1].Revents = 0, 0
		if _, err := unix.Poll(p, -1); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for the job's init: %w", err)
		}
		hup = p[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
		ended = p[1].Revents != 0
	}
}
