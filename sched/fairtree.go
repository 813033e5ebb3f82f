package sched

import (
	"math"
	"sort"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// LevelFSInfinite is how an infinite level fair share (an association
// without usage) travels in api.ShareRow.LevelFS: JSON has no infinity.
const LevelFSInfinite = math.MaxFloat64

// Shares computes the fair-share tree at now (epoch ms) with the
// algorithm cfg names: fair tree (FairTreeShares) or classic
// (FairShares).
func Shares(reg api.AccountsState, set raftfsm.PrioritySettings, now int64, fairTree bool) []api.ShareRow {
	if fairTree {
		return FairTreeShares(reg, set, now)
	}
	return FairShares(reg, set, now)
}

// ftNode is one association in the fair-tree walk.
type ftNode struct {
	row      int // its index in the rows
	user     bool
	name     string
	levelFS  float64
	children []*ftNode // an account's users and sub-accounts
}

// FairTreeShares computes the fair-share tree as Slurm 22.05's fair tree
// (the default: PriorityFlags without NO_FAIR_TREE) does, at now (epoch
// ms), as its priority/multifactor fair_tree.c:
//
//	NormShares   = the association's shares over its siblings' (root: 0)
//	RawUsage     = its usage decayed to now (an account: the sum below it)
//	NormUsage    = RawUsage / root's RawUsage (root: none)
//	EffectvUsage = RawUsage / its parent's RawUsage (0 when that is 0;
//	               root: 1)
//	LevelFS      = NormShares / EffectvUsage: infinite without usage,
//	               0 without shares (root: none)
//
// Then every level's associations are sorted by LevelFS, highest first
// (a user before an account of the same LevelFS), and the tree is walked
// depth first in that order; users are ranked as they are met, from the
// number of user associations down, and FairShare = rank / that number.
// A user with the same LevelFS as the sibling before it has its rank;
// so does the first user below an account with the same LevelFS as the
// sibling before it. (Slurm's documentation says tied sibling accounts
// have their children merged before the descent; 22.05's code counts the
// accounts to merge up to the first account it meets, which is never
// one, so it merges none: shoal does as the code.) Accounts' FairShare
// is 0: Slurm has none for them.
//
// Rows come in tree order (sshare's), as FairShares'.
func FairTreeShares(reg api.AccountsState, set raftfsm.PrioritySettings, now int64) []api.ShareRow {
	if len(reg.Accounts) == 0 {
		return nil
	}
	t := newShareTree(reg, set, now)
	children, users, assoc, usage, acctUsage, total, userCount := t.children, t.users, t.assoc, t.usage, t.acctUsage, t.total, t.userCount

	rows := []api.ShareRow{{Account: api.RootAccount, RawShares: -1, RawUsage: total, EffectvUsage: 1}}
	// build adds the rows below acct (tree order) and returns its nodes.
	var build func(acct string, depth int) []*ftNode
	build = func(acct string, depth int) []*ftNode {
		level := int64(0)
		for _, u := range users[acct] {
			level += u.Shares
		}
		for _, c := range children[acct] {
			level += assoc[shareKey{c, ""}].Shares
		}
		parentUsage := acctUsage[acct]
		add := func(a api.Association, raw float64) *ftNode {
			r := api.ShareRow{Account: a.Account, User: a.User, Parent: acct, Depth: depth, RawShares: a.Shares, RawUsage: raw}
			if level > 0 {
				r.NormShares = float64(a.Shares) / float64(level)
			}
			if total > 0 {
				r.NormUsage = raw / total
			}
			if parentUsage > 0 {
				r.EffectvUsage = raw / parentUsage
			}
			n := &ftNode{row: len(rows), user: a.User != "", name: a.User}
			switch {
			case r.NormShares == 0:
				n.levelFS = 0
			case r.EffectvUsage == 0:
				n.levelFS = math.Inf(1)
			default:
				n.levelFS = r.NormShares / r.EffectvUsage
			}
			lf := min(n.levelFS, LevelFSInfinite)
			r.LevelFS = &lf
			rows = append(rows, r)
			return n
		}
		var nodes []*ftNode
		us := append([]api.Association(nil), users[acct]...)
		sort.Slice(us, func(i, k int) bool { return us[i].User < us[k].User })
		for _, u := range us {
			nodes = append(nodes, add(u, usage[shareKey{acct, u.User}]))
		}
		cs := append([]string(nil), children[acct]...)
		sort.Strings(cs)
		for _, c := range cs {
			n := add(assoc[shareKey{c, ""}], acctUsage[c])
			n.name = c
			n.children = build(c, depth+1)
			nodes = append(nodes, n)
		}
		return nodes
	}
	top := build(api.RootAccount, 1)
	rank, rnt := userCount, userCount
	var rankTree func(siblings []*ftNode, accountTied bool)
	rankTree = func(siblings []*ftNode, accountTied bool) {
		sort.SliceStable(siblings, func(i, k int) bool {
			a, b := siblings[i], siblings[k]
			if a.levelFS != b.levelFS {
				return a.levelFS > b.levelFS
			}
			return a.user && !b.user // users first; else tree order
		})
		prev, hasPrev := 0.0, false
		for i, n := range siblings {
			tied := (i == 0 && accountTied) || (hasPrev && prev == n.levelFS)
			if n.user {
				if !tied {
					rank = rnt
				}
				rows[n.row].FairShare = float64(rank) / float64(userCount)
				rnt--
			} else {
				rankTree(n.children, tied)
			}
			prev, hasPrev = n.levelFS, true
		}
	}
	if userCount > 0 {
		rankTree(top, false)
	}
	return rows
}
