package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestCronSpecBounds: every field of a cron spec that holds a user's
// data is bounded as a submit's would be, whether or not a definition
// makes the job (what the spec holds is stored either way); parameters
// without a definition, which no firing would use, are refused.
func TestCronSpecBounds(t *testing.T) {
	c := startCron(t, newFakeClock(at("2026-12-04T10:00:30Z")))
	ctx := context.Background()
	def := api.JobDefinition{Name: "echo", Type: "script", ContainerProperties: &api.ContainerProperties{Command: []string{"echo", "Ref::p0"}}}
	if _, err := c.registerJobDef(ctx, root, api.AWSRegisterJobDefinitionRequest{JobDefinition: def}); err != nil {
		t.Fatalf("register definition: %v", err)
	}
	alice := caller{uid: 4250, gid: 4250, known: true}
	cmd := api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"date"}}}
	tags := map[string]string{}
	for i := range MaxTags + 1 {
		tags[fmt.Sprint("t", i)] = "v"
	}
	for i, tc := range []struct {
		name  string
		spec  api.CronSpec
		field string
		words string
	}{
		{"10 MB of parameters, no definition", api.CronSpec{Job: cmd, Parameters: map[string]string{"p": strings.Repeat("x", 10<<20)}}, "parameters", "it has none"},
		{"a parameter, no definition", api.CronSpec{Job: cmd, Parameters: map[string]string{"p": "x"}}, "parameters", "it has none"},
		{"a parameter over 128 KiB", api.CronSpec{Definition: "echo", Parameters: map[string]string{"p0": strings.Repeat("x", MaxStringBytes+1)}}, "parameters", "values"},
		{"a 5 MiB script beside a definition", api.CronSpec{Definition: "echo", Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Script: strings.Repeat("#", 5<<20)}}}, "script", "max_script_size"},
		{"51 tags beside a definition", api.CronSpec{Definition: "echo", Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Tags: tags}}}, "tags", "51 tags"},
		{"an environment with a NUL beside a definition", api.CronSpec{Definition: "echo", Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Env: map[string]string{"A": "x\x00"}}}}, "environment", "NUL"},
		{"an expression padded to 2000 bytes", api.CronSpec{Job: cmd, Schedule: "0 3 * * *" + strings.Repeat(" ", 2000)}, "schedule", "at most 1024"},
		{"a 2000-byte definition name", api.CronSpec{Definition: strings.Repeat("d", 2000)}, "definition", "at most 1024"},
	} {
		spec := tc.spec
		spec.Name = fmt.Sprint("s", i) // its own name: one accepted does not refuse the next
		if spec.Schedule == "" {
			spec.Schedule = "0 3 * * *"
		}
		_, err := c.cronPut(ctx, alice, api.CronPutRequest{Spec: spec})
		var e *api.Error
		switch {
		case err == nil:
			t.Errorf("%s: accepted, want it refused", tc.name)
		case !errors.As(err, &e) || e.Field != tc.field || !strings.Contains(e.Message, tc.words):
			t.Errorf("%s: %v (field %q), want field %q and %q", tc.name, clip(err.Error()), e.Field, tc.field, tc.words)
		}
	}
	if n := len(c.fsm.State().CronSchedules(alice.uid, false)); n != 0 {
		t.Fatalf("alice has %d schedules after the refusals, want none", n)
	}

	// The parameters of a definition's schedule count toward the 16 MiB:
	// sixteen schedules of a million bytes fit, a seventeenth does not.
	params := map[string]string{}
	for i := range 8 {
		params[fmt.Sprint("p", i)] = strings.Repeat("x", 125_000)
	}
	put := func(i int) error {
		_, err := c.cronPut(ctx, alice, api.CronPutRequest{Spec: api.CronSpec{Name: fmt.Sprint("d", i), Schedule: "0 0 1 1 *", Definition: "echo", Parameters: params}})
		return err
	}
	for i := range 16 {
		if err := put(i); err != nil {
			t.Fatalf("schedule %d with 1 MB of parameters: %v", i, clip(err.Error()))
		}
	}
	if err := put(16); !api.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "would have 17 cron schedules") {
		t.Errorf("a seventeenth schedule with 1 MB of parameters: %v, want it refused for the 16 MiB", err)
	}
	if n := len(c.fsm.State().CronSchedules(alice.uid, false)); n != 16 {
		t.Errorf("alice has %d schedules, want 16", n)
	}
}
