package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/sched"
)

// priorityFlags are the controller's multifactor priority settings,
// Slurm's PriorityWeight*, PriorityMaxAge, PriorityFavorSmall,
// PriorityDecayHalfLife and TRESBillingWeights.
func priorityFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.Int64Flag{Name: "priority-weight-age", Usage: "controller: multifactor priority: weight of how long a job has waited (Slurm's PriorityWeightAge); all weights 0 (the default) is priority/basic"},
		&ucli.Int64Flag{Name: "priority-weight-fairshare", Usage: "controller: multifactor priority: weight of the fair-share factor (PriorityWeightFairshare)"},
		&ucli.Int64Flag{Name: "priority-weight-jobsize", Usage: "controller: multifactor priority: weight of the job-size factor (PriorityWeightJobSize)"},
		&ucli.Int64Flag{Name: "priority-weight-partition", Usage: "controller: multifactor priority: weight of the queue's priority (PriorityWeightPartition)"},
		&ucli.Int64Flag{Name: "priority-weight-qos", Usage: "controller: multifactor priority: weight of the QOS priority (PriorityWeightQOS)"},
		&ucli.DurationFlag{Name: "priority-max-age", Value: time.Duration(sched.DefaultMaxAge) * time.Second, Usage: "controller: a job that waited this long has the whole age factor (PriorityMaxAge)"},
		&ucli.BoolFlag{Name: "priority-favor-small", Usage: "controller: the job-size factor favours small jobs (PriorityFavorSmall)"},
		&ucli.DurationFlag{Name: "priority-decay-half-life", Value: 7 * 24 * time.Hour, Usage: "controller: fair-share usage halves over this time (PriorityDecayHalfLife); 0: no decay"},
		&ucli.DurationFlag{Name: "priority-calc-period", Value: time.Duration(sched.DefaultCalcPeriod) * time.Second, Usage: "controller: how often running jobs are charged their fair-share usage so far (PriorityCalcPeriod)"},
		&ucli.StringFlag{Name: "priority-flags", Value: "FAIR_TREE", Usage: "controller: FAIR_TREE (Slurm's default: users ranked down the account tree by level fair share) or NO_FAIR_TREE (the classic fair-share algorithm) (PriorityFlags)"},
		&ucli.StringFlag{Name: "tres-billing-weights", Usage: "controller: what a second of a job costs in fair-share usage: CPU=W,Mem=WG,GRES/gpu=W (TRESBillingWeights; Mem per GiB); default CPU=1"},
	}
}

// priorityConfig reads the flags.
func priorityConfig(c *ucli.Context) (sched.PriorityConfig, error) {
	p := sched.PriorityConfig{
		WeightAge: c.Int64("priority-weight-age"), WeightFairShare: c.Int64("priority-weight-fairshare"),
		WeightJobSize: c.Int64("priority-weight-jobsize"), WeightPartition: c.Int64("priority-weight-partition"),
		WeightQOS: c.Int64("priority-weight-qos"), MaxAge: int64(c.Duration("priority-max-age") / time.Second),
		FavorSmall: c.Bool("priority-favor-small"),
	}
	for name, v := range map[string]int64{"age": p.WeightAge, "fairshare": p.WeightFairShare, "jobsize": p.WeightJobSize,
		"partition": p.WeightPartition, "qos": p.WeightQOS} {
		if v < 0 || v > 0xffffffff {
			return p, fmt.Errorf("-priority-weight-%s %d: give 0 to 4294967295", name, v)
		}
	}
	if p.MaxAge < 1 {
		return p, fmt.Errorf("-priority-max-age %s: give at least 1s, e.g. 7d as 168h", c.Duration("priority-max-age"))
	}
	switch hl := c.Duration("priority-decay-half-life"); {
	case hl < 0:
		return p, fmt.Errorf("-priority-decay-half-life %s must not be negative", hl)
	case hl == 0:
		p.DecayHalfLife = -1 // no decay
	default:
		p.DecayHalfLife = max(1, int64(hl/time.Second))
	}
	cp := c.Duration("priority-calc-period")
	if cp < time.Second {
		return p, fmt.Errorf("-priority-calc-period %s: give at least 1s, e.g. 5m (Slurm's default)", cp)
	}
	p.CalcPeriod = int64(cp / time.Second)
	fairTree, err := parsePriorityFlags(c.String("priority-flags"))
	if err != nil {
		return p, fmt.Errorf("-priority-flags: %w", err)
	}
	p.FairTree = fairTree
	if s := c.String("tres-billing-weights"); s != "" {
		b, err := parseBillingWeights(s)
		if err != nil {
			return p, fmt.Errorf("-tres-billing-weights: %w", err)
		}
		p.Billing = b
	}
	return p, nil
}

// parseBillingWeights reads Slurm's TRESBillingWeights: CPU=1.0,Mem=0.25G,GRES/gpu=2.0.
func parseBillingWeights(s string) (*sched.BillingWeights, error) {
	b := &sched.BillingWeights{}
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("%q: give NAME=WEIGHT (CPU, Mem, GRES/gpu)", item)
		}
		scale := 1.0
		if strings.EqualFold(k, "mem") {
			switch {
			case strings.HasSuffix(strings.ToUpper(v), "G"):
				v = v[:len(v)-1]
			case strings.HasSuffix(strings.ToUpper(v), "M"):
				v, scale = v[:len(v)-1], 1024
			case strings.HasSuffix(strings.ToUpper(v), "T"):
				v, scale = v[:len(v)-1], 1.0/1024
			default:
				scale = 1024 // Slurm's default unit for Mem is MB
			}
		}
		w, err := strconv.ParseFloat(v, 64)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("%q: the weight must be a number of at least 0", item)
		}
		switch strings.ToLower(k) {
		case "cpu":
			b.CPU = w
		case "mem":
			b.MemGB = w * scale
		case "gres/gpu":
			b.GPU = w
		default:
			return nil, fmt.Errorf("%q: shoal bills CPU, Mem and GRES/gpu", item)
		}
	}
	return b, nil
}

// parsePriorityFlags reads Slurm's PriorityFlags, of which shoal knows
// the fair-share algorithm's: FAIR_TREE (the default, as Slurm's since
// 19.05) or NO_FAIR_TREE (classic). It reports whether fair tree is on.
func parsePriorityFlags(s string) (bool, error) {
	fairTree := true
	for _, f := range strings.Split(s, ",") {
		switch strings.ToUpper(strings.TrimSpace(f)) {
		case "", "FAIR_TREE":
		case "NO_FAIR_TREE":
			fairTree = false
		default:
			return false, fmt.Errorf("%q: shoal knows FAIR_TREE (the default) and NO_FAIR_TREE", f)
		}
	}
	return fairTree, nil
}
