package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// startRetention starts a controller over dir whose finished jobs leave
// the live state as soon as the retention loop sees them.
func startRetention(t *testing.T, dir string) *Controller {
	t.Helper()
	c, err := Start(Config{
		DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinJobAge: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitExpired waits (on the FSM's changes, no polling) until none of ids
// is in the live state.
func waitExpired(t *testing.T, c *Controller, ids ...uint64) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		_, changed := c.fsm.Changed()
		state, live := c.fsm.State(), 0
		for _, id := range ids {
			if state.Job(id) != nil {
				live++
			}
		}
		if live == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("after 20s %d of jobs %v are still in the live state, want them expired (MinJobAge 1ms)", live, ids)
		}
	}
}

func listIDs(t *testing.T, c *Controller, who caller, req api.ListJobsRequest) []uint64 {
	t.Helper()
	resp, err := c.listJobs(context.Background(), who, req)
	if err != nil {
		t.Fatalf("list %+v: %v", req, err)
	}
	var ids []uint64
	for _, j := range resp.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// TestExpiredJobsStayInTheArchive: finished jobs leave the live list
// (squeue's) after MinJobAge and are still found, with the same filters
// and the same redaction, by id (describe, wait, AWS describe-jobs) and in
// the history list (sacct's), also after the controller restarts.
func TestExpiredJobsStayInTheArchive(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as other users needs root")
	}
	dir := t.TempDir()
	c := startRetention(t, dir)
	defer func() { c.Close() }()
	ctx := context.Background()
	root := caller{known: true, operator: true}
	ann, bo := caller{uid: 4201, gid: 4201, known: true}, caller{uid: 4202, gid: 4202, known: true}
	submit := func(who caller, spec api.JobSpec) uint64 {
		t.Helper()
		spec.Held = true // never placed: there is no node
		resp, err := c.submit(ctx, who, api.SubmitJobRequest{JobSpec: spec})
		if err != nil {
			t.Fatalf("submit %s as uid %d: %v", spec.Name, who.uid, err)
		}
		return resp.ID
	}
	cancel := func(who caller, id uint64) {
		t.Helper()
		if _, err := c.cancelJob(ctx, who, api.StopJobRequest{ID: id}); err != nil {
			t.Fatalf("cancel job %d: %v", id, err)
		}
	}
	c.mustRegisterTestNode(t)
	a := submit(ann, api.JobSpec{Name: "a", Script: "#!/bin/sh\necho secret-script\n", Env: map[string]string{"TOKEN": "s3cret"}, Account: "phys"})
	b := submit(bo, api.JobSpec{Name: "b", Command: []string{"true"}})
	live := submit(ann, api.JobSpec{Name: "live", Command: []string{"true"}})
	cancel(ann, a)
	cancel(bo, b)
	waitExpired(t, c, a, b)

	check := func(c *Controller) {
		t.Helper()
		if got := listIDs(t, c, ann, api.ListJobsRequest{User: "", States: api.AllStates}); !slices.Equal(got, []uint64{live}) {
			t.Errorf("live list (squeue -t all): got %v, want only the unfinished job [%d]", got, live)
		}
		for _, tc := range []struct {
			name string
			req  api.ListJobsRequest
			want []uint64
		}{
			{"history", api.ListJobsRequest{History: true}, []uint64{a, b, live}},
			{"history, FAILED", api.ListJobsRequest{History: true, States: []api.JobState{api.StateFailed}}, []uint64{a, b}},
			{"history, SUCCEEDED", api.ListJobsRequest{History: true, States: []api.JobState{api.StateSucceeded}}, nil},
			{"history, account phys", api.ListJobsRequest{History: true, Accounts: []string{"phys"}}, []uint64{a}},
			{"history, ended after an hour from now", api.ListJobsRequest{History: true, EndedAfter: c.nowMillis() + 3600_000}, []uint64{live}},
			{"history, submitted before 1970", api.ListJobsRequest{History: true, SubmittedBefore: 1}, nil},
			{"by id", api.ListJobsRequest{IDs: []uint64{b, a}}, []uint64{b, a}},
		} {
			if got := listIDs(t, c, root, tc.req); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
		// Paged (sacct's walk): live and archived jobs merged in id
		// order, whatever the page size.
		for _, size := range []int{1, 2, 5} {
			var got []uint64
			req := api.ListJobsRequest{History: true, Limit: size}
			for {
				page := listIDs(t, c, root, req)
				got = append(got, page...)
				if len(page) < size {
					break
				}
				req.AfterID = page[len(page)-1]
			}
			if want := []uint64{a, b, live}; !slices.Equal(got, want) {
				t.Errorf("history in pages of %d: got %v, want %v", size, got, want)
			}
		}
		if _, err := c.listJobs(ctx, root, api.ListJobsRequest{IDs: []uint64{a}, Limit: 1}); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("a list by ids with a limit: got %v, want %s (pages are of lists in id order)", err, api.CodeInvalid)
		}
		// The owner sees everything of an archived job; others not.
		full := api.ListJobsRequest{IDs: []uint64{a}, Full: true}
		if resp, err := c.listJobs(ctx, ann, full); err != nil || len(resp.Jobs) != 1 ||
			resp.Jobs[0].Env["TOKEN"] != "s3cret" || resp.Jobs[0].Script == "" || resp.Jobs[0].State != api.StateFailed {
			t.Errorf("describe archived job %d as its owner: got %+v, %v; want FAILED with its script and environment", a, resp.Jobs, err)
		}
		resp, err := c.listJobs(ctx, bo, api.ListJobsRequest{History: true, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range resp.Jobs {
			if j.ID == a && (!j.Redacted || j.Env != nil || j.Script != "") {
				t.Errorf("archived job %d as another user: Redacted=%v env=%v script=%q, want it redacted", a, j.Redacted, j.Env, j.Script)
			}
		}
		if j, err := c.waitJob(ctx, ann, api.WaitJobRequest{ID: a, WaitMillis: 10_000}); err != nil || j.State != api.StateFailed {
			t.Errorf("wait on archived job %d: got %s, %v; want FAILED at once", a, j.State, err)
		}
		aws, err := c.describeAWSJobs(ctx, ann, api.AWSDescribeJobsRequest{Jobs: []string{api.FormatID(a)}})
		if err != nil || len(aws.Jobs) != 1 || aws.Jobs[0].Status != api.StateFailed {
			t.Errorf("AWS describe-jobs of archived job %d: got %+v, %v; want it FAILED", a, aws.Jobs, err)
		}
		// Its logs are asked of the node that ran it, by its owner only
		// (this one never ran).
		if _, err := c.jobLogs(ctx, ann, api.LogsRequest{ID: a}); !api.IsCode(err, api.CodeConflict) || !strings.Contains(err.Error(), "has not run") {
			t.Errorf("logs of archived job %d as its owner: %v; want it found, with no logs as it never ran", a, err)
		}
		if _, err := c.jobLogs(ctx, bo, api.LogsRequest{ID: a}); !api.IsCode(err, api.CodeForbidden) {
			t.Errorf("logs of archived job %d as another user: %v; want forbidden", a, err)
		}
	}
	check(c)

	// The history is on disk: a restarted controller has it, and the
	// replayed log does not bring the jobs back into the live state.
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	c = startRetention(t, dir)
	check(c)

	// New jobs may depend on archived ones: settled by their final state.
	after := submit(ann, api.JobSpec{Name: "after-any", Command: []string{"true"}, DependsOn: []api.Dependency{{JobID: b, Type: api.AfterAny}}})
	afterOK := submit(ann, api.JobSpec{Name: "after-ok", Command: []string{"true"}, DependsOn: []api.Dependency{{JobID: a}}})
	state := c.fsm.State()
	if j := state.Job(after); j == nil || j.State != api.StatePending || len(j.DependsOn) != 0 {
		t.Errorf("afterany on archived job %d: got %+v, want PENDING (held) waiting on nothing", b, j)
	}
	if j := state.Job(afterOK); j == nil || j.State != api.StateFailed || j.StatusReason != api.ReasonDependencyFailed {
		t.Errorf("afterok on archived FAILED job %d: got %+v, want FAILED %q", a, j, api.ReasonDependencyFailed)
	}
	info, err := os.Stat(filepath.Join(dir, "data", archiveFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("archive file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
}

// mustRegisterTestNode registers a node so that submitted jobs are
// satisfiable.
func (c *Controller) mustRegisterTestNode(t *testing.T) {
	t.Helper()
	if _, err := c.registerNode(context.Background(), caller{known: true, node: true, operator: true},
		api.RegisterNodeRequest{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}); err != nil {
		t.Fatalf("register node: %v", err)
	}
}

// TestSnapshotCarriesTheArchive: a controller that starts from a raft
// snapshot taken after jobs expired (a new member, or one whose data dir
// was lost) never applies the entries that archived them; the snapshot
// carries them, and it lists the same history, job for job.
func TestSnapshotCarriesTheArchive(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as other users needs root")
	}
	dir := t.TempDir()
	c := startRetention(t, dir)
	defer func() { c.Close() }()
	ctx := context.Background()
	c.mustRegisterTestNode(t)
	ann := caller{uid: 4201, gid: 4201, known: true}
	var ids []uint64
	for i := range 5 {
		resp, err := c.submit(ctx, ann, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "j", Command: []string{"true"}, Held: true, Account: []string{"phys", "chem"}[i%2]}})
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 {
			if _, err := c.cancelJob(ctx, ann, api.StopJobRequest{ID: resp.ID}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, resp.ID)
	}
	waitExpired(t, c, ids[:4]...)
	if err := c.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("take a raft snapshot: %v", err)
	}
	root := caller{known: true, operator: true}
	list := func(c *Controller, req api.ListJobsRequest) []api.Job {
		t.Helper()
		resp, err := c.listJobs(ctx, root, req)
		if err != nil {
			t.Fatalf("list %+v: %v", req, err)
		}
		return resp.Jobs
	}
	reqs := []api.ListJobsRequest{
		{History: true, Full: true},
		{History: true, Accounts: []string{"chem"}},
		{History: true, States: []api.JobState{api.StateFailed}},
	}
	var want [][]api.Job
	for _, req := range reqs {
		want = append(want, list(c, req))
	}
	if len(want[0]) != 5 {
		t.Fatalf("history before: %d jobs, want 5", len(want[0]))
	}

	// A fresh data dir with nothing but the snapshot: no raft log, no
	// archive file.
	snaps := filepath.Join(dir, "data", "raft", "snapshots")
	entries, err := os.ReadDir(snaps)
	if err != nil || len(entries) == 0 {
		t.Fatalf("snapshots in %s: %v, %v", snaps, entries, err)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	newest := entries[len(entries)-1].Name()
	if err := os.CopyFS(filepath.Join(fresh, "data", "raft", "snapshots", newest), os.DirFS(filepath.Join(snaps, newest))); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := startRetention(t, fresh)
	defer c2.Close()
	if n, err := c2.archive.Count(); err != nil || n != 4 {
		t.Errorf("the fresh controller's archive holds %d jobs (%v), want the 4 expired ones", n, err)
	}
	for i, req := range reqs {
		if got := list(c2, req); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("history %+v from the snapshot alone:\n got %+v\nwant %+v", req, got, want[i])
		}
	}
	// And a job found by id, as describe finds it.
	if j := c2.withHistory(c2.fsm.State()).Job(ids[0]); j == nil || j.State != api.StateFailed {
		t.Errorf("job %d by id on the fresh controller: got %+v, want it FAILED from the archive", ids[0], j)
	}
}

// TestReleaseMemoryHarmless: giving memory back leaves the controller
// answering from its state and archive.
func TestReleaseMemoryHarmless(t *testing.T) {
	c := startRetention(t, t.TempDir())
	defer c.Close()
	c.releaseMemory(context.Background()) // and dropping them is harmless
	if _, err := c.listJobs(context.Background(), caller{known: true, operator: true}, api.ListJobsRequest{History: true}); err != nil {
		t.Fatal(err)
	}
}

// TestReturnStrandedHeap: after a churn of allocations like a burst's
// (batches kept a while and dropped, with quiet spells in which the
// runtime's background scavenger works), FreeOSMemory alone may leave free
// heap it never returns (in about one churn of five here); returnStrandedHeap
// returns it. Churns until FreeOSMemory leaves some, four times at most,
// and skips if none did.
func TestReturnStrandedHeap(t *testing.T) {
	// The heap is the process's: other tests' controllers, still
	// stopping, allocate and free in it. The measure runs in a process
	// of its own, this test alone.
	if os.Getenv(strandedChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReturnStrandedHeap$", "-test.v")
		cmd.Env = append(os.Environ(), strandedChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatalf("the measure in a process of its own: %v", err)
		}
		return
	}
	freeHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapIdle - ms.HeapReleased
	}
	var left uint64
	for round := 0; round < 4 && left < strandedHeapMin; round++ {
		churn(2 * time.Second)
		debug.FreeOSMemory()
		left = freeHeap()
	}
	if left < strandedHeapMin {
		t.Skipf("four churns left only %d KiB of free heap after FreeOSMemory: nothing stranded to return", left>>10)
	}
	returnStrandedHeap()
	after := freeHeap()
	t.Logf("free heap not returned: %d KiB after FreeOSMemory, %d KiB after returnStrandedHeap", left>>10, after>>10)
	if after >= strandedHeapMin {
		t.Fatalf("returnStrandedHeap left %d KiB of free heap; want under %d KiB", after>>10, strandedHeapMin>>10)
	}
}

// strandedChildEnv marks the process TestReturnStrandedHeap measures in.
const strandedChildEnv = "SHOAL_TEST_STRANDED_HEAP"

// churn allocates batches of small objects for d, keeping a changing
// number of them, and drops them all.
func churn(d time.Duration) {
	var kept [][][]byte
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		batch := make([][]byte, 1000)
		for k := range batch {
			batch[k] = make([]byte, 16<<uint((i+k)%8))
		}
		kept = append(kept, batch)
		if len(kept) > 8+i%20 {
			kept = kept[len(kept)/2:]
		}
		if i%40 == 0 {
			time.Sleep(time.Duration(i%150) * time.Millisecond)
		}
	}
	runtime.KeepAlive(kept)
}
