package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// startFakeInit starts sh running script (which finds the fifo in $FIFO)
// as a container's init would wait on its exec fifo, and returns it and
// its pidfd; the caller waits for it and closes the pidfd.
func startFakeInit(t *testing.T, fifo, script string) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "FIFO="+fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Skipf("pidfd_open: %v (releaseInit needs a pidfd)", err)
	}
	return cmd, fd
}

// fakeInit is startFakeInit, killed, waited for and closed when the test
// ends.
func fakeInit(t *testing.T, fifo, script string) (*exec.Cmd, int) {
	t.Helper()
	cmd, fd := startFakeInit(t, fifo, script)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		unix.Close(fd)
	})
	return cmd, fd
}

func TestReleaseInit(t *testing.T) {
	newFifo := func(t *testing.T) string {
		fifo := filepath.Join(t.TempDir(), execFifo)
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		return fifo
	}
	released := func(t *testing.T, fifo string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("releaseInit: %v, want the init released", err)
		}
		if _, err := os.Lstat(fifo); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("exec fifo after the release: %v, want it removed (the container is running)", err)
		}
	}

	t.Run("init writes once released", func(t *testing.T) {
		fifo := newFifo(t)
		_, fd := fakeInit(t, fifo, `sleep 0.1; printf 0 > "$FIFO"; exec sleep 60`) // opens after releaseInit
		released(t, fifo, releaseInit(fifo, fd))
	})

	// The init was released (by an earlier reader here), ran its program
	// and ended before the fifo was read: what it wrote is still in the
	// fifo. (Under libcontainer's Exec its supervisor could remove the
	// fifo first; here it cannot, before releaseInit has opened it.)
	t.Run("program ended before the read", func(t *testing.T) {
		fifo := newFifo(t)
		early, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(early)
		cmd, fd := fakeInit(t, fifo, `printf 0 > "$FIFO"`)
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		released(t, fifo, releaseInit(fifo, fd))
	})

	for _, c := range []struct{ name, script string }{
		{"init ends without opening the fifo", `exit 1`},
		{"init closes the fifo without writing", `exec 3>"$FIFO"; exec 3>&-; exec sleep 60`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fifo := newFifo(t)
			_, fd := fakeInit(t, fifo, c.script)
			if err := releaseInit(fifo, fd); !errors.Is(err, errInitEnded) {
				t.Fatalf("releaseInit: %v, want %v", err, errInitEnded)
			}
			// Left for the supervisor's check that the job never ran.
			if _, err := os.Lstat(fifo); err != nil {
				t.Errorf("exec fifo after a failed release: %v, want it kept", err)
			}
		})
	}

	// An init that writes and ends at once, reaped meanwhile (by its
	// supervisor, in life): the pidfd may fire before the fifo is read,
	// and the write must still be found. Many times, for the interleavings.
	t.Run("init ends at once", func(t *testing.T) {
		for i := range 200 {
			fifo := newFifo(t)
			cmd, fd := startFakeInit(t, fifo, `printf 0 > "$FIFO"`)
			reaped := make(chan error, 1)
			go func() { reaped <- cmd.Wait() }()
			err := releaseInit(fifo, fd)
			unix.Close(fd)
			if werr := <-reaped; werr != nil {
				t.Fatalf("run %d: the init: %v", i, werr)
			}
			if err != nil {
				t.Fatalf("run %d: releaseInit: %v, want the init released", i, err)
			}
		}
	})

	t.Run("container removed", func(t *testing.T) {
		_, fd := fakeInit(t, "", `exit 0`)
		if err := releaseInit(filepath.Join(t.TempDir(), execFifo), fd); !errors.Is(err, errInitEnded) || !errors.Is(err, unix.ENOENT) {
			t.Fatalf("releaseInit without a fifo: %v, want ENOENT and %v", err, errInitEnded)
		}
	})
}

// The init's pidfd is opened by the pid and start time its supervisor
// answered with: a pid whose process started at another time (its pid
// reused) gets none, and reads as the init gone.
func TestOpenInitPidfd(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		start uint64
		open  bool
	}{
		{"its start time", start, true},
		{"another start time", start + 1, false},
	} {
		fd, err := openPidfd(pid, c.start)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (fd >= 0) != c.open {
			t.Errorf("%s: pidfd %d; want one opened %v", c.name, fd, c.open)
		}
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	// Out of descriptors after the pidfd, its start time cannot be read:
	// an error, never "gone" (a live init taken for gone would never be
	// released, nor killed).
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 256
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		held = append(held, fd)
	}
	unix.Close(held[len(held)-1]) // one left: the pidfd's
	fd, err := openPidfd(pid, start)
	for _, h := range held[:len(held)-1] {
		unix.Close(h)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if fd >= 0 {
		unix.Close(fd)
	}
	if err == nil {
		t.Errorf("out of descriptors: pidfd %d and no error; want an error", fd)
	}
}
