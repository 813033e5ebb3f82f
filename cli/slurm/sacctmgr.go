package slurm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// sacctmgr edits and lists the controller's account registry
// (sacctmgr_registry.go). Until a site adds its first account, an account
// is a free-form label a job carries (sbatch -A), and list/show answer the
// questions clients ask (snakemake checks its --slurm account with
// `sacctmgr -n -s list user "$USER" format=account%20`) from what shoal
// can know: every user's default account is their user name, and the
// accounts of a user are that and the accounts their jobs were submitted
// with.

var sacctmgrOptions = []Option{
	{Long: "associations", Short: 's', Arg: NoArg},
	{Long: "help", Short: 'h', Arg: NoArg},
	{Long: "immediate", Short: 'i', Arg: NoArg},
	{Long: "noheader", Short: 'n', Arg: NoArg},
	{Long: "parsable", Short: 'p', Arg: NoArg},
	{Long: "parsable2", Short: 'P', Arg: NoArg},
	{Long: "quiet", Short: 'Q', Arg: NoArg, Key: "ignore"},
	{Long: "readonly", Short: 'r', Arg: NoArg, Key: "ignore"},
	{Long: "verbose", Short: 'v', Arg: NoArg, Key: "ignore"},
	{Long: "version", Short: 'V', Arg: NoArg},
}

var sacctmgrGetopt = &Getopt{Prog: "sacctmgr", Options: sacctmgrOptions}

// shoalCluster is the cluster name shoal reports (SLURM_CLUSTER_NAME too).
const shoalCluster = "shoal"

// assocRow is one line sacctmgr can print: from the accounts of jobs
// (reg nil), or from the registry (sacctmgr_registry.go): then assoc,
// acct or qos is the record the row shows, depth its place in the tree.
type assocRow struct {
	user, account, defAcct, admin string
	reg                           *regIndex
	assoc                         *api.Association
	acct                          *api.Account
	qos                           *api.QOS
	depth                         int
}

// sacctmgrField is a column: its header, default width (negative: left
// justified) and value.
type sacctmgrField struct {
	header string
	width  int
	value  func(r assocRow) string
}

var sacctmgrFields = sync.OnceValue(func() map[string]sacctmgrField {
	return map[string]sacctmgrField{
		"user":           {"User", 10, func(r assocRow) string { return r.user }},
		"defaultaccount": {"Def Acct", 10, func(r assocRow) string { return r.defAcct }},
		"adminlevel":     {"Admin", 9, func(r assocRow) string { return r.admin }},
		"cluster":        {"Cluster", 10, func(assocRow) string { return shoalCluster }},
		"account":        {"Account", 10, func(r assocRow) string { return r.account }},
		"partition":      {"Partition", 10, func(assocRow) string { return "" }},
		"fairshare": {"Share", 9, func(r assocRow) string {
			if r.assoc != nil {
				return strconv.FormatInt(r.assoc.Shares, 10)
			}
			return r.unset("1")
		}},
		"qos": {"QOS", 20, func(r assocRow) string {
			if r.reg != nil {
				return r.assocQOS()
			}
			return "normal"
		}},
		"defaultqos": {"Def QOS", 9, func(r assocRow) string {
			if r.assoc != nil {
				return r.assoc.DefaultQOS
			}
			return ""
		}},
		"description": {"Descr", 20, func(r assocRow) string {
			switch {
			case r.acct != nil:
				return r.acct.Description
			case r.qos != nil:
				return r.qos.Description
			}
			return r.account
		}},
		"organization": {"Org", 20, func(r assocRow) string {
			if r.acct != nil {
				return r.acct.Organization
			}
			return r.account
		}},
		"parentname": {"Par Name", 10, func(r assocRow) string {
			if r.reg != nil {
				if r.user == "" && r.assoc != nil {
					return r.reg.accounts[r.account].Parent
				}
				return ""
			}
			if r.user == "" && r.account != "root" {
				return "root"
			}
			return ""
		}},
		"name": {"Name", 10, func(r assocRow) string { return r.account }},
		"priority": {"Priority", 10, func(r assocRow) string {
			if r.qos != nil {
				return strconv.FormatInt(r.qos.Priority, 10)
			}
			return r.unset("0")
		}},
		"maxjobs":       {"MaxJobs", 7, func(r assocRow) string { return r.limit(func(l api.Limits) *int64 { return l.MaxJobs }) }},
		"maxsubmitjobs": {"MaxSubmit", 9, func(r assocRow) string { return r.limit(func(l api.Limits) *int64 { return l.MaxSubmitJobs }) }},
		"grpjobs":       {"GrpJobs", 7, func(r assocRow) string { return r.limit(func(l api.Limits) *int64 { return l.GrpJobs }) }},
		"grpsubmitjobs": {"GrpSubmit", 9, func(r assocRow) string { return r.limit(func(l api.Limits) *int64 { return l.GrpSubmitJobs }) }},
		"maxwall": {"MaxWall", 11, func(r assocRow) string {
			if l := r.limits(); l != nil && l.MaxWall != nil {
				return minsString(*l.MaxWall)
			}
			return ""
		}},
		"grptres": {"GrpTRES", 13, func(r assocRow) string {
			if l := r.limits(); l != nil {
				return l.GrpTRES
			}
			return ""
		}},
		"maxtres": {"MaxTRES", 13, func(r assocRow) string {
			if l := r.limits(); l != nil {
				return l.MaxTRES
			}
			return ""
		}},
		"maxjobspu": {"MaxJobsPU", 9, func(r assocRow) string {
			if r.qos == nil {
				return ""
			}
			return optCount(r.qos.MaxJobsPU)
		}},
		"maxsubmitpu": {"MaxSubmitPU", 11, func(r assocRow) string {
			if r.qos == nil {
				return ""
			}
			return optCount(r.qos.MaxSubmitPU)
		}},
		// Columns of Slurm's defaults shoal keeps nothing for: blank.
		"grpwall":        {"GrpWall", 11, blankField},
		"grptresmins":    {"GrpTRESMins", 13, blankField},
		"grptresrunmins": {"GrpTRESRunMins", 13, blankField},
		"maxtrespernode": {"MaxTRESPerNode", 14, blankField},
		"maxtresmins":    {"MaxTRESMins", 13, blankField},
		"maxnodes":       {"MaxNodes", 8, blankField},
		"maxcpus":        {"MaxCPUs", 8, blankField},
		"maxcpumins":     {"MaxCPUMins", 11, blankField},
		"grpnodes":       {"GrpNodes", 8, blankField},
		"grpcpus":        {"GrpCPUs", 8, blankField},
		"grpmem":         {"GrpMem", 7, blankField},
		"grpcpumins":     {"GrpCPUMins", 11, blankField},
		"gracetime": {"GraceTime", 10, func(r assocRow) string {
			if r.qos == nil {
				return "00:00:00"
			}
			return secsString(r.qos.GraceTime)
		}},
		"preempt": {"Preempt", 10, func(r assocRow) string {
			if r.qos == nil {
				return ""
			}
			return strings.Join(r.qos.Preempt, ",")
		}},
		"preemptexempt": {"PreemptExemptTime", 19, func(r assocRow) string {
			if r.qos == nil || r.qos.PreemptExemptTime == nil {
				return ""
			}
			return secsString(*r.qos.PreemptExemptTime)
		}},
		"preemptmode": {"PreemptMode", 11, func(r assocRow) string { return qosPreemptMode(r.qos) }},
		"flags":       {"Flags", 20, blankField},
		"usagethres":  {"UsageThres", 10, blankField},
		"usagefactor": {"UsageFactor", 11, func(assocRow) string { return "1.000000" }},
		"maxtrespu":   {"MaxTRESPU", 13, blankField},
		"maxtrespa":   {"MaxTRESPA", 13, blankField},
		"maxjobspa":   {"MaxJobsPA", 9, blankField},
		"maxsubmitpa": {"MaxSubmitPA", 11, blankField},
		"mintres":     {"MinTRES", 13, blankField},
	}
})

func blankField(assocRow) string { return "" }

// limits are the row's record's limits (nil: none).
func (r assocRow) limits() *api.Limits {
	switch {
	case r.assoc != nil:
		return &r.assoc.Limits
	case r.qos != nil:
		return &r.qos.Limits
	}
	return nil
}

func (r assocRow) limit(get func(api.Limits) *int64) string {
	if l := r.limits(); l != nil {
		return optCount(get(*l))
	}
	return ""
}

// optCount writes a count that may be unset (nil: "").
func optCount(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

// unset is what a column shows for a row without the record it reads:
// blank in a listing from the registry, Slurm's default (legacy) in the
// listing shoal makes when no registry exists.
func (r assocRow) unset(legacy string) string {
	if r.reg != nil {
		return ""
	}
	return legacy
}

// assocQOS is the QOS list of a row's association, inherited from the
// account above it when it has none (normal at the top).
func (r assocRow) assocQOS() string {
	if r.assoc == nil {
		return ""
	}
	k := [2]string{r.assoc.Account, r.assoc.User}
	for i := 0; i <= len(r.reg.accounts)+1; i++ {
		a, ok := r.reg.assocs[k]
		if ok && len(a.QOS) > 0 {
			q := append([]string(nil), a.QOS...)
			sort.Strings(q)
			return strings.Join(q, ",")
		}
		if k[1] != "" {
			k = [2]string{k[0], ""}
			continue
		}
		parent := r.reg.accounts[k[0]].Parent
		if parent == "" {
			break
		}
		k = [2]string{parent, ""}
	}
	if _, ok := r.reg.qos[api.NormalQOS]; ok {
		return api.NormalQOS
	}
	return ""
}

// sacctmgrFieldAliases maps the names sacctmgr accepts to sacctmgrFields.
var sacctmgrFieldAliases = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"user": "user", "users": "user", "defaultaccount": "defaultaccount", "defacct": "defaultaccount",
		"adminlevel": "adminlevel", "admin": "adminlevel", "cluster": "cluster", "account": "account",
		"acct": "account", "partition": "partition", "fairshare": "fairshare", "share": "fairshare",
		"qos": "qos", "defaultqos": "defaultqos", "description": "description", "descr": "description",
		"organization": "organization", "org": "organization", "parentname": "parentname", "parent": "parentname",
		"name": "name", "priority": "priority", "prio": "priority",
		"maxjobs": "maxjobs", "maxj": "maxjobs", "maxsubmitjobs": "maxsubmitjobs", "maxsubmit": "maxsubmitjobs", "maxs": "maxsubmitjobs",
		"grpjobs": "grpjobs", "grpj": "grpjobs", "grpsubmitjobs": "grpsubmitjobs", "grpsubmit": "grpsubmitjobs", "grps": "grpsubmitjobs",
		"maxwall": "maxwall", "maxw": "maxwall", "maxwalldurationperjob": "maxwall", "grptres": "grptres", "maxtres": "maxtres",
		"maxtresperjob": "maxtres", "maxjobspu": "maxjobspu", "maxjobsperuser": "maxjobspu", "maxsubmitpu": "maxsubmitpu",
		"maxsubmitjobsperuser": "maxsubmitpu", "grpwall": "grpwall", "grptresmins": "grptresmins", "grptresrunmins": "grptresrunmins",
		"maxtrespernode": "maxtrespernode", "maxtrespern": "maxtrespernode", "maxtresmins": "maxtresmins", "maxnodes": "maxnodes", "maxn": "maxnodes",
		"maxcpus": "maxcpus", "maxcpumins": "maxcpumins", "grpnodes": "grpnodes", "grpn": "grpnodes", "grpcpus": "grpcpus",
		"grpmem": "grpmem", "grpcpumins": "grpcpumins", "gracetime": "gracetime", "gracet": "gracetime", "preempt": "preempt",
		"preemptexempttime": "preemptexempt", "preempte": "preemptexempt", "preemptmode": "preemptmode", "preemptm": "preemptmode",
		"flags": "flags", "usagethreshold": "usagethres", "usagethres": "usagethres", "usagefactor": "usagefactor",
		"maxtrespu": "maxtrespu", "maxtresperuser": "maxtrespu", "maxtrespa": "maxtrespa", "maxtresperacct": "maxtrespa",
		"maxjobspa": "maxjobspa", "maxjobsperacct": "maxjobspa", "maxsubmitpa": "maxsubmitpa", "maxsubmitjobsperacct": "maxsubmitpa",
		"mintres": "mintres", "parentn": "parentname", "cl": "cluster", "acc": "account", "part": "partition",
	}
})

// Default columns, per entity: from the accounts of jobs, a subset of
// Slurm's; from the registry ("reg:"), Slurm 22.05's.
var sacctmgrDefaults = sync.OnceValue(func() map[string][]string {
	return map[string][]string{
		"reg:user":       {"user", "defaultaccount", "adminlevel"},
		"reg:user+assoc": {"user", "defaultaccount", "adminlevel", "cluster", "account", "partition", "fairshare", "priority", "maxjobs", "maxnodes", "maxcpus", "maxsubmitjobs", "maxwall", "maxcpumins", "qos", "defaultqos"},
		"reg:account":    {"account", "description", "organization"},
		"reg:account+assoc": {"account", "description", "organization", "cluster", "parentname", "user", "fairshare", "priority", "grpjobs", "grpnodes",
			"grpcpus", "grpmem", "grpsubmitjobs", "grpwall", "grpcpumins", "maxjobs", "maxnodes", "maxcpus", "maxsubmitjobs", "maxwall", "maxcpumins", "qos", "defaultqos"},
		"reg:association": {"cluster", "account", "user", "partition", "fairshare", "priority", "grpjobs", "grptres", "grpsubmitjobs", "grpwall",
			"grptresmins", "maxjobs", "maxtres", "maxtrespernode", "maxsubmitjobs", "maxwall", "maxtresmins", "qos", "defaultqos", "grptresrunmins"},
		"reg:qos": {"name", "priority", "gracetime", "preempt", "preemptexempt", "preemptmode", "flags", "usagethres", "usagefactor",
			"grptres", "grptresmins", "grptresrunmins", "grpjobs", "grpsubmitjobs", "grpwall", "maxtres", "maxtrespernode", "maxtresmins", "maxwall",
			"maxtrespu", "maxjobspu", "maxsubmitpu", "maxtrespa", "maxjobspa", "maxsubmitpa", "mintres"},
		"user":          {"user", "defaultaccount", "adminlevel"},
		"user+assoc":    {"user", "defaultaccount", "adminlevel", "cluster", "account", "partition", "fairshare", "qos", "defaultqos"},
		"account":       {"account", "description", "organization"},
		"account+assoc": {"account", "description", "organization", "cluster", "parentname", "user", "fairshare", "qos", "defaultqos"},
		"association":   {"cluster", "account", "user", "partition", "fairshare", "qos", "defaultqos"},
		"qos":           {"name", "priority"},
	}
})

// acctColumn is one printed column: a field and its width.
type acctColumn struct {
	field sacctmgrField
	width int
}

// sacctmgrRun carries one run of the command.
type sacctmgrRun struct {
	c                   *Ctx
	noHeader, assoc     bool
	parsable, parsable2 bool
	immediate, tree     bool
	fromRegistry        bool // the rows come from the registry
}

// Sacctmgr is sacctmgr's read-only part: list or show users, accounts,
// associations and QOS. Everything else is refused: shoal keeps no
// account database.
func Sacctmgr(c *Ctx, args []string) int {
	opts, words, err := sacctmgrGetopt.Parse(args)
	if err != nil {
		var u *UsageError
		if errors.As(err, &u) {
			u.Report(c, "sacctmgr")
			return 1
		}
		return report(c, "sacctmgr", err)
	}
	r := &sacctmgrRun{c: c}
	for _, o := range opts {
		switch o.Key {
		case "associations":
			r.assoc = true
		case "help":
			fmt.Fprint(c.Stdout, sacctmgrHelp)
			return 0
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		case "noheader":
			r.noHeader = true
		case "parsable":
			r.parsable = true
		case "parsable2":
			r.parsable2 = true
		case "immediate":
			r.immediate = true
		}
	}
	if len(words) == 0 {
		return report(c, "sacctmgr", errorf(1, "no command given: shoal's sacctmgr answers add|modify|delete|list|show user|account|qos and list|show association"))
	}
	cmd := strings.ToLower(words[0])
	verb := ""
	switch {
	case acctAbbrev(cmd, "add", 3) || acctAbbrev(cmd, "create", 3):
		verb = "add"
	case acctAbbrev(cmd, "modify", 1) || acctAbbrev(cmd, "update", 1):
		verb = "modify"
	case acctAbbrev(cmd, "delete", 3) || acctAbbrev(cmd, "remove", 3):
		verb = "delete"
	case acctAbbrev(cmd, "list", 3) || acctAbbrev(cmd, "show", 3) || cmd == "ls":
	default:
		return report(c, "sacctmgr", errorf(1,
			"%s is not supported by shoal: its sacctmgr answers add, modify, delete, list and show", words[0]))
	}
	if len(words) < 2 {
		return report(c, "sacctmgr", errorf(1, "%s needs an entity: user, account, association or qos", words[0]))
	}
	entity := acctEntity(words[1])
	if verb != "" {
		if entity == "" || entity == "association" {
			return report(c, "sacctmgr", errorf(1, "%s %s is not supported by shoal: it changes accounts, users and qos", words[0], words[1]))
		}
		return r.write(verb, entity, words[2:])
	}
	if acctAbbrev(strings.ToLower(words[1]), "configuration", 2) {
		// shoal's accounting is its own archive, not slurmdbd: say so
		// as Slurm 22.05 does for any storage but slurmdbd.
		fmt.Fprint(c.Stderr, "You are not running a supported accounting_storage plugin\nOnly 'accounting_storage/slurmdbd' is supported.\n")
		return 1
	}
	if entity == "" {
		return report(c, "sacctmgr", errorf(1, "listing %s is not supported by shoal: only user, account, association and qos", words[1]))
	}
	return r.list(entity, words[2:])
}

// acctEntity reads an entity as sacctmgr abbreviates it: user, account,
// association or qos ("": none of them).
func acctEntity(word string) string {
	switch w := strings.ToLower(word); {
	case acctAbbrev(w, "users", 1):
		return "user"
	case acctAbbrev(w, "accounts", 2):
		return "account"
	case acctAbbrev(w, "associations", 2):
		return "association"
	case acctAbbrev(w, "qos", 1):
		return "qos"
	}
	return ""
}

// acctAbbrev reports whether word is a prefix of full at least least long.
func acctAbbrev(word, full string, least int) bool {
	return len(word) >= least && strings.HasPrefix(full, word)
}

// list prints entity's rows, with the conditions and format in args.
func (r *sacctmgrRun) list(entity string, args []string) int {
	var format []string
	var names, users, accounts []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			switch strings.ToLower(a) {
			case "where", "set":
			case "withassoc", "withassocs":
				r.assoc = true
			case "tree":
				r.tree = true
			case "withdeleted", "withcoordinators", "withcoord", "withrawqoslevel", "withsubaccounts", "withd":
			default:
				names = append(names, a)
			}
			continue
		}
		vals := strings.Split(v, ",")
		switch key := strings.ToLower(k); {
		case key == "format" || key == "formats":
			format = append(format, vals...)
		case key == "name" || key == "names":
			names = append(names, vals...)
		case key == "user" || key == "users":
			users = append(users, vals...)
		case key == "account" || key == "accounts" || key == "acct" || key == "acc":
			accounts = append(accounts, vals...)
		case key == "cluster" || key == "clusters":
			if !acctHas(vals, shoalCluster) {
				return 0 // no such cluster: no rows
			}
		default:
			// Other conditions (partition=, qos=, ...) narrow nothing shoal keeps.
		}
	}
	switch entity {
	case "user":
		users = append(users, names...)
	case "account":
		accounts = append(accounts, names...)
	}
	reg, ok, err := r.registry()
	if err != nil {
		return report(r.c, "sacctmgr", errorf(1, "Problem talking to the controller: %v", err))
	}
	if ok && (len(reg.Accounts) > 0 || (entity == "qos" && len(reg.QOS) > 0)) {
		r.fromRegistry = true
		cols, err := r.columns(entity, format)
		if err != nil {
			return report(r.c, "sacctmgr", err)
		}
		r.print(cols, r.registryRows(entity, reg, users, lower(accounts), lower(names)))
		return 0
	}
	if entity == "qos" && len(names) > 0 && !acctHas(names, "normal") {
		return 0
	}
	cols, err := r.columns(entity, format)
	if err != nil {
		return report(r.c, "sacctmgr", err)
	}
	var rows []assocRow
	if entity == "qos" {
		rows = []assocRow{{account: "normal"}}
	} else {
		var err error
		rows, err = r.rows(entity, users, accounts)
		if err != nil {
			return report(r.c, "sacctmgr", errorf(1, "Problem talking to the controller: %v", err))
		}
	}
	r.print(cols, rows)
	return 0
}

func acctHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// columns resolves format= items ("account%20", "user%-10") or the
// entity's defaults.
func (r *sacctmgrRun) columns(entity string, format []string) ([]acctColumn, error) {
	if len(format) == 0 {
		key := entity
		if r.assoc && (entity == "user" || entity == "account") {
			key += "+assoc"
		}
		if r.fromRegistry {
			key = "reg:" + key
		}
		var cols []acctColumn
		for _, name := range sacctmgrDefaults()[key] {
			f := sacctmgrFields()[name]
			w := f.width
			if r.tree && name == "account" {
				w = -20
			}
			cols = append(cols, acctColumn{f, w})
		}
		return cols, nil
	}
	cols := make([]acctColumn, 0, len(format))
	for _, item := range format {
		if item == "" {
			continue
		}
		name, width, hasWidth := strings.Cut(item, "%")
		key, ok := sacctmgrFieldAliases()[strings.ToLower(strings.ReplaceAll(name, " ", ""))]
		if !ok {
			return nil, errorf(1, "Unknown field '%s'", name)
		}
		f := sacctmgrFields()[key]
		col := acctColumn{f, f.width}
		if hasWidth {
			n, err := strconv.Atoi(width)
			if err != nil || n == 0 {
				return nil, errorf(1, "Invalid field width '%s' in format %s", width, item)
			}
			col.width = n
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// rows lists the (user, account) pairs shoal knows: each user's default
// account (their name) and the accounts of their jobs.
func (r *sacctmgrRun) rows(entity string, users, accounts []string) ([]assocRow, error) {
	ctx := context.Background()
	byUser := map[string]map[string]bool{}
	add := func(user, account string) {
		if byUser[user] == nil {
			byUser[user] = map[string]bool{user: true}
		}
		if account != "" {
			byUser[user][account] = true
		}
	}
	if len(users) == 0 {
		jobs, err := r.c.Client.ListJobs(ctx, api.ListJobsRequest{})
		if err != nil {
			return nil, err
		}
		add(r.c.userName(), "")
		for _, j := range jobs {
			add(j.User, j.Account)
		}
	} else {
		for _, u := range users {
			jobs, err := r.c.Client.ListJobs(ctx, api.ListJobsRequest{User: u})
			if err != nil {
				return nil, err
			}
			add(u, "")
			for _, j := range jobs {
				add(j.User, j.Account)
			}
		}
	}
	wantAccount := func(a string) bool { return len(accounts) == 0 || acctHas(accounts, a) }
	userNames := make([]string, 0, len(byUser))
	for u := range byUser {
		userNames = append(userNames, u)
	}
	sort.Strings(userNames)
	admin := func(u string) string {
		if u == "root" {
			return "Administrator"
		}
		return "None"
	}
	var rows []assocRow
	switch entity {
	case "user":
		for _, u := range userNames {
			if !r.assoc {
				if len(accounts) == 0 || acctAnyOf(byUser[u], accounts) {
					rows = append(rows, assocRow{user: u, defAcct: u, admin: admin(u), account: u})
				}
				continue
			}
			for _, a := range acctSorted(byUser[u]) {
				if wantAccount(a) {
					rows = append(rows, assocRow{user: u, defAcct: u, admin: admin(u), account: a})
				}
			}
		}
	case "account", "association":
		members := map[string][]string{}
		for _, u := range userNames {
			for a := range byUser[u] {
				members[a] = append(members[a], u)
			}
		}
		for _, a := range acctSorted(acctKeys(members)) {
			if !wantAccount(a) {
				continue
			}
			if entity == "account" && !r.assoc {
				rows = append(rows, assocRow{account: a})
				continue
			}
			rows = append(rows, assocRow{account: a})
			sort.Strings(members[a])
			for _, u := range members[a] {
				rows = append(rows, assocRow{user: u, account: a, defAcct: u, admin: admin(u)})
			}
		}
	}
	return rows, nil
}

func acctAnyOf(set map[string]bool, keys []string) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}

func acctSorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func acctKeys(m map[string][]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// print writes rows as sacctmgr does: columns of the given widths (right
// justified, or left for a negative width; a longer value is cut and ends
// in "+"), each followed by a space, under a header and a dashed line;
// with -p or -P, "|"-separated values.
func (r *sacctmgrRun) print(cols []acctColumn, rows []assocRow) {
	var b strings.Builder
	line := func(cell func(acctColumn) string) {
		for i, col := range cols {
			v := termsafe.String(cell(col)) // every sacctmgr cell
			switch {
			case r.parsable2:
				b.WriteString(v)
				if i < len(cols)-1 {
					b.WriteByte('|')
				}
			case r.parsable:
				b.WriteString(v)
				b.WriteByte('|')
			default:
				b.WriteString(acctFit(v, col.width))
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	if !r.noHeader {
		line(func(col acctColumn) string { return col.field.header })
		if !r.parsable && !r.parsable2 {
			line(func(col acctColumn) string { return strings.Repeat("-", acctAbs(col.width)) })
		}
	}
	for _, row := range rows {
		line(func(col acctColumn) string {
			v := col.field.value(row)
			if r.tree && col.field.header == "Account" {
				v = strings.Repeat(" ", row.depth) + v // sacctmgr's tree: one space a level
			}
			return v
		})
	}
	fmt.Fprint(r.c.Stdout, b.String())
}

func acctAbs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// acctFit pads or cuts v to width (negative: left justified), as Slurm's
// print_fields does: a value that does not fit ends in "+".
func acctFit(v string, width int) string {
	w := acctAbs(width)
	if len(v) > w {
		v = v[:w-1] + "+"
	}
	if width < 0 {
		return fmt.Sprintf("%-*s", w, v)
	}
	return fmt.Sprintf("%*s", w, v)
}

const sacctmgrHelp = `sacctmgr [<OPTION>] [<COMMAND>]

shoal's sacctmgr edits the controller's account registry (root and the
controller's user only) and lists it. Until the first account is added,
an account is a free-form label given with sbatch -A, and a user's
accounts are their user name (the default) and the accounts their jobs
were submitted with; the first account added brings account root, user
root and QOS normal with it, and from then on a job's account must be one
of its user's (its default when it names none).

    Valid <OPTION> values are:
     -h or --help: equivalent to "help" command
     -i or --immediate: commit changes immediately (without, sacctmgr asks)
     -n or --noheader: equivalent to "noheader" command
     -p or --parsable: output will be '|' delimited with a '|' at the end
     -P or --parsable2: output will be '|' delimited without a '|' at the end
     -s or --associations: show the associations of users and accounts
     -V or --version: equivalent to "version" command

  <COMMAND> may be:
     add|create account NAME... [Description=] [Organization=] [Parent=]
                                [Fairshare=] [limits] [QOS=] [DefaultQOS=]
     add|create user NAME... Account=NAME[,NAME] [DefaultAccount=]
                                [AdminLevel=] [Fairshare=] [limits]
     add|create qos NAME... [Description=] [Priority=] [limits]
                                [MaxJobsPerUser=] [MaxSubmitJobsPerUser=]
     modify account|user|qos [where] NAME... [Account=] [User=] set KEY=VALUE...
                                (RawUsage=0 resets the fair-share usage)
     delete account|user|qos [where] NAME... [Account=] [User=]
     list|show user [NAME...] [withassoc] [format=field[%width],...]
     list|show account [NAME...] [withassoc] [tree] [format=...]
     list|show association [user=NAME] [account=NAME] [tree] [format=...]
     list|show qos [NAME...] [format=...]
     list|show config         (shoal: not slurmdbd; says so)
     version                  display tool version number.

  Not supported: add cluster (shoal is one cluster, named shoal), coordinators,
  wckeys, dump and load.

  limits: MaxJobs=, MaxSubmitJobs=, MaxWall=, MaxTRES=, GrpJobs=,
          GrpSubmitJobs=, GrpTRES= (-1 clears one)

  Fields: User, DefaultAccount, Admin, Cluster, Account, Partition, Share,
          QOS, DefaultQOS, Descr, Org, ParentName, Name, Priority, MaxJobs,
          MaxSubmit, MaxWall, MaxTRES, GrpJobs, GrpSubmit, GrpTRES,
          MaxJobsPU, MaxSubmitPU (and Slurm's others, blank)
`
