package daemon

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// TestClusterSubmitRate logs how many submits a second three controllers
// take from 16 clients, sent to the leader and to a follower (which
// forwards each to the leader). Figures, not a pass/fail bound.
func TestClusterSubmitRate(t *testing.T) {
	if os.Getuid() != 0 || testing.Short() {
		t.Skip("submitting as root over the socket")
	}
	ms := startCluster(t, 3)
	ctx := context.Background()
	if err := client.New(ms[0].cfg.Socket, "").Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []struct {
		name string
		m    *clusterMember
	}{{"leader", ms[0]}, {"follower", ms[1]}} {
		const clients, each = 16, 100
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := client.New(to.m.cfg.Socket, "")
				for k := 0; k < each; k++ {
					if _, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "r", Command: []string{"true"}, Held: true}}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("submit to the %s: %v", to.name, err)
		}
		took := time.Since(start)
		t.Logf("%d clients, %d submits to the %s: %.0f submits/s", clients, clients*each, to.name, float64(clients*each)/took.Seconds())
	}
}
