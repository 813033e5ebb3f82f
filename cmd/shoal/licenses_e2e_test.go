package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// waitFor long-polls the controller's watch API until job id satisfies
// ok (no sleeping: each answer comes when the job changes).
func (c *cluster) waitFor(t *testing.T, id uint64, what string, ok func(api.Job) bool) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	digest := ""
	for {
		var resp api.WatchJobsResponse
		err := c.client.Call(ctx, api.PathWatch, api.WatchJobsRequest{IDs: []uint64{id}, AfterDigest: digest, WaitMillis: 30_000}, &resp)
		if err != nil {
			t.Fatalf("watch job %d until %s: %v", id, what, err)
		}
		if len(resp.Jobs) == 1 && ok(resp.Jobs[0]) {
			return resp.Jobs[0]
		}
		digest = resp.Digest
	}
}

// TestLicensesEndToEnd: an operator creates a license with shoal license;
// sbatch -L holds a second job until the first gives it back (squeue
// Reason=Licenses, %W, scontrol show job Licenses=, scontrol show
// licenses with Used/Free); an unknown license is refused in Slurm's
// words; AWS Batch's operations see the same record, and a job
// definition's consumableResourceProperties count against it.
func TestLicensesEndToEnd(t *testing.T) {
	c := newCluster(t)
	if r := c.shoal("license", "create", "db", "--total", "1"); r.code != 0 {
		t.Fatalf("shoal license create: exit %d %s", r.code, r.stderr)
	}
	r := c.slurmTry(t, "scontrol", "show", "licenses")
	if want := "LicenseName=db\n    Total=1 Used=0 Free=1 Reserved=0 Remote=no\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("scontrol show licenses: exit %d %q, want %q", r.code, r.stdout, want)
	}
	r = c.slurmTry(t, "sbatch", "-L", "nosuch:1", "--wrap", "true")
	if r.code != 1 || r.stderr != "sbatch: error: Batch job submission failed: Invalid license specification\n" {
		t.Errorf("sbatch -L nosuch:1: exit %d %q, want Slurm's refusal", r.code, r.stderr)
	}
	r = c.slurmTry(t, "sbatch", "-L", "db:2", "--wrap", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "Invalid license specification") {
		t.Errorf("sbatch -L db:2 (more than there are): exit %d %q, want Slurm's refusal", r.code, r.stderr)
	}

	first, _ := c.sbatchWrap(t, "-L", "db", "--wrap", "sleep 30")
	c.wait(first, api.StateRunning)
	second, _ := c.sbatchWrap(t, "--licenses=db:1", "--wrap", "true")
	c.waitFor(t, second, "it waits for Licenses", func(j api.Job) bool { return j.WaitReason == "Licenses" })

	r = c.slurmTry(t, "squeue", "-h", "-o", "%i %t %r %W")
	want := api.FormatID(second) + " PD Licenses db:1\n" + api.FormatID(first) + " R None db:1\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("squeue -o '%%i %%t %%r %%W': %q, want %q", r.stdout, want)
	}
	r = c.slurmTry(t, "squeue", "-h", "-L", "db", "-o", "%i")
	if strings.Fields(r.stdout) == nil || len(strings.Fields(r.stdout)) != 2 {
		t.Errorf("squeue -L db: %q, want both jobs", r.stdout)
	}
	r = c.slurmTry(t, "scontrol", "show", "job", api.FormatID(second))
	if !strings.Contains(r.stdout, "Reason=Licenses") || !strings.Contains(r.stdout, " Licenses=db:1 ") {
		t.Errorf("scontrol show job %d: want Reason=Licenses and Licenses=db:1 in\n%s", second, r.stdout)
	}
	if r := c.shoal("explain", api.FormatID(second)); !strings.Contains(r.stdout, "license db: asks 1, 0 free now, 1 in all") {
		t.Errorf("shoal explain %d: want the license shortfall in\n%s%s", second, r.stdout, r.stderr)
	}
	r = c.slurmTry(t, "scontrol", "-o", "show", "licenses", "db")
	if want := "LicenseName=db Total=1 Used=1 Free=0 Reserved=0 Remote=no\n"; r.stdout != want {
		t.Errorf("scontrol -o show licenses db: %q, want %q", r.stdout, want)
	}
	// The AWS front door: the same resource, and the waiting job's
	// statusReason names it.
	desc := c.awsCall("describeconsumableresource", `{"consumableResource":"db"}`)
	if desc["totalQuantity"] != 1.0 || desc["inUseQuantity"] != 1.0 || desc["availableQuantity"] != 0.0 || desc["resourceType"] != "REPLENISHABLE" {
		t.Errorf("describe-consumable-resource db: %v", desc)
	}
	jobs := c.awsCall("describejobs", `{"jobs":["`+api.FormatID(second)+`"]}`)
	raw, _ := json.Marshal(jobs)
	if !strings.Contains(string(raw), "waiting for consumable resources db (1)") || !strings.Contains(string(raw), `"consumableResource":"db"`) {
		t.Errorf("describe-jobs of the waiting job: %s, want its statusReason to name db and its consumableResourceProperties", raw)
	}
	// Deleting a license in use is refused; raising the total lets the
	// second job start at once.
	if r := c.shoal("license", "delete", "db"); r.code == 0 || !strings.Contains(r.stderr, "has not finished") {
		t.Errorf("shoal license delete db while jobs use it: exit %d %q, want a refusal", r.code, r.stderr)
	}
	if r := c.shoal("license", "update", "db", "--add", "1"); r.code != 0 {
		t.Fatalf("shoal license update --add 1: exit %d %s", r.code, r.stderr)
	}
	if j := c.wait(second); j.State != api.StateSucceeded {
		t.Errorf("second job after the total was raised: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}

	// A job definition's consumable resources: a NON_REPLENISHABLE
	// resource of 1 runs one such job, ever.
	c.awsCall("createconsumableresource", `{"consumableResourceName":"once","totalQuantity":1,"resourceType":"NON_REPLENISHABLE"}`)
	c.awsCall("registerjobdefinition", `{"jobDefinitionName":"uses-once","type":"script","containerProperties":{"command":["true"]},`+
		`"consumableResourceProperties":{"consumableResourceList":[{"consumableResource":"once","quantity":1}]}}`)
	sub := func() uint64 {
		resp := c.awsCall("submitjob", `{"jobName":"o","jobQueue":"default","jobDefinition":"uses-once"}`)
		id, err := strconv.ParseUint(resp["jobId"].(string), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := sub()
	if j := c.wait(a); j.State != api.StateSucceeded {
		t.Fatalf("first job of uses-once: %s %q", j.State, j.StatusReason)
	}
	b := sub()
	c.waitFor(t, b, "it waits for Licenses", func(j api.Job) bool { return j.WaitReason == "Licenses" })
	list := c.awsCall("listconsumableresources", `{"filters":[{"name":"CONSUMABLE_RESOURCE_NAME","values":["on*"]}]}`)
	res, _ := list["consumableResources"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["totalQuantity"] != 0.0 {
		t.Errorf("list-consumable-resources on*: %v, want once with 0 left", list)
	}
	c.awsCall("canceljob", `{"jobId":"`+api.FormatID(b)+`","reason":"done"}`)
	c.slurmTry(t, "scancel", api.FormatID(first))
	c.wait(first)
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after the agent stopped: %v", left)
	}
}
