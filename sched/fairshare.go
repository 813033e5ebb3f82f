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
	children := map[string][]string{} // account -> sub-accounts
	for _, a := range reg.Accounts {
		if a.Name != api.RootAccount {
			children[a.Parent] = append(children[a.Parent], a.Name)
		}
	}
	users := map[string][]api.Association{} // account -> user associations
	assoc := map[shareKey]api.Association{}
	for _, a := range reg.Associations {
		assoc[shareKey{a.Account, a.User}] = a
		if a.User != "" {
			users[a.Account] = append(users[a.Account], a)
		}
	}
	usage := map[shareKey]float64{}
	for _, u := range reg.Usage {
		usage[shareKey{u.Account, u.User}] = set.Decay(u.Raw, u.At, now)
	}
	// Raw usage of accounts: the sum of everything below them.
	acctUsage := map[string]float64{}
	var sum func(string) float64
	sum = func(acct string) float64 {
		t := 0.0
		for _, u := range users[acct] {
			t += usage[shareKey{acct, u.User}]
		}
		for _, c := range children[acct] {
			t += sum(c)
		}
		acctUsage[acct] = t
		return t
	}
	total := sum(api.RootAccount)
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
