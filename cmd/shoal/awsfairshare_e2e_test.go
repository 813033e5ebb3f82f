package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestAWSFairShareEndToEnd: AWS Batch's fair-share scheduling policies
// with the real aws CLI against a dev agent: root creates, describes,
// lists and updates a policy and a fair-share queue that uses it; a user
// may read policies but not write them; submit-job to the fair-share
// queue needs --share-identifier (AWS's ClientException), a FIFO queue
// refuses one; a job with its share and priority runs and describe-jobs
// shows them; a policy in use cannot be deleted, and can once its queue
// is gone.
func TestAWSFairShareEndToEnd(t *testing.T) {
	c := newCluster(t, "-bind", "127.0.0.1:0")
	aws := newAWS(t, c, "root")
	user := newAWS(t, c, "nobody")

	var pol struct {
		Name string `json:"name"`
		ARN  string `json:"arn"`
	}
	aws.run(&pol, "create-scheduling-policy", "--name", "fair", "--fairshare-policy",
		`{"shareDecaySeconds":3600,"computeReservation":10,"shareDistribution":[{"shareIdentifier":"gold","weightFactor":0.5},{"shareIdentifier":"team*"}]}`,
		"--tags", "team=hpc")
	if pol.Name != "fair" || pol.ARN != "arn:aws:batch:us-east-1:000000000000:scheduling-policy/fair" {
		t.Fatalf("create-scheduling-policy: %+v", pol)
	}
	if err := aws.try(nil, "create-scheduling-policy", "--name", "bad", "--fairshare-policy", `{"computeReservation":100}`); err == nil ||
		!strings.Contains(err.Error(), "ClientException") || !strings.Contains(err.Error(), "computeReservation 100: give 0 to 99") {
		t.Errorf("computeReservation 100: %v, want a ClientException saying 0 to 99", err)
	}
	if err := user.try(nil, "create-scheduling-policy", "--name", "mine"); err == nil || !strings.Contains(err.Error(), "create scheduling policies") {
		t.Errorf("create-scheduling-policy as nobody: %v, want it refused", err)
	}
	var desc struct {
		Policies []struct {
			Name string              `json:"name"`
			ARN  string              `json:"arn"`
			FP   api.FairsharePolicy `json:"fairsharePolicy"`
			Tags map[string]string   `json:"tags"`
		} `json:"schedulingPolicies"`
	}
	user.run(&desc, "describe-scheduling-policies", "--arns", pol.ARN)
	if len(desc.Policies) != 1 || desc.Policies[0].FP.ShareDecaySeconds != 3600 || desc.Policies[0].FP.ComputeReservation != 10 ||
		len(desc.Policies[0].FP.ShareDistribution) != 2 || desc.Policies[0].FP.Weight("gold") != 0.5 || desc.Policies[0].Tags["team"] != "hpc" {
		t.Fatalf("describe-scheduling-policies as nobody: %+v", desc)
	}
	var list struct {
		Policies []struct {
			ARN string `json:"arn"`
		} `json:"schedulingPolicies"`
	}
	user.run(&list, "list-scheduling-policies")
	if len(list.Policies) != 1 || list.Policies[0].ARN != pol.ARN {
		t.Fatalf("list-scheduling-policies: %+v", list)
	}
	aws.run(nil, "update-scheduling-policy", "--arn", pol.ARN, "--fairshare-policy",
		`{"shareDecaySeconds":600,"shareDistribution":[{"shareIdentifier":"gold","weightFactor":0.25}]}`)
	user.run(&desc, "describe-scheduling-policies", "--arns", pol.ARN)
	if len(desc.Policies) != 1 || desc.Policies[0].FP.ShareDecaySeconds != 600 || desc.Policies[0].FP.Weight("gold") != 0.25 {
		t.Fatalf("after update-scheduling-policy: %+v", desc)
	}

	aws.run(nil, "create-compute-environment", "--compute-environment-name", "ce1", "--type", "UNMANAGED")
	aws.run(nil, "create-job-queue", "--job-queue-name", "fs", "--priority", "1", "--scheduling-policy-arn", pol.ARN,
		"--compute-environment-order", "order=1,computeEnvironment=ce1")
	var queues struct {
		Queues []struct {
			Policy string `json:"schedulingPolicyArn"`
		} `json:"jobQueues"`
	}
	user.run(&queues, "describe-job-queues", "--job-queues", "fs")
	if len(queues.Queues) != 1 || queues.Queues[0].Policy != pol.ARN {
		t.Fatalf("describe-job-queues fs: %+v, want its schedulingPolicyArn", queues)
	}
	aws.run(nil, "register-job-definition", "--job-definition-name", "fsdef", "--type", "script", "--scheduling-priority", "3",
		"--container-properties", `{"command":["true"],"vcpus":1,"memory":64}`)

	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--job-queue", "fs"}, "shareIdentifier must be specified."},
		{[]string{"--job-queue", "default", "--share-identifier", "gold"}, "job queue default is a FIFO job queue"},
		{[]string{"--job-queue", "fs", "--share-identifier", "gold", "--scheduling-priority-override", "10000"}, "give 0 to 9999"},
	} {
		err := aws.try(nil, append([]string{"submit-job", "--job-name", "x", "--job-definition", "fsdef"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), "(ClientException)") || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("submit-job %v: %v, want a ClientException saying %q", tt.args, err, tt.says)
		}
	}
	var sub struct {
		JobID string `json:"jobId"`
	}
	aws.run(&sub, "submit-job", "--job-name", "g", "--job-queue", "fs", "--job-definition", "fsdef",
		"--share-identifier", "gold", "--scheduling-priority-override", "7")
	aws.wait(c, sub.JobID, api.StateSucceeded)
	var jobs struct {
		Jobs []struct {
			Share    string `json:"shareIdentifier"`
			Priority *int64 `json:"schedulingPriority"`
		} `json:"jobs"`
	}
	aws.run(&jobs, "describe-jobs", "--jobs", sub.JobID)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].Share != "gold" || jobs.Jobs[0].Priority == nil || *jobs.Jobs[0].Priority != 7 {
		raw, _ := json.Marshal(jobs)
		t.Fatalf("describe-jobs: %s, want shareIdentifier gold and schedulingPriority 7", raw)
	}

	if err := aws.try(nil, "delete-scheduling-policy", "--arn", pol.ARN); err == nil || !strings.Contains(err.Error(), "Cannot delete scheduling policy") || !strings.Contains(err.Error(), "fs") {
		t.Errorf("delete-scheduling-policy while fs uses it: %v, want it refused naming fs", err)
	}
	aws.run(nil, "update-job-queue", "--job-queue", "fs", "--state", "DISABLED")
	aws.run(nil, "delete-job-queue", "--job-queue", "fs")
	aws.run(nil, "delete-scheduling-policy", "--arn", pol.ARN)
	user.run(&list, "list-scheduling-policies")
	if len(list.Policies) != 0 {
		t.Fatalf("list-scheduling-policies after delete: %+v", list)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after the agent stopped: %v", left)
	}
}
