package daemon

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestListFieldAttemptsDropped: the count of a job's dropped attempts is
// a list field (squeue's Restarts needs it with the attempts kept),
// written directly as reflection writes it, left out when 0, and a
// plain column of the row form.
func TestListFieldAttemptsDropped(t *testing.T) {
	p, err := newProjection([]string{"attempt", "attemptsDropped"})
	if err != nil {
		t.Fatal(err)
	}
	if p[2].direct == nil {
		t.Errorf("attemptsDropped has no direct encoder")
	}
	slow := append(projection(nil), p...)
	for i := range slow {
		slow[i].direct = nil
	}
	for _, c := range []struct {
		j    api.Job
		want string
	}{
		{api.Job{ID: 1, Attempt: 105, AttemptsDropped: 5}, `{"jobId":1,"attempt":105,"attemptsDropped":5}`},
		{api.Job{ID: 2, Attempt: 3}, `{"jobId":2,"attempt":3}`},
	} {
		got, err := p.appendJob(nil, &c.j)
		want, _ := slow.appendJob(nil, &c.j)
		if err != nil || string(got) != c.want || string(want) != c.want {
			t.Errorf("job %d: direct %s (%v), reflection %s; want %s", c.j.ID, got, err, want, c.want)
		}
	}
	if col := rowColOf(&p[2]); col.kind != reflect.Int {
		t.Errorf("attemptsDropped in rows: column of kind %v, want a plain int", col.kind)
	}
}
