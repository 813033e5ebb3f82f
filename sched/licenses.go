package sched

import (
	"fmt"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// ReasonLicenses: a license (consumable resource) the job asks for does
// not have the quantity free, or a job before it waits for the same one
// (Slurm's Licenses).
const ReasonLicenses Reason = "Licenses"

// LicenseSource is what a Snapshot also implements when the cluster has
// licenses (named consumable resources, api.License): the scheduler then
// starts a job only when every license it asks for has its quantity free.
// What running jobs hold is counted from the STARTING and RUNNING jobs of
// the snapshot.
type LicenseSource interface {
	Licenses() []*api.License
}

// licenses is one pass's account of the cluster's licenses.
type licenses struct {
	byName map[string]*api.License
	// free is what is left to take, placements and reservations of this
	// pass taken out.
	free map[string]int64
	// waiting names the licenses a job of this pass waits for: later
	// jobs that ask for them wait too, so a job that needs many is not
	// passed over for ever by jobs that need few.
	waiting map[string]uint64
}

// licenseState builds the pass's account on first use: every license,
// less what STARTING and RUNNING jobs hold.
func (p *pass) licenseState() *licenses {
	if p.lic != nil {
		return p.lic
	}
	l := &licenses{byName: map[string]*api.License{}, free: map[string]int64{}, waiting: map[string]uint64{}}
	p.lic = l
	src, ok := p.snap.(LicenseSource)
	if !ok {
		return l
	}
	for _, lic := range src.Licenses() {
		l.byName[lic.Name] = lic
	}
	if len(l.byName) == 0 {
		return l
	}
	use := map[string]int64{}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, func(j *Job) bool {
			for _, u := range j.Licenses {
				use[u.Name] += u.Quantity
			}
			return true
		})
	}
	for name, lic := range l.byName {
		l.free[name] = lic.Available(use[name])
	}
	return l
}

// licensesFree reports whether j's licenses are free for it; if not, it
// fills in w (Reason Licenses, Short the first license short, Blocker the
// job before it waiting for that license), marks the licenses j lacks
// waited for, and holds those it does not lack for it (later jobs of the
// pass may take only what is left beyond them).
func (p *pass) licensesFree(j *Job, w *Wait) bool {
	l := p.licenseState()
	for _, u := range j.Licenses {
		free := l.free[u.Name]
		first, blocked := l.waiting[u.Name]
		if free >= u.Quantity && !blocked {
			continue
		}
		total := int64(0)
		if lic := l.byName[u.Name]; lic != nil {
			total = lic.Total
		}
		w.Reason = ReasonLicenses
		w.Short = &Shortfall{Resource: "license:" + u.Name, Asked: u.Quantity, FreeNow: free, AtMost: total}
		if blocked {
			w.Blocker = first
		}
		for _, x := range j.Licenses {
			_, waited := l.waiting[x.Name]
			switch {
			case waited:
			case l.free[x.Name] < x.Quantity:
				l.waiting[x.Name] = j.ID
			default:
				l.free[x.Name] -= x.Quantity
			}
		}
		return false
	}
	return true
}

// reserveLicenses takes the licenses of a job that got its queue's
// reservation: backfill does not lend them to later jobs.
func (p *pass) reserveLicenses(j *Job, w *Wait) {
	if w.Reserved {
		p.takeLicenses(j)
	}
}

// takeLicenses takes j's licenses for a placement or a reservation.
func (p *pass) takeLicenses(j *Job) {
	if len(j.Licenses) == 0 {
		return
	}
	l := p.licenseState()
	for _, u := range j.Licenses {
		l.free[u.Name] -= u.Quantity
	}
}

// licenseWords says why a job waits for Licenses (shoal explain).
func (w Wait) licenseWords() string {
	s := w.Short
	if s == nil {
		return "a license it asks for is not free"
	}
	name := strings.TrimPrefix(s.Resource, "license:")
	if w.Blocker != 0 && s.FreeNow >= s.Asked {
		return fmt.Sprintf("license %s has %d free, but job %d, which comes first, waits for it: it starts after that job has its share", name, s.FreeNow, w.Blocker)
	}
	return fmt.Sprintf("it asks %d of license %s, which has %d free now of %d in all: it starts when running jobs give enough back (scontrol show licenses)", s.Asked, name, s.FreeNow, s.AtMost)
}
