package daemon

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSubmitGPUTypes: a job that asks for a GPU type no node of its queue
// has is refused at submit, with the types the nodes do have; one of a
// type they have is taken; so is one asking for any GPU.
func TestSubmitGPUTypes(t *testing.T) {
	tc := startTestController(t, false)
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "g1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192, GPUs: 3, GPUTypes: "a100:2,h200:1"}}, nil)
	ok := []api.Resources{
		{GPUs: 1, GPUTypes: "h200:1"},
		{GPUs: 3, GPUTypes: "a100:2,h200:1"},
		{GPUs: 3},
		{GPUs: 2, GPUTypes: "a100:1"}, // one a100 and one of any type
	}
	for _, r := range ok {
		if status, e := tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Command: []string{"true"}, Resources: r}}, nil); status != http.StatusOK {
			t.Errorf("submit %+v: HTTP %d %s, want it taken", r, status, e.Message)
		}
	}
	for _, c := range []struct {
		r    api.Resources
		code string
		want []string
	}{
		{api.Resources{GPUs: 1, GPUTypes: "v100:1"}, api.CodeUnsatisfiable, []string{"v100:1", "gpu:a100:2,gpu:h200:1"}},
		{api.Resources{GPUs: 2, GPUTypes: "h200:2"}, api.CodeUnsatisfiable, []string{"h200:2", "gpu:a100:2,gpu:h200:1"}},
		{api.Resources{GPUs: 0, GPUTypes: "h200:1"}, api.CodeInvalid, []string{"gpus=0", "at least 1"}},
	} {
		status, e := tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Command: []string{"true"}, Resources: c.r}}, nil)
		if status == http.StatusOK || e.Code != c.code {
			t.Errorf("submit %+v: HTTP %d %s %q, want refused with %s", c.r, status, e.Code, e.Message, c.code)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(e.Message, w) {
				t.Errorf("submit %+v: message %q, want it to name %q", c.r, e.Message, w)
			}
		}
	}
}
