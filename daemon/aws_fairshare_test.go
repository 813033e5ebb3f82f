package daemon

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestMemSchedulingPolicies: AWS Batch's scheduling policy operations in
// its shapes, as the aws CLI sends them: operators create, update and
// delete; anyone describes and lists; bad input is refused with what
// would be right and nothing stored. A queue with a policy is a
// fair-share queue: SubmitJob needs a shareIdentifier and a scheduling
// priority there (AWS's ClientException messages), and refuses a share
// on a FIFO queue; DescribeJobs shows both. The scheduler interleaves
// the shares: a share that submitted first does not take the node.
func TestMemSchedulingPolicies(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1") // 4 CPUs
	arn := "arn:aws:batch:us-east-1:000000000000:scheduling-policy/fair"
	before := mc.c.fsm.State().Index()
	for _, tt := range []struct {
		who  peer
		op   string
		body string
		code string
		says string
	}{
		{alice, "createschedulingpolicy", `{"name":"fair"}`, api.CodeForbidden, "create scheduling policies"},
		{rootUser, "createschedulingpolicy", `{"name":"f a"}`, api.CodeInvalid, "letters, digits"},
		{rootUser, "createschedulingpolicy", `{"name":"fair","fairsharePolicy":{"computeReservation":100}}`, api.CodeInvalid, "give 0 to 99"},
		{rootUser, "createschedulingpolicy", `{"name":"fair","fairsharePolicy":{"shareDecaySeconds":604801}}`, api.CodeInvalid, "604800"},
		{rootUser, "createschedulingpolicy", `{"name":"fair","fairsharePolicy":{"shareDistribution":[{"shareIdentifier":"UserA*"},{"shareIdentifier":"UserA1"}]}}`, api.CodeInvalid, "overlap"},
		{rootUser, "createschedulingpolicy", `{"name":"fair","fairsharePolicy":{"shareDistribution":[{"shareIdentifier":"a","weightFactor":1000}]}}`, api.CodeInvalid, "999.9999"},
		{rootUser, "updateschedulingpolicy", `{"arn":"` + arn + `","fairsharePolicy":{}}`, api.CodeNotFound, "does not exist"},
		{rootUser, "describeschedulingpolicies", `{}`, api.CodeInvalid, "arns"},
		{bob, "listschedulingpolicies", `{"maxResults":1000}`, api.CodeInvalid, "1 to 100"},
	} {
		status, out := mc.awsCall(tt.who, tt.op, tt.body)
		if msg, _ := out["message"].(string); status != http.StatusBadRequest || out["__type"] != "ClientException" || out["code"] != tt.code || !strings.Contains(msg, tt.says) {
			t.Errorf("%s %s as uid %d: HTTP %d %v, want 400 ClientException %s saying %q", tt.op, tt.body, tt.who.uid, status, out, tt.code, tt.says)
		}
	}
	if after := mc.c.fsm.State().Index(); after != before {
		t.Fatalf("refused calls moved the raft index from %d to %d", before, after)
	}

	status, out := mc.awsCall(rootUser, "createschedulingpolicy", `{"name":"fair","fairsharePolicy":{"shareDecaySeconds":3600,"computeReservation":0,
		"shareDistribution":[{"shareIdentifier":"gold","weightFactor":0.5},{"shareIdentifier":"team*","weightFactor":2}]},"tags":{"team":"x"}}`)
	if status != http.StatusOK || out["name"] != "fair" || out["arn"] != arn {
		t.Fatalf("createschedulingpolicy: HTTP %d %v", status, out)
	}
	mc.awsCall(rootUser, "createschedulingpolicy", `{"name":"spare"}`)
	_, out = mc.awsCall(bob, "describeschedulingpolicies", `{"arns":["`+arn+`","arn:aws:batch:us-east-1:000000000000:scheduling-policy/nosuch"]}`)
	pols, _ := out["schedulingPolicies"].([]any)
	if len(pols) != 1 {
		t.Fatalf("describe fair and nosuch as bob: %v, want fair alone", out)
	}
	p := pols[0].(map[string]any)
	fp, _ := p["fairsharePolicy"].(map[string]any)
	dist, _ := fp["shareDistribution"].([]any)
	if p["arn"] != arn || fp["shareDecaySeconds"] != 3600.0 || len(dist) != 2 || dist[0].(map[string]any)["weightFactor"] != 0.5 || p["tags"].(map[string]any)["team"] != "x" {
		t.Errorf("describe fair: %v", p)
	}
	_, out = mc.awsCall(bob, "listschedulingpolicies", `{"maxResults":1}`)
	page, _ := out["schedulingPolicies"].([]any)
	if len(page) != 1 || page[0].(map[string]any)["arn"] != arn || out["nextToken"] == nil {
		t.Fatalf("list page 1: %v", out)
	}
	_, out = mc.awsCall(bob, "listschedulingpolicies", `{"maxResults":1,"nextToken":"`+out["nextToken"].(string)+`"}`)
	if page, _ := out["schedulingPolicies"].([]any); len(page) != 1 || !strings.HasSuffix(page[0].(map[string]any)["arn"].(string), "/spare") || out["nextToken"] != nil {
		t.Fatalf("list page 2: %v", out)
	}
	if _, out := mc.awsCall(alice, "updateschedulingpolicy", `{"arn":"`+arn+`","fairsharePolicy":{}}`); out["code"] != api.CodeForbidden {
		t.Errorf("update as alice: %v, want %s", out, api.CodeForbidden)
	}
	if status, out := mc.awsCall(rootUser, "updateschedulingpolicy", `{"arn":"`+arn+`","fairsharePolicy":{"shareDecaySeconds":600,
		"shareDistribution":[{"shareIdentifier":"gold","weightFactor":0.5},{"shareIdentifier":"team*","weightFactor":2}]}}`); status != http.StatusOK {
		t.Fatalf("update fair: HTTP %d %v", status, out)
	}
	if got := mc.c.fsm.State().SchedulingPolicy("fair"); got.FairsharePolicy.ShareDecaySeconds != 600 || got.Tags["team"] != "x" {
		t.Errorf("fair after update: %+v", got)
	}

	// A fair-share queue; its node drained while the jobs come in.
	mc.mustCall(rootUser, api.PathUpdateNode, api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain, Reason: "test"}, nil)
	if status, out := mc.awsCall(rootUser, "createjobqueue", `{"jobQueueName":"fs","priority":1,"schedulingPolicyArn":"`+arn+`",
		"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"default"}]}`); status != http.StatusOK {
		t.Fatalf("createjobqueue fs: HTTP %d %v", status, out)
	}
	_, out = mc.awsCall(bob, "describejobqueues", `{"jobQueues":["fs"]}`)
	if qs, _ := out["jobQueues"].([]any); len(qs) != 1 || qs[0].(map[string]any)["schedulingPolicyArn"] != arn {
		t.Fatalf("describejobqueues fs: %v, want its schedulingPolicyArn", out)
	}
	idx := mc.c.fsm.State().Index()
	if _, out := mc.awsCall(rootUser, "updatejobqueue", `{"jobQueue":"default","schedulingPolicyArn":"`+arn+`"}`); out["code"] != api.CodeInvalid || !strings.Contains(out["message"].(string), "FIFO") {
		t.Errorf("give the FIFO queue default a policy: %v, want it refused", out)
	}
	if _, out := mc.awsCall(rootUser, "createjobqueue", `{"jobQueueName":"fs2","priority":1,"schedulingPolicyArn":"nosuch",
		"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"default"}]}`); out["code"] != api.CodeNotFound || !strings.Contains(out["message"].(string), "nosuch") {
		t.Errorf("a queue naming policy nosuch: %v, want it refused", out)
	}
	if after := mc.c.fsm.State().Index(); after != idx {
		t.Errorf("refused queue changes moved the raft index from %d to %d", idx, after)
	}
	if _, out := mc.awsCall(rootUser, "deleteschedulingpolicy", `{"arn":"`+arn+`"}`); out["code"] != api.CodeConflict || !strings.Contains(out["message"].(string), "fs") {
		t.Errorf("delete fair while fs uses it: %v, want it refused naming fs", out)
	}
	mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"plain","type":"script","containerProperties":{"command":["true"],"vcpus":1,"memory":64}}`)
	mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"ranked","type":"script","schedulingPriority":5,"containerProperties":{"command":["true"],"vcpus":1,"memory":64}}`)
	for _, tt := range []struct{ body, says string }{
		{`{"jobName":"x","jobQueue":"fs","jobDefinition":"ranked"}`, "shareIdentifier must be specified."},
		{`{"jobName":"x","jobQueue":"fs","jobDefinition":"plain","shareIdentifier":"gold"}`, "Either schedulingPriority in job definition or schedulingPriorityOverride should be specified."},
		{`{"jobName":"x","jobQueue":"default","jobDefinition":"plain","shareIdentifier":"gold"}`, "shareIdentifier can only be specified for a job queue with a scheduling policy: job queue default is a FIFO job queue"},
		{`{"jobName":"x","jobQueue":"fs","jobDefinition":"plain","shareIdentifier":"gold","schedulingPriorityOverride":10000}`, "schedulingPriorityOverride 10000: give 0 to 9999 (higher runs first within its share)"},
		{`{"jobName":"x","jobQueue":"fs","jobDefinition":"ranked","shareIdentifier":"g o"}`, `shareIdentifier "g o": use 1 to 255 letters, digits, hyphens and underscores`},
	} {
		status, out := mc.awsCall(alice, "submitjob", tt.body)
		if status != http.StatusBadRequest || out["__type"] != "ClientException" || out["message"] != tt.says {
			t.Errorf("submitjob %s: HTTP %d %v, want 400 ClientException %q", tt.body, status, out, tt.says)
		}
	}

	// Share "team1" (weight 2) submits 6 jobs first, then "gold" (0.5)
	// 3: of n1's 4 CPUs gold, 4 times lighter, gets 3 and team1 1.
	var team, gold []uint64
	submit := func(share, extra string) uint64 {
		t.Helper()
		status, out := mc.awsCall(alice, "submitjob", `{"jobName":"j","jobQueue":"fs","jobDefinition":"ranked","shareIdentifier":"`+share+`"`+extra+`}`)
		if status != http.StatusOK {
			t.Fatalf("submitjob to fs as %s: HTTP %d %v", share, status, out)
		}
		id, _ := strconv.ParseUint(out["jobId"].(string), 10, 64)
		return id
	}
	for range 6 {
		team = append(team, submit("team1", ""))
	}
	for i := range 3 {
		gold = append(gold, submit("gold", `,"schedulingPriorityOverride":`+strconv.Itoa(i)))
	}
	_, out = mc.awsCall(bob, "describejobs", `{"jobs":["`+api.FormatID(gold[2])+`","`+api.FormatID(team[0])+`"]}`)
	jobs, _ := out["jobs"].([]any)
	if len(jobs) != 2 || jobs[0].(map[string]any)["shareIdentifier"] != "gold" || jobs[0].(map[string]any)["schedulingPriority"] != 2.0 ||
		jobs[1].(map[string]any)["shareIdentifier"] != "team1" || jobs[1].(map[string]any)["schedulingPriority"] != 5.0 {
		t.Fatalf("describejobs: %v, want gold's at priority 2 (its override) and team1's at 5 (the definition's)", out)
	}
	mc.mustCall(rootUser, api.PathUpdateNode, api.UpdateNodeRequest{Name: "n1", State: api.NodeUp}, nil)
	for _, id := range append(gold, team[0]) {
		mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting })
	}
	for _, id := range team[1:] {
		if j := mc.c.fsm.State().Job(id); j.State != api.StateRunnable {
			t.Errorf("team1's job %d is %s, want RUNNABLE (gold, lighter, has 3 of 4 CPUs)", id, j.State)
		}
	}
	// On a FIFO queue any user's override is the job's priority (AWS's
	// 0-9999, below a job's default priority), not Slurm's --priority.
	if status, out := mc.awsCall(alice, "submitjob", `{"jobName":"x","jobQueue":"default","jobDefinition":"plain","schedulingPriorityOverride":5}`); status != http.StatusOK {
		t.Errorf("alice's submitjob to a FIFO queue with schedulingPriorityOverride 5: HTTP %d %v", status, out)
	}
	// A job moved into the fair-share queue is charged to a share, as one
	// submitted there (its user's); moved back, it has none.
	moved := mc.submit(alice, api.JobSpec{Name: "moved", Command: []string{"true"}, Dir: "/", Held: true, Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	for _, q := range []string{"fs", api.DefaultQueue} {
		mc.mustCall(alice, api.PathUpdateJob, api.UpdateJobRequest{ID: moved, Queue: &q}, nil)
		j := mc.c.fsm.State().Job(moved)
		if want := map[string]string{"fs": j.User, api.DefaultQueue: ""}[q]; j.ShareIdentifier != want || j.User == "" {
			t.Errorf("job moved to %s: share %q, want %q", q, j.ShareIdentifier, want)
		}
	}
}
