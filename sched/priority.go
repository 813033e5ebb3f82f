package sched

import (
	"math"

	"github.com/shoal-batch/shoal/api"
)

// PriorityConfig is Slurm's priority/multifactor configuration
// (PriorityWeightAge, PriorityWeightFairshare, PriorityWeightJobSize,
// PriorityWeightPartition, PriorityWeightQOS, PriorityMaxAge,
// PriorityFavorSmall). All weights 0, the default, is priority/basic:
// jobs keep the priority they were given at submit (one less per job).
type PriorityConfig struct {
	WeightAge       int64
	WeightFairShare int64
	WeightJobSize   int64
	WeightPartition int64
	WeightQOS       int64
	// MaxAge (seconds) is the wait after which the age factor is 1
	// (0: DefaultMaxAge).
	MaxAge     int64
	FavorSmall bool
	// DecayHalfLife (seconds; 0: 7 days, negative: no decay) and Billing
	// (nil: CPUs alone) are how the controller charges usage as jobs end
	// (raftfsm.PrioritySettings, committed by the leader).
	DecayHalfLife int64
	Billing       *BillingWeights
	// CalcPeriod (seconds; 0: DefaultCalcPeriod) is how often the
	// controller charges running jobs their usage so far (Slurm's
	// PriorityCalcPeriod).
	CalcPeriod int64
	// FairTree computes fair share with Slurm's fair-tree algorithm
	// (fairtree.go; PriorityFlags without NO_FAIR_TREE), else the classic
	// one (FairShares). The agent's default is fair tree, as Slurm's.
	FairTree bool
}

// DefaultCalcPeriod is Slurm's PriorityCalcPeriod default, 5 minutes.
const DefaultCalcPeriod int64 = 300

// CalcPeriodSeconds is CalcPeriod, or its default.
func (c PriorityConfig) CalcPeriodSeconds() int64 {
	if c.CalcPeriod <= 0 {
		return DefaultCalcPeriod
	}
	return c.CalcPeriod
}

// BillingWeights weigh a job's resources into usage per second (Slurm's
// TRESBillingWeights: CPU, Mem per GiB, GRES/gpu).
type BillingWeights struct {
	CPU, MemGB, GPU float64
}

// DefaultMaxAge is Slurm's PriorityMaxAge default, 7 days.
const DefaultMaxAge int64 = 7 * 24 * 3600

// Multifactor reports whether any weight is set.
func (c PriorityConfig) Multifactor() bool {
	return c.WeightAge > 0 || c.WeightFairShare > 0 || c.WeightJobSize > 0 || c.WeightPartition > 0 || c.WeightQOS > 0
}

// Weights are the weights as the API reports them.
func (c PriorityConfig) Weights() api.PriorityWeights {
	return api.PriorityWeights{Age: c.WeightAge, FairShare: c.WeightFairShare, JobSize: c.WeightJobSize,
		Partition: c.WeightPartition, QOS: c.WeightQOS}
}

// Factors are a job's priority factors, each from 0 to 1, and the
// priority they make: the weighted sum, less the job's nice, at least 1
// (Slurm's priority_multifactor). A job whose priority was set by hand
// (Fixed) keeps it.
type Factors struct {
	Age, FairShare, JobSize, Partition, QOS float64
	Nice                                    int64
	Priority                                int64
	Fixed                                   bool
}

// Priorities computes the multifactor priorities of a snapshot's jobs at
// now: what the scheduler orders by, and what sprio shows.
type Priorities struct {
	cfg       PriorityConfig
	now       int64
	maxQueue  int
	queues    map[string]int // queue priority, by name
	qos       map[string]int64
	maxQOS    int64
	users     map[string]string // user -> default account
	fairShare map[shareKey]float64
	cpus      int64
	nodes     int
}

// NewPriorities reads what the factors need from snap once.
func NewPriorities(snap Snapshot, now int64, cfg PriorityConfig) *Priorities {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	p := &Priorities{cfg: cfg, now: now, queues: map[string]int{}, qos: map[string]int64{}, users: map[string]string{}, fairShare: map[shareKey]float64{}}
	if qs, ok := snap.(QueuesSnapshot); ok {
		for _, q := range qs.Queues() {
			p.queues[q.Name] = q.Priority
			p.maxQueue = max(p.maxQueue, q.Priority)
		}
	}
	for _, n := range snap.Nodes() {
		p.cpus += int64(n.Capacity.CPUs)
		p.nodes++
	}
	if as, ok := snap.(AccountsSnapshot); ok {
		reg := as.Accounts()
		for _, q := range reg.QOS {
			p.qos[q.Name] = q.Priority
			p.maxQOS = max(p.maxQOS, q.Priority)
		}
		for _, u := range reg.Users {
			p.users[u.Name] = u.DefaultAccount
		}
		if cfg.WeightFairShare > 0 {
			for _, r := range Shares(reg, as.PrioritySettings(), now, cfg.FairTree) {
				if r.User != "" {
					p.fairShare[shareKey{r.Account, r.User}] = r.FairShare
				}
			}
		}
	}
	return p
}

// Account is the account j counts against: its own, else its user's
// default.
func (p *Priorities) Account(j *Job) string {
	if j.Account != "" {
		return j.Account
	}
	return p.users[j.User]
}

// Of returns j's factors and priority.
func (p *Priorities) Of(j *Job) Factors {
	f := Factors{Nice: j.Nice}
	if j.PriorityFixed {
		f.Fixed, f.Priority = true, j.Priority
		return f
	}
	c := p.cfg
	if c.WeightAge > 0 {
		since := j.RunnableAt
		if j.BeginAt > since {
			since = j.BeginAt
		}
		if since == 0 {
			since = j.CreatedAt
		}
		if waited := (p.now - since) / 1000; waited > 0 {
			f.Age = math.Min(1, float64(waited)/float64(c.MaxAge))
		}
	}
	if c.WeightFairShare > 0 {
		fs, ok := p.fairShare[shareKey{p.Account(j), j.User}]
		if !ok {
			fs = 1 // no registry, or an association without usage data
			if len(p.fairShare) > 0 {
				fs = 0 // a job outside the registry's tree has no share
			}
		}
		f.FairShare = fs
	}
	if c.WeightJobSize > 0 && p.nodes > 0 && p.cpus > 0 {
		nodes, cpus := 1.0, float64(j.Resources.CPUs)
		if c.FavorSmall {
			f.JobSize = ((float64(p.nodes)-nodes)/float64(p.nodes) + (float64(p.cpus)-cpus)/float64(p.cpus)) / 2
		} else {
			f.JobSize = (nodes/float64(p.nodes) + cpus/float64(p.cpus)) / 2
		}
		f.JobSize = math.Max(0, math.Min(1, f.JobSize))
	}
	if c.WeightPartition > 0 && p.maxQueue > 0 {
		if q, ok := p.queues[j.Queue]; ok && q > 0 {
			f.Partition = float64(q) / float64(p.maxQueue)
		}
	}
	if c.WeightQOS > 0 && p.maxQOS > 0 {
		if q := p.qos[p.qos2(j)]; q > 0 {
			f.QOS = float64(q) / float64(p.maxQOS)
		}
	}
	prio := f.Age*float64(c.WeightAge) + f.FairShare*float64(c.WeightFairShare) + f.JobSize*float64(c.WeightJobSize) +
		f.Partition*float64(c.WeightPartition) + f.QOS*float64(c.WeightQOS) - float64(j.Nice)
	f.Priority = int64(math.Max(1, math.Min(prio, 0xffffffff)))
	return f
}

// qos2 is j's QOS: its own, else normal.
func (p *Priorities) qos2(j *Job) string {
	if j.QOS != "" {
		return j.QOS
	}
	return api.NormalQOS
}

// Weighted returns f's factors times the weights, as sprio prints them.
func (p *Priorities) Weighted(f Factors) (age, fs, js, part, qos float64) {
	c := p.cfg
	return f.Age * float64(c.WeightAge), f.FairShare * float64(c.WeightFairShare), f.JobSize * float64(c.WeightJobSize),
		f.Partition * float64(c.WeightPartition), f.QOS * float64(c.WeightQOS)
}
