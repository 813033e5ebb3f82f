package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/daemon"
)

// TestExplain runs `shoal explain` against a real controller (raft on
// loopback, a node registered through the API, no sandbox: placed jobs
// stay STARTING): a job that waits for CPUs is explained with its
// shortfall, its reservation and its start; one that would delay it with
// the jobs ahead and the time limit that would let it start; a placed job
// has nothing to explain; an unknown one is an error.
func TestExplain(t *testing.T) {
	sock, cl := startController(t)
	ctx := context.Background()
	submit := func(name string, cpus int, limit int64) string {
		t.Helper()
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: name, Command: []string{"true"},
			TimeLimit: limit, Resources: api.Resources{CPUs: cpus, MemoryMB: 512}}})
		if err != nil {
			t.Fatal(err)
		}
		return api.FormatID(resp.ID)
	}
	running := submit("running", 6, 3600)
	if _, err := cl.WaitJob(ctx, mustParse(t, running), api.StateStarting); err != nil {
		t.Fatal(err)
	}
	top, long := submit("top", 8, 3600), submit("long", 2, 0)
	explain := func(args ...string) (string, int) {
		var out, errs bytes.Buffer
		rc := cli.Run(cli.NewApp(&out, &errs), append([]string{"shoal", "--controller", sock, "explain"}, args...))
		return out.String() + errs.String(), rc
	}
	for _, c := range []struct {
		id   string
		want []string
	}{
		{top, []string{"Reason:     Resources", "it asks 8 CPUs; the best node (n1) has 2 CPUs free now, and the largest 8 CPUs",
			"Shortfall:  cpus: asks 8, best node n1 has 2 free now, 8 at most", "0 jobs of queue default wait",
			"reserved on n1", "(in 1h0m)", "State:      RUNNABLE"}},
		{long, []string{"Reason:     Priority", "reservation of job " + top, "1 job of queue default waits for resources before it (first: " + top + ")",
			"with a time limit of at most 60 minutes (--time=60)", "(in 2h0m) (estimate", "Hint:       it has no time limit"}},
		{running, []string{"State:      STARTING", "It does not wait"}},
	} {
		out, rc := explain(c.id)
		if rc != 0 {
			t.Errorf("shoal explain %s: exit %d: %s", c.id, rc, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("shoal explain %s: want %q in\n%s", c.id, w, out)
			}
		}
	}
	if out, rc := explain("--json", top); rc != 0 || !strings.Contains(out, `"reserved": true`) {
		t.Errorf("shoal explain --json: exit %d:\n%s", rc, out)
	}
	if out, rc := explain("999"); rc != cli.ExitError || !strings.Contains(out, "job 999 does not exist") {
		t.Errorf("shoal explain 999: exit %d: %s; want exit 1, job 999 does not exist", rc, out)
	}
}

// startController starts a controller (raft on loopback) on a socket in
// t's temp dir, with node n1 (8 CPUs, 8 GiB) registered and no node
// daemon behind it: placed jobs stay STARTING.
func startController(t *testing.T) (string, *core.Client) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("registering a node through the socket needs root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "shoal.sock")
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "data"), Socket: sock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	cl := core.New(sock, "")
	if err := cl.Call(context.Background(), api.PathNodeRegister, api.RegisterNodeRequest{Name: "n1", Boot: "b1",
		Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	return sock, cl
}

func mustParse(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
