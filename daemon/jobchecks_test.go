package daemon

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// The controller itself bounds an array submitted through the API, as
// slurmctld does (sbatch checks nothing of it): an index past
// MaxArraySize-1 (Slurm's MaxArraySize, which scontrol show config prints)
// and a %N throttle past what slurmctld reads (a C int: 4294967296 was
// stored and shown as such) are refused with the field "array" (sbatch's
// "Invalid job array specification"), saying what is allowed, and nothing
// is stored; the largest index and throttle are taken.
func TestArrayBoundsAtController(t *testing.T) {
	tc := startTestController(t, false)
	held := api.JobSpec{Name: "sweep", Command: []string{"true"}, Held: true}
	for _, tc2 := range []struct {
		name       string
		indexes    []int
		maxRunning int
		want       []string
	}{
		{"throttle past 32 bits", seqInts(0, 10), 4294967296, []string{"throttle 4294967296 is too large", "0 (no limit) to 2147483647"}},
		{"throttle past a C int", seqInts(0, 10), 2147483648, []string{"throttle 2147483648 is too large"}},
		{"index MaxArraySize", []int{0, slurmMaxArraySize}, 0, []string{"index 100001 is too large", "0 to 100000", "MaxArraySize=100001"}},
		{"index far past", []int{5000000}, 0, []string{"index 5000000 is too large"}},
	} {
		var resp api.SubmitJobResponse
		status, e := tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: held, ArrayIndexes: tc2.indexes, ArrayMaxRunning: tc2.maxRunning}, &resp)
		if status != http.StatusBadRequest || e.Field != "array" {
			t.Errorf("%s: HTTP %d %+v (job %d); want 400 with field array", tc2.name, status, e, resp.ID)
			continue
		}
		for _, w := range tc2.want {
			if !strings.Contains(e.Message, w) {
				t.Errorf("%s: %q; want it to say %q", tc2.name, e.Message, w)
			}
		}
	}
	// Nothing was stored: the first job accepted gets id 1.
	var resp api.SubmitJobResponse
	tc.mustCall(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: held, ArrayIndexes: []int{1, arrayMaxIndex}, ArrayMaxRunning: arrayMaxThrottle}, &resp)
	if resp.ID != 1 {
		t.Errorf("the first array accepted is job %d; want 1 (nothing stored before)", resp.ID)
	}
	if slurmMaxArraySize != arrayMaxIndex+1 || arrayMaxTasks != MaxArraySize || MaxArraySize != 100_000 {
		t.Errorf("bounds: MaxArraySize (Slurm's) %d, largest index %d, tasks %d; want 100001, 100000, 100000", slurmMaxArraySize, arrayMaxIndex, MaxArraySize)
	}
}
