package node

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// lockedBuffer is a log sink the daemon's goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// TestRegisterLogsChangesOnly: the first registration is logged at INFO;
// registering again with nothing changed (after the controller lost the
// node) only at DEBUG, so an agent's log is not a registration every few
// seconds; a registration that changes what the node offers is INFO again.
func TestRegisterLogsChangesOnly(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, _, _ := startTestNode(t, Config{Name: "n1", Executor: &fakeExecutor{}, Log: log,
		Capacity: api.Resources{CPUs: 2, MemoryMB: 1024}})
	if got := logs.lines("msg=registered"); len(got) != 1 || !strings.Contains(got[0], "level=INFO") {
		t.Fatalf("after the first registration the log holds %q; want one INFO line", got)
	}
	ctx := context.Background()
	for range 3 {
		if err := a.register(ctx); err != nil {
			t.Fatalf("register again: %v", err)
		}
	}
	got := logs.lines("msg=registered")
	if len(got) != 4 {
		t.Fatalf("after 4 registrations the log holds %d lines %q; want 4", len(got), got)
	}
	for _, l := range got[1:] {
		if !strings.Contains(l, "level=DEBUG") {
			t.Errorf("registration again, nothing changed: logged %q; want DEBUG", l)
		}
	}
	a.mu.Lock()
	a.registeredAs = "" // as if the node had offered something else before
	a.mu.Unlock()
	if err := a.register(ctx); err != nil {
		t.Fatalf("register again: %v", err)
	}
	if got := logs.lines("msg=registered"); !strings.Contains(got[len(got)-1], "level=INFO") {
		t.Errorf("registration that changed what the controller knows: logged %q; want INFO", got[len(got)-1])
	}
}
