package daemon

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// With PrivateJobs, another user's job is to a dependency as if it did
// not exist: a submit that names one, by shoal's front door or AWS's, is
// refused in the same words as one naming a job that does not exist
// (nothing stored), and explain does not tell its state. Without
// PrivateJobs, every job is public and a dependency on another's is fine.
func TestPrivateDependencies(t *testing.T) {
	for _, private := range []bool{true, false} {
		mc := startMemController(t, Config{PrivateJobs: private})
		mc.registerNode("n1")
		alices := mc.submit(alice, api.JobSpec{Name: "a", Command: []string{"true"}, Held: true})
		mc.awsCall(bob, "registerjobdefinition", `{"jobDefinitionName":"plain","type":"script","containerProperties":{"command":["true"],"vcpus":1,"memory":64}}`)
		missing := alices + 1000
		answers := map[uint64]string{}
		before := mc.c.fsm.State().Index()
		for _, dep := range []uint64{alices, missing} {
			spec := api.JobSpec{Name: "b", Command: []string{"true"}, DependsOn: []api.Dependency{{JobID: dep, Type: api.AfterOK}}}
			_, e := mc.call(bob, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, nil)
			_, out := mc.awsCall(bob, "submitjob", fmt.Sprintf(`{"jobName":"b","jobQueue":"default","jobDefinition":"plain","dependsOn":[{"jobId":"%d"}]}`, dep))
			answers[dep] = strings.ReplaceAll(fmt.Sprintf("%s %s / %v %v", e.Code, e.Message, out["code"], out["message"]), fmt.Sprint(dep), "N")
		}
		if !private {
			if !strings.HasPrefix(answers[alices], " ") || strings.Contains(answers[alices], "does not exist") {
				t.Errorf("public jobs: bob's submits depending on alice's job were refused: %s", answers[alices])
			}
			continue
		}
		if answers[alices] != answers[missing] || !strings.Contains(answers[missing], "does not exist") {
			t.Errorf("bob's submits depending on alice's hidden job answered\n  %s\nand on a job that does not exist\n  %s\nwant the same refusal", answers[alices], answers[missing])
		}
		if after := mc.c.fsm.State().Index(); after != before {
			t.Errorf("refused submits moved raft from %d to %d", before, after)
		}
		// A job stored with such a dependency (PrivateJobs turned on
		// later): explain does not tell the hidden job's state.
		bobCaller := caller{uid: bob.uid, gid: bob.gid, known: true}
		dep := api.Job{JobSpec: api.JobSpec{DependsOn: []api.Dependency{{JobID: alices}}}}
		if got := dependencyStates(mc.c.visibleTo(bobCaller, mc.c.fsm.State()), dep); got != fmt.Sprintf("afterok:%d (gone)", alices) {
			t.Errorf("bob's view of a dependency on alice's job: %q, want it gone", got)
		}
		aliceCaller := caller{uid: alice.uid, gid: alice.gid, known: true}
		if got := dependencyStates(mc.c.visibleTo(aliceCaller, mc.c.fsm.State()), dep); got != fmt.Sprintf("afterok:%d (PENDING)", alices) {
			t.Errorf("alice's view of a dependency on her job: %q, want its state", got)
		}
	}
}
