package node

import (
	"testing"

	"github.com/shoal-batch/shoal/api/client"
)

// TestImageCachePerAgent: each agent fetches images with its own client,
// even when two share a data dir in one process (a restarted agent with
// a new controller address): the cache is the agent's, not the process's.
func TestImageCachePerAgent(t *testing.T) {
	dir := t.TempDir()
	c1, c2 := client.New("/run/one.sock", ""), client.New("/run/two.sock", "")
	a1 := &Agent{cfg: Config{DataDir: dir, Client: c1}}
	a2 := &Agent{cfg: Config{DataDir: dir, Client: c2}}
	if a1.images() != a1.images() {
		t.Fatal("an agent made two image caches, want one")
	}
	if got := a1.images().client; got != c1 {
		t.Errorf("first agent's cache uses client %p, want its own %p", got, c1)
	}
	if got := a2.images().client; got != c2 {
		t.Errorf("second agent's cache uses client %p, want its own %p, not the first agent's", got, c2)
	}
}
