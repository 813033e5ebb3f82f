package sched

import (
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// Association and QOS limits the scheduler enforces (Slurm's
// AccountingStorageEnforce=limits): a job that would take its
// association over a limit waits, with the limit's reason, until running
// jobs end. Limits on what is submitted (MaxSubmitJobs, MaxWall, MaxTRES
// per job) are the controller's, at submit.
const (
	ReasonAssocMaxJobs Reason = "AssocMaxJobsLimit" // its association runs MaxJobs jobs
	ReasonAssocGrpJobs Reason = "AssocGrpJobsLimit" // its account (or one above) runs GrpJobs jobs
	ReasonAssocGrpCPU  Reason = "AssocGrpCpuLimit"  // GrpTRES=cpu reached
	ReasonAssocGrpMem  Reason = "AssocGrpMemLimit"  // GrpTRES=mem reached
	ReasonAssocGrpGRES Reason = "AssocGrpGRES"      // GrpTRES=gres/gpu reached
	ReasonQOSMaxJobsPU Reason = "QOSMaxJobsPerUserLimit"
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
		return "its user runs as many jobs of its QOS as the QOS's MaxJobsPerUser allows: it starts when one ends"
	}
	return ""
}

// tresLimit is a TRES string's limits (-1: none).
type tresLimit struct{ cpus, memMB, gpus int64 }

// ParseTRES reads cpu=N,mem=SIZE,gres/gpu=N (mem in MiB, or with a K, M,
// G or T suffix); what it does not name is unlimited (-1).
func ParseTRES(s string) (cpus, memMB, gpus int64, ok bool) {
	t := tresLimit{-1, -1, -1}
	for _, item := range strings.Split(s, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(item), "=")
		if !found {
			if strings.TrimSpace(item) == "" {
				continue
			}
			return 0, 0, 0, false
		}
		scale := int64(1)
		if k == "mem" && v != "" {
			switch v[len(v)-1] | 0x20 {
			case 'k':
				scale, v = -1024, v[:len(v)-1]
			case 'm':
				v = v[:len(v)-1]
			case 'g':
				scale, v = 1024, v[:len(v)-1]
			case 't':
				scale, v = 1024*1024, v[:len(v)-1]
			}
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		if scale < 0 {
			n = (n + 1023) / 1024
		} else {
			n *= scale
		}
		switch k {
		case "cpu":
			t.cpus = n
		case "mem":
			t.memMB = n
		case "gres/gpu":
			t.gpus = n
		}
	}
	return t.cpus, t.memMB, t.gpus, true
}

// limiter counts, in one pass, what each association runs and holds
// jobs back at their limits. nil when the registry sets none.
type limiter struct {
	users   map[string]string // user -> default account
	assocs  map[shareKey]api.Association
	parent  map[string]string
	grpTRES map[shareKey]tresLimit
	qosPU   map[string]int64 // QOS -> MaxJobsPU
	// running jobs and resources: per user association, and per account
	// (everything below it).
	jobs    map[shareKey]int
	subJobs map[string]int
	subRes  map[string]api.Resources
	resUser map[shareKey]api.Resources
	qosUser map[[2]string]int
}

func newLimiter(snap Snapshot) *limiter {
	as, ok := snap.(AccountsSnapshot)
	if !ok {
		return nil
	}
	reg := as.Accounts()
	l := &limiter{users: map[string]string{}, assocs: map[shareKey]api.Association{}, parent: map[string]string{},
		grpTRES: map[shareKey]tresLimit{}, qosPU: map[string]int64{}, jobs: map[shareKey]int{}, subJobs: map[string]int{},
		subRes: map[string]api.Resources{}, resUser: map[shareKey]api.Resources{}, qosUser: map[[2]string]int{}}
	any := false
	for _, a := range reg.Associations {
		k := shareKey{a.Account, a.User}
		l.assocs[k] = a
		if a.MaxJobs != nil || a.GrpJobs != nil {
			any = true
		}
		if a.GrpTRES != "" {
			if c, m, g, ok := ParseTRES(a.GrpTRES); ok {
				l.grpTRES[k] = tresLimit{c, m, g}
				any = true
			}
		}
	}
	for _, q := range reg.QOS {
		if q.MaxJobsPU != nil {
			l.qosPU[q.Name] = *q.MaxJobsPU
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
	l.qosUser[[2]string{jobQOS(j), j.User}]++
}

// blocked returns the limit j would exceed if it started now, "" if none.
func (l *limiter) blocked(j *Job) Reason {
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
		if r := overTRES(t, l.resUser[k], j.Resources); r != "" {
			return r
		}
	}
	for a, i := acct, 0; a != "" && i <= len(l.parent); a, i = l.parent[a], i+1 {
		lk := shareKey{a, ""}
		if as, ok := l.assocs[lk]; ok && as.GrpJobs != nil && int64(l.subJobs[a]) >= *as.GrpJobs {
			return ReasonAssocGrpJobs
		}
		if t, ok := l.grpTRES[lk]; ok {
			if r := overTRES(t, l.subRes[a], j.Resources); r != "" {
				return r
			}
		}
	}
	if max, ok := l.qosPU[jobQOS(j)]; ok && int64(l.qosUser[[2]string{jobQOS(j), j.User}]) >= max {
		return ReasonQOSMaxJobsPU
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

// overTRES says which limit of t using plus r would pass.
func overTRES(t tresLimit, using, r api.Resources) Reason {
	switch {
	case t.cpus >= 0 && int64(using.CPUs+r.CPUs) > t.cpus:
		return ReasonAssocGrpCPU
	case t.memMB >= 0 && using.MemoryMB+r.MemoryMB > t.memMB:
		return ReasonAssocGrpMem
	case t.gpus >= 0 && int64(using.GPUs+r.GPUs) > t.gpus:
		return ReasonAssocGrpGRES
	}
	return ""
}
