package daemon

import (
	"context"
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/units"
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
	// Root's association may use QOS normal, and every association below
	// it inherits that, as slurmdbd makes root's: a QOS beyond it is
	// granted by an operator (qosOf).
	ch.Associations = slices.Clone(ch.Associations)
	for i, a := range ch.Associations {
		if a.Account == api.RootAccount && a.User == "" && len(a.QOS) == 0 {
			ch.Associations[i].QOS = []string{api.NormalQOS}
		}
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
// jobs each user has in each account once, the jobs of every user once
// where a Grp limit needs them, and the jobs of the submission as it
// accepts them.
type acctCheck struct {
	state     *raftfsm.State
	submitted map[[2]string]int // (account, user) -> unfinished jobs
	counted   map[string]bool   // users counted
	qosCount  map[[2]string]int // (qos, user) -> unfinished jobs
	// Of all users, for GrpSubmitJobs: unfinished jobs per QOS, and per
	// account with every account below it. The submission's accepted
	// jobs are in them from the start; the stored ones once allCounted.
	qosJobs    map[string]int
	subJobs    map[string]int
	allCounted bool
}

func newAcctCheck(state *raftfsm.State) *acctCheck {
	return &acctCheck{state: state, submitted: map[[2]string]int{}, counted: map[string]bool{}, qosCount: map[[2]string]int{},
		qosJobs: map[string]int{}, subJobs: map[string]int{}}
}

// check gives j its user's default account when it names none and
// refuses an account the user has no association with, once the site has
// accounts (see above); a QOS must exist. Then the limits: MaxSubmitJobs
// (the association's, else the nearest account's above; the QOS's
// MaxSubmitJobs and MaxSubmitPU per user), GrpSubmitJobs (the QOS's, the
// association's and each account's above), MaxWall (a job without a time
// limit gets it) and MaxTRES per job (the QOS's and the association's).
// tasks is how many jobs j stands for (an array's tasks each count, as
// in Slurm).
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
	qos, err := a.jobQOS(j, assoc)
	if err != nil {
		return err
	}
	if err := a.readableLimits(assoc, qos); err != nil {
		return err
	}
	lim := a.limits(assoc)
	tasks = max(tasks, 1)
	if err := a.submitLimits(j, assoc, lim, qos, tasks); err != nil {
		return err
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
			return limitRefusal("AssocMaxWallDurationPerJobLimit", "the time limit of %d s is over account %s's MaxWall of %d minutes", j.TimeLimit, j.Account, *wall)
		}
	}
	// The QOS's MaxTRES first: Slurm checks a job's QOS before its
	// association, and names the QOS's limit when both are passed.
	if qos != nil {
		if err := maxTRES(j.Resources, qos.MaxTRES, qosMaxTRES, "qos "+qos.Name+"'s "); err != nil {
			return err
		}
	}
	if err := maxTRES(j.Resources, lim.MaxTRES, assocMaxTRES, ""); err != nil {
		return err
	}
	a.accept(j, qos, tasks)
	return nil
}

// jobQOS gives j its QOS and refuses one its association may not use.
// Names are compared without case, as Slurm's are (sacctmgr stores them
// lower case). A job asking none gets, as in Slurm, its association's
// default QOS, else the one QOS it may use, else normal. Only where the
// registry has no QOS normal and the association names none does a job
// have no QOS (nil).
func (a *acctCheck) jobQOS(j *api.Job, assoc *api.Association) (*api.QOS, error) {
	allowed, defaultQOS := a.qosOf(assoc)
	asked := j.QOS != ""
	if !asked {
		switch {
		case defaultQOS != "" && slices.Contains(allowed, defaultQOS):
			j.QOS = defaultQOS
		case len(allowed) == 1:
			j.QOS = allowed[0]
		case a.state.QOS(api.NormalQOS) != nil:
			j.QOS = api.NormalQOS
		default:
			return nil, nil
		}
	}
	qos := a.state.QOS(j.QOS)
	if qos == nil {
		qos = a.state.QOS(strings.ToLower(j.QOS))
	}
	if qos == nil {
		return nil, api.Errorf(api.CodeInvalid, "Invalid qos specification (qos %s does not exist: `sacctmgr show qos` lists them)", j.QOS).WithField("qos")
	}
	j.QOS = qos.Name
	if !slices.Contains(allowed, qos.Name) {
		may := "no qos"
		if len(allowed) > 0 {
			may = "qos " + strings.Join(allowed, ",")
		}
		hint := ""
		if !asked {
			hint = " (the job asked none: give --qos, or an operator sets a default with `sacctmgr modify user " + j.User + " set defaultqos=NAME`)"
		}
		return nil, api.Errorf(api.CodeInvalid, "Invalid qos specification (user %s may use %s in account %s, not %s%s: an operator adds it with `sacctmgr modify user %s set qos+=%s`)",
			j.User, may, j.Account, qos.Name, hint, j.User, qos.Name).WithField("qos")
	}
	return qos, nil
}

// readableLimits refuses a job under a TRES limit that cannot be read:
// its QOS's, its association's or an account's above it. The registry
// refuses to store one (units.ParseTRES reads them all), but one stored
// before it did must not mean "no limit": the job is refused until an
// operator sets it again, told which (field limit: sbatch prints the
// message, where a limit reached (field policy) is Slurm's generic line).
func (a *acctCheck) readableLimits(assoc *api.Association, qos *api.QOS) error {
	bad := func(what, modify string, l api.Limits) error {
		for _, t := range [][2]string{{"MaxTRES", l.MaxTRES}, {"GrpTRES", l.GrpTRES}} {
			if _, err := units.ParseTRES(t[1]); err != nil {
				return api.Errorf(api.CodeInvalid, "the %s of %s, %q, cannot be read (%v): jobs under it are refused until an operator sets it again (`sacctmgr modify %s set %s=...`)",
					t[0], what, t[1], err, modify, t[0]).WithField("limit")
			}
		}
		return nil
	}
	if qos != nil {
		if err := bad("qos "+qos.Name, "qos "+qos.Name, qos.Limits); err != nil {
			return err
		}
	}
	if err := bad("user "+assoc.User+" in account "+assoc.Account, "user "+assoc.User+" where account="+assoc.Account, assoc.Limits); err != nil {
		return err
	}
	for acct, i := assoc.Account, 0; acct != "" && i < 64; acct, i = a.parentOf(acct), i+1 {
		if up := a.state.Association(acct, ""); up != nil {
			if err := bad("account "+acct, "account "+acct, up.Limits); err != nil {
				return err
			}
		}
	}
	return nil
}

// limitRefusal is a refusal for a limit, led by Slurm's reason.
func limitRefusal(reason, format string, args ...any) error {
	return api.Errorf(api.CodeInvalid, "%s: "+format, append([]any{reason}, args...)...).WithField("policy")
}

// submitLimits refuses tasks more jobs of j's user where they would pass
// a limit on unfinished jobs: per user, the association's MaxSubmitJobs
// and the QOS's; of all users, the GrpSubmitJobs of the QOS, of the
// user's association and of its account and each above it.
func (a *acctCheck) submitLimits(j *api.Job, assoc *api.Association, lim api.Limits, qos *api.QOS, tasks int) error {
	qosMax, qosMaxName := qosSubmitLimit(qos)
	limited := a.grpSubmitAccounts(j.Account)
	// Counting every user's jobs counts this user's too: then count
	// has nothing to do, and the user's stored jobs are read once.
	if len(limited) > 0 || (qos != nil && qos.GrpSubmitJobs != nil) {
		a.countAll()
	}
	if lim.MaxSubmitJobs != nil || qosMax != nil || assoc.GrpSubmitJobs != nil {
		a.count(j.User)
	}
	key := [2]string{j.Account, j.User}
	if lim.MaxSubmitJobs != nil && int64(a.submitted[key]+tasks) > *lim.MaxSubmitJobs {
		return limitRefusal("AssocMaxSubmitJobLimit", "user %s has %d unfinished jobs in account %s, and %d more would pass its MaxSubmitJobs of %d",
			j.User, a.submitted[key], j.Account, tasks, *lim.MaxSubmitJobs)
	}
	qname := qosName(qos)
	if n := a.qosCount[[2]string{qname, j.User}]; qosMax != nil && int64(n+tasks) > *qosMax {
		return limitRefusal("QOSMaxSubmitJobPerUserLimit", "user %s has %d unfinished jobs of qos %s, and %d more would pass its %s of %d",
			j.User, n, qname, tasks, qosMaxName, *qosMax)
	}
	if qos != nil && qos.GrpSubmitJobs != nil && int64(a.qosJobs[qname]+tasks) > *qos.GrpSubmitJobs {
		return limitRefusal("QOSGrpSubmitJobsLimit", "qos %s has %d unfinished jobs of all users, and %d more would pass its GrpSubmitJobs of %d: submit once some have ended",
			qname, a.qosJobs[qname], tasks, *qos.GrpSubmitJobs)
	}
	if g := assoc.GrpSubmitJobs; g != nil && int64(a.submitted[key]+tasks) > *g {
		return limitRefusal("AssocGrpSubmitJobsLimit", "user %s has %d unfinished jobs in account %s, and %d more would pass the GrpSubmitJobs of %d of the user's association: submit once some have ended",
			j.User, a.submitted[key], j.Account, tasks, *g)
	}
	for _, up := range limited {
		if n := a.subJobs[up.Account]; int64(n+tasks) > *up.GrpSubmitJobs {
			return limitRefusal("AssocGrpSubmitJobsLimit", "account %s has %d unfinished jobs (of all users, with the accounts below it), and %d more would pass its GrpSubmitJobs of %d: submit once some have ended",
				up.Account, n, tasks, *up.GrpSubmitJobs)
		}
	}
	return nil
}

// qosSubmitLimit is the per-user limit on the unfinished jobs of q, and
// its name: the smaller of its MaxSubmitJobs and MaxSubmitJobsPerUser
// (nil: none).
func qosSubmitLimit(q *api.QOS) (*int64, string) {
	switch {
	case q == nil:
		return nil, ""
	case q.MaxSubmitJobs != nil && (q.MaxSubmitPU == nil || *q.MaxSubmitJobs < *q.MaxSubmitPU):
		return q.MaxSubmitJobs, "MaxSubmitJobs"
	}
	return q.MaxSubmitPU, "MaxSubmitJobsPerUser"
}

// qosName is the name a job of q counts under (normal when no QOS holds).
func qosName(q *api.QOS) string {
	if q == nil {
		return api.NormalQOS
	}
	return q.Name
}

// grpSubmitAccounts are the associations of acct and of each account
// above it that set GrpSubmitJobs, nearest first.
func (a *acctCheck) grpSubmitAccounts(acct string) []*api.Association {
	var out []*api.Association
	for i := 0; acct != "" && i < 64; i++ {
		if up := a.state.Association(acct, ""); up != nil && up.GrpSubmitJobs != nil {
			out = append(out, up)
		}
		acct = a.parentOf(acct)
	}
	return out
}

// Reasons of MaxTRES per job: cpu, mem, gres/gpu.
var (
	assocMaxTRES = [3]string{"AssocMaxCpuPerJobLimit", "AssocMaxMemPerJobLimit", "AssocMaxGRESPerJob"}
	qosMaxTRES   = [3]string{"QOSMaxCpuPerJobLimit", "QOSMaxMemoryPerJob", "QOSMaxGRESPerJob"}
)

// maxTRES refuses a job asking r over the MaxTRES tres (none when
// empty; one that cannot be read refuses every job: readableLimits names
// its owner first), with reasons; whose names the limit's owner.
func maxTRES(r api.Resources, tres string, reasons [3]string, whose string) error {
	if tres == "" {
		return nil
	}
	cpus, mem, gpus, ok := sched.ParseTRES(tres)
	switch {
	case !ok:
		return api.Errorf(api.CodeInvalid, "%sMaxTRES %q cannot be read: jobs under it are refused until an operator sets it again", whose, tres).WithField("limit")
	case cpus >= 0 && int64(r.CPUs) > cpus:
		return limitRefusal(reasons[0], "%d CPUs is over %sMaxTRES cpu=%d: ask for at most %d", r.CPUs, whose, cpus, cpus)
	case mem >= 0 && r.MemoryMB > mem:
		return limitRefusal(reasons[1], "%d MiB is over %sMaxTRES mem=%dM: ask for at most %d MiB", r.MemoryMB, whose, mem, mem)
	case gpus >= 0 && int64(r.GPUs) > gpus:
		return limitRefusal(reasons[2], "%d GPUs is over %sMaxTRES gres/gpu=%d: ask for at most %d", r.GPUs, whose, gpus, gpus)
	}
	return nil
}

// accept counts tasks jobs of j, accepted, against the limits of the
// submission's next jobs.
func (a *acctCheck) accept(j *api.Job, qos *api.QOS, tasks int) {
	q := qosName(qos)
	a.submitted[[2]string{j.Account, j.User}] += tasks
	a.qosCount[[2]string{q, j.User}] += tasks
	a.qosJobs[q] += tasks
	for acct, i := j.Account, 0; acct != "" && i < 64; acct, i = a.parentOf(acct), i+1 {
		a.subJobs[acct] += tasks
	}
}

// count adds user's unfinished jobs to the counts, once.
func (a *acctCheck) count(user string) {
	if a.counted[user] || a.allCounted {
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

// countAll adds the unfinished jobs of every user to the counts, once:
// per QOS and per account (with those above it) for GrpSubmitJobs, and
// per user as count does, for the users count has not counted (count
// then has nothing left to do). It reads the unfinished states only, in
// one reused job each, where count scans every stored job of a user.
func (a *acctCheck) countAll() {
	if a.allCounted {
		return
	}
	direct := map[string]int{} // account -> its own unfinished jobs
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning} {
		a.state.ScanJobsInState(st, func(o *api.Job) bool {
			acct, q := a.state.JobAccount(o), o.QOS
			if q == "" {
				q = api.NormalQOS
			}
			direct[acct]++
			a.qosJobs[q]++
			if !a.counted[o.User] {
				a.submitted[[2]string{acct, o.User}]++
				a.qosCount[[2]string{q, o.User}]++
			}
			return true
		})
	}
	// Each account's jobs count for it and every account above it:
	// walked once per account, not per job.
	for acct, n := range direct {
		for i := 0; acct != "" && i < 64; acct, i = a.parentOf(acct), i+1 {
			a.subJobs[acct] += n
		}
	}
	a.allCounted = true
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
// own or the nearest account's above that sets it (Slurm's inheritance).
// Where none sets a list, root's default holds: QOS normal (withRoot
// gives root's association that list; a registry made before it did
// gets it here), as sacctmgr show assoc prints it; none at all when the
// registry has no QOS normal.
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
	if len(allowed) == 0 && a.state.QOS(api.NormalQOS) != nil {
		allowed = []string{api.NormalQOS}
	}
	return allowed, defaultQOS
}

func (a *acctCheck) parentOf(acct string) string {
	if x := a.state.Account(acct); x != nil {
		return x.Parent
	}
	return ""
}

// Bounds of the filters of sshare and sprio: a job id or a name is
// looked up in a set, so these bound the request's size, not its time.
const (
	MaxPriorityJobs  = MaxHoldJobs // sprio -j
	MaxFilterNames   = 10_000      // sshare -u, sprio -u, sprio -p
	filterCheckEvery = 1024        // rows between looks at the request's context
)

// filterSet is a filter's values as a set (nil: no filter), refused past
// max with what names it.
func filterSet[T comparable](vals []T, max int, what string) (map[T]bool, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > max {
		return nil, api.Errorf(api.CodeInvalid, "%d %s in one request; at most %d: ask for fewer, or for all of them (no filter)", len(vals), what, max).WithField(what)
	}
	set := make(map[T]bool, len(vals))
	for _, v := range vals {
		set[v] = true
	}
	return set, nil
}

// shares answers sshare: the fair-share tree now; Users narrows the
// user rows.
func (c *Controller) shares(ctx context.Context, _ caller, req api.SharesRequest) (api.SharesResponse, error) {
	users, err := filterSet(req.Users, MaxFilterNames, "users")
	if err != nil {
		return api.SharesResponse{}, err
	}
	state := c.fsm.State()
	fairTree := c.cfg.Sched.Priority.FairTree
	rows := sched.Shares(state.Accounts(), state.PrioritySettings(), c.nowMillis(), fairTree)
	out := api.SharesResponse{Rows: make([]api.ShareRow, 0, len(rows)), FairTree: fairTree}
	for i, r := range rows {
		if i%filterCheckEvery == 0 && ctx.Err() != nil {
			return api.SharesResponse{}, ctx.Err()
		}
		if r.User != "" && users != nil && !users[r.User] {
			continue
		}
		out.Rows = append(out.Rows, r)
	}
	return out, nil
}

// priorityFactors answers sprio: the factors of the waiting jobs the
// caller may see, computed as the scheduler computes them now.
func (c *Controller) priorityFactors(ctx context.Context, who caller, req api.PriorityRequest) (api.PriorityResponse, error) {
	jobs, err := filterSet(req.Jobs, MaxPriorityJobs, "jobs")
	if err != nil {
		return api.PriorityResponse{}, err
	}
	users, err := filterSet(req.Users, MaxFilterNames, "users")
	if err != nil {
		return api.PriorityResponse{}, err
	}
	queues, err := filterSet(req.Queues, MaxFilterNames, "queues")
	if err != nil {
		return api.PriorityResponse{}, err
	}
	state := c.fsm.State()
	cfg := c.cfg.Sched.Priority
	out := api.PriorityResponse{Multifactor: cfg.Multifactor(), Weights: cfg.Weights(), Jobs: []api.JobPriority{}}
	pr := sched.NewPriorities(state, c.nowMillis(), cfg)
	seen := 0
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable} {
		state.JobsInState(st, func(j *api.Job) bool {
			if seen++; seen%filterCheckEvery == 0 && ctx.Err() != nil {
				return false
			}
			if (jobs != nil && !jobs[j.ID] && (j.Array == nil || !jobs[j.Array.JobID])) ||
				(users != nil && !users[j.User]) ||
				(queues != nil && !queues[j.Queue]) || !c.visible(who, j) {
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
		if err := ctx.Err(); err != nil {
			return api.PriorityResponse{}, err
		}
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
