package slurm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// sacctmgr's writes: add, modify and delete planned against the registry
// as the controller holds it, printed in Slurm's words, then sent as one
// change; and the rows list and show print from the registry.

// write runs add, modify or delete of entity.
func (r *sacctmgrRun) write(verb, entity string, words []string) int {
	args, err := parseAcctArgs(words)
	if err != nil {
		return r.fail(err)
	}
	reg, ok, err := r.registry()
	if !ok {
		return r.fail(errorf(1, " This controller's client cannot change the account registry"))
	}
	if err != nil {
		return r.fail(errorf(1, " Problem talking to the database: %v", err))
	}
	var out strings.Builder
	var ch api.AccountsChange
	var path string
	switch verb {
	case "add":
		path = api.PathAccountsAdd
		ch, err = r.planAdd(entity, args, reg, &out)
	case "modify":
		path = api.PathAccountsModify
		ch, err = planModify(entity, args, reg, &out)
	case "delete":
		path = api.PathAccountsDelete
		ch, err = planDelete(entity, args, reg, &out)
	}
	if err != nil {
		fmt.Fprint(r.c.Stdout, out.String())
		return r.fail(err)
	}
	if ch.Empty() {
		fmt.Fprint(r.c.Stdout, out.String())
		return 1
	}
	send := func() int {
		err := r.c.Client.(caller).Call(context.Background(), path, ch, nil)
		if err == nil {
			return 0
		}
		why := err.Error()
		if api.IsCode(err, api.CodeForbidden) {
			why = "Access/permission denied"
		}
		var line string
		switch {
		case verb == "add" && entity == "account":
			line = " Problem adding accounts: " + why
		case verb == "add" && entity == "user":
			line = " Problem adding users: " + why
		case verb == "add":
			line = " Problem adding QOS: " + why
		default:
			line = " Error with request: " + why
		}
		fmt.Fprintln(r.c.Stderr, line)
		return 1
	}
	if verb != "add" && r.immediate {
		// Slurm changes, then reports what it changed.
		if rc := send(); rc != 0 {
			return rc
		}
		fmt.Fprint(r.c.Stdout, out.String())
		return 0
	}
	fmt.Fprint(r.c.Stdout, out.String())
	if !r.immediate && !r.commitCheck("Would you like to commit changes?") {
		fmt.Fprintln(r.c.Stdout, " Changes Discarded")
		return 0
	}
	return send()
}

// fail prints err as sacctmgr does (its lines start with a space).
func (r *sacctmgrRun) fail(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		for _, l := range e.Lines {
			fmt.Fprintln(r.c.Stderr, l)
		}
		return e.RC
	}
	fmt.Fprintln(r.c.Stderr, " "+err.Error())
	return 1
}

// commitCheck asks as Slurm's commit_check does and reads one answer
// line: y or Y commits; anything else, or no answer, does not.
func (r *sacctmgrRun) commitCheck(warning string) bool {
	fmt.Fprintf(r.c.Stdout, "%s (You have 30 seconds to decide)\n(N/y): ", warning)
	if r.c.Stdin == nil {
		fmt.Fprintln(r.c.Stdout)
		return false
	}
	line, _ := bufio.NewReaderSize(r.c.Stdin, 64).ReadString('\n')
	fmt.Fprintln(r.c.Stdout)
	line = strings.TrimSpace(line)
	return line == "y" || line == "Y"
}

// regIndex is the registry by name.
type regIndex struct {
	accounts map[string]api.Account
	users    map[string]api.AcctUser
	assocs   map[[2]string]api.Association
	qos      map[string]api.QOS
}

func indexRegistry(reg api.AccountsState) regIndex {
	x := regIndex{accounts: map[string]api.Account{}, users: map[string]api.AcctUser{}, assocs: map[[2]string]api.Association{}, qos: map[string]api.QOS{}}
	for _, a := range reg.Accounts {
		x.accounts[a.Name] = a
	}
	for _, u := range reg.Users {
		x.users[u.Name] = u
	}
	for _, a := range reg.Associations {
		x.assocs[[2]string{a.Account, a.User}] = a
	}
	for _, q := range reg.QOS {
		x.qos[q.Name] = q
	}
	return x
}

// planAdd prints what an add will do (sacctmgr's summary) and returns
// the change.
func (r *sacctmgrRun) planAdd(entity string, a acctArgs, reg api.AccountsState, out *strings.Builder) (api.AccountsChange, error) {
	var ch api.AccountsChange
	x := indexRegistry(reg)
	opts := a.where
	switch entity {
	case "account":
		names := lower(append(a.names, optValues(opts, "account")...))
		opts = dropKeys(opts, "account")
		s, err := parseSettings("account", opts)
		if err != nil {
			return ch, err
		}
		if len(names) == 0 {
			return ch, errorf(1, " Need name of account to add.")
		}
		parent := api.RootAccount
		if s.parent != nil {
			parent = *s.parent
		}
		_, parentExists := x.accounts[parent]
		if !parentExists && !(parent == api.RootAccount && len(reg.Accounts) == 0) {
			return ch, errorf(1, " Parent account '%s' doesn't exist on cluster %s\n        Contact your admin to add this account.", parent, shoalCluster)
		}
		var acctStr, assocStr strings.Builder
		for _, n := range names {
			if _, ok := x.accounts[n]; ok {
				continue
			}
			acct := api.Account{Name: n, Description: n, Organization: n, Parent: parent}
			if parent != api.RootAccount {
				acct.Organization = parent
			}
			if s.description != nil {
				acct.Description = *s.description
			}
			if s.organization != nil {
				acct.Organization = *s.organization
			}
			assoc := api.Association{Account: n, Shares: 1}
			s.applyAssoc(&assoc)
			ch.Accounts = append(ch.Accounts, acct)
			ch.Associations = append(ch.Associations, assoc)
			fmt.Fprintf(&acctStr, "  %s\n", n)
			fmt.Fprintf(&assocStr, "  A = %-10.10s C = %-10.10s\n", n, shoalCluster)
		}
		if len(ch.Accounts) == 0 {
			out.WriteString(" Nothing new added.\n")
			return ch, nil
		}
		fmt.Fprintf(out, " Adding Account(s)\n%s Settings\n", acctStr.String())
		desc, org := "Account Name", "Parent/Account Name"
		if s.description != nil {
			desc = *s.description
		}
		if s.organization != nil {
			org = *s.organization
		}
		fmt.Fprintf(out, "  Description     = %s\n  Organization    = %s\n", desc, org)
		fmt.Fprintf(out, " Associations\n%s", assocStr.String())
		if s.assocSet {
			out.WriteString(" Settings\n")
			s.printAssocLimits(out, parent)
		}
	case "user":
		names := append([]string(nil), a.names...)
		accounts := lower(optValues(opts, "account"))
		opts = dropKeys(opts, "account", "user")
		names = append(names, optValues(a.where, "user")...)
		s, err := parseSettings("user", opts)
		if err != nil {
			return ch, err
		}
		if len(names) == 0 {
			return ch, errorf(1, " Need name of user to add.")
		}
		def := ""
		if s.defaultAccount != nil {
			def = *s.defaultAccount
			if !acctHas(accounts, def) {
				accounts = append(accounts, def)
			}
		}
		if len(accounts) == 0 {
			return ch, errorf(1, " Need name of account to add user to.")
		}
		for _, acct := range accounts {
			if _, ok := x.accounts[acct]; !ok {
				return ch, errorf(1, " This account '%s' doesn't exist.\n        Contact your admin to add this account.", acct)
			}
		}
		var userStr, assocStr strings.Builder
		for _, n := range names {
			if _, ok := x.users[n]; !ok {
				u := api.AcctUser{Name: n, DefaultAccount: def, AdminLevel: api.AdminNone}
				if u.DefaultAccount == "" {
					u.DefaultAccount = accounts[0]
				}
				if s.adminLevel != nil {
					u.AdminLevel = *s.adminLevel
				}
				ch.Users = append(ch.Users, u)
				fmt.Fprintf(&userStr, "  %s\n", n)
			}
			for _, acct := range accounts {
				if _, ok := x.assocs[[2]string{acct, n}]; ok {
					continue
				}
				assoc := api.Association{Account: acct, User: n, Shares: 1}
				s.applyAssoc(&assoc)
				ch.Associations = append(ch.Associations, assoc)
				fmt.Fprintf(&assocStr, "  U = %-9.9s A = %-10.10s C = %-10.10s\n", n, acct, shoalCluster)
			}
		}
		if ch.Empty() {
			out.WriteString(" Nothing new added.\n")
			return ch, nil
		}
		if userStr.Len() > 0 {
			fmt.Fprintf(out, " Adding User(s)\n%s", userStr.String())
			if s.defaultAccount != nil || s.adminLevel != nil {
				out.WriteString(" Settings =\n")
			}
			if s.defaultAccount != nil {
				fmt.Fprintf(out, "  Default Account = %s\n", *s.defaultAccount)
			}
			if s.adminLevel != nil {
				fmt.Fprintf(out, "  Admin Level     = %s\n", *s.adminLevel)
			}
		}
		if assocStr.Len() > 0 {
			fmt.Fprintf(out, " Associations =\n%s", assocStr.String())
		}
		if s.assocSet {
			out.WriteString(" Non Default Settings\n")
			s.printAssocLimits(out, "")
		}
	case "qos":
		names := lower(a.names)
		s, err := parseSettings("qos", opts)
		if err != nil {
			return ch, err
		}
		if len(names) == 0 {
			return ch, errorf(1, " Need name of qos to add.")
		}
		var qosStr strings.Builder
		desc := ""
		for _, n := range names {
			if _, ok := x.qos[n]; ok {
				continue
			}
			q := api.QOS{Name: n, Description: n}
			s.applyQOS(&q)
			if err := s.preempt.apply(&q, x); err != nil {
				return api.AccountsChange{}, err
			}
			desc = q.Description
			ch.QOS = append(ch.QOS, q)
			fmt.Fprintf(&qosStr, "  %s\n", n)
		}
		if len(ch.QOS) == 0 {
			out.WriteString(" Nothing new added.\n")
			return ch, nil
		}
		if err := checkPreemptLoops(x, ch.QOS); err != nil {
			return api.AccountsChange{}, err
		}
		fmt.Fprintf(out, " Adding QOS(s)\n%s Settings\n  Description    = %s\n", qosStr.String(), desc)
		s.preempt.printGrace(out)
		s.preempt.printPreempt(out)
		if s.priority != nil {
			fmt.Fprintf(out, "  Priority                 = %d\n", *s.priority)
		}
	default:
		return ch, errorf(1, " shoal's sacctmgr adds accounts, users and qos, not %s", entity)
	}
	return ch, nil
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

func dropKeys(opts []acctOpt, keys ...string) []acctOpt {
	var out []acctOpt
	for _, o := range opts {
		if !acctHas(keys, o.key) {
			out = append(out, o)
		}
	}
	return out
}

// planModify works out a modify's change and prints what it changes.
func planModify(entity string, a acctArgs, reg api.AccountsState, out *strings.Builder) (api.AccountsChange, error) {
	var ch api.AccountsChange
	x := indexRegistry(reg)
	if len(a.set) == 0 {
		return ch, errorf(1, " You didn't give me anything to set")
	}
	s, err := parseSettings(entity, a.set)
	if err != nil {
		return ch, err
	}
	if otherCluster(a.where) {
		out.WriteString(" Nothing modified\n")
		return ch, nil
	}
	// modAssoc applies the settings to an association (resetting its
	// usage first when asked).
	modAssoc := func(as api.Association) {
		if s.resetUsage {
			ch.ResetUsage = append(ch.ResetUsage, as)
		}
		s.applyAssoc(&as)
		ch.Associations = append(ch.Associations, as)
	}
	switch entity {
	case "account":
		names := lower(append(a.names, optValues(a.where, "account")...))
		users := optValues(a.where, "user")
		if len(names) == 0 {
			return ch, errorf(1, " You didn't give me anything to modify: name the accounts (where name=NAME)")
		}
		var accts, assocs []string
		for _, n := range names {
			acct, ok := x.accounts[n]
			if !ok {
				continue
			}
			if s.acctSet {
				if s.description != nil {
					acct.Description = *s.description
				}
				if s.organization != nil {
					acct.Organization = *s.organization
				}
				accts = append(accts, n)
			}
			if s.parent != nil && *s.parent != acct.Parent {
				old := acct.Parent
				acct.Parent = *s.parent
				assocs = append(assocs, fmt.Sprintf("C = %-10s A = %s of %s", shoalCluster, n, old))
			}
			if s.acctSet || s.parent != nil {
				ch.Accounts = append(ch.Accounts, acct)
			}
			if s.assocSet || s.resetUsage {
				keys := [][2]string{{n, ""}}
				if len(users) > 0 {
					keys = nil
					for _, u := range users {
						keys = append(keys, [2]string{n, u})
					}
				}
				for _, k := range keys {
					as, ok := x.assocs[k]
					if !ok {
						continue
					}
					modAssoc(as)
					if k[1] == "" && s.parent == nil {
						assocs = append(assocs, fmt.Sprintf("C = %-10s A = %s of %s", shoalCluster, n, acct.Parent))
					} else if k[1] != "" {
						assocs = append(assocs, fmt.Sprintf("C = %-10s A = %-20s U = %-9s", shoalCluster, n, k[1]))
					}
				}
			}
		}
		printModified(out, "accounts", accts, "account associations", assocs)
	case "user":
		names := append(a.names, optValues(a.where, "user")...)
		accounts := lower(optValues(a.where, "account"))
		if len(names) == 0 {
			return ch, errorf(1, " You didn't give me anything to modify: name the users (where name=NAME)")
		}
		var users, assocs []string
		for _, n := range names {
			u, ok := x.users[n]
			if !ok {
				continue
			}
			if s.userSet {
				if s.defaultAccount != nil {
					if _, ok := x.assocs[[2]string{*s.defaultAccount, n}]; !ok {
						return ch, errorf(1, " User %s has no association to account %s: add it first (sacctmgr add user %s account=%s)", n, *s.defaultAccount, n, *s.defaultAccount)
					}
					u.DefaultAccount = *s.defaultAccount
				}
				if s.adminLevel != nil {
					u.AdminLevel = *s.adminLevel
				}
				ch.Users = append(ch.Users, u)
				users = append(users, n)
			}
			if s.assocSet || s.resetUsage {
				for _, as := range reg.Associations {
					if as.User != n || (len(accounts) > 0 && !acctHas(accounts, as.Account)) {
						continue
					}
					modAssoc(as)
					assocs = append(assocs, fmt.Sprintf("C = %-10s A = %-20s U = %-9s", shoalCluster, as.Account, n))
				}
			}
		}
		printModified(out, "users", users, "user associations", assocs)
	case "qos":
		names := lower(a.names)
		if len(names) == 0 {
			return ch, errorf(1, " You didn't give me anything to modify: name the qos (where name=NAME)")
		}
		var done []string
		for _, n := range names {
			q, ok := x.qos[n]
			if !ok {
				continue
			}
			s.applyQOS(&q)
			if err := s.preempt.apply(&q, x); err != nil {
				return api.AccountsChange{}, err
			}
			ch.QOS = append(ch.QOS, q)
			done = append(done, n)
		}
		if err := checkPreemptLoops(x, ch.QOS); err != nil {
			return api.AccountsChange{}, err
		}
		printModified(out, "qos", done, "", nil)
	default:
		return ch, errorf(1, " shoal's sacctmgr modifies accounts, users and qos, not %s", entity)
	}
	return ch, nil
}

// otherCluster reports whether a where clause names clusters that are not
// shoal's: then nothing matches.
func otherCluster(where []acctOpt) bool {
	for _, o := range where {
		if o.key == "cluster" && !acctHas(splitList(o.val), shoalCluster) {
			return true
		}
	}
	return false
}

func printModified(out *strings.Builder, what string, names []string, assocWhat string, assocs []string) {
	if len(names) == 0 && len(assocs) == 0 {
		out.WriteString(" Nothing modified\n")
		return
	}
	if len(names) > 0 {
		fmt.Fprintf(out, " Modified %s...\n", what)
		for _, n := range names {
			fmt.Fprintf(out, "  %s\n", n)
		}
	}
	if len(assocs) > 0 {
		fmt.Fprintf(out, " Modified %s...\n", assocWhat)
		for _, a := range assocs {
			fmt.Fprintf(out, "  %s\n", a)
		}
	}
}

// planDelete works out a delete's change and prints what goes.
func planDelete(entity string, a acctArgs, reg api.AccountsState, out *strings.Builder) (api.AccountsChange, error) {
	var ch api.AccountsChange
	x := indexRegistry(reg)
	if len(a.set) > 0 {
		return ch, errorf(1, " Delete takes no 'set': name what to delete (where ...)")
	}
	if otherCluster(a.where) {
		out.WriteString(" Nothing deleted\n")
		return ch, nil
	}
	var lines []string
	head := ""
	// gone lists line under the heading what (the last one given).
	gone := func(line, what string) { lines, head = append(lines, line), what }
	// dropAssoc deletes the association (acct, user), if it exists,
	// listed under what.
	dropAssoc := func(acct, user, what string) {
		if _, ok := x.assocs[[2]string{acct, user}]; ok {
			ch.Associations = append(ch.Associations, api.Association{Account: acct, User: user})
			gone(fmt.Sprintf("C = %-10s A = %-10s U = %-9s", shoalCluster, acct, user), what)
		}
	}
	switch entity {
	case "account":
		names := lower(append(a.names, optValues(a.where, "account")...))
		users := optValues(a.where, "user")
		if len(names) == 0 {
			return ch, errorf(1, " No conditions given: name the accounts to delete")
		}
		for _, n := range names {
			if _, ok := x.accounts[n]; !ok {
				continue
			}
			if len(users) == 0 {
				ch.Accounts = append(ch.Accounts, api.Account{Name: n})
				gone(n, "accounts")
				continue
			}
			for _, u := range users {
				dropAssoc(n, u, "account associations")
			}
		}
	case "user":
		names := append(a.names, optValues(a.where, "user")...)
		accounts := lower(optValues(a.where, "account"))
		if len(names) == 0 {
			return ch, errorf(1, " No conditions given: name the users to delete")
		}
		for _, n := range names {
			if _, ok := x.users[n]; !ok {
				continue
			}
			if len(accounts) == 0 {
				ch.Users = append(ch.Users, api.AcctUser{Name: n})
				gone(n, "users")
				continue
			}
			for _, acct := range accounts {
				dropAssoc(acct, n, "user associations")
			}
		}
	case "qos":
		for _, n := range lower(a.names) {
			if _, ok := x.qos[n]; ok {
				ch.QOS = append(ch.QOS, api.QOS{Name: n})
				gone(n, "QOS(s)")
			}
		}
	default:
		return ch, errorf(1, " shoal's sacctmgr deletes accounts, users and qos, not %s", entity)
	}
	if len(lines) == 0 {
		out.WriteString(" Nothing deleted\n")
		return ch, nil
	}
	fmt.Fprintf(out, " Deleting %s...\n", head)
	for _, l := range lines {
		fmt.Fprintf(out, "  %s\n", l)
	}
	return ch, nil
}

// registryRows lists entity's rows from the registry, narrowed by
// users, accounts and names (QOS).
func (r *sacctmgrRun) registryRows(entity string, reg api.AccountsState, users, accounts, names []string) []assocRow {
	x := indexRegistry(reg)
	wantUser := func(u string) bool { return len(users) == 0 || acctHas(users, u) }
	wantAcct := func(a string) bool { return len(accounts) == 0 || acctHas(accounts, a) }
	userRow := func(u api.AcctUser, as *api.Association) assocRow {
		admin := u.AdminLevel
		if admin == "" {
			admin = api.AdminNone
		}
		row := assocRow{user: u.Name, defAcct: u.DefaultAccount, admin: admin, account: u.DefaultAccount, reg: &x}
		if as != nil {
			row.account, row.assoc = as.Account, as
		}
		return row
	}
	// Hierarchical order: an account, its users, then its sub-accounts.
	children := map[string][]string{}
	for _, a := range reg.Accounts {
		if a.Name != api.RootAccount {
			children[a.Parent] = append(children[a.Parent], a.Name)
		}
	}
	var order []string
	depth := map[string]int{}
	var walk func(string, int)
	walk = func(a string, d int) {
		order = append(order, a)
		depth[a] = d
		cs := children[a]
		sort.Strings(cs)
		for _, c := range cs {
			walk(c, d+1)
		}
	}
	if _, ok := x.accounts[api.RootAccount]; ok {
		walk(api.RootAccount, 0)
	}
	assocRows := func(acctName string, withAcct bool) []assocRow {
		var rows []assocRow
		if as, ok := x.assocs[[2]string{acctName, ""}]; ok && withAcct {
			as := as
			acct := x.accounts[acctName]
			rows = append(rows, assocRow{account: acctName, assoc: &as, acct: &acct, reg: &x, depth: depth[acctName]})
		}
		for _, as := range reg.Associations {
			if as.Account != acctName || as.User == "" || !wantUser(as.User) {
				continue
			}
			as := as
			row := userRow(x.users[as.User], &as)
			row.depth = depth[acctName] + 1
			rows = append(rows, row)
		}
		return rows
	}
	var rows []assocRow
	switch entity {
	case "user":
		for _, u := range reg.Users {
			if !wantUser(u.Name) {
				continue
			}
			if !r.assoc {
				has := len(accounts) == 0
				for _, a := range accounts {
					_, ok := x.assocs[[2]string{a, u.Name}]
					has = has || ok
				}
				if has {
					rows = append(rows, userRow(u, nil))
				}
				continue
			}
			for _, as := range reg.Associations {
				if as.User == u.Name && wantAcct(as.Account) {
					as := as
					rows = append(rows, userRow(u, &as))
				}
			}
		}
	case "account":
		for _, a := range reg.Accounts {
			if !wantAcct(a.Name) {
				continue
			}
			a := a
			if !r.assoc {
				rows = append(rows, assocRow{account: a.Name, acct: &a, reg: &x})
				continue
			}
			rows = append(rows, assocRows(a.Name, true)...)
		}
	case "association":
		for _, a := range order {
			if !wantAcct(a) {
				continue
			}
			rows = append(rows, assocRows(a, len(users) == 0)...)
		}
	case "qos":
		for _, q := range reg.QOS {
			if len(names) > 0 && !acctHas(names, q.Name) {
				continue
			}
			q := q
			rows = append(rows, assocRow{account: q.Name, qos: &q, reg: &x})
		}
	}
	return rows
}
