// Package testwait lets tests wait for what a job writes to a file without
// polling: it watches the file's directory with inotify and checks again
// after each change there.
package testwait

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// File blocks until ok(contents of path) holds, checking once at the start
// and again after every change in path's directory, or fails after timeout.
// A missing file reads as empty (so a test may wait for one to go).
func File(path string, timeout time.Duration, ok func(contents string) bool) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	dir := filepath.Dir(path)
	const events = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM
	if _, err := unix.InotifyAddWatch(fd, dir, events); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 64<<10)
	for {
		// Watching first, then reading: a write between the two is seen
		// by the read or wakes the poll below.
		b, _ := os.ReadFile(path)
		if ok(string(b)) {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s: not as expected within %v (it holds %q)", path, timeout, b)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for %s: %w", path, err)
		}
		for { // drain; the contents are what counts
			if n, err := unix.Read(fd, buf); n <= 0 || err != nil {
				break
			}
		}
	}
}
