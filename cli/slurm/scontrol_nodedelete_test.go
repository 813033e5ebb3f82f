package slurm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestScontrolDeleteNode: scontrol delete nodename= refuses a node with a
// job STARTING, removes it once the job is gone, and then finds no such
// node.
func TestScontrolDeleteNode(t *testing.T) {
	sock, cl := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/",
		Resources: api.Resources{CPUs: 1, MemoryMB: 64}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitJob(ctx, resp.ID, api.StateStarting); err != nil {
		t.Fatal(err)
	}
	rc, out, errs := run(t, sock, "", "scontrol", "delete", "nodename=n1")
	if rc != 1 || out != "" || !strings.Contains(errs, "delete_node n1 error:") || !strings.Contains(errs, "STARTING or RUNNING") {
		t.Fatalf("delete a node with a job STARTING: exit %d, %q %q", rc, out, errs)
	}
	// The node reports the job's end (root on the socket may, as any node).
	if err := cl.Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
		{ID: resp.ID, Node: "n1", State: api.StateFailed, Reason: "test"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitJob(ctx, resp.ID, api.StateFailed); err != nil {
		t.Fatal(err)
	}
	want(t, sock, "", 0, "", "", "scontrol", "delete", "NodeName=n1")
	want(t, sock, "", 1, "", "delete_node n1 error: Invalid node name specified\n", "scontrol", "delete", "node", "n1")
}
