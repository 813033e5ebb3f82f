package slurm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// sacctmgr over the controller's account registry (api.AccountsState):
// add, modify and delete of accounts, users and QOS (operators only: the
// controller refuses others, and sacctmgr says so in Slurm's words), and
// list/show from the registry once it has accounts. While it has none,
// list and show answer as before, from the accounts jobs carry.

// registry fetches the registry; ok is false when the controller's
// client cannot ask (a fake without Call).
func (r *sacctmgrRun) registry() (reg api.AccountsState, ok bool, err error) {
	cl, ok := r.c.Client.(caller)
	if !ok {
		return reg, false, nil
	}
	err = cl.Call(context.Background(), api.PathAccounts, api.AccountsRequest{}, &reg)
	return reg, true, err
}

// acctOpt is one key=value of a command line, its key resolved.
type acctOpt struct {
	key, raw, val string
}

// acctKeyTable maps sacctmgr's keys (abbreviated as Slurm allows, to the
// least length given) to canonical names. Exact names are tried first.
var acctKeyTable = []struct {
	full  string
	least int
	canon string
}{
	{"names", 1, "name"}, {"users", 1, "user"}, {"accounts", 3, "account"}, {"acct", 4, "account"},
	{"clusters", 1, "cluster"}, {"description", 1, "description"}, {"organization", 1, "organization"},
	{"parent", 3, "parent"}, {"fairshare", 2, "fairshare"}, {"shares", 2, "fairshare"},
	{"defaultaccount", 8, "defaultaccount"}, {"adminlevel", 2, "adminlevel"},
	{"defaultqos", 3, "defaultqos"}, {"qoslevel", 3, "qos"}, {"qos", 1, "qos"},
	{"priority", 3, "priority"}, {"partition", 4, "partition"},
	{"maxjobsperuser", 9, "maxjobspu"}, {"maxjobspu", 9, "maxjobspu"},
	{"maxsubmitjobsperuser", 12, "maxsubmitpu"}, {"maxsubmitpu", 11, "maxsubmitpu"}, {"maxsubmitjobspu", 15, "maxsubmitpu"},
	{"maxjobs", 4, "maxjobs"}, {"maxsubmitjobs", 4, "maxsubmitjobs"}, {"maxwalldurationperjob", 4, "maxwall"}, {"maxwall", 4, "maxwall"},
	{"maxtresperjob", 7, "maxtres"}, {"maxtres", 7, "maxtres"},
	{"grpjobs", 4, "grpjobs"}, {"grpsubmitjobs", 4, "grpsubmitjobs"}, {"grptres", 7, "grptres"},
	{"rawusage", 7, "rawusage"},
}

// acctKey resolves a key, "" if sacctmgr knows it not.
func acctKey(k string) string {
	k = strings.ToLower(k)
	for _, e := range acctKeyTable {
		if k == e.full {
			return e.canon
		}
	}
	for _, e := range acctKeyTable {
		if len(k) >= e.least && strings.HasPrefix(e.full, k) {
			return e.canon
		}
	}
	return ""
}

// acctArgs is a command line's names, conditions (before "set", or all
// of add's) and values (after "set").
type acctArgs struct {
	names []string
	where []acctOpt
	set   []acctOpt
}

// parseAcctArgs splits words; a bare word is a name (Slurm's), "where"
// and "set" switch between conditions and values.
func parseAcctArgs(words []string) (acctArgs, error) {
	var a acctArgs
	inSet := false
	for _, w := range words {
		switch lw := strings.ToLower(w); {
		case lw == "where":
			inSet = false
			continue
		case lw == "set":
			inSet = true
			continue
		}
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			if inSet {
				return a, errorf(1, " Unknown option: %s\n Use keyword 'where' to modify condition", w)
			}
			a.names = append(a.names, splitList(w)...)
			continue
		}
		// Slurm's Key+=, Key-= forms are not supported: say so.
		if strings.HasSuffix(k, "+") || strings.HasSuffix(k, "-") {
			return a, errorf(1, " shoal's sacctmgr does not take %s: give the whole value with %s=", w, strings.TrimRight(k, "+-"))
		}
		key := acctKey(k)
		if key == "" {
			return a, errorf(1, " Unknown option: %s", w)
		}
		o := acctOpt{key: key, raw: k, val: strings.Trim(v, `"'`)}
		if inSet {
			a.set = append(a.set, o)
		} else if key == "name" {
			a.names = append(a.names, splitList(o.val)...)
		} else {
			a.where = append(a.where, o)
		}
	}
	return a, nil
}

// values of key among opts (lists split), in order.
func optValues(opts []acctOpt, key string) []string {
	var out []string
	for _, o := range opts {
		if o.key == key {
			out = append(out, splitList(o.val)...)
		}
	}
	return out
}

// acctSettings are the values an add or modify sets; nil/"" unset.
type acctSettings struct {
	description, organization, parent *string
	defaultAccount, adminLevel        *string
	shares, priority                  *int64
	qos                               *[]string
	defaultQOS                        *string
	limits                            map[string]*int64 // key -> value (nil: clear)
	tres                              map[string]string // grptres, maxtres -> value ("": clear)
	resetUsage                        bool
	assocSet, acctSet, userSet        bool // which records the settings touch
}

var limitKeys = map[string]bool{"maxjobs": true, "maxsubmitjobs": true, "grpjobs": true, "grpsubmitjobs": true, "maxwall": true,
	"maxjobspu": true, "maxsubmitpu": true}

// parseSettings reads opts as values; entity says which keys apply.
func parseSettings(entity string, opts []acctOpt) (acctSettings, error) {
	s := acctSettings{limits: map[string]*int64{}, tres: map[string]string{}}
	str := func(v string) *string { return &v }
	for _, o := range opts {
		switch {
		case o.key == "description" && entity != "user":
			s.description, s.acctSet = str(o.val), true
		case o.key == "organization" && entity == "account":
			s.organization, s.acctSet = str(o.val), true
		case o.key == "parent" && entity == "account":
			s.parent, s.assocSet = str(strings.ToLower(o.val)), true
		case o.key == "defaultaccount" && entity == "user":
			s.defaultAccount, s.userSet = str(strings.ToLower(o.val)), true
		case o.key == "adminlevel" && entity == "user":
			lvl, err := adminLevel(o.val)
			if err != nil {
				return s, err
			}
			s.adminLevel, s.userSet = &lvl, true
		case o.key == "fairshare" && entity != "qos":
			n, err := acctInt(o, false)
			if err != nil {
				return s, err
			}
			if n == nil {
				one := int64(1)
				n = &one
			}
			s.shares, s.assocSet = n, true
		case o.key == "priority" && entity == "qos":
			n, err := acctInt(o, false)
			if err != nil {
				return s, err
			}
			if n == nil {
				zero := int64(0)
				n = &zero
			}
			s.priority = n
		case o.key == "qos" && entity != "qos":
			q := splitList(strings.ToLower(o.val))
			s.qos, s.assocSet = &q, true
		case o.key == "defaultqos" && entity != "qos":
			s.defaultQOS, s.assocSet = str(strings.ToLower(o.val)), true
		case o.key == "maxwall":
			m, err := acctMinutes(o)
			if err != nil {
				return s, err
			}
			s.limits["maxwall"], s.assocSet = m, true
		case limitKeys[o.key] && (entity == "qos" || (o.key != "maxjobspu" && o.key != "maxsubmitpu")):
			n, err := acctInt(o, true)
			if err != nil {
				return s, err
			}
			s.limits[o.key], s.assocSet = n, true
		case o.key == "grptres" || o.key == "maxtres":
			v, err := acctTRES(o)
			if err != nil {
				return s, err
			}
			s.tres[o.key], s.assocSet = v, true
		case o.key == "rawusage" && entity != "qos":
			if o.val != "0" {
				return s, errorf(1, " RawUsage can only be set to 0 (it resets the usage)")
			}
			s.resetUsage = true
		case o.key == "cluster":
			if !acctHas(splitList(o.val), shoalCluster) {
				return s, errorf(1, " The cluster %s doesn't exist (shoal's cluster is %s)", o.val, shoalCluster)
			}
		default:
			return s, errorf(1, " Unknown option: %s=%s\n Use keyword 'where' to modify condition", o.raw, o.val)
		}
	}
	return s, nil
}

func adminLevel(v string) (string, error) {
	switch strings.ToLower(v) {
	case "none", "":
		return api.AdminNone, nil
	case "operator", "oper", "op":
		return api.AdminOperator, nil
	case "administrator", "admin", "ad":
		return api.AdminAdmin, nil
	}
	return "", errorf(1, " Unknown AdminLevel %s: give None, Operator or Administrator", v)
}

// acctInt reads a count; -1 (and, where unlimited is allowed, a blank)
// clears it (nil).
func acctInt(o acctOpt, limit bool) (*int64, error) {
	if o.val == "-1" || (limit && (o.val == "" || strings.EqualFold(o.val, "unlimited"))) {
		return nil, nil
	}
	n, err := strconv.ParseInt(o.val, 10, 64)
	if err != nil || n < 0 {
		return nil, errorf(1, " Bad %s value: %s (give a whole number, or -1 to clear it)", o.raw, o.val)
	}
	return &n, nil
}

// acctMinutes reads a wall limit as Slurm's time_str2mins: minutes,
// [D-]H:M[:S], M:S, D-H; -1 or UNLIMITED clears it.
func acctMinutes(o acctOpt) (*int64, error) {
	v := o.val
	if v == "-1" || v == "" || strings.EqualFold(v, "unlimited") {
		return nil, nil
	}
	bad := errorf(1, " Bad MaxWall time format: %s (give minutes, HH:MM:SS or D-HH:MM:SS)", v)
	days := int64(0)
	if d, rest, ok := strings.Cut(v, "-"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return nil, bad
		}
		days, v = n, rest
	}
	parts := strings.Split(v, ":")
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return nil, bad
		}
		nums[i] = n
	}
	var m int64
	switch {
	case len(nums) == 1 && days > 0: // D-H
		m = nums[0] * 60
	case len(nums) == 1:
		m = nums[0]
	case len(nums) == 2 && days > 0: // D-H:M
		m = nums[0]*60 + nums[1]
	case len(nums) == 2: // M:S
		m = nums[0]
		if nums[1] > 0 {
			m++
		}
	case len(nums) == 3:
		m = nums[0]*60 + nums[1]
		if nums[2] > 0 {
			m++
		}
	default:
		return nil, bad
	}
	m += days * 24 * 60
	return &m, nil
}

// acctTRES checks a TRES string (cpu=4,mem=8G,node=1,gres/gpu=2,billing=N).
func acctTRES(o acctOpt) (string, error) {
	if o.val == "" || o.val == "-1" {
		return "", nil
	}
	var out []string
	for _, item := range splitList(strings.ToLower(o.val)) {
		k, v, ok := strings.Cut(item, "=")
		switch k {
		case "cpu", "mem", "node", "gres/gpu", "billing", "energy":
		default:
			ok = false
		}
		if !ok || v == "" {
			return "", errorf(1, " Invalid TRES %q in %s=%s: give cpu=N, mem=SIZE, node=N, gres/gpu=N or billing=N, separated by commas", item, o.raw, o.val)
		}
		if v != "-1" {
			if k == "mem" {
				if _, err := ParseMemoryMiB(v); err != nil {
					return "", errorf(1, " Invalid memory %q in %s=%s", v, o.raw, o.val)
				}
			} else if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return "", errorf(1, " Invalid count %q in %s=%s", v, o.raw, o.val)
			}
		}
		out = append(out, k+"="+v)
	}
	return strings.Join(out, ","), nil
}

// applyAssoc applies the association settings to a.
func (s acctSettings) applyAssoc(a *api.Association) {
	if s.shares != nil {
		a.Shares = *s.shares
	}
	if s.qos != nil {
		a.QOS = append([]string(nil), (*s.qos)...)
	}
	if s.defaultQOS != nil {
		a.DefaultQOS = *s.defaultQOS
	}
	s.applyLimits(&a.Limits)
}

// applyLimits applies the limits and TRES settings an association and a
// QOS both have to l.
func (s acctSettings) applyLimits(l *api.Limits) {
	for k, v := range s.limits {
		switch k {
		case "maxjobs":
			l.MaxJobs = v
		case "maxsubmitjobs":
			l.MaxSubmitJobs = v
		case "grpjobs":
			l.GrpJobs = v
		case "grpsubmitjobs":
			l.GrpSubmitJobs = v
		case "maxwall":
			l.MaxWall = v
		}
	}
	for k, v := range s.tres {
		if k == "grptres" {
			l.GrpTRES = v
		} else {
			l.MaxTRES = v
		}
	}
}

// applyQOS applies the settings to q.
func (s acctSettings) applyQOS(q *api.QOS) {
	if s.description != nil {
		q.Description = *s.description
	}
	if s.priority != nil {
		q.Priority = *s.priority
	}
	s.applyLimits(&q.Limits)
	if v, ok := s.limits["maxjobspu"]; ok {
		q.MaxJobsPU = v
	}
	if v, ok := s.limits["maxsubmitpu"]; ok {
		q.MaxSubmitPU = v
	}
}

// printAssocLimits prints the settings as sacctmgr_print_assoc_limits.
func (s acctSettings) printAssocLimits(b *strings.Builder, parent string) {
	if s.shares != nil {
		fmt.Fprintf(b, "  Fairshare     = %d\n", *s.shares)
	}
	lim := func(key, label string) {
		if v, ok := s.limits[key]; ok {
			if v == nil {
				fmt.Fprintf(b, "  %-13s = NONE\n", label)
			} else if key == "maxwall" {
				fmt.Fprintf(b, "  %-13s = %s\n", label, minsString(*v))
			} else {
				fmt.Fprintf(b, "  %-13s = %d\n", label, *v)
			}
		}
	}
	lim("grpjobs", "GrpJobs")
	lim("grpsubmitjobs", "GrpSubmitJobs")
	if v, ok := s.tres["grptres"]; ok {
		fmt.Fprintf(b, "  GrpTRES       = %s\n", v)
	}
	lim("maxjobs", "MaxJobs")
	lim("maxsubmitjobs", "MaxSubmitJobs")
	if v, ok := s.tres["maxtres"]; ok {
		fmt.Fprintf(b, "  MaxTRES       = %s\n", v)
	}
	lim("maxwall", "MaxWall")
	if parent != "" {
		fmt.Fprintf(b, "  Parent        = %s\n", parent)
	}
	if s.qos != nil {
		fmt.Fprintf(b, "  QOS           = %s\n", strings.Join(*s.qos, ","))
	}
	if s.defaultQOS != nil {
		fmt.Fprintf(b, "  DefQOS        = %s\n", *s.defaultQOS)
	}
}

// minsString prints minutes as Slurm's mins2time_str: [D-]HH:MM:SS.
func minsString(m int64) string {
	d, h, mm := m/(24*60), (m/60)%24, m%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:00", d, h, mm)
	}
	return fmt.Sprintf("%02d:%02d:00", h, mm)
}

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
			desc = q.Description
			ch.QOS = append(ch.QOS, q)
			fmt.Fprintf(&qosStr, "  %s\n", n)
		}
		if len(ch.QOS) == 0 {
			out.WriteString(" Nothing new added.\n")
			return ch, nil
		}
		fmt.Fprintf(out, " Adding QOS(s)\n%s Settings\n  Description    = %s\n", qosStr.String(), desc)
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
			ch.QOS = append(ch.QOS, q)
			done = append(done, n)
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
