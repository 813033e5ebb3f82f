package sched

import (
	"math"
	"sort"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// AccountsSnapshot is what fair share and the QOS factor read beyond
// Snapshot: the account registry with its usage, and the settings the
// usage was charged under. A Snapshot without it gives every job a fair
// share of 1 and a QOS factor of 0.
type AccountsSnapshot interface {
	Accounts() api.AccountsState
	PrioritySettings() raftfsm.PrioritySettings
}

// QueuesSnapshot lists every queue (the partition factor is a queue's
// priority over the highest of all queues). Without it the factor is 1
// for a queue of positive priority.
type QueuesSnapshot interface {
	Queues() []*api.JobQueue
}

// shareKey names an association.
type shareKey struct{ account, user string }

// FairShares computes the fair-share tree as Slurm's classic
// (NO_FAIR_TREE) priority/multifactor does, at now (epoch ms):
//
//	NormShares  = the association's shares over its siblings', times its
//	              parent's NormShares (root: 1)
//	RawUsage    = its usage decayed to now (an account: the sum below it)
//	NormUsage   = RawUsage / root's RawUsage
//	EffectvUsage= NormUsage for children of root, else
//	              NormUsage + (parent's EffectvUsage - NormUsage) × shares/siblings' shares
//	FairShare   = 2^(-EffectvUsage / NormShares)
//
// Rows come in tree order (sshare's): root, then under each account its
// users, then its sub-accounts, each by name.
func FairShares(reg api.AccountsState, set raftfsm.PrioritySettings, now int64) []api.ShareRow {
	if len(reg.Accounts) == 0 {
		return nil
	}
	t := newShareTree(reg, set, now)
	children, users, assoc, usage, acctUsage, total := t.children, t.users, t.assoc, t.usage, t.acctUsage, t.total
	norm := func(u float64) float64 {
		if total <= 0 {
			return 0
		}
		return u / total
	}
	var rows []api.ShareRow
	rootRow := api.ShareRow{Account: api.RootAccount, RawShares: -1, NormShares: 1, RawUsage: total, NormUsage: norm(total)}
	rootRow.EffectvUsage = rootRow.NormUsage
	rootRow.FairShare = FairShareFactor(rootRow.EffectvUsage, 1)
	rows = append(rows, rootRow)
	var walk func(acct string, depth int, parentNorm, parentEff float64)
	walk = func(acct string, depth int, parentNorm, parentEff float64) {
		// Siblings at this level: the account's users and sub-accounts.
		level := int64(0)
		for _, u := range users[acct] {
			level += u.Shares
		}
		for _, c := range children[acct] {
			level += assoc[shareKey{c, ""}].Shares
		}
		row := func(a api.Association, raw float64, parent string) api.ShareRow {
			r := api.ShareRow{Account: a.Account, User: a.User, Parent: parent, Depth: depth, RawShares: a.Shares, RawUsage: raw, NormUsage: norm(raw)}
			if level > 0 {
				r.NormShares = parentNorm * float64(a.Shares) / float64(level)
			}
			switch {
			case acct == api.RootAccount:
				r.EffectvUsage = r.NormUsage
			case level == 0:
				r.EffectvUsage = parentEff
			default:
				r.EffectvUsage = r.NormUsage + (parentEff-r.NormUsage)*float64(a.Shares)/float64(level)
			}
			r.FairShare = FairShareFactor(r.EffectvUsage, r.NormShares)
			return r
		}
		us := append([]api.Association(nil), users[acct]...)
		sort.Slice(us, func(i, k int) bool { return us[i].User < us[k].User })
		for _, u := range us {
			rows = append(rows, row(u, usage[shareKey{acct, u.User}], acct))
		}
		cs := append([]string(nil), children[acct]...)
		sort.Strings(cs)
		for _, c := range cs {
			r := row(assoc[shareKey{c, ""}], acctUsage[c], acct)
			rows = append(rows, r)
			walk(c, depth+1, r.NormShares, r.EffectvUsage)
		}
	}
	walk(api.RootAccount, 1, 1, rootRow.EffectvUsage)
	return rows
}

// FairShareFactor is Slurm's classic 2^(-usage/shares): 1 for an
// association that used nothing, 0.5 for one that used exactly its
// share, towards 0 beyond. No shares: 0.
func FairShareFactor(effectvUsage, normShares float64) float64 {
	if normShares <= 0 {
		return 0
	}
	return math.Exp2(-effectvUsage / normShares)
}

// shareTree is the account tree both fair-share algorithms walk: who is
// below each account, and the usage decayed to one instant.
type shareTree struct {
	children  map[string][]string          // account -> sub-accounts
	users     map[string][]api.Association // account -> user associations
	assoc     map[shareKey]api.Association // (account, user) -> association
	usage     map[shareKey]float64         // (account, user) -> decayed usage
	acctUsage map[string]float64           // account -> the sum of everything below it
	total     float64                      // root's usage
	userCount int                          // user associations in the tree
}

func newShareTree(reg api.AccountsState, set raftfsm.PrioritySettings, now int64) shareTree {
	t := shareTree{children: map[string][]string{}, users: map[string][]api.Association{},
		assoc: map[shareKey]api.Association{}, usage: map[shareKey]float64{}, acctUsage: map[string]float64{}}
	for _, a := range reg.Accounts {
		if a.Name != api.RootAccount {
			t.children[a.Parent] = append(t.children[a.Parent], a.Name)
		}
	}
	for _, a := range reg.Associations {
		t.assoc[shareKey{a.Account, a.User}] = a
		if a.User != "" {
			t.users[a.Account] = append(t.users[a.Account], a)
			t.userCount++
		}
	}
	for _, u := range reg.Usage {
		t.usage[shareKey{u.Account, u.User}] = set.Decay(u.Raw, u.At, now)
	}
	t.total = t.sum(api.RootAccount)
	return t
}

// sum records and returns the usage of acct and everything below it.
func (t shareTree) sum(acct string) float64 {
	s := 0.0
	for _, u := range t.users[acct] {
		s += t.usage[shareKey{acct, u.User}]
	}
	for _, c := range t.children[acct] {
		s += t.sum(c)
	}
	t.acctUsage[acct] = s
	return s
}
