package daemon

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSameBytesIgnoresOnlyTheIgnored: two tasks that differ only in the
// fields a run may differ in have the same bytes outside them; a
// difference in any other field (a name, a nested field of the spec, a
// time) is seen.
func TestSameBytesIgnoresOnlyTheIgnored(t *testing.T) {
	base := api.Job{ID: 7, JobSpec: api.JobSpec{Name: "sweep", Priority: 9, Resources: api.Resources{CPUs: 2}},
		Array: &api.ArrayTask{JobID: 7, Index: 0}, EstimatedStartAt: 5, CreatedAt: 100}
	other := base
	other.ID, other.Priority, other.EstimatedStartAt = 8, 8, 6
	other.Array = &api.ArrayTask{JobID: 7, Index: 1}
	if !sameBytes(&base, &other) {
		t.Error("tasks that differ in id, array, priority and estimated start: not the same bytes")
	}
	for name, change := range map[string]func(*api.Job){
		"name":      func(j *api.Job) { j.Name = "other" },
		"cpus":      func(j *api.Job) { j.Resources.CPUs = 3 },
		"nice":      func(j *api.Job) { j.Nice = 1 },
		"createdAt": func(j *api.Job) { j.CreatedAt = 101 },
		"status":    func(j *api.Job) { j.State = api.StateRunnable },
	} {
		changed := other
		change(&changed)
		if sameBytes(&base, &changed) {
			t.Errorf("a different %s: the same bytes", name)
		}
	}
}
