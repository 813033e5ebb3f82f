package node

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// TestScriptsUnderTmp: a host job has its own /tmp, so a batch script the
// node keeps under the host's /tmp (its data dir there) is bound into the
// job at its own, canonical, path; elsewhere nothing is bound; under
// /dev/shm, which no bind can reach, the daemon refuses to start.
func TestScriptsUnderTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writeScript chowns the script to the job's user: needs root")
	}
	job := func(image string) *api.Job {
		return &api.Job{ID: 7, Attempt: 1, UID: 1000, GID: 1000,
			JobSpec: api.JobSpec{Script: "#!/bin/sh\necho hi\n", Image: image, Dir: "/"}}
	}
	scriptsIn := func(t *testing.T, dir string) (*Agent, error) {
		t.Helper()
		a, _ := startingAgent(t)
		a.scriptDir = dir
		if err := os.MkdirAll(dir, 0o711); err != nil {
			t.Fatal(err)
		}
		return a, a.placeScripts()
	}

	tmp, err := os.MkdirTemp("/tmp", "shoal-scripts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	varTmp, err := os.MkdirTemp("/var/tmp", "shoal-scripts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(varTmp) })
	// A data dir reached through a link from outside /tmp is under /tmp all the same.
	link := filepath.Join(varTmp, "link")
	if err := os.Symlink(tmp, link); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, dir string
		bind      bool
		canonical string
	}{
		{"under /tmp", filepath.Join(tmp, "data", "scripts"), true, filepath.Join(tmp, "data", "scripts")},
		{"a link into /tmp", filepath.Join(link, "scripts"), true, filepath.Join(tmp, "scripts")},
		{"on a disk", filepath.Join(varTmp, "data", "scripts"), false, filepath.Join(varTmp, "data", "scripts")},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := scriptsIn(t, c.dir)
			if err != nil {
				t.Fatalf("placeScripts in %s: %v", c.dir, err)
			}
			var spec sandbox.Spec
			if err := a.writeScript(job(""), &spec); err != nil {
				t.Fatalf("writeScript: %v", err)
			}
			path := filepath.Join(c.canonical, "job-7-1")
			if spec.Argv[0] != path {
				t.Errorf("host job runs %q; want the script at its canonical path %q", spec.Argv[0], path)
			}
			var want []sandbox.Mount
			if c.bind {
				want = []sandbox.Mount{{Source: path, Target: path, ReadOnly: true}}
			}
			if len(spec.Mounts) != len(want) || (len(want) == 1 && spec.Mounts[0] != want[0]) {
				t.Errorf("host job's mounts %+v; want %+v", spec.Mounts, want)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil || st.Uid != 1000 || st.Mode&0o777 != 0o500 {
				t.Errorf("script %s: %v uid %d mode %#o; want the job user's 0500 file", path, err, st.Uid, st.Mode&0o777)
			}
			var image sandbox.Spec
			if err := a.writeScript(job("busybox"), &image); err != nil {
				t.Fatalf("writeScript: %v", err)
			}
			if len(image.Mounts) != 0 {
				t.Errorf("image job's mounts from writeScript %+v; want none (imageSpec binds the script)", image.Mounts)
			}
		})
	}

	if _, err := os.Stat("/dev/shm"); err == nil {
		shm, err := os.MkdirTemp("/dev/shm", "shoal-scripts-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		if _, err := scriptsIn(t, filepath.Join(shm, "scripts")); err == nil || !strings.Contains(err.Error(), "/dev/shm") || !strings.Contains(err.Error(), "-data-dir") {
			t.Errorf("scripts under /dev/shm: %v; want a refusal naming /dev/shm and -data-dir", err)
		}
	}
}
