package timerslack

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSetProcess sets the slack of every thread of this test process,
// and checks each thread's, and a thread made afterwards, which inherits
// it; then sets the default back.
func TestSetProcess(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("setting another thread's timer slack needs CAP_SYS_NICE")
	}
	const want = 3 * time.Millisecond
	if err := SetProcess(want); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := SetProcess(Job); err != nil {
			t.Error(err)
		}
	})
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if got, err := Of(tid); err != nil || got != want {
			t.Errorf("thread %d: slack %v, %v; want %v", tid, got, err, want)
		}
	}

	// A thread the runtime makes now (a goroutine that locks its thread
	// while others hold theirs) inherits the slack.
	const locked = 4
	tids := make(chan int, locked)
	release := make(chan struct{})
	for range locked {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			<-release
		}()
	}
	for range locked {
		tid := <-tids
		if got, err := Of(tid); err != nil || got != want {
			t.Errorf("thread %d made after SetProcess: slack %v, %v; want %v", tid, got, err, want)
		}
	}
	close(release)
}

// TestSetThread sets the calling thread's slack alone.
func TestSetThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := Of(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	if err := SetThread(7 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer SetThread(before)
	if got, err := Of(unix.Gettid()); err != nil || got != 7*time.Millisecond {
		t.Errorf("slack after SetThread(7ms): %v, %v", got, err)
	}
}
