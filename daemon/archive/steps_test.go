package archive_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestArchivedJobKeepsSteps: a job leaves the live state with its steps,
// and sacct reads them back from the archive (both kinds).
func TestArchivedJobKeepsSteps(t *testing.T) {
	for name, openArchive := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := openArchive(t)
			j := job(9, "ann", "", api.StateSucceeded, 1, 5)
			j.Steps = []api.Step{
				{ID: 0, Name: "sleep", State: api.StepCancelled, NTasks: 1, CPUs: 1, StartedAt: 2, EndedAt: 3, ExitSignal: 9, CancelRequested: true},
				{ID: 1, Name: "hostname", State: api.StepCompleted, NTasks: 2, CPUs: 2, StartedAt: 3, EndedAt: 4, SrunHost: "n1", SrunPID: 12},
			}
			j.NextStep = 2
			if err := s.Put([]*api.Job{j}); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := s.Get(9)
			if err != nil || got == nil {
				t.Fatalf("Get(9) = %v, %v", got, err)
			}
			if !reflect.DeepEqual(got.Steps, j.Steps) || got.NextStep != 2 {
				t.Errorf("archived steps %+v (next %d), want %+v (next 2)", got.Steps, got.NextStep, j.Steps)
			}
		})
	}
}
