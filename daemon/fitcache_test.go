package daemon

import (
	"net/http"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// What a submit remembers about which jobs fit holds only until the nodes
// change: a node that comes back smaller refuses the next job it no longer
// holds, though an alike job fitted a moment before.
func TestMemFitsForgottenWhenNodesChange(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1") // 4 CPUs
	big := heldJob
	big.Resources.CPUs = 4
	mc.submit(alice, big)
	mc.submit(alice, big) // remembered

	mc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "n1-smaller", Capacity: api.Resources{CPUs: 2, MemoryMB: 4096}}, nil)
	status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: big}, nil)
	if status == http.StatusOK || e.Code != api.CodeUnsatisfiable {
		t.Fatalf("4 CPUs once the only node has 2: HTTP %d %s (%s); want %s", status, e.Code, e.Message, api.CodeUnsatisfiable)
	}
	small := heldJob
	small.Resources.CPUs = 2
	mc.submit(alice, small)
}
