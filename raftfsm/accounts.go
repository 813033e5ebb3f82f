package raftfsm

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/units"
)

// The account registry (api.AccountsState): accounts, users,
// associations and QOS as sacctmgr edits them, plus the fair-share usage
// charged to associations as jobs run (usagecharge.go) and end, and the
// settings that charge it.
const (
	OpAcctAdd          Op = 45 // AcctChangeCmd: new records
	OpAcctModify       Op = 46 // AcctChangeCmd: existing records replaced whole
	OpAcctDelete       Op = 47 // AcctChangeCmd: records removed (names only)
	OpPrioritySettings Op = 48 // PrioritySettingsCmd
)

const (
	tableAccounts  = "accounts"
	tableAcctUsers = "acctusers"
	tableAssocs    = "assocs"
	tableQOS       = "qos"
	tableUsage     = "acctusage"
	tablePrioConf  = "priosettings"
)

// accountTables are the registry's tables, added to the schema.
func accountTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableAccounts:  byName(tableAccounts, "Name"),
		tableAcctUsers: byName(tableAcctUsers, "Name"),
		tableQOS:       byName(tableQOS, "Name"),
		tableAssocs: {Name: tableAssocs, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: assocIndex{}},
		}},
		tableUsage: {Name: tableUsage, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: assocIndex{}},
		}},
		tablePrioConf: byName(tablePrioConf, "Key"),
	}
}

// AcctChangeCmd adds, modifies or deletes registry records (the op says
// which). The leader has checked the caller is an operator. All of it
// applies or none: the registry must stay whole (every account under
// root, every user with an association to its default account).
type AcctChangeCmd struct {
	Change api.AccountsChange `json:"change"`
}

// PrioritySettings are what charging usage needs, the same on every
// replica: the leader commits its configuration (PrioritySettingsCmd)
// when it differs from what is stored.
type PrioritySettings struct {
	Key string `json:"key"` // always "settings"
	// HalfLife (seconds) decays usage (Slurm's PriorityDecayHalfLife);
	// 0: no decay.
	HalfLife int64 `json:"halfLife"`
	// Billing weights: usage = (CPUs×CPU + memory GiB×MemGB + GPUs×GPU)
	// × seconds (Slurm's TRESBillingWeights; by default CPUs alone).
	CPU   float64 `json:"cpu"`
	MemGB float64 `json:"memGB"`
	GPU   float64 `json:"gpu"`
}

// DefaultPrioritySettings are Slurm's defaults: a 7-day half-life,
// billing by CPUs.
var DefaultPrioritySettings = PrioritySettings{Key: "settings", HalfLife: 7 * 24 * 3600, CPU: 1}

// PrioritySettingsCmd stores the settings.
type PrioritySettingsCmd struct {
	Settings PrioritySettings `json:"settings"`
}

// Billing is what one second of a job of resources r costs.
func (p PrioritySettings) Billing(r api.Resources) float64 {
	return float64(r.CPUs)*p.CPU + float64(r.MemoryMB)/1024*p.MemGB + float64(r.GPUs)*p.GPU
}

// Decay returns usage u recorded at time from (epoch ms), decayed to now.
func (p PrioritySettings) Decay(u float64, from, now int64) float64 {
	if p.HalfLife <= 0 || now <= from || u == 0 {
		return u
	}
	return u * math.Exp2(-float64(now-from)/1000/float64(p.HalfLife))
}

// assocIndex indexes associations and usage by account and user.
type assocIndex struct{}

func (assocIndex) FromObject(obj any) (bool, []byte, error) {
	switch v := obj.(type) {
	case *api.Association:
		return true, assocKeyBytes(v.Account, v.User), nil
	case *api.AssocUsage:
		return true, assocKeyBytes(v.Account, v.User), nil
	}
	return false, nil, fmt.Errorf("assoc index: %T is not an association", obj)
}

func (assocIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("assoc index: want account and user, got %d args", len(args))
	}
	a, ok1 := args[0].(string)
	u, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("assoc index: account and user must be strings")
	}
	return assocKeyBytes(a, u), nil
}

func assocKeyBytes(account, user string) []byte {
	return []byte(account + "\x00" + user + "\x00")
}

// assocKey names an association.
type assocKey struct{ account, user string }

// registry is the whole registry in memory: changes are made to it and
// checked whole before anything is written.
type registry struct {
	accounts map[string]api.Account
	users    map[string]api.AcctUser
	assocs   map[assocKey]api.Association
	qos      map[string]api.QOS
	usage    map[assocKey]api.AssocUsage
}

func (w writer) registry() *registry {
	s := &State{txn: w.txn}
	r := &registry{accounts: map[string]api.Account{}, users: map[string]api.AcctUser{},
		assocs: map[assocKey]api.Association{}, qos: map[string]api.QOS{}, usage: map[assocKey]api.AssocUsage{}}
	for _, a := range collect[api.Account](s, tableAccounts, "id") {
		r.accounts[a.Name] = *a
	}
	for _, u := range collect[api.AcctUser](s, tableAcctUsers, "id") {
		r.users[u.Name] = *u
	}
	for _, a := range collect[api.Association](s, tableAssocs, "id") {
		r.assocs[assocKey{a.Account, a.User}] = *a
	}
	for _, q := range collect[api.QOS](s, tableQOS, "id") {
		r.qos[q.Name] = *q
	}
	for _, u := range collect[api.AssocUsage](s, tableUsage, "id") {
		r.usage[assocKey{u.Account, u.User}] = *u
	}
	return r
}

// write replaces the registry's tables with r.
func (w writer) writeRegistry(r *registry) {
	for _, t := range []string{tableAccounts, tableAcctUsers, tableAssocs, tableQOS, tableUsage} {
		if _, err := w.txn.DeleteAll(t, "id"); err != nil {
			panic(fmt.Sprintf("raftfsm: clear %s: %v", t, err))
		}
	}
	putAll(w, tableAccounts, r.accounts)
	putAll(w, tableAcctUsers, r.users)
	for _, a := range r.assocs {
		a.QOS = append([]string(nil), a.QOS...) // its own list, not the stored record's
		w.put(tableAssocs, &a)
	}
	putAll(w, tableQOS, r.qos)
	putAll(w, tableUsage, r.usage)
}

// putAll stores a copy of each of m's records in table.
func putAll[K comparable, V any](w writer, table string, m map[K]V) {
	for _, v := range m {
		w.put(table, &v)
	}
}

func invalid(format string, args ...any) Result {
	return Result{Err: api.Errorf(api.CodeInvalid, format, args...)}
}

// acctAdd stores new records; one that exists already refuses the command.
func (w writer) acctAdd(c AcctChangeCmd) Result {
	r := w.registry()
	if err := r.putRecords(c.Change, true); err != nil {
		return Result{Err: err}
	}
	if err := r.check(); err != nil {
		return Result{Err: err}
	}
	w.writeRegistry(r)
	return Result{}
}

// acctModify replaces existing records whole; ResetUsage zeroes usage.
func (w writer) acctModify(c AcctChangeCmd) Result {
	r := w.registry()
	ch := c.Change
	if err := r.putRecords(ch, false); err != nil {
		return Result{Err: err}
	}
	for _, a := range ch.ResetUsage {
		k := assocKey{a.Account, a.User}
		if _, ok := r.assocs[k]; !ok {
			return notFound("the association of %s does not exist", assocName(k))
		}
		for uk := range r.usage {
			// An account's usage is its users' and sub-accounts': reset them all.
			if uk == k || (a.User == "" && r.under(uk.account, a.Account)) {
				delete(r.usage, uk)
			}
		}
	}
	if err := r.check(); err != nil {
		return Result{Err: err}
	}
	w.writeRegistry(r)
	return Result{}
}

// putRecords stores ch's QOS, accounts, associations and users in r, in
// that order: new records (add; one that exists refuses the change) or
// replacements of existing ones (modify; one that does not exist refuses
// it).
func (r *registry) putRecords(ch api.AccountsChange, add bool) *api.Error {
	for _, q := range ch.QOS {
		if err := checkTRES("qos "+q.Name, q.Limits); err != nil {
			return err
		}
		if err := putRecord(r.qos, q.Name, q, add, func() string { return "qos " + q.Name }); err != nil {
			return err
		}
	}
	for _, a := range ch.Accounts {
		if err := putRecord(r.accounts, a.Name, a, add, func() string { return "account " + a.Name }); err != nil {
			return err
		}
	}
	for _, a := range ch.Associations {
		k := assocKey{a.Account, a.User}
		if err := checkTRES("the association of "+assocName(k), a.Limits); err != nil {
			return err
		}
		if err := putRecord(r.assocs, k, a, add, func() string { return "the association of " + assocName(k) }); err != nil {
			return err
		}
	}
	for _, u := range ch.Users {
		if err := putRecord(r.users, u.Name, u, add, func() string { return "user " + u.Name }); err != nil {
			return err
		}
	}
	return nil
}

// putRecord stores v under k in m: new (add: refused, Invalid, if k is
// there) or in place of the record there (refused, NotFound, if none is).
// name says what v is in the refusal.
func putRecord[K comparable, V any](m map[K]V, k K, v V, add bool, name func() string) *api.Error {
	_, exists := m[k]
	switch {
	case add && exists:
		return api.Errorf(api.CodeInvalid, "%s already exists", name())
	case !add && !exists:
		return api.Errorf(api.CodeNotFound, "%s does not exist", name())
	}
	m[k] = v
	return nil
}

func notFound(format string, args ...any) Result {
	return Result{Err: api.Errorf(api.CodeNotFound, format, args...)}
}

// acctDelete removes records: an account with its associations (refused
// while it has sub-accounts or unfinished jobs, or is a remaining user's
// default), a user with theirs, a user's association (not their
// default's, unless the user goes too), a QOS (dropped from the
// associations that list it). An association or a QOS with unfinished
// jobs is not removed (Slurm's "Job(s) active, cancel job(s) before
// remove"): those jobs would run with none, and their usage would be
// charged to nothing.
func (w writer) acctDelete(c AcctChangeCmd) Result {
	r := w.registry()
	ch := c.Change
	before := make([]assocKey, 0, len(r.assocs))
	for k := range r.assocs {
		before = append(before, k)
	}
	goneUsers := map[string]bool{}
	for _, u := range ch.Users {
		if _, ok := r.users[u.Name]; !ok {
			return notFound("user %s does not exist", u.Name)
		}
		goneUsers[u.Name] = true
	}
	active := w.activeJobs(r)
	for _, a := range ch.Accounts {
		if _, ok := r.accounts[a.Name]; !ok {
			return notFound("account %s does not exist", a.Name)
		}
		if a.Name == api.RootAccount && len(r.accounts) > 1 {
			return invalid("account root is the top of the tree: delete the other accounts first")
		}
		if n := active.accounts[a.Name]; n > 0 {
			return jobsActive("%d unfinished job(s) of account %s", n, a.Name)
		}
	}
	gone := map[string]bool{}
	for _, a := range ch.Accounts {
		gone[a.Name] = true
	}
	for _, a := range r.accounts {
		if !gone[a.Name] && gone[a.Parent] {
			return invalid("account %s has sub-account %s: delete it first, or move it (sacctmgr modify account %s set parent=OTHER)", a.Parent, a.Name, a.Name)
		}
	}
	for k := range r.assocs {
		if gone[k.account] {
			delete(r.assocs, k)
		}
	}
	for _, a := range ch.Associations {
		k := assocKey{a.Account, a.User}
		if a.User == "" {
			return invalid("the association of account %s goes with the account: delete the account", a.Account)
		}
		if _, ok := r.assocs[k]; !ok && !gone[k.account] {
			return notFound("the association of %s does not exist", assocName(k))
		}
		delete(r.assocs, k)
	}
	for name := range goneUsers {
		delete(r.users, name)
		for k := range r.assocs {
			if k.user == name {
				delete(r.assocs, k)
			}
		}
	}
	for _, u := range r.users {
		if _, ok := r.assocs[assocKey{u.DefaultAccount, u.Name}]; !ok {
			return invalid("account %s is user %s's default: give the user another default first (sacctmgr modify user %s set defaultaccount=OTHER), or delete the user",
				u.DefaultAccount, u.Name, u.Name)
		}
	}
	for _, a := range ch.Accounts {
		delete(r.accounts, a.Name)
	}
	// The user associations that go, in a fixed order (the refusal names
	// the first): none may have unfinished jobs.
	slices.SortFunc(before, func(a, b assocKey) int {
		if c := strings.Compare(a.account, b.account); c != 0 {
			return c
		}
		return strings.Compare(a.user, b.user)
	})
	for _, k := range before {
		if _, kept := r.assocs[k]; !kept && k.user != "" && active.assocs[k] > 0 {
			return jobsActive("%d unfinished job(s) of %s", active.assocs[k], assocName(k))
		}
	}
	for _, q := range ch.QOS {
		if _, ok := r.qos[q.Name]; !ok {
			return notFound("qos %s does not exist", q.Name)
		}
		if n := active.qos[q.Name]; n > 0 {
			return jobsActive("%d unfinished job(s) of qos %s", n, q.Name)
		}
		delete(r.qos, q.Name)
		for name, o := range r.qos { // no QOS preempts a QOS that is gone
			if slices.Contains(o.Preempt, q.Name) {
				o.Preempt = without(o.Preempt, q.Name)
				r.qos[name] = o
			}
		}
		for k, a := range r.assocs {
			a.QOS = without(a.QOS, q.Name)
			if a.DefaultQOS == q.Name {
				a.DefaultQOS = ""
			}
			r.assocs[k] = a
		}
	}
	for k := range r.usage {
		if _, ok := r.assocs[k]; !ok {
			delete(r.usage, k)
		}
	}
	if err := r.check(); err != nil {
		return Result{Err: err}
	}
	w.writeRegistry(r)
	return Result{}
}

func without(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// jobsActive is Slurm's refusal to remove what unfinished jobs use
// (ESLURM_JOBS_RUNNING_ON_ASSOC).
func jobsActive(format string, args ...any) Result {
	return Result{Err: api.Errorf(api.CodeConflict, "Job(s) active, cancel job(s) before remove: "+format, args...)}
}

// active counts unfinished jobs: per account, per user association and
// per QOS.
type active struct {
	accounts map[string]int
	assocs   map[assocKey]int
	qos      map[string]int
}

// activeJobs counts the unfinished jobs by what they use: their account
// (their own, else their user's default in r, as State.JobAccount reads
// it), their association in it, and their QOS (normal when they name
// none, as the scheduler counts them).
func (w writer) activeJobs(r *registry) active {
	s := &State{txn: w.txn}
	out := active{accounts: map[string]int{}, assocs: map[assocKey]int{}, qos: map[string]int{}}
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning} {
		s.ScanJobsInState(st, func(j *api.Job) bool {
			acct := j.Account
			if acct == "" {
				acct = r.users[j.User].DefaultAccount
			}
			if acct != "" {
				out.accounts[acct]++
				out.assocs[assocKey{acct, j.User}]++
			}
			q := j.QOS
			if q == "" {
				q = api.NormalQOS
			}
			out.qos[q]++
			return true
		})
	}
	return out
}

func assocName(k assocKey) string {
	if k.user == "" {
		return "account " + k.account
	}
	return "user " + k.user + " in account " + k.account
}

// under reports whether account a is b or below it.
func (r *registry) under(a, b string) bool {
	for i := 0; i <= len(r.accounts) && a != ""; i++ {
		if a == b {
			return true
		}
		a = r.accounts[a].Parent
	}
	return false
}

// checkName refuses a name sacctmgr could not print or parse back.
func checkName(kind, name string) *api.Error {
	if name == "" {
		return api.Errorf(api.CodeInvalid, "a %s needs a name", kind)
	}
	if len(name) > 64 || strings.ContainsAny(name, " \t\n,|='\"\\") || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return api.Errorf(api.CodeInvalid, "%s name %q: use up to 64 characters, without spaces, commas, quotes, '|' or '='", kind, name)
	}
	return nil
}

func checkLimits(what string, l api.Limits) *api.Error {
	for name, v := range map[string]*int64{"MaxJobs": l.MaxJobs, "MaxSubmitJobs": l.MaxSubmitJobs, "GrpJobs": l.GrpJobs,
		"GrpSubmitJobs": l.GrpSubmitJobs, "MaxWall": l.MaxWall} {
		if v != nil && *v < 0 {
			return api.Errorf(api.CodeInvalid, "%s: %s=%d must not be negative (clear a limit with %s=-1)", what, name, *v, name)
		}
	}
	return nil
}

// checkTRES refuses TRES limits that cannot be read (units.ParseTRES,
// the one parser of them, which the enforcement uses too): checked where
// a record is written, so that a limit stored is a limit enforced.
// Records stored before this check are not refused here (a change beside
// them goes through); the controller refuses the jobs under them.
func checkTRES(what string, l api.Limits) *api.Error {
	for _, t := range [][2]string{{"MaxTRES", l.MaxTRES}, {"GrpTRES", l.GrpTRES}} {
		if _, err := units.ParseTRES(t[1]); err != nil {
			return api.Errorf(api.CodeInvalid, "%s: %s=%s cannot be read: %v", what, t[0], t[1], err)
		}
	}
	return nil
}

// check refuses a registry that is not whole.
func (r *registry) check() *api.Error {
	for name, q := range r.qos {
		if err := checkName("qos", name); err != nil {
			return err
		}
		if err := checkLimits("qos "+name, q.Limits); err != nil {
			return err
		}
		if err := r.checkPreempt(q); err != nil {
			return err
		}
	}
	if err := r.checkPreemptLoops(); err != nil {
		return err
	}
	if len(r.accounts) == 0 {
		if len(r.users) > 0 || len(r.assocs) > 0 {
			return api.Errorf(api.CodeInvalid, "users and associations need accounts: add an account first")
		}
		return nil
	}
	root, ok := r.accounts[api.RootAccount]
	if !ok || root.Parent != "" {
		return api.Errorf(api.CodeInvalid, "the account tree needs account root at its top")
	}
	for name, a := range r.accounts {
		if err := checkName("account", name); err != nil {
			return err
		}
		if name == api.RootAccount {
			continue
		}
		if _, ok := r.accounts[a.Parent]; !ok {
			return api.Errorf(api.CodeInvalid, "account %s: parent account %q does not exist", name, a.Parent)
		}
		if !r.under(a.Parent, api.RootAccount) || r.under(a.Parent, name) {
			return api.Errorf(api.CodeInvalid, "account %s: parent %s would make a loop in the account tree", name, a.Parent)
		}
		if _, ok := r.assocs[assocKey{name, ""}]; !ok {
			return api.Errorf(api.CodeInvalid, "account %s has no association of its own", name)
		}
	}
	for k, a := range r.assocs {
		if _, ok := r.accounts[k.account]; !ok {
			return api.Errorf(api.CodeInvalid, "the association of %s names account %s, which does not exist", assocName(k), k.account)
		}
		if k.user != "" {
			if _, ok := r.users[k.user]; !ok {
				return api.Errorf(api.CodeInvalid, "the association of %s names user %s, who is not in the registry", assocName(k), k.user)
			}
		}
		if a.Shares < 0 {
			return api.Errorf(api.CodeInvalid, "the association of %s: Fairshare=%d must not be negative", assocName(k), a.Shares)
		}
		if err := checkLimits("the association of "+assocName(k), a.Limits); err != nil {
			return err
		}
		for _, q := range append(a.QOS, a.DefaultQOS) {
			if _, ok := r.qos[q]; q != "" && !ok {
				return api.Errorf(api.CodeInvalid, "the association of %s names qos %s, which does not exist", assocName(k), q)
			}
		}
	}
	for name, u := range r.users {
		if err := checkName("user", name); err != nil {
			return err
		}
		switch u.AdminLevel {
		case "", api.AdminNone, api.AdminOperator, api.AdminAdmin:
		default:
			return api.Errorf(api.CodeInvalid, "user %s: AdminLevel %q: give None, Operator or Administrator", name, u.AdminLevel)
		}
		if _, ok := r.assocs[assocKey{u.DefaultAccount, name}]; !ok {
			return api.Errorf(api.CodeInvalid, "user %s: default account %q is not one of the user's accounts", name, u.DefaultAccount)
		}
	}
	return nil
}

// prioritySettings stores the leader's settings.
func (w writer) prioritySettings(c PrioritySettingsCmd) Result {
	s := c.Settings
	s.Key = "settings"
	if s.HalfLife < 0 || s.CPU < 0 || s.MemGB < 0 || s.GPU < 0 {
		return invalid("priority settings must not be negative")
	}
	w.put(tablePrioConf, &s)
	return Result{}
}

// chargeUsage charges the part of j's attempt from from to now (epoch
// ms) to its user's association: billing weights × the seconds, added to
// the usage decayed to now. Nothing is charged without a registry, or
// for a job whose association is gone. The attempt's end and the
// periodic charge of running jobs call it (usagecharge.go).
func (w writer) chargeUsage(j *api.Job, from, now int64) {
	if j.StartedAt == 0 || now <= from {
		return
	}
	s := &State{txn: w.txn}
	account := s.JobAccount(j)
	if account == "" || s.Association(account, j.User) == nil {
		return
	}
	set := s.PrioritySettings()
	charge := set.Billing(j.Resources) * float64(now-from) / 1000
	if charge <= 0 {
		return
	}
	u := api.AssocUsage{Account: account, User: j.User, At: now}
	if raw, err := w.txn.First(tableUsage, "id", account, j.User); err == nil && raw != nil {
		old := raw.(*api.AssocUsage)
		u.Raw = set.Decay(old.Raw, old.At, now)
		u.At = max(now, old.At) // a clock behind the last charge decays nothing
	}
	u.Raw += charge
	w.put(tableUsage, &u)
}

// watchAccounts adds to ws the channels that fire when the registry
// changes (a limit, a share, a QOS's priority), and when running jobs
// are charged their usage (usagecharge.go: fair-share priorities move).
// Not on every usage write: a job's end charges it, and that wakes the
// scheduler anyway.
func (s *State) watchAccounts(ws memdb.WatchSet) {
	for _, t := range []string{tableAccounts, tableAcctUsers, tableAssocs, tableQOS} {
		it, err := s.txn.Get(t, "id")
		if err != nil {
			panic(fmt.Sprintf("raftfsm: watch %s: %v", t, err))
		}
		ws.Add(it.WatchCh())
	}
	s.watchRunCharges(ws)
}

// HasAccounts reports whether the site has defined accounts: only then
// are jobs' accounts checked and usage charged.
func (s *State) HasAccounts() bool {
	raw, err := s.txn.First(tableAccounts, "id")
	return err == nil && raw != nil
}

// HasGroupSubmitLimits reports whether a QOS or an association sets
// GrpSubmitJobs: a limit on the unfinished jobs of many users together.
func (s *State) HasGroupSubmitLimits() bool {
	for _, q := range collect[api.QOS](s, tableQOS, "id") {
		if q.GrpSubmitJobs != nil {
			return true
		}
	}
	for _, a := range collect[api.Association](s, tableAssocs, "id") {
		if a.GrpSubmitJobs != nil {
			return true
		}
	}
	return false
}

// Association returns one association (user "": the account's), or nil.
func (s *State) Association(account, user string) *api.Association {
	return first[api.Association](s, tableAssocs, account, user)
}

// Account returns an account, or nil.
func (s *State) Account(name string) *api.Account {
	return first[api.Account](s, tableAccounts, name)
}

// AcctUser returns a registry user, or nil.
func (s *State) AcctUser(name string) *api.AcctUser {
	return first[api.AcctUser](s, tableAcctUsers, name)
}

// QOS returns a QOS, or nil.
func (s *State) QOS(name string) *api.QOS {
	return first[api.QOS](s, tableQOS, name)
}

// JobAccount is the account j counts against: its own, else its user's
// default ("" if neither).
func (s *State) JobAccount(j *api.Job) string {
	if j.Account != "" {
		return j.Account
	}
	if u := s.AcctUser(j.User); u != nil {
		return u.DefaultAccount
	}
	return ""
}

// PrioritySettings returns the stored settings, or the defaults.
func (s *State) PrioritySettings() PrioritySettings {
	raw, err := s.txn.First(tablePrioConf, "id", "settings")
	if err != nil || raw == nil {
		return DefaultPrioritySettings
	}
	return *raw.(*PrioritySettings)
}

// Accounts returns the whole registry, sorted.
func (s *State) Accounts() api.AccountsState {
	var out api.AccountsState
	for _, a := range collect[api.Account](s, tableAccounts, "id") {
		out.Accounts = append(out.Accounts, *a)
	}
	for _, u := range collect[api.AcctUser](s, tableAcctUsers, "id") {
		out.Users = append(out.Users, *u)
	}
	for _, a := range collect[api.Association](s, tableAssocs, "id") {
		out.Associations = append(out.Associations, *a)
	}
	for _, q := range collect[api.QOS](s, tableQOS, "id") {
		out.QOS = append(out.QOS, *q)
	}
	for _, u := range collect[api.AssocUsage](s, tableUsage, "id") {
		out.Usage = append(out.Usage, *u)
	}
	// memdb's order is the index's bytes: accounts then users, with
	// "\x00" separators, which is the order wanted; names are sorted.
	sort.SliceStable(out.Associations, func(i, k int) bool {
		a, b := out.Associations[i], out.Associations[k]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.User < b.User
	})
	return out
}

// accountRecords are the registry's snapshot records.
func (s *State) accountRecords() []snapshotRecord {
	var out []snapshotRecord
	for _, a := range collect[api.Account](s, tableAccounts, "id") {
		out = append(out, snapshotRecord{Account: a})
	}
	for _, u := range collect[api.AcctUser](s, tableAcctUsers, "id") {
		out = append(out, snapshotRecord{AcctUser: u})
	}
	for _, a := range collect[api.Association](s, tableAssocs, "id") {
		out = append(out, snapshotRecord{Association: a})
	}
	for _, q := range collect[api.QOS](s, tableQOS, "id") {
		out = append(out, snapshotRecord{QOS: q})
	}
	for _, u := range collect[api.AssocUsage](s, tableUsage, "id") {
		out = append(out, snapshotRecord{AssocUsage: u})
	}
	for _, p := range collect[PrioritySettings](s, tablePrioConf, "id") {
		out = append(out, snapshotRecord{PrioSettings: p})
	}
	return out
}
