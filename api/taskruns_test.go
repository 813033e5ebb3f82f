package api

import "testing"

// TestSameOutsideTaskRunFields: two tasks that differ only in the
// fields a run may differ in have the same bytes outside them; a
// difference in any other field (a name, a nested field of the spec, a
// time) is seen.
func TestSameOutsideTaskRunFields(t *testing.T) {
	base := Job{ID: 7, JobSpec: JobSpec{Name: "sweep", Priority: 9, Resources: Resources{CPUs: 2}},
		Array: &ArrayTask{JobID: 7, Index: 0}, EstimatedStartAt: 5, CreatedAt: 100}
	other := base
	other.ID, other.Priority, other.EstimatedStartAt = 8, 8, 6
	other.Array = &ArrayTask{JobID: 7, Index: 1}
	if !SameOutsideTaskRunFields(&base, &other) {
		t.Error("tasks that differ in id, array, priority and estimated start: not the same bytes")
	}
	for name, change := range map[string]func(*Job){
		"name":      func(j *Job) { j.Name = "other" },
		"cpus":      func(j *Job) { j.Resources.CPUs = 3 },
		"nice":      func(j *Job) { j.Nice = 1 },
		"createdAt": func(j *Job) { j.CreatedAt = 101 },
		"status":    func(j *Job) { j.State = StateRunnable },
	} {
		changed := other
		change(&changed)
		if SameOutsideTaskRunFields(&base, &changed) {
			t.Errorf("a different %s: the same bytes", name)
		}
	}
}
