package bench

import (
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// BenchmarkSchedulePassMultifactor times the pass of BenchmarkSchedulePass
// (100,000 pending × 1,000 nodes) with multifactor priority on (age, fair
// share, job size, queue and QOS weighted; the jobs' user in an account
// of the registry, with usage; fair share classic or fair tree) and off
// (priority/basic): the cost of computing every waiting job's priority
// each pass.
func BenchmarkSchedulePassMultifactor(b *testing.B) {
	fsm, now := buildSchedState(b, 100_000, 1_000, false)
	res, _ := fsm.Apply(1<<40, mustEncode(b, raftfsm.OpAcctAdd, raftfsm.AcctChangeCmd{Change: api.AccountsChange{
		Accounts: []api.Account{{Name: "root"}, {Name: "lab", Parent: "root"}},
		Users:    []api.AcctUser{{Name: "bench", DefaultAccount: "lab"}},
		Associations: []api.Association{{Account: "root", Shares: 1}, {Account: "lab", Shares: 1},
			{Account: "lab", User: "bench", Shares: 1}},
		QOS: []api.QOS{{Name: "normal", Priority: 10}},
	}})).(raftfsm.Result)
	if res.Err != nil {
		b.Fatal(res.Err)
	}
	st := fsm.State()
	var loop loopPasses
	for _, name := range []string{"basic", "multifactor", "multifactor-fairtree"} {
		opts := sched.Options{}
		if name != "basic" {
			opts.Priority = sched.PriorityConfig{WeightAge: 1000, WeightFairShare: 10000, WeightJobSize: 1000, WeightPartition: 1000, WeightQOS: 1000,
				FairTree: name == "multifactor-fairtree"}
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				times, _ := loop.five(st, now, opts)
				b.ReportMetric(ms(times[2]), "ms/pass")
				figure(b, "sched pass 100k x 1000 %s: %.1f ms (median of 5)", name, ms(times[2]))
			}
		})
	}
}

func mustEncode(b *testing.B, op raftfsm.Op, body any) []byte {
	e, err := raftfsm.Encode(op, body)
	if err != nil {
		b.Fatal(fmt.Errorf("encode: %w", err))
	}
	return e
}
