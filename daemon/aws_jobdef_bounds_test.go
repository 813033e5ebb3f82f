package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// jobDefReq is a script job definition whose command is cmd.
func jobDefReq(name string, cmd ...string) api.AWSRegisterJobDefinitionRequest {
	return api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{
		Name: name, Type: "script", ContainerProperties: &api.ContainerProperties{Command: cmd}}}
}

// ownedJobDefs counts the revisions owner has in the state.
func (mc *memController) ownedJobDefs(owner string) int {
	n := 0
	mc.c.fsm.State().EachJobDefinition(func(d *api.JobDefinition) bool {
		if d.Owner == owner {
			n++
		}
		return true
	})
	return n
}

// TestRegisterJobDefinitionSizeBounded: a job definition over 24 KiB as
// JSON (AWS Batch's limit) is refused with a message naming the limit and
// its size, and not stored; one under the limit is stored.
func TestRegisterJobDefinitionSizeBounded(t *testing.T) {
	mc := startMemController(t, Config{})
	big := jobDefReq("big", "sh", "-c", strings.Repeat("x", 900<<10))
	raw, _ := json.Marshal(big.JobDefinition)
	status, e := mc.call(alice, "/v1/registerjobdefinition", big, nil)
	if size := fmt.Sprintf("is %d bytes as JSON", len(raw)); status != http.StatusBadRequest || e.Type != "ClientException" ||
		!strings.Contains(e.Message, "at most 24 KiB") || !strings.Contains(e.Message, size) {
		t.Fatalf("a 900 KiB definition: HTTP %d %+v; want 400 ClientException naming the 24 KiB limit and saying it %s", status, e, size)
	}
	if len(e.Message) > 600 {
		t.Errorf("the message is %d bytes: it must not echo the definition", len(e.Message))
	}
	if d := mc.c.fsm.State().LatestJobDefinition("big"); d != nil {
		t.Fatalf("the refused definition was stored: revision %d", d.Revision)
	}
	// Just over and just under, by the definition's JSON.
	over := jobDefReq("edge", "sh", "-c", strings.Repeat("y", MaxJobDefinitionBytes))
	if status, e := mc.call(alice, "/v1/registerjobdefinition", over, nil); status != http.StatusBadRequest || !strings.Contains(e.Message, "24 KiB") {
		t.Errorf("a definition of just over 24 KiB: HTTP %d %+v; want 400 naming 24 KiB", status, e)
	}
	fine := jobDefReq("edge", "sh", "-c", strings.Repeat("y", MaxJobDefinitionBytes-300))
	var reg api.AWSRegisterJobDefinitionResponse
	mc.mustCall(alice, "/v1/registerjobdefinition", fine, &reg)
	if reg.Revision != 1 {
		t.Errorf("the definition under the limit got revision %d, want 1", reg.Revision)
	}
}

// TestJobDefinitionRevisionsBoundedPerUser: a user holds at most
// raftfsm.MaxUserJobDefinitions revisions, ACTIVE and INACTIVE; the next
// register is refused saying what to deregister, another user is not held
// back, and once the user deregisters revisions, the oldest INACTIVE one
// (not a name's first or newest) makes room and revision numbers go on.
func TestJobDefinitionRevisionsBoundedPerUser(t *testing.T) {
	mc := startMemController(t, Config{})
	var reg api.AWSRegisterJobDefinitionResponse
	for i := 0; i < raftfsm.MaxUserJobDefinitions; i++ {
		mc.mustCall(alice, "/v1/registerjobdefinition", jobDefReq("etl", "true"), &reg)
	}
	owner := mc.c.fsm.State().JobDefinition("etl", 1).Owner
	if reg.Revision != raftfsm.MaxUserJobDefinitions {
		t.Fatalf("the last revision is %d, want %d", reg.Revision, raftfsm.MaxUserJobDefinitions)
	}
	for _, name := range []string{"etl", "other"} {
		status, e := mc.call(alice, "/v1/registerjobdefinition", jobDefReq(name, "true"), nil)
		if status != http.StatusBadRequest || e.Type != "ClientException" ||
			!strings.Contains(e.Message, fmt.Sprintf("has %d job definition revisions", raftfsm.MaxUserJobDefinitions)) ||
			!strings.Contains(e.Message, "deregister") {
			t.Fatalf("register %s past the bound: HTTP %d %+v; want 400 naming the bound and what to deregister", name, status, e)
		}
	}
	if n := mc.ownedJobDefs(owner); n != raftfsm.MaxUserJobDefinitions || mc.c.fsm.State().LatestJobDefinition("other") != nil {
		t.Errorf("after the refusals alice holds %d revisions (want %d), other stored %v", n,
			raftfsm.MaxUserJobDefinitions, mc.c.fsm.State().LatestJobDefinition("other") != nil)
	}
	// Bob's definitions are his own to count.
	mc.mustCall(bob, "/v1/registerjobdefinition", jobDefReq("bobs", "true"), nil)

	// Deregistering the first revision frees nothing (it keeps the name
	// alice's); deregistering revision 2 and 3 does, oldest first.
	for _, rev := range []int{1, 3, 2} {
		mc.mustCall(alice, "/v1/deregisterjobdefinition", api.AWSDeregisterJobDefinitionRequest{JobDefinition: fmt.Sprintf("etl:%d", rev)}, nil)
	}
	mc.mustCall(alice, "/v1/registerjobdefinition", jobDefReq("etl", "new"), &reg)
	if want := raftfsm.MaxUserJobDefinitions + 1; reg.Revision != want {
		t.Errorf("the register after deregistering got revision %d, want %d", reg.Revision, want)
	}
	st := mc.c.fsm.State()
	if st.JobDefinition("etl", 2) != nil || st.JobDefinition("etl", 1) == nil || st.JobDefinition("etl", 3) == nil {
		t.Errorf("after making room: revision 1 kept %v, 2 dropped %v, 3 kept %v; want the oldest INACTIVE but the first dropped",
			st.JobDefinition("etl", 1) != nil, st.JobDefinition("etl", 2) == nil, st.JobDefinition("etl", 3) != nil)
	}
	if n := mc.ownedJobDefs(owner); n != raftfsm.MaxUserJobDefinitions {
		t.Errorf("alice holds %d revisions, want %d", n, raftfsm.MaxUserJobDefinitions)
	}
	// INACTIVE revisions are still described, as AWS does.
	var out api.AWSDescribeJobDefinitionsResponse
	mc.mustCall(alice, "/v1/describejobdefinitions", api.AWSDescribeJobDefinitionsRequest{Name: "etl", Status: api.Inactive}, &out)
	if len(out.JobDefinitions) != 2 {
		t.Errorf("describe etl INACTIVE: %d revisions, want 2 (1 and 3)", len(out.JobDefinitions))
	}
}

// TestJobDefinitionBoundHoldsUnderRace: registers sent at once, when only
// a few more fit, cannot all pass the controller's check and the FSM:
// exactly the few are stored. (Whether two of them race between the
// controller's check and the FSM is up to timing here; raftfsm's
// TestJobDefinitionBoundRaced makes that race happen.)
func TestJobDefinitionBoundHoldsUnderRace(t *testing.T) {
	mc := startMemController(t, Config{})
	const room, tries = 3, 64
	for i := 0; i < raftfsm.MaxUserJobDefinitions-room; i++ {
		mc.mustCall(alice, "/v1/registerjobdefinition", jobDefReq("d"+strconv.Itoa(i), "true"), nil)
	}
	owner := mc.c.fsm.State().JobDefinition("d0", 1).Owner
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, e := mc.call(alice, "/v1/registerjobdefinition", jobDefReq("race"+strconv.Itoa(i), "true"), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == http.StatusOK:
				ok++
			case status == http.StatusBadRequest && strings.Contains(e.Message, "would pass the bound"):
				refused++
			default:
				t.Errorf("register race%d: HTTP %d %+v", i, status, e)
			}
		}()
	}
	wg.Wait()
	if ok != room || refused != tries-room {
		t.Errorf("%d registers stored and %d refused; want %d and %d", ok, refused, room, tries-room)
	}
	if n := mc.ownedJobDefs(owner); n != raftfsm.MaxUserJobDefinitions {
		t.Errorf("alice holds %d revisions, want the bound, %d", n, raftfsm.MaxUserJobDefinitions)
	}
}

// TestDescribeJobDefinitionsPages: describe-job-definitions answers 100
// at most by default, with a nextToken that the next call follows to the
// end (every definition once, in order); maxResults takes 1 to 100;
// filters and a list of names page the same way.
func TestDescribeJobDefinitionsPages(t *testing.T) {
	mc := startMemController(t, Config{})
	const total = 250
	for i := 0; i < total; i++ {
		mc.mustCall(alice, "/v1/registerjobdefinition", jobDefReq(fmt.Sprintf("d%03d", i%50), "true"), nil)
	}
	for _, ref := range []string{"d007:1", "d007:3", "d010:2"} {
		mc.mustCall(alice, "/v1/deregisterjobdefinition", api.AWSDeregisterJobDefinitionRequest{JobDefinition: ref}, nil)
	}
	// describe walks pages from req, returning every definition and the pages' sizes.
	describe := func(req api.AWSDescribeJobDefinitionsRequest) (refs []string, sizes []int) {
		t.Helper()
		for calls := 0; ; calls++ {
			if calls > total {
				t.Fatalf("describe %+v: the tokens never end", req)
			}
			var out api.AWSDescribeJobDefinitionsResponse
			mc.mustCall(bob, "/v1/describejobdefinitions", req, &out)
			sizes = append(sizes, len(out.JobDefinitions))
			for _, d := range out.JobDefinitions {
				refs = append(refs, fmt.Sprintf("%s:%d", d.Name, d.Revision))
			}
			if out.NextToken == "" {
				return refs, sizes
			}
			req.NextToken = out.NextToken
		}
	}
	refs, sizes := describe(api.AWSDescribeJobDefinitionsRequest{})
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("describe {}: pages of %v, want [100 100 50]", sizes)
	}
	var want []string
	for i := 0; i < 50; i++ {
		for rev := 1; rev <= 5; rev++ {
			want = append(want, fmt.Sprintf("d%03d:%d", i, rev))
		}
	}
	if strings.Join(refs, " ") != strings.Join(want, " ") {
		t.Errorf("describe {} over its pages gave %d definitions:\n%v\nwant every one once, by name then revision", len(refs), refs)
	}
	if _, sizes := describe(api.AWSDescribeJobDefinitionsRequest{MaxResults: 7, Name: "d001"}); fmt.Sprint(sizes) != "[5]" {
		t.Errorf("describe d001 in pages of 7: %v, want [5]", sizes)
	}
	if _, sizes := describe(api.AWSDescribeJobDefinitionsRequest{MaxResults: 2, Name: "d001"}); fmt.Sprint(sizes) != "[2 2 1]" {
		t.Errorf("describe d001 in pages of 2: %v, want [2 2 1]", sizes)
	}
	if refs, _ := describe(api.AWSDescribeJobDefinitionsRequest{MaxResults: 1, Status: api.Inactive}); strings.Join(refs, " ") != "d007:1 d007:3 d010:2" {
		t.Errorf("describe INACTIVE in pages of 1: %v, want d007:1 d007:3 d010:2", refs)
	}
	if refs, sizes := describe(api.AWSDescribeJobDefinitionsRequest{MaxResults: 4, JobDefinitions: []string{"d002", "d003:2", arn("job-definition", "d004:5")}}); len(refs) != 7 || fmt.Sprint(sizes) != "[4 3]" {
		t.Errorf("describe a list in pages of 4: %v in pages %v, want 7 in [4 3]", refs, sizes)
	}
	many := make([]string, maxDescribeJobDefs+1)
	for i := range many {
		many[i] = "d001:1"
	}
	for _, bad := range []api.AWSDescribeJobDefinitionsRequest{
		{MaxResults: 101}, {MaxResults: -1}, {NextToken: "x"}, {JobDefinitions: many},
	} {
		if status, e := mc.call(bob, "/v1/describejobdefinitions", bad, nil); status != http.StatusBadRequest || e.Type != "ClientException" {
			t.Errorf("describe %+v: HTTP %d %+v, want 400 ClientException", bad, status, e)
		}
	}
}
