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

// checkAccount gives j its user's default account when it names none
// and refuses an account the user has no association with, once the
// site has accounts (see above). A QOS must exist.
func checkAccount(state *raftfsm.State, j *api.Job) error {
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
	if state.Association(j.Account, j.User) == nil {
		return refuse("user " + j.User + " may not use account " + j.Account + ": an operator adds it with `sacctmgr add user " + j.User + " account=" + j.Account + "`")
	}
	if j.QOS != "" && state.QOS(j.QOS) == nil {
		return api.Errorf(api.CodeInvalid, "Invalid qos specification (qos %s does not exist: `sacctmgr show qos` lists them)", j.QOS).WithField("qos")
	}
	return nil
}

// shares answers sshare: the fair-share tree now; Users narrows the
// user rows.
func (c *Controller) shares(_ context.Context, _ caller, req api.SharesRequest) (api.SharesResponse, error) {
	state := c.fsm.State()
	rows := sched.FairShares(state.Accounts(), state.PrioritySettings(), c.nowMillis())
	out := api.SharesResponse{Rows: make([]api.ShareRow, 0, len(rows))}
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
			f := pr.Of(j)
			p := api.JobPriority{JobID: j.ID, User: j.User, Account: pr.Account(j), Queue: j.Queue, Nice: j.Nice, Fixed: f.Fixed, Priority: f.Priority}
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
