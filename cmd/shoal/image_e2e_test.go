package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/testimage"
)

// busyboxTarball builds the test busybox image, or skips the test.
func busyboxTarball(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // other users load it too (and are refused)
	p, err := testimage.Busybox(dir)
	if errors.Is(err, testimage.ErrNoBusybox) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// awsCall sends an AWS Batch operation over the controller's unix socket.
func (c *cluster) awsCall(op, body string) map[string]any {
	c.t.Helper()
	var resp map[string]any
	if err := c.client.Call(context.Background(), "/v1/"+op, json.RawMessage(body), &resp); err != nil {
		c.t.Fatalf("%s %s: %v", op, body, err)
	}
	return resp
}

// TestImageJobs runs container jobs against a real dev agent: an image
// loaded from a tarball (no registry), a job definition of type container
// submitted through the AWS Batch operations, the job's output, a host
// volume, a non-root submitter, and an image that is not loaded.
func TestImageJobs(t *testing.T) {
	tarPath := busyboxTarball(t)
	c := newCluster(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}

	// Load: root only; the tarball's repo tag names it.
	if r := c.shoalAs(nobody, "image", "load", tarPath); r.code != 1 || !strings.Contains(r.stderr, "only root may load images") {
		t.Fatalf("image load as nobody: exit %d, stderr %q; want exit 1, only root may load images", r.code, r.stderr)
	}
	r := c.shoal("image", "load", tarPath)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Loaded image: busybox:latest (sha256:") {
		t.Fatalf("image load: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = c.shoal("image", "list", "--output", "json")
	var images []api.Image
	if err := json.Unmarshal([]byte(r.stdout), &images); err != nil || len(images) != 1 || images[0].Name != "busybox:latest" {
		t.Fatalf("image list: %q (%v), want busybox:latest alone", r.stdout, err)
	}
	if fi, _ := os.Stat(tarPath); images[0].Size != fi.Size() {
		t.Errorf("listed size %d, the tarball has %d bytes", images[0].Size, fi.Size())
	}

	// A host job first, for the start-latency comparison below.
	host := c.submit("--name", "host", "--", "echo", "host")
	hostJob := c.wait(host)
	wantState(t, hostJob, api.StateSucceeded, "")

	// The AWS path: a container job definition, with a parameter.
	c.awsCall("registerjobdefinition", `{"jobDefinitionName":"bb","type":"container",
		"containerProperties":{"image":"busybox","command":["echo","Ref::Target"],"vcpus":1,"memory":64},
		"parameters":{"Target":"hi"}}`)
	resp := c.awsCall("submitjob", `{"jobName":"j","jobQueue":"default","jobDefinition":"bb"}`)
	id, err := strconv.ParseUint(resp["jobId"].(string), 10, 64)
	if err != nil {
		t.Fatalf("submitjob answered %v", resp)
	}
	first := c.wait(id)
	wantState(t, first, api.StateSucceeded, "")
	if r := c.shoal("logs", api.FormatID(id)); r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("shoal logs %d: exit %d, stdout %q, stderr %q; want hi", id, r.code, r.stdout, r.stderr)
	}
	// Again, from the node's cache.
	resp = c.awsCall("submitjob", `{"jobName":"j2","jobQueue":"default","jobDefinition":"bb","parameters":{"Target":"again"}}`)
	id2, _ := strconv.ParseUint(resp["jobId"].(string), 10, 64)
	second := c.wait(id2)
	wantState(t, second, api.StateSucceeded, "")
	t.Logf("placed → RUNNING (startedAt - createdAt, ms): host job %d, first image job %d (fetch + unpack), second %d (cached)",
		hostJob.StartedAt-hostJob.CreatedAt, first.StartedAt-first.CreatedAt, second.StartedAt-second.CreatedAt)

	// A host volume, read-only, in a read-only root; submitted by nobody,
	// who runs as nobody in the image and sees the image's files only.
	vol := t.TempDir()
	os.Chmod(vol, 0o755)
	os.WriteFile(filepath.Join(vol, "input"), []byte("from the host\n"), 0o644)
	c.awsCall("registerjobdefinition", `{"jobDefinitionName":"vol","type":"container",
		"containerProperties":{"image":"busybox:latest","vcpus":1,"memory":64,"readonlyRootFilesystem":true,
		"command":["sh","-c","id -u; cat /data/input; touch /x 2>/dev/null || echo ro-root; test -e `+vol+` || echo host-hidden; pwd"],
		"volumes":[{"name":"d","host":{"sourcePath":"`+vol+`"}}],
		"mountPoints":[{"sourceVolume":"d","containerPath":"/data","readOnly":true}]}}`)
	r = c.shoalAs(nobody, "submit", "--definition", "vol")
	if r.code != 0 {
		t.Fatalf("submit --definition vol as nobody: exit %d: %s", r.code, r.stderr)
	}
	volID := mustID(t, r.stdout)
	wantState(t, c.wait(volID), api.StateSucceeded, "")
	if r := c.shoalAs(nobody, "logs", api.FormatID(volID)); r.stdout != "65534\nfrom the host\nro-root\nhost-hidden\n/\n" {
		t.Errorf("volume job's output %q (stderr %q)", r.stdout, r.stderr)
	}

	// An image the controller does not have.
	sub, err := c.client.Submit(context.Background(), api.SubmitJobRequest{JobSpec: api.JobSpec{
		Name: "missing", Image: "nope:1", Command: []string{"true"},
	}})
	if err != nil {
		t.Fatalf("submit with image nope:1: %v", err)
	}
	j := c.wait(sub.ID)
	if j.State != api.StateFailed || j.Cause != api.CauseStartFailed || !strings.HasPrefix(j.StatusReason, "CannotPullContainerError: ") ||
		!strings.Contains(j.StatusReason, `"nope:1" is not loaded`) {
		t.Errorf("job with a missing image: %s %s %q; want FAILED start_failed CannotPullContainerError naming nope:1", j.State, j.Cause, j.StatusReason)
	}

	// Nothing left: cgroups, sandbox state, job dirs, mounts.
	if left := c.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	scratch := filepath.Join("/var/tmp/shoal-scratch", c.cgParent) // the agent's default -scratch-dir
	if entries, _ := os.ReadDir(scratch); len(entries) > 0 {
		t.Errorf("job directories left in %s: %v", scratch, entries)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), c.dataDir) || strings.Contains(string(mounts), scratch) {
		t.Errorf("mounts under %s or %s left in the host's mount table:\n%s", c.dataDir, scratch, mounts)
	}
}

// TestImageReload: loading a name again with other content takes effect
// for the next job, and --name names an image.
func TestImageReload(t *testing.T) {
	tarPath := busyboxTarball(t)
	c := newCluster(t)
	if r := c.shoal("image", "load", "--name", "tools", tarPath); r.code != 0 || !strings.Contains(r.stdout, "tools:latest") {
		t.Fatalf("image load --name tools: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	run := func(cmd ...string) string {
		t.Helper()
		sub, err := c.client.Submit(context.Background(), api.SubmitJobRequest{JobSpec: api.JobSpec{
			Image: "tools", Command: cmd,
		}})
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, c.wait(sub.ID), api.StateSucceeded, "")
		data, err := c.client.Logs(context.Background(), sub.ID, "stdout")
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if out := run("sh", "-c", "cat /etc/version 2>/dev/null || echo none"); out != "none\n" {
		t.Fatalf("first image: %q", out)
	}
	v2, err := testimage.Image(t.TempDir(), "tools:latest", map[string]string{"etc/version": "2\n"})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.shoal("image", "load", v2); r.code != 0 {
		t.Fatalf("load v2: %s", r.stderr)
	}
	start := time.Now()
	if out := run("cat", "/etc/version"); out != "2\n" {
		t.Errorf("after loading tools:latest again: %q, want the new image's 2", out)
	}
	t.Logf("job on the reloaded image done in %v", time.Since(start))
	r := c.shoal("image", "list")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "tools:latest") {
		t.Errorf("image list:\n%s\nwant a header and tools:latest", r.stdout)
	}
	// The replaced tarball is gone from the store.
	blobs, _ := filepath.Glob(filepath.Join(c.dataDir, "controller", "images", "*.tar"))
	if len(blobs) != 1 {
		t.Errorf("controller image store holds %v, want the one tarball in use", blobs)
	}
}
