package archive_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/daemon/archive/archivetest"
	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T) *archive.Store {
	t.Helper()
	s, err := archive.Open(filepath.Join(t.TempDir(), "archive.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func job(id uint64, user, account string, st api.JobState, created, stopped int64) *api.Job {
	j := &api.Job{ID: id, User: user, State: st, CreatedAt: created, StoppedAt: stopped}
	j.Account, j.Queue = account, "default"
	j.Env, j.Script = map[string]string{"SECRET": "x"}, "#!/bin/sh\ntrue\n"
	return j
}

// ids lists what f selects.
func ids(t *testing.T, s archive.Archive, f archive.Filter) []uint64 {
	t.Helper()
	var out []uint64
	if err := s.List(f, func(j *api.Job) bool { out = append(out, j.ID); return true }); err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return out
}

// backends opens each kind of archive: the embedded file and a real
// PostgreSQL server started for the test.
func backends(t *testing.T) map[string]func(*testing.T) archive.Archive {
	return map[string]func(*testing.T) archive.Archive{
		"bolt": func(t *testing.T) archive.Archive { return open(t) },
		"postgres": func(t *testing.T) archive.Archive {
			start := time.Now()
			url := archivetest.StartPostgres(t)
			s, err := archive.OpenURL(url, t.TempDir())
			if err != nil {
				t.Fatalf("OpenURL(%s): %v", url, err)
			}
			t.Cleanup(func() { s.Close() })
			t.Logf("PostgreSQL server started and archive opened in %s", time.Since(start).Round(time.Millisecond))
			return s
		},
	}
}

func TestStoreFilters(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testFilters(t, open(t)) })
	}
}

func testFilters(t *testing.T, s archive.Archive) {
	jobs := []*api.Job{
		job(1, "ann", "", api.StateSucceeded, 10, 100),
		job(2, "anna", "phys", api.StateFailed, 20, 200),
		job(3, "bob", "phys", api.StateSucceeded, 30, 300),
		job(4, "ann", "chem", api.StateFailed, 250, 400),
		job(5, "bob", "", api.StateSucceeded, 50, 50),
	}
	if err := s.Put(jobs); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for _, tc := range []struct {
		name string
		f    archive.Filter
		want []uint64
	}{
		{"everything, in id order", archive.Filter{}, []uint64{1, 2, 3, 4, 5}},
		{"one user (not a prefix of another)", archive.Filter{Users: []string{"ann"}}, []uint64{1, 4}},
		{"two users", archive.Filter{Users: []string{"bob", "anna"}}, []uint64{2, 3, 5}},
		{"account, the user's name by default", archive.Filter{Accounts: []string{"ann"}}, []uint64{1}},
		{"account", archive.Filter{Accounts: []string{"phys"}}, []uint64{2, 3}},
		{"state", archive.Filter{States: []api.JobState{api.StateFailed}}, []uint64{2, 4}},
		{"ended from 200", archive.Filter{EndedAfter: 200}, []uint64{2, 3, 4}},
		{"window: ended from 200, submitted by 100", archive.Filter{EndedAfter: 200, SubmittedBefore: 100}, []uint64{2, 3}},
		{"user and state and window", archive.Filter{Users: []string{"ann"}, States: []api.JobState{api.StateFailed}, EndedAfter: 150}, []uint64{4}},
		{"account and state", archive.Filter{Accounts: []string{"phys"}, States: []api.JobState{api.StateSucceeded}}, []uint64{3}},
		{"nobody", archive.Filter{Users: []string{"carol"}}, nil},
		{"queue", archive.Filter{Queue: "default"}, []uint64{1, 2, 3, 4, 5}},
		{"other queue", archive.Filter{Queue: "gpu"}, nil},
		{"a page: after 1, 2 of them", archive.Filter{AfterID: 1, Limit: 2}, []uint64{2, 3}},
		{"the next page", archive.Filter{AfterID: 3, Limit: 2}, []uint64{4, 5}},
		{"a page of an index", archive.Filter{States: []api.JobState{api.StateSucceeded}, AfterID: 1, Limit: 1}, []uint64{3}},
		{"a page of the end times", archive.Filter{EndedAfter: 100, AfterID: 2, Limit: 5}, []uint64{3, 4}},
	} {
		if got := ids(t, s, tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: List(%+v) got %v, want %v", tc.name, tc.f, got, tc.want)
		}
	}

	// A job archived again (a replayed log, another controller sharing
	// the database, a snapshot's history) keeps its first copy: the same
	// log gives the same job, so a second one is never different but by
	// a bug, and the first is the one other controllers have read.
	again := job(3, "carol", "bio", api.StateFailed, 30, 300)
	if err := s.Put([]*api.Job{again, job(6, "dan", "", api.StateSucceeded, 60, 600)}); err != nil {
		t.Fatalf("Put again: %v", err)
	}
	if got := ids(t, s, archive.Filter{Users: []string{"bob"}}); !reflect.DeepEqual(got, []uint64{3, 5}) {
		t.Errorf("after job 3 was put again as carol's: bob's jobs %v, want [3 5] (the first copy stays)", got)
	}
	if got := ids(t, s, archive.Filter{Accounts: []string{"bio"}}); got != nil {
		t.Errorf("account bio: got %v, want none", got)
	}
	if n, err := s.Count(); err != nil || n != 6 {
		t.Errorf("Count: got %d, %v; want 6, nil", n, err)
	}
	got, err := s.Get(4)
	if err != nil || got == nil || got.Env["SECRET"] != "x" || got.User != "ann" {
		t.Errorf("Get(4): got %+v, %v; want ann's job with its environment", got, err)
	}
	for _, f := range []archive.Filter{{}, {Users: []string{"ann"}}} {
		for _, apart := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			f.NoEnv, f.NoScript = apart[0], apart[1]
			err := s.List(f, func(j *api.Job) bool {
				if (j.Env == nil) != f.NoEnv {
					t.Errorf("List(%+v): job %d's environment %v", f, j.ID, j.Env)
				}
				if (j.Script == "") != f.NoScript {
					t.Errorf("List(%+v): job %d's script %q", f, j.ID, j.Script)
				}
				return true
			})
			if err != nil {
				t.Fatalf("List(%+v): %v", f, err)
			}
		}
	}
	if got, err := s.Get(99); got != nil || err != nil {
		t.Errorf("Get(99): got %+v, %v; want nil, nil", got, err)
	}
	// Stopping early.
	n := 0
	if err := s.List(archive.Filter{}, func(*api.Job) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Errorf("List stopped by fn after 2: called %d times, err %v", n, err)
	}
	walkPages(t, s)
}

func TestStoreFileAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archive.db")
	s, err := archive.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Put([]*api.Job{job(7, "ann", "", api.StateSucceeded, 1, 2)}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	s.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("archive file mode %o, want 600", mode)
	}
	s, err = archive.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if j, err := s.Get(7); err != nil || j == nil {
		t.Errorf("after reopening: Get(7) = %v, %v; want the job", j, err)
	}
}

func TestWriterFlushes(t *testing.T) {
	s := open(t)
	w := archive.NewWriter(s, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	w.Enqueue([]*api.Job{job(1, "ann", "", api.StateSucceeded, 1, 2), job(2, "ann", "", api.StateFailed, 1, 3)})
	mark := w.Queued()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := w.WaitFlushed(wctx, mark); err != nil {
		t.Fatalf("WaitFlushed(%d): %v", mark, err)
	}
	if got := ids(t, s, archive.Filter{}); !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Errorf("after WaitFlushed: archive holds %v, want [1 2]", got)
	}
}

// TestOpenURLRefusals: an archive URL the controller cannot use is an
// error saying what would do, without the URL's password.
func TestOpenURLRefusals(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"mysql://ann:s3cret@db/shoal", `scheme "mysql"`},
		{"postgres://ann:s3cret@/shoal?host=" + t.TempDir() + "&connect_timeout=2", "create its table"},
		{"postgres://ann:s3cret@%zz/shoal", "postgres://USER@HOST/DB"},
	} {
		_, err := archive.OpenURL(tc.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenURL(%q): got %v; want an error with %q and no password", tc.url, err, tc.want)
		}
	}
}

// walkPages: a walk through a list a page at a time, as sacct's, gives
// what one list gives, where the index's order is not the ids' (end times
// falling as ids rise) and some ids a page takes from the index fail the
// rest of the filter (submitted too late), so a page is filled from
// further on.
func walkPages(t *testing.T, s archive.Archive) {
	t.Helper()
	var jobs []*api.Job
	for id := uint64(100); id < 160; id++ {
		created := int64(10)
		if id%3 == 0 {
			created = 5000 // after the window
		}
		jobs = append(jobs, job(id, "pat", "", api.StateSucceeded, created, 10000-int64(id)))
	}
	if err := s.Put(jobs); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for _, tc := range []struct {
		f    archive.Filter
		want int // pat's 40 jobs in the window, and bob's 2 with him
	}{
		{archive.Filter{EndedAfter: 1000, SubmittedBefore: 100}, 40},
		{archive.Filter{Users: []string{"pat"}, EndedAfter: 1000, SubmittedBefore: 100}, 40},
		{archive.Filter{Users: []string{"pat", "bob"}, EndedAfter: 1, SubmittedBefore: 100}, 42},
	} {
		f := tc.f
		want := ids(t, s, f)
		if len(want) != tc.want {
			t.Fatalf("List(%+v): %d jobs %v; want %d", f, len(want), want, tc.want)
		}
		// Dropping the file's mapped pages at every index entry a walk
		// reads (a long walk drops them as it goes) changes nothing.
		was := *archive.DropEvery
		*archive.DropEvery = 1
		got := ids(t, s, f)
		*archive.DropEvery = was
		if !reflect.DeepEqual(got, want) {
			t.Errorf("List(%+v), dropping mapped pages at every entry: %v; want %v", f, got, want)
		}
		for _, limit := range []int{1, 4, 7, 100} {
			var got []uint64
			page := f
			page.Limit = limit
			for {
				p := ids(t, s, page)
				got = append(got, p...)
				if len(p) < limit {
					break
				}
				page.AfterID = p[len(p)-1]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("List(%+v) in pages of %d: %v; one list: %v", f, limit, got, want)
			}
		}
	}
}

// TestStoreIndexedWithoutRecord: an index entry whose record is gone (a
// damaged file) fails a list with the job and the file named, not a
// shorter list.
func TestStoreIndexedWithoutRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archive.db")
	s, err := archive.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]*api.Job{job(1, "ann", "", api.StateSucceeded, 10, 100), job(2, "ann", "", api.StateSucceeded, 20, 200)}); err != nil {
		t.Fatal(err)
	}
	s = editRecords(t, s, path, func(recs *bolt.Bucket) error {
		return recs.Delete(binary.BigEndian.AppendUint64(nil, 1))
	})
	err = s.List(archive.Filter{Users: []string{"ann"}}, func(*api.Job) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "job 1 is indexed but has no record") || !strings.Contains(err.Error(), path) {
		t.Errorf("List over a record that is gone: %v; want an error naming job 1 and %s", err, path)
	}
}

// TestStoreHeavyPartsApart: environments and batch scripts are kept
// apart from the records, and every read that wants them gives each job
// its own, jobs without one none, whether it walks the records or an
// index, in pages or one at a time; a record written inline (before they
// were apart) reads as it did.
func TestStoreHeavyPartsApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archive.db")
	s, err := archive.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*api.Job
	for id := uint64(1); id <= 30; id++ {
		j := job(id, "ann", "", api.StateSucceeded, int64(id), int64(100+id))
		if j.Env = nil; id%3 != 0 {
			j.Env = map[string]string{"JOB": fmt.Sprint(id)}
		}
		if j.Script = ""; id%2 == 0 {
			j.Script = fmt.Sprintf("#!/bin/sh\necho %d\n", id)
		}
		jobs = append(jobs, j)
	}
	if err := s.Put(jobs); err != nil {
		t.Fatal(err)
	}
	// Job 31, inline, as a record was written before.
	inline := job(31, "ann", "", api.StateSucceeded, 31, 131)
	inline.Env, inline.Script = map[string]string{"JOB": "31"}, "#!/bin/sh\necho 31\n"
	data, err := json.Marshal(inline)
	if err != nil {
		t.Fatal(err)
	}
	s = editRecords(t, s, path, func(recs *bolt.Bucket) error {
		return recs.Put(binary.BigEndian.AppendUint64(nil, 31), data)
	})

	check := func(how string, j *api.Job, noEnv, noScript bool) {
		t.Helper()
		env, script := "", ""
		if !noEnv && (j.ID%3 != 0 || j.ID == 31) {
			env = fmt.Sprint(j.ID)
		}
		if !noScript && (j.ID%2 == 0 || j.ID == 31) {
			script = fmt.Sprintf("#!/bin/sh\necho %d\n", j.ID)
		}
		if got := j.Env["JOB"]; got != env || (env == "") != (j.Env == nil) {
			t.Errorf("%s: job %d's environment %v, want JOB=%q", how, j.ID, j.Env, env)
		}
		if j.Script != script {
			t.Errorf("%s: job %d's script %q, want %q", how, j.ID, j.Script, script)
		}
	}
	for id := uint64(1); id <= 31; id++ {
		j, err := s.Get(id)
		if err != nil || j == nil {
			t.Fatalf("Get(%d): %v, %v", id, j, err)
		}
		check("Get", j, false, false)
	}
	for _, f := range []archive.Filter{{}, {AfterID: 4}, {Users: []string{"ann"}}, {EndedAfter: 110}, {Users: []string{"ann"}, Limit: 7}} {
		for _, apart := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			f.NoEnv, f.NoScript = apart[0], apart[1]
			var got []uint64
			err := s.List(f, func(j *api.Job) bool {
				got = append(got, j.ID)
				check(fmt.Sprintf("List(%+v)", f), j, f.NoEnv, f.NoScript)
				return true
			})
			if err != nil || len(got) == 0 {
				t.Fatalf("List(%+v): %v, %v", f, got, err)
			}
		}
	}
}

// editRecords closes s, changes the records bucket of its file at path
// with edit, as a damage or an older version would have left it, and
// opens it again (closed when the test ends).
func editRecords(t *testing.T, s *archive.Store, path string, edit func(recs *bolt.Bucket) error) *archive.Store {
	t.Helper()
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return edit(tx.Bucket([]byte("jobs"))) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err = archive.Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
