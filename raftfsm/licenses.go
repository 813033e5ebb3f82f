package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// Licenses: named consumable resources (Slurm's licenses, AWS Batch's
// consumable resources), one record per name. What jobs hold is not
// stored: it is what the STARTING and RUNNING jobs ask for, counted when
// needed, so no transition out of those states has to give anything back.
// A NON_REPLENISHABLE resource's total is lowered when a job that asks for
// it is placed (consumed for good).
const (
	OpLicensePut    Op = 50 // LicensePutCmd
	OpLicenseDelete Op = 51 // LicenseDeleteCmd
)

const tableLicenses = "licenses"

func licenseTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{tableLicenses: byName(tableLicenses, "Name")}
}

// LicensePutCmd creates a license (Create, with License whole) or updates
// one's total: Operation SET, ADD or REMOVE Quantity. An update is applied
// to the total the FSM has, so concurrent ADDs both count.
type LicensePutCmd struct {
	License   api.License `json:"license"`
	Create    bool        `json:"create,omitempty"`
	Operation string      `json:"operation,omitempty"`
	Quantity  int64       `json:"quantity,omitempty"`
	Now       int64       `json:"now"`
}

// LicenseDeleteCmd deletes a license no unfinished job asks for.
type LicenseDeleteCmd struct {
	Name string `json:"name"`
}

func (w writer) licensePut(c LicensePutCmd) Result {
	st := &State{txn: w.txn}
	old := st.License(c.License.Name)
	if c.Create {
		if old != nil {
			return Result{Err: api.Errorf(api.CodeConflict, "consumable resource %s already exists: update it instead", c.License.Name)}
		}
		l := c.License
		l.CreatedAt = c.Now
		if l.Type == "" {
			l.Type = api.Replenishable
		}
		w.put(tableLicenses, &l)
		return Result{}
	}
	if old == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "consumable resource %s does not exist", c.License.Name)}
	}
	l := *old
	switch c.Operation {
	case api.LicenseSet, "":
		l.Total = c.Quantity
	case api.LicenseAdd:
		l.Total += c.Quantity
	case api.LicenseRemove:
		l.Total -= c.Quantity
	default:
		return Result{Err: api.Errorf(api.CodeInvalid, "operation %q: use SET, ADD or REMOVE", c.Operation).WithField("operation")}
	}
	if l.Total < 0 || l.Total > api.MaxLicenseQuantity {
		return Result{Err: api.Errorf(api.CodeInvalid, "consumable resource %s: %s %d would make its total %d: a total is 0 to %d",
			l.Name, c.Operation, c.Quantity, l.Total, int64(api.MaxLicenseQuantity)).WithField("quantity")}
	}
	w.put(tableLicenses, &l)
	return Result{}
}

func (w writer) licenseDelete(c LicenseDeleteCmd) Result {
	st := &State{txn: w.txn}
	l := st.License(c.Name)
	if l == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "consumable resource %s does not exist", c.Name)}
	}
	for _, s := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning} {
		busy := uint64(0)
		st.JobsInState(s, func(j *api.Job) bool {
			for _, u := range j.Licenses {
				if u.Name == c.Name {
					busy = j.ID
					return false
				}
			}
			return true
		})
		if busy != 0 {
			return Result{Err: api.Errorf(api.CodeConflict,
				"consumable resource %s is asked for by job %d, which has not finished: cancel it or wait for it to end", c.Name, busy)}
		}
	}
	if err := w.txn.Delete(tableLicenses, l); err != nil {
		panic(fmt.Sprintf("raftfsm: delete license: %v", err))
	}
	return Result{}
}

// License returns a license by name, or nil.
func (s *State) License(name string) *api.License { return first[api.License](s, tableLicenses, name) }

// Licenses returns every license, by name.
func (s *State) Licenses() []*api.License { return collect[api.License](s, tableLicenses, "id") }

// LicensesInUse sums what the STARTING and RUNNING jobs ask of each
// license (nil if no license exists: nothing to count).
func (s *State) LicensesInUse() map[string]int64 {
	if len(s.Licenses()) == 0 {
		return nil
	}
	use := map[string]int64{}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		s.ScanJobsInState(st, func(j *api.Job) bool {
			for _, u := range j.Licenses {
				use[u.Name] += u.Quantity
			}
			return true
		})
	}
	return use
}

// licenseLedger is what a plan's placements may still take of each
// license, built when the first placement that asks for one is applied.
type licenseLedger struct {
	free map[string]int64
}

// takeLicenses takes what j asks for from the ledger (built on first use)
// and reports whether all of it was free; a NON_REPLENISHABLE resource's
// total goes down by what j takes. A job whose licenses are not free is
// not placed: the plan was made on a state that has since changed.
func (w writer) takeLicenses(led **licenseLedger, j *api.Job) bool {
	if len(j.Licenses) == 0 {
		return true
	}
	st := &State{txn: w.txn}
	if *led == nil {
		use := st.LicensesInUse()
		l := &licenseLedger{free: map[string]int64{}}
		for _, lic := range st.Licenses() {
			l.free[lic.Name] = lic.Available(use[lic.Name])
		}
		*led = l
	}
	for _, u := range j.Licenses {
		if (*led).free[u.Name] < u.Quantity {
			return false
		}
	}
	for _, u := range j.Licenses {
		(*led).free[u.Name] -= u.Quantity
		if lic := st.License(u.Name); lic != nil && !lic.Replenishable() {
			c := *lic
			c.Total -= u.Quantity
			w.put(tableLicenses, &c)
		}
	}
	return true
}
