package daemon

import (
	"context"
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// The account registry's API (sacctmgr, sshare, sprio), the check of a
// job's account at submit, and the leader's priority settings.
//
// Enforcement starts with the first account: while the registry is
// empty a job's account is a free label, as it was before shoal had a
// registry, so that existing sites and their scripts keep working. Once
// a site adds an account, it is Slurm's AccountingStorageEnforce=
// associations: a job's account defaults to its user's default account,
// and an account the user has no association with is refused.

// listAccounts answers the registry to any user (sacctmgr show is open
// to all in Slurm too).
func (c *Controller) listAccounts(_ context.Context, _ caller, _ api.AccountsRequest) (api.AccountsState, error) {
	return c.fsm.State().Accounts(), nil
}

// addAccounts stores new registry records (operators only: the route
// says so). The first account a site adds brings the tree's top with it:
// account root, user root in it (an Administrator), and QOS normal, as
// slurmdbd makes them with a cluster.
func (c *Controller) addAccounts(ctx context.Context, _ caller, ch api.AccountsChange) (struct{}, error) {
	if ch.Empty() {
		return struct{}{}, api.Errorf(api.CodeInvalid, "nothing to add: give accounts, users, associations or qos")
	}
	state := c.fsm.State()
	if !state.HasAccounts() && (len(ch.Accounts) > 0 || len(ch.Users) > 0 || len(ch.Associations) > 0) {
		ch = withRoot(ch, state.QOS(api.NormalQOS) == nil)
	}
	return struct{}{}, c.applyAcct(ctx, raftfsm.OpAcctAdd, ch)
}

// withRoot adds the tree's top to the first change of a registry.
func withRoot(ch api.AccountsChange, normal bool) api.AccountsChange {
	hasAcct := slices.ContainsFunc(ch.Accounts, func(a api.Account) bool { return a.Name == api.RootAccount })
	if !hasAcct {
		ch.Accounts = append([]api.Account{{Name: api.RootAccount, Description: "default root account", Organization: "root"}}, ch.Accounts...)
		ch.Associations = append([]api.Association{{Account: api.RootAccount, Shares: 1}}, ch.Associations...)
	}
	if !slices.ContainsFunc(ch.Users, func(u api.AcctUser) bool { return u.Name == "root" }) &&
		!slices.ContainsFunc(ch.Associations, func(a api.Association) bool { return a.User == "root" }) {
		ch.Users = append(ch.Users, api.AcctUser{Name: "root", DefaultAccount: api.RootAccount, AdminLevel: api.AdminAdmin})
		ch.Associations = append(ch.Associations, api.Association{Account: api.RootAccount, User: "root", Shares: 1})
	}
	if normal && !slices.ContainsFunc(ch.QOS, func(q api.QOS) bool { return q.Name == api.NormalQOS }) {
		ch.QOS = append(ch.QOS, api.QOS{Name: api.NormalQOS, Description: "Normal QOS default"})
	}
	return ch
}

// modifyAccounts replaces registry records whole (operators only).
func (c *Controller) modifyAccounts(ctx context.Context, _ caller, ch api.AccountsChange) (struct{}, error) {
	if ch.Empty() {
		return struct{}{}, api.Errorf(api.CodeInvalid, "nothing to modify")
	}
	return struct{}{}, c.applyAcct(ctx, raftfsm.OpAcctModify, ch)
}

// deleteAccounts removes registry records (operators only).
func (c *Controller) deleteAccounts(ctx context.Context, _ caller, ch api.AccountsChange) (struct{}, error) {
	if ch.Empty() {
		return struct{}{}, api.Errorf(api.CodeInvalid, "nothing to delete")
	}
	return struct{}{}, c.applyAcct(ctx, raftfsm.OpAcctDelete, ch)
}

// applyAcct checks a change against the state (a refusal never becomes a
// log entry), then commits it.
func (c *Controller) applyAcct(ctx context.Context, op raftfsm.Op, ch api.AccountsChange) error {
	cmd := raftfsm.AcctChangeCmd{Change: ch}
	if res := c.fsm.Check(op, cmd); res.Err != nil {
		return res.Err
	}
	_, err := c.applier.Apply(ctx, op, cmd)
	return err
}

// The state's views are what the scheduler's accounts-aware parts read.
var (
	_ sched.AccountsSnapshot = (*raftfsm.State)(nil)
	_ sched.QueuesSnapshot   = (*raftfsm.State)(nil)
)

// acctCheck checks the jobs of one submission against the registry:
// their accounts and the limits on what may be submitted. It counts the
// jobs each user has in each account once, and the jobs of the
// submission as it accepts them.
type acctCheck struct {
	state     *raftfsm.State
	submitted map[[2]string]int // (account, user) -> unfinished jobs
	counted   map[string]bool   // users counted
	qosCount  map[[2]string]int // (qos, user) -> unfinished jobs
}

func newAcctCheck(state *raftfsm.State) *acctCheck {
	return &acctCheck{state: state, submitted: map[[2]string]int{}, counted: map[string]bool{}, qosCount: map[[2]string]int{}}
}

// check gives j its user's default account when it names none and
// refuses an account the user has no association with, once the site has
// accounts (see above); a QOS must exist. Then the limits: MaxSubmitJobs
// (the association's, else the nearest account's above; QOS
// MaxSubmitPU), MaxWall (a job without a time limit gets it) and MaxTRES
// per job. tasks is how many jobs j stands for (an array's tasks each
// count, as in Slurm).
func (a *acctCheck) check(j *api.Job, tasks int) error {
	state := a.state
	if !state.HasAccounts() {
		return nil
	}
	refuse := func(why string) error {
		return api.Errorf(api.CodeInvalid, "%s (%s)", api.ErrInvalidAccount, why).WithField("account")
	}
	j.Account = strings.ToLower(j.Account)
	if j.Account == "" {
		u := state.AcctUser(j.User)
		if u == nil {
			return refuse("user " + j.User + " has no account: an operator adds one with `sacctmgr add user " + j.User + " account=NAME`")
		}
		j.Account = u.DefaultAccount
	}
	assoc := state.Association(j.Account, j.User)
	if assoc == nil {
		return refuse("user " + j.User + " may not use account " + j.Account + ": an operator adds it with `sacctmgr add user " + j.User + " account=" + j.Account + "`")
	}
	allowed, defaultQOS := a.qosOf(assoc)
	if j.QOS == "" {
		j.QOS = defaultQOS
	}
	var qos *api.QOS
	if j.QOS != "" {
		if qos = state.QOS(j.QOS); qos == nil {
			return api.Errorf(api.CodeInvalid, "Invalid qos specification (qos %s does not exist: `sacctmgr show qos` lists them)", j.QOS).WithField("qos")
		}
		if len(allowed) > 0 && !slices.Contains(allowed, qos.Name) {
			return api.Errorf(api.CodeInvalid, "Invalid qos specification (user %s may use qos %s in account %s, not %s: an operator adds it with `sacctmgr modify user %s set qos+=%s`)",
				j.User, strings.Join(allowed, ","), j.Account, qos.Name, j.User, qos.Name).WithField("qos")
		}
	} else {
		qos = state.QOS(api.NormalQOS)
	}
	policy := func(reason, format string, args ...any) error {
		return api.Errorf(api.CodeInvalid, "%s: "+format, append([]any{reason}, args...)...).WithField("policy")
	}
	lim := a.limits(assoc)
	if lim.MaxSubmitJobs != nil || (qos != nil && qos.MaxSubmitPU != nil) {
		a.count(j.User)
	}
	key := [2]string{j.Account, j.User}
	tasks = max(tasks, 1)
	if lim.MaxSubmitJobs != nil && int64(a.submitted[key]+tasks) > *lim.MaxSubmitJobs {
		return policy("AssocMaxSubmitJobLimit", "user %s has %d unfinished jobs in account %s, and %d more would pass its MaxSubmitJobs of %d",
			j.User, a.submitted[key], j.Account, tasks, *lim.MaxSubmitJobs)
	}
	qkey := [2]string{api.NormalQOS, j.User}
	if qos != nil {
		qkey[0] = qos.Name
		if qos.MaxSubmitPU != nil && int64(a.qosCount[qkey]+tasks) > *qos.MaxSubmitPU {
			return policy("QOSMaxSubmitJobPerUserLimit", "user %s has %d unfinished jobs of qos %s, and %d more would pass its MaxSubmitJobsPerUser of %d",
				j.User, a.qosCount[qkey], qos.Name, tasks, *qos.MaxSubmitPU)
		}
	}
	wall := lim.MaxWall
	if qos != nil && qos.MaxWall != nil && (wall == nil || *qos.MaxWall < *wall) {
		wall = qos.MaxWall
	}
	if wall != nil {
		switch {
		case j.TimeLimit == 0:
			j.TimeLimit = *wall * 60 // Slurm gives a job without a limit its MaxWall
		case j.TimeLimit > *wall*60:
			return policy("AssocMaxWallDurationPerJobLimit", "the time limit of %d s is over account %s's MaxWall of %d minutes", j.TimeLimit, j.Account, *wall)
		}
	}
	if lim.MaxTRES != "" {
		if cpus, mem, gpus, ok := sched.ParseTRES(lim.MaxTRES); ok {
			r := j.Resources
			switch {
			case cpus >= 0 && int64(r.CPUs) > cpus:
				return policy("AssocMaxCpuPerJobLimit", "%d CPUs is over MaxTRES cpu=%d", r.CPUs, cpus)
			case mem >= 0 && r.MemoryMB > mem:
				return policy("AssocMaxMemPerJobLimit", "%d MiB is over MaxTRES mem=%dM", r.MemoryMB, mem)
			case gpus >= 0 && int64(r.GPUs) > gpus:
				return policy("AssocMaxGRESPerJob", "%d GPUs is over MaxTRES gres/gpu=%d", r.GPUs, gpus)
			}
		}
	}
	a.submitted[key] += tasks
	a.qosCount[qkey] += tasks
	return nil
}

// count adds user's unfinished jobs to the counts, once.
func (a *acctCheck) count(user string) {
	if a.counted[user] {
		return
	}
	a.counted[user] = true
	a.state.JobsOfUser(user, func(o *api.Job) bool {
		if o.State.Terminal() {
			return true
		}
		a.submitted[[2]string{a.state.JobAccount(o), o.User}]++
		q := o.QOS
		if q == "" {
			q = api.NormalQOS
		}
		a.qosCount[[2]string{q, o.User}]++
		return true
	})
}

// limits are the limits that hold for an association: its own, each one
// it does not set taken from the nearest account above that does.
func (a *acctCheck) limits(assoc *api.Association) api.Limits {
	l := assoc.Limits
	acct := assoc.Account
	if assoc.User == "" {
		acct = a.parentOf(acct)
	}
	for i := 0; acct != "" && i < 64; i++ {
		up := a.state.Association(acct, "")
		if up == nil {
			break
		}
		if l.MaxSubmitJobs == nil {
			l.MaxSubmitJobs = up.MaxSubmitJobs
		}
		if l.MaxWall == nil {
			l.MaxWall = up.MaxWall
		}
		if l.MaxTRES == "" {
			l.MaxTRES = up.MaxTRES
		}
		acct = a.parentOf(acct)
	}
	return l
}

// qosOf is the QOS an association may use and its default QOS, each its
// own or the nearest account's above that sets it (Slurm's inheritance);
// allowed is empty where none sets a list (any QOS that exists).
func (a *acctCheck) qosOf(assoc *api.Association) (allowed []string, defaultQOS string) {
	allowed, defaultQOS = assoc.QOS, assoc.DefaultQOS
	acct := assoc.Account
	if assoc.User == "" {
		acct = a.parentOf(acct)
	}
	for i := 0; acct != "" && i < 64 && (len(allowed) == 0 || defaultQOS == ""); i++ {
		up := a.state.Association(acct, "")
		if up == nil {
			break
		}
		if len(allowed) == 0 {
			allowed = up.QOS
		}
		if defaultQOS == "" {
			defaultQOS = up.DefaultQOS
		}
		acct = a.parentOf(acct)
	}
	return allowed, defaultQOS
}

func (a *acctCheck) parentOf(acct string) string {
	if x := a.state.Account(acct); x != nil {
		return x.Parent
	}
	return ""
}

// shares answers sshare: the fair-share tree now; Users narrows the
// user rows.
func (c *Controller) shares(_ context.Context, _ caller, req api.SharesRequest) (api.SharesResponse, error) {
	state := c.fsm.State()
	fairTree := c.cfg.Sched.Priority.FairTree
	rows := sched.Shares(state.Accounts(), state.PrioritySettings(), c.nowMillis(), fairTree)
	out := api.SharesResponse{Rows: make([]api.ShareRow, 0, len(rows)), FairTree: fairTree}
	for _, r := range rows {
		if r.User != "" && len(req.Users) > 0 && !slices.Contains(req.Users, r.User) {
			continue
		}
		out.Rows = append(out.Rows, r)
	}
	return out, nil
}

// priorityFactors answers sprio: the factors of the waiting jobs the
// caller may see, computed as the scheduler computes them now.
func (c *Controller) priorityFactors(_ context.Context, who caller, req api.PriorityRequest) (api.PriorityResponse, error) {
	state := c.fsm.State()
	cfg := c.cfg.Sched.Priority
	out := api.PriorityResponse{Multifactor: cfg.Multifactor(), Weights: cfg.Weights(), Jobs: []api.JobPriority{}}
	pr := sched.NewPriorities(state, c.nowMillis(), cfg)
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable} {
		state.JobsInState(st, func(j *api.Job) bool {
			if (len(req.Jobs) > 0 && !slices.Contains(req.Jobs, j.ID) && (j.Array == nil || !slices.Contains(req.Jobs, j.Array.JobID))) ||
				(len(req.Users) > 0 && !slices.Contains(req.Users, j.User)) ||
				(len(req.Queues) > 0 && !slices.Contains(req.Queues, j.Queue)) || !c.visible(who, j) {
				return true
			}
			v := raftfsm.ViewOf(j)
			f := pr.Of(&v)
			p := api.JobPriority{JobID: j.ID, User: j.User, Account: pr.Account(&v), Queue: j.Queue, Nice: j.Nice, Fixed: f.Fixed, Priority: f.Priority}
			if !cfg.Multifactor() {
				p.Priority = j.Priority
			}
			p.Age, p.FairShare, p.JobSize, p.Partition, p.QOS = pr.Weighted(f)
			out.Jobs = append(out.Jobs, p)
			return true
		})
	}
	slices.SortFunc(out.Jobs, func(a, b api.JobPriority) int {
		if a.JobID < b.JobID {
			return -1
		}
		if a.JobID > b.JobID {
			return 1
		}
		return 0
	})
	return out, nil
}

// listPriorities computes, under multifactor priority, the priorities a
// list shows for waiting jobs (what the scheduler orders them by now);
// nil under priority/basic, where the stored priority is the one.
func (c *Controller) listPriorities(state *raftfsm.State) *sched.Priorities {
	if !c.cfg.Sched.Priority.Multifactor() {
		return nil
	}
	return sched.NewPriorities(state, c.nowMillis(), c.cfg.Sched.Priority)
}

// showPriority gives a listed waiting job the priority p computes (not a
// held job, nor one whose priority was set by hand).
func showPriority(p *sched.Priorities, j *api.Job) {
	if p != nil && j.State.Cancellable() && !j.Held && !j.PriorityFixed {
		v := raftfsm.ViewOf(j)
		j.Priority = p.Of(&v).Priority
	}
}

// prioritySettings are the usage settings this controller is configured
// with.
func (c *Controller) prioritySettings() raftfsm.PrioritySettings {
	p := c.cfg.Sched.Priority
	s := raftfsm.DefaultPrioritySettings
	switch {
	case p.DecayHalfLife > 0:
		s.HalfLife = p.DecayHalfLife
	case p.DecayHalfLife < 0:
		s.HalfLife = 0
	}
	if b := p.Billing; b != nil {
		s.CPU, s.MemGB, s.GPU = b.CPU, b.MemGB, b.GPU
	}
	return s
}

// syncPrioritySettings is a leader task: it commits this controller's
// usage settings when the state holds others, so that every replica
// charges usage alike.
func (c *Controller) syncPrioritySettings(ctx context.Context) {
	want := c.prioritySettings()
	if c.fsm.State().PrioritySettings() == want {
		return
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpPrioritySettings, raftfsm.PrioritySettingsCmd{Settings: want}); err != nil && ctx.Err() == nil {
		c.log.Warn("commit priority settings", "err", err)
	}
}
