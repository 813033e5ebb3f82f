package sched

import (
	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/units"
)

// Association and QOS limits the scheduler enforces (Slurm's
// AccountingStorageEnforce=limits): a job that would take its
// association or its QOS over a limit waits, with the limit's reason,
// until running jobs end. Limits on what is submitted (MaxSubmitJobs,
// GrpSubmitJobs, MaxWall, MaxTRES per job) are the controller's, at
// submit.
const (
	ReasonAssocMaxJobs Reason = "AssocMaxJobsLimit"      // its association runs MaxJobs jobs
	ReasonAssocGrpJobs Reason = "AssocGrpJobsLimit"      // its account (or one above) runs GrpJobs jobs
	ReasonAssocGrpCPU  Reason = "AssocGrpCpuLimit"       // GrpTRES=cpu reached
	ReasonAssocGrpMem  Reason = "AssocGrpMemLimit"       // GrpTRES=mem reached
	ReasonAssocGrpGRES Reason = "AssocGrpGRES"           // GrpTRES=gres/gpu reached
	ReasonQOSMaxJobsPU Reason = "QOSMaxJobsPerUserLimit" // its user runs its QOS's MaxJobsPerUser (or MaxJobs) jobs
	ReasonQOSGrpJobs   Reason = "QOSGrpJobsLimit"        // its QOS runs GrpJobs jobs, all users together
	ReasonQOSGrpCPU    Reason = "QOSGrpCpuLimit"         // its QOS's GrpTRES=cpu reached
	ReasonQOSGrpMem    Reason = "QOSGrpMemLimit"         // its QOS's GrpTRES=mem reached
	ReasonQOSGrpGRES   Reason = "QOSGrpGRES"             // its QOS's GrpTRES=gres/gpu reached
)

// tresReasons are the reasons of a GrpTRES's cpu, mem and gres/gpu
// limits: an association's or a QOS's.
type tresReasons struct{ cpu, mem, gres Reason }

var (
	assocTRESReasons = tresReasons{ReasonAssocGrpCPU, ReasonAssocGrpMem, ReasonAssocGrpGRES}
	qosTRESReasons   = tresReasons{ReasonQOSGrpCPU, ReasonQOSGrpMem, ReasonQOSGrpGRES}
)

// limitWords says what a limit's reason means and what would change it.
func limitWords(r Reason) string {
	switch r {
	case ReasonAssocMaxJobs:
		return "its user runs as many jobs in its account as the association's MaxJobs allows: it starts when one ends (sacctmgr show assoc shows the limit)"
	case ReasonAssocGrpJobs:
		return "its account (or one above it) runs as many jobs as its GrpJobs allows: it starts when one of them ends"
	case ReasonAssocGrpCPU:
		return "its account (or one above it) uses as many CPUs as its GrpTRES cpu= allows: it starts when enough are freed"
	case ReasonAssocGrpMem:
		return "its account (or one above it) uses as much memory as its GrpTRES mem= allows: it starts when enough is freed"
	case ReasonAssocGrpGRES:
		return "its account (or one above it) uses as many GPUs as its GrpTRES gres/gpu= allows: it starts when enough are freed"
	case ReasonQOSMaxJobsPU:
		return "its user runs as many jobs of its QOS as the QOS's MaxJobsPerUser (or MaxJobs) allows: it starts when one ends"
	case ReasonQOSGrpJobs:
		return "its QOS runs as many jobs, of all users, as the QOS's GrpJobs allows: it starts when one of them ends (sacctmgr show qos shows the limit)"
	case ReasonQOSGrpCPU:
		return "the jobs of its QOS use as many CPUs as the QOS's GrpTRES cpu= allows: it starts when enough are freed"
	case ReasonQOSGrpMem:
		return "the jobs of its QOS use as much memory as the QOS's GrpTRES mem= allows: it starts when enough is freed"
	case ReasonQOSGrpGRES:
		return "the jobs of its QOS use as many GPUs as the QOS's GrpTRES gres/gpu= allows: it starts when enough are freed"
	}
	return ""
}

// tresLimit is a TRES string's limits (-1: none).
type tresLimit struct{ cpus, memMB, gpus int64 }

// ParseTRES reads a TRES limit (units.ParseTRES, the one parser of
// them): what it does not name is unlimited (-1); ok is false for a limit
// it cannot read.
func ParseTRES(s string) (cpus, memMB, gpus int64, ok bool) {
	t, err := units.ParseTRES(s)
	if err != nil {
		return 0, 0, 0, false
	}
	return t.CPUs, t.MemMiB, t.GPUs, true
}

// grpTRESOf is a GrpTRES's limits. One it cannot read (the registry's
// check refuses to store one; an older controller's may have) fails
// closed: it bounds everything at 0, so that the jobs under it wait
// rather than run unbounded, and the controller refuses new ones naming
// it.
func grpTRESOf(s string) tresLimit {
	c, m, g, ok := ParseTRES(s)
	if !ok {
		return tresLimit{0, 0, 0}
	}
	return tresLimit{c, m, g}
}

// limiter counts, in one pass, what each association runs and holds
// jobs back at their limits. nil when the registry sets none.
type limiter struct {
	users   map[string]string // user -> default account
	assocs  map[shareKey]api.Association
	parent  map[string]string
	grpTRES map[shareKey]tresLimit
	qos     map[string]qosLimits // the QOS that set a limit
	// running jobs and resources: per user association, per account
	// (everything below it), per QOS and user, and per QOS.
	jobs    map[shareKey]int
	subJobs map[string]int
	subRes  map[string]api.Resources
	resUser map[shareKey]api.Resources
	qosUser map[[2]string]int
	qosJobs map[string]int
	qosRes  map[string]api.Resources
}

// qosLimits are the limits of a QOS the scheduler holds its jobs at.
type qosLimits struct {
	perUser *int64 // running jobs per user: the smaller of MaxJobsPerUser and MaxJobs
	grpJobs *int64 // running jobs, all users
	grpTRES *tresLimit
}

// qosLimitsOf are q's limits, and whether it sets any.
func qosLimitsOf(q api.QOS) (qosLimits, bool) {
	l := qosLimits{perUser: q.MaxJobsPU, grpJobs: q.GrpJobs}
	if q.MaxJobs != nil && (l.perUser == nil || *q.MaxJobs < *l.perUser) {
		l.perUser = q.MaxJobs
	}
	if q.GrpTRES != "" {
		t := grpTRESOf(q.GrpTRES)
		l.grpTRES = &t
	}
	return l, l.perUser != nil || l.grpJobs != nil || l.grpTRES != nil
}

func newLimiter(snap Snapshot) *limiter {
	as, ok := snap.(AccountsSnapshot)
	if !ok {
		return nil
	}
	reg := as.Accounts()
	l := &limiter{users: map[string]string{}, assocs: map[shareKey]api.Association{}, parent: map[string]string{},
		grpTRES: map[shareKey]tresLimit{}, qos: map[string]qosLimits{}, jobs: map[shareKey]int{}, subJobs: map[string]int{},
		subRes: map[string]api.Resources{}, resUser: map[shareKey]api.Resources{}, qosUser: map[[2]string]int{},
		qosJobs: map[string]int{}, qosRes: map[string]api.Resources{}}
	any := false
	for _, a := range reg.Associations {
		k := shareKey{a.Account, a.User}
		l.assocs[k] = a
		if a.MaxJobs != nil || a.GrpJobs != nil {
			any = true
		}
		if a.GrpTRES != "" {
			l.grpTRES[k] = grpTRESOf(a.GrpTRES)
			any = true
		}
	}
	for _, q := range reg.QOS {
		if ql, ok := qosLimitsOf(q); ok {
			l.qos[q.Name] = ql
			any = true
		}
	}
	if !any {
		return nil
	}
	for _, u := range reg.Users {
		l.users[u.Name] = u.DefaultAccount
	}
	for _, a := range reg.Accounts {
		l.parent[a.Name] = a.Parent
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		snap.JobViews(st, func(j *Job) bool {
			l.add(j)
			return true
		})
	}
	return l
}

func (l *limiter) account(j *Job) string {
	if j.Account != "" {
		return j.Account
	}
	return l.users[j.User]
}

func jobQOS(j *Job) string {
	if j.QOS != "" {
		return j.QOS
	}
	return api.NormalQOS
}

// add counts a running (or just placed) job.
func (l *limiter) add(j *Job) {
	acct := l.account(j)
	k := shareKey{acct, j.User}
	l.jobs[k]++
	l.resUser[k] = l.resUser[k].Add(j.Resources)
	for a, i := acct, 0; a != "" && i <= len(l.parent); a, i = l.parent[a], i+1 {
		l.subJobs[a]++
		l.subRes[a] = l.subRes[a].Add(j.Resources)
	}
	q := jobQOS(j)
	l.qosUser[[2]string{q, j.User}]++
	l.qosJobs[q]++
	l.qosRes[q] = l.qosRes[q].Add(j.Resources)
}

// blocked returns the limit j would exceed if it started now, "" if none.
// Its QOS's limits come first: Slurm checks a job's QOS before its
// association, and names the QOS's limit when both are reached.
func (l *limiter) blocked(j *Job) Reason {
	if r := l.qosBlocked(j); r != "" {
		return r
	}
	acct := l.account(j)
	k := shareKey{acct, j.User}
	// MaxJobs: the user association's, else the nearest account's above.
	if max := l.maxJobs(acct, j.User); max != nil && int64(l.jobs[k]) >= *max {
		return ReasonAssocMaxJobs
	}
	// GrpJobs and GrpTRES: the user association's own, and every
	// account's above it over its whole subtree.
	if as, ok := l.assocs[k]; ok && as.GrpJobs != nil && int64(l.jobs[k]) >= *as.GrpJobs {
		return ReasonAssocGrpJobs
	}
	if t, ok := l.grpTRES[k]; ok {
		if r := overTRES(t, l.resUser[k], j.Resources, assocTRESReasons); r != "" {
			return r
		}
	}
	for a, i := acct, 0; a != "" && i <= len(l.parent); a, i = l.parent[a], i+1 {
		lk := shareKey{a, ""}
		if as, ok := l.assocs[lk]; ok && as.GrpJobs != nil && int64(l.subJobs[a]) >= *as.GrpJobs {
			return ReasonAssocGrpJobs
		}
		if t, ok := l.grpTRES[lk]; ok {
			if r := overTRES(t, l.subRes[a], j.Resources, assocTRESReasons); r != "" {
				return r
			}
		}
	}
	return ""
}

// qosBlocked returns the limit of j's QOS that j would exceed if it
// started now, "" if none.
func (l *limiter) qosBlocked(j *Job) Reason {
	q := jobQOS(j)
	ql, ok := l.qos[q]
	switch {
	case !ok:
		return ""
	case ql.grpJobs != nil && int64(l.qosJobs[q]) >= *ql.grpJobs:
		return ReasonQOSGrpJobs
	case ql.perUser != nil && int64(l.qosUser[[2]string{q, j.User}]) >= *ql.perUser:
		return ReasonQOSMaxJobsPU
	case ql.grpTRES != nil:
		return overTRES(*ql.grpTRES, l.qosRes[q], j.Resources, qosTRESReasons)
	}
	return ""
}

// maxJobs is the MaxJobs that holds for user in acct: their
// association's, else the nearest account's above (Slurm's inheritance).
func (l *limiter) maxJobs(acct, user string) *int64 {
	if as, ok := l.assocs[shareKey{acct, user}]; ok && as.MaxJobs != nil {
		return as.MaxJobs
	}
	for a, i := acct, 0; a != "" && i <= len(l.parent); a, i = l.parent[a], i+1 {
		if as, ok := l.assocs[shareKey{a, ""}]; ok && as.MaxJobs != nil {
			return as.MaxJobs
		}
	}
	return nil
}

// overTRES says which limit of t using plus r would pass, by its reason
// in why.
func overTRES(t tresLimit, using, r api.Resources, why tresReasons) Reason {
	switch {
	case t.cpus >= 0 && int64(using.CPUs+r.CPUs) > t.cpus:
		return why.cpu
	case t.memMB >= 0 && using.MemoryMB+r.MemoryMB > t.memMB:
		return why.mem
	case t.gpus >= 0 && int64(using.GPUs+r.GPUs) > t.gpus:
		return why.gres
	}
	return ""
}
