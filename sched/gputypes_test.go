package sched_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// typed asks for n GPUs of type t (Slurm's --gres=gpu:t:n).
func typed(j *api.Job, t string, n int) *api.Job {
	j.Resources.GPUs += n
	j.Resources.GPUTypes = j.Resources.GPUTypes.Add(api.MakeGPUCounts(map[string]int{t: n}))
	return j
}

// gpuNode is an UP node whose GPUs are of the types in counts.
func gpuNode(name string, counts map[string]int) *api.Node {
	c := api.MakeGPUCounts(counts)
	n := node(name, 64, 1<<20, c.Total())
	n.Capacity.GPUTypes = c
	return n
}

// TestScheduleGPUTypes: a job that asks for a GPU type runs only where that
// type is free; on a node of several types, typed and untyped jobs are
// placed only while every order of starting them leaves each typed job
// its type.
func TestScheduleGPUTypes(t *testing.T) {
	tests := []struct {
		name  string
		jobs  []*api.Job
		nodes []*api.Node
		place []sched.Placement
		wait  int
	}{
		{
			name:  "the node of the type, not the first node",
			jobs:  []*api.Job{typed(job(1, 0, 1, 1, 0), "h200", 1)},
			nodes: []*api.Node{gpuNode("a", map[string]int{"a100": 4}), gpuNode("b", map[string]int{"h200": 1})},
			place: []sched.Placement{{JobID: 1, Node: "b"}},
		},
		{
			name:  "no node of the type: waits",
			jobs:  []*api.Job{typed(job(1, 0, 1, 1, 0), "v100", 1)},
			nodes: []*api.Node{gpuNode("a", map[string]int{"a100": 4}), node("b", 4, 4096, 2)},
			wait:  1,
		},
		{
			name: "typed jobs fill their type; untyped take any",
			jobs: []*api.Job{typed(job(1, 0, 1, 1, 0), "h200", 1), typed(job(2, 0, 1, 1, 0), "h200", 1),
				job(3, 0, 1, 1, 1)},
			nodes: []*api.Node{gpuNode("a", map[string]int{"a100": 1}), gpuNode("b", map[string]int{"h200": 1})},
			place: []sched.Placement{{JobID: 1, Node: "b"}, {JobID: 3, Node: "a"}},
			wait:  1,
		},
		{
			name:  "mixed node: both types at once",
			jobs:  []*api.Job{typed(job(1, 0, 1, 1, 0), "a100", 2), typed(job(2, 0, 1, 1, 0), "h200", 1)},
			nodes: []*api.Node{gpuNode("m", map[string]int{"a100": 2, "h200": 1})},
			place: []sched.Placement{{JobID: 1, Node: "m"}, {JobID: 2, Node: "m"}},
		},
		{
			// The untyped job could be started first and take the h200.
			name:  "mixed node: untyped after a typed job of the scarce type waits",
			jobs:  []*api.Job{typed(job(1, 0, 1, 1, 0), "h200", 1), job(2, 0, 1, 1, 1)},
			nodes: []*api.Node{gpuNode("m", map[string]int{"a100": 2, "h200": 1})},
			place: []sched.Placement{{JobID: 1, Node: "m"}},
			wait:  1,
		},
		{
			name:  "mixed node: typed of the plentiful type beside untyped",
			jobs:  []*api.Job{job(1, 0, 1, 1, 1), typed(job(2, 0, 1, 1, 0), "a100", 1)},
			nodes: []*api.Node{gpuNode("m", map[string]int{"a100": 2, "h200": 1})},
			place: []sched.Placement{{JobID: 1, Node: "m"}, {JobID: 2, Node: "m"}},
		},
		{
			name: "running typed jobs count",
			jobs: []*api.Job{typed(job(1, 0, 1, 1, 0), "h200", 1)},
			nodes: []*api.Node{allocated(gpuNode("a", map[string]int{"h200": 1}), api.Resources{CPUs: 1, GPUs: 1, GPUTypes: "h200:1"}),
				gpuNode("b", map[string]int{"h200": 2})},
			place: []sched.Placement{{JobID: 1, Node: "b"}},
		},
		{
			name:  "MIG instances are types of their own",
			jobs:  []*api.Job{typed(job(1, 0, 1, 1, 0), "3g.71gb", 1), typed(job(2, 0, 1, 1, 0), "1g.18gb", 2), typed(job(3, 0, 1, 1, 0), "1g.18gb", 3)},
			nodes: []*api.Node{gpuNode("m", map[string]int{"1g.18gb": 4, "3g.71gb": 1})},
			place: []sched.Placement{{JobID: 1, Node: "m"}, {JobID: 2, Node: "m"}},
			wait:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &fakeSnap{jobs: tt.jobs, nodes: tt.nodes}
			plan := schedule(snap)
			got := []sched.Placement{}
			for _, p := range plan.Placements {
				got = append(got, sched.Placement{JobID: p.JobID, Node: p.Node})
			}
			want := tt.place
			if want == nil {
				want = []sched.Placement{}
			}
			if !reflect.DeepEqual(got, want) || plan.Waiting != tt.wait {
				t.Errorf("got placements %v waiting %d, want %v waiting %d", got, plan.Waiting, want, tt.wait)
			}
			checkPlan(t, snap, plan)
		})
	}
}
