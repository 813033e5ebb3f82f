package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/testimage"
)

// awsCLI runs the real aws CLI (Debian's awscli) against a cluster's TCP
// API, over TLS checked with the controller's ca.pem, with a key shoal
// issued.
type awsCLI struct {
	t        *testing.T
	endpoint string
	caBundle string
	env      []string
}

// newAWS issues a key to user and returns an aws CLI that signs with it.
func newAWS(t *testing.T, c *cluster, user string) *awsCLI {
	t.Helper()
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/usr/bin/aws is missing: .ci/run installs Debian's awscli")
		}
		t.Skip("/usr/bin/aws is missing: apt-get install awscli")
	}
	args := []string{"keys", "create", "--user", user}
	if user == "root" {
		if r := c.shoal(args...); r.code == 0 || !strings.Contains(r.stderr, "--allow-root") {
			t.Fatalf("shoal keys create --user root: exit %d %q, want a refusal naming --allow-root", r.code, r.stderr)
		}
		args = append(args, "--allow-root")
	}
	r := c.shoal(args...)
	var keys struct {
		Keys []struct {
			ID     string `json:"accessKeyId"`
			Secret string `json:"secretAccessKey"`
		} `json:"keys"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &keys) != nil || len(keys.Keys) != 1 {
		t.Fatalf("shoal keys create: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	return &awsCLI{t: t, endpoint: "https://" + c.tcpAddr, caBundle: filepath.Join(c.dataDir, "controller", "ca.pem"), env: append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+keys.Keys[0].ID, "AWS_SECRET_ACCESS_KEY="+keys.Keys[0].Secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"))}
}

// run runs `aws batch ARGS` and decodes its JSON answer into out (if not nil).
func (a *awsCLI) run(out any, args ...string) {
	a.t.Helper()
	if err := a.try(out, args...); err != nil {
		a.t.Fatal(err)
	}
}

func (a *awsCLI) try(out any, args ...string) error {
	cmd := exec.Command("/usr/bin/aws", append([]string{"--endpoint-url", a.endpoint, "--ca-bundle", a.caBundle, "--output", "json", "batch"}, args...)...)
	cmd.Env = a.env
	stdout, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return &awsError{args: args, err: err, stderr: stderr}
	}
	if out != nil {
		if err := json.Unmarshal(stdout, out); err != nil {
			a.t.Fatalf("aws batch %v printed %q: %v", args, stdout, err)
		}
	}
	return nil
}

type awsError struct {
	args   []string
	err    error
	stderr string
}

func (e *awsError) Error() string {
	return "aws batch " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stderr
}

// awsJob is the part of describe-jobs the test reads.
type awsJob struct {
	JobID        string `json:"jobId"`
	JobName      string `json:"jobName"`
	Status       string `json:"status"`
	StatusReason string `json:"statusReason"`
	StartedAt    int64  `json:"startedAt"`
	StoppedAt    int64  `json:"stoppedAt"`
	DependsOn    []struct {
		JobID string `json:"jobId"`
	} `json:"dependsOn"`
	Container struct {
		Image         string   `json:"image"`
		Command       []string `json:"command"`
		Memory        int64    `json:"memory"`
		ExitCode      *int     `json:"exitCode"`
		LogStreamName string   `json:"logStreamName"`
	} `json:"container"`
	ArrayProperties struct {
		Size          int            `json:"size"`
		StatusSummary map[string]int `json:"statusSummary"`
	} `json:"arrayProperties"`
}

func (a *awsCLI) describe(id string) awsJob {
	a.t.Helper()
	var out struct {
		Jobs []awsJob `json:"jobs"`
	}
	a.run(&out, "describe-jobs", "--jobs", id)
	if len(out.Jobs) != 1 {
		a.t.Fatalf("describe-jobs %s: got %d jobs, want 1", id, len(out.Jobs))
	}
	return out.Jobs[0]
}

// wait blocks on the controller (a blocking query, no polling) until the
// job reaches state, then describes it through the aws CLI.
func (a *awsCLI) wait(c *cluster, id string, state api.JobState) awsJob {
	a.t.Helper()
	c.wait(mustID(a.t, id), state)
	return a.describe(id)
}

// listed returns the ids list-jobs gives for a queue and status ("" = none given).
func (a *awsCLI) listed(queue, status string) []string {
	a.t.Helper()
	args := []string{"list-jobs", "--job-queue", queue}
	if status != "" {
		args = append(args, "--job-status", status)
	}
	var out struct {
		JobSummaryList []struct {
			JobID string `json:"jobId"`
		} `json:"jobSummaryList"`
	}
	a.run(&out, args...)
	ids := []string{}
	for _, s := range out.JobSummaryList {
		ids = append(ids, s.JobID)
	}
	sort.Strings(ids)
	return ids
}

// TestAWSBatchTutorial replays AWS Batch's CLI tutorial with the real aws
// CLI against a dev agent: SigV4-signed, a busybox image built here from
// Debian's busybox-static, a node of 4 GiB so that the tutorial's 5000 MB
// job cannot fit.
func TestAWSBatchTutorial(t *testing.T) {
	c := newCluster(t, "-bind", "127.0.0.1:0", "-node-memory", "4G")
	aws := newAWS(t, c, "root")

	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox is missing: apt-get install busybox-static")
	}
	tarball, err := testimage.Busybox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r := c.shoal("image", "load", tarball); r.code != 0 {
		t.Fatalf("shoal image load: exit %d: %s", r.code, r.stderr)
	}

	// An unsigned or wrongly signed request is refused in AWS's shape.
	bad := *aws
	bad.env = append(append([]string{}, aws.env...), "AWS_SECRET_ACCESS_KEY=wrong")
	if err := bad.try(nil, "list-jobs", "--job-queue", "default"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("a wrong secret: got %v, want InvalidSignatureException", err)
	}

	aws.run(nil, "create-compute-environment", "--compute-environment-name", "ce1", "--type", "UNMANAGED")
	aws.run(nil, "create-job-queue", "--job-queue-name", "q1", "--priority", "1",
		"--compute-environment-order", "order=1,computeEnvironment=ce1")

	props := filepath.Join(t.TempDir(), "props.json")
	os.WriteFile(props, []byte(`{"image":"busybox","command":["echo","Ref::Target"],"vcpus":1,"memory":5000}`), 0o644)
	var reg struct {
		Revision int    `json:"revision"`
		ARN      string `json:"jobDefinitionArn"`
	}
	aws.run(&reg, "register-job-definition", "--job-definition-name", "tutorial", "--type", "container",
		"--container-properties", "file://"+props, "--parameters", `Target=Hello\, AWS Batch :)`)
	if reg.Revision != 1 || !strings.HasSuffix(reg.ARN, ":job-definition/tutorial:1") {
		t.Fatalf("register-job-definition: revision %d arn %q, want 1 and .../tutorial:1", reg.Revision, reg.ARN)
	}

	// The 5000 MB job stays RUNNABLE with a reason naming the shortfall.
	var sub struct {
		JobID string `json:"jobId"`
	}
	aws.run(&sub, "submit-job", "--job-name", "huge", "--job-queue", "q1", "--job-definition", "tutorial")
	huge := sub.JobID
	j := aws.describe(huge)
	if j.Status != "RUNNABLE" || !strings.Contains(j.StatusReason, "memory: asked 5000 MiB") || !strings.Contains(j.StatusReason, "has 4096 MiB") {
		t.Fatalf("5000 MB job: %s %q, want RUNNABLE with the memory shortfall", j.Status, j.StatusReason)
	}
	if got := aws.listed("q1", "RUNNABLE"); len(got) != 1 || got[0] != huge {
		t.Fatalf("list-jobs RUNNABLE: %v, want [%s]", got, huge)
	}
	if got := aws.listed("q1", ""); len(got) != 0 {
		t.Fatalf("list-jobs without --job-status lists RUNNING only: got %v", got)
	}
	aws.run(nil, "cancel-job", "--job-id", huge, "--reason", "Due to lack of memory.")
	j = aws.wait(c, huge, api.StateFailed)
	if j.StatusReason != "Due to lack of memory." || strings.Join(j.Container.Command, "|") != "echo|Hello, AWS Batch :)" {
		t.Fatalf("cancelled job: %q command %q", j.StatusReason, j.Container.Command)
	}

	// Overrides and parameters.
	aws.run(&sub, "submit-job", "--job-name", "small", "--job-queue", "q1", "--job-definition", reg.ARN,
		"--container-overrides", `{"memory": 100}`)
	small := sub.JobID
	j = aws.wait(c, small, api.StateSucceeded)
	if j.Container.ExitCode == nil || *j.Container.ExitCode != 0 || j.Container.Memory != 100 || j.Container.LogStreamName != "tutorial/default/"+small {
		t.Fatalf("small job: %+v", j.Container)
	}
	aws.run(&sub, "submit-job", "--job-name", "tokyo", "--job-queue", "q1", "--job-definition", "tutorial",
		"--container-overrides", `{"memory": 100}`, "--parameters", `Target=Hello\, Tokyo!`)
	tokyo := sub.JobID
	j = aws.wait(c, tokyo, api.StateSucceeded)
	if strings.Join(j.Container.Command, "|") != "echo|Hello, Tokyo!" {
		t.Fatalf("tokyo command %q, want [echo, Hello, Tokyo!]", j.Container.Command)
	}
	if r := c.shoal("logs", "--stream", "stdout", tokyo); r.stdout != "Hello, Tokyo!\n" {
		t.Fatalf("tokyo log %q, want \"Hello, Tokyo!\\n\"", r.stdout)
	}
	if got := aws.listed("q1", "SUCCEEDED"); strings.Join(got, ",") != strings.Join(sortedIDs(small, tokyo), ",") {
		t.Fatalf("list-jobs SUCCEEDED: %v, want %s and %s", got, small, tokyo)
	}
	if got := aws.listed("q1", "FAILED"); len(got) != 1 || got[0] != huge {
		t.Fatalf("list-jobs FAILED: %v, want [%s]", got, huge)
	}

	// A sleeping parent and a dependent child: terminate the parent.
	aws.run(&sub, "submit-job", "--job-name", "parent", "--job-queue", "q1", "--job-definition", "tutorial",
		"--container-overrides", `{"command": ["sleep", "Ref::WaitTime"], "memory": 100}`, "--parameters", "WaitTime=3600")
	parent := sub.JobID
	aws.run(&sub, "submit-job", "--job-name", "child", "--job-queue", "q1", "--job-definition", "tutorial",
		"--container-overrides", `{"memory": 100}`, "--depends-on", "jobId="+parent)
	child := sub.JobID
	aws.wait(c, parent, api.StateRunning)
	if got := aws.listed("q1", "PENDING"); len(got) != 1 || got[0] != child {
		t.Fatalf("list-jobs PENDING: %v, want [%s]", got, child)
	}
	if got := aws.listed("q1", ""); len(got) != 1 || got[0] != parent {
		t.Fatalf("list-jobs (RUNNING): %v, want [%s]", got, parent)
	}
	aws.run(nil, "cancel-job", "--job-id", parent, "--reason", "cancel is not terminate")
	if j := aws.describe(parent); j.Status != "RUNNING" {
		t.Fatalf("cancel-job stopped a RUNNING job: %s", j.Status)
	}
	aws.run(nil, "terminate-job", "--job-id", parent, "--reason", "Forced to fail.")
	if j := aws.wait(c, parent, api.StateFailed); j.StatusReason != "Forced to fail." {
		t.Fatalf("terminated parent: %q", j.StatusReason)
	}
	if j := aws.wait(c, child, api.StateFailed); j.StatusReason != "Dependent Job failed" || len(j.DependsOn) != 1 || j.DependsOn[0].JobID != parent {
		t.Fatalf("child: %q dependsOn %+v, want Dependent Job failed on %s", j.StatusReason, j.DependsOn, parent)
	}

	// An array of 10 with a SEQUENTIAL dependency runs its tasks in order.
	aws.run(&sub, "submit-job", "--job-name", "array", "--job-queue", "q1", "--job-definition", "tutorial",
		"--container-overrides", `{"memory": 100, "command": ["sh", "-c", "echo $AWS_BATCH_JOB_ARRAY_INDEX"]}`,
		"--array-properties", "size=10", "--depends-on", "type=SEQUENTIAL")
	array := sub.JobID
	first := mustID(t, array)
	c.wait(first + 9) // the last task
	j = aws.describe(array)
	if j.Status != "SUCCEEDED" || j.ArrayProperties.Size != 10 || j.ArrayProperties.StatusSummary["SUCCEEDED"] != 10 {
		t.Fatalf("array parent: %s %+v, want SUCCEEDED with 10 tasks SUCCEEDED", j.Status, j.ArrayProperties)
	}
	var prev awsJob
	for i := 0; i < 10; i++ {
		task := aws.describe(array + ":" + strconv.Itoa(i))
		if task.Status != "SUCCEEDED" || (i > 0 && task.StartedAt < prev.StoppedAt) {
			t.Fatalf("task %d: %s started %d, previous stopped %d: want SUCCEEDED, in sequence", i, task.Status, task.StartedAt, prev.StoppedAt)
		}
		prev = task
	}

	// Errors: an unknown definition is a ClientException.
	err = aws.try(nil, "submit-job", "--job-name", "x", "--job-queue", "q1", "--job-definition", "no-such-def")
	if err == nil || !strings.Contains(err.Error(), "ClientException") {
		t.Fatalf("unknown definition: %v, want ClientException", err)
	}
}

func sortedIDs(ids ...string) []string { sort.Strings(ids); return ids }
