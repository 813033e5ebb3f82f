package slurm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/units"
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

// acctOpt is one key=value of a command line, its key resolved; op is
// '+' or '-' for Key+=value and Key-=value (Preempt only), else 0.
type acctOpt struct {
	key, raw, val string
	op            byte
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
	{"gracetime", 3, "gracetime"}, {"preemptmode", 8, "preemptmode"}, {"preemptexempttime", 8, "preemptexempt"},
	{"preempt", 7, "preempt"},
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
		// Slurm's Key+=, Key-= forms: shoal takes them for a QOS's
		// Preempt list (preempt_qos.go), not elsewhere: say so.
		var op byte
		if strings.HasSuffix(k, "+") || strings.HasSuffix(k, "-") {
			op, k = k[len(k)-1], k[:len(k)-1]
			if acctKey(k) != "preempt" {
				return a, errorf(1, " shoal's sacctmgr does not take %s: give the whole value with %s=", w, k)
			}
		}
		key := acctKey(k)
		if key == "" {
			return a, errorf(1, " Unknown option: %s", w)
		}
		o := acctOpt{key: key, raw: k, val: strings.Trim(v, `"'`), op: op}
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
	preempt                           *qosPreempt       // a QOS's preemption settings (preempt_qos.go)
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
		case entity == "qos" && isPreemptKey(o.key):
			if s.preempt == nil {
				s.preempt = &qosPreempt{}
			}
			if err := s.preempt.parse(o); err != nil {
				return s, err
			}
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

// acctTRES checks a TRES string (cpu=4,mem=8G,node=1,gres/gpu=2,billing=N)
// with units.ParseTRES, the parser the controller stores and enforces it
// with (mem=1024MB is 1024 MiB, as in Slurm): what sacctmgr takes, the
// controller enforces whole.
func acctTRES(o acctOpt) (string, error) {
	if o.val == "" || o.val == "-1" {
		return "", nil
	}
	if _, err := units.ParseTRES(o.val); err != nil {
		return "", errorf(1, " Invalid %s=%s: %v", o.raw, o.val, err)
	}
	var out []string
	for _, item := range splitList(strings.ToLower(o.val)) {
		k, v, _ := strings.Cut(item, "=")
		out = append(out, strings.TrimSpace(k)+"="+strings.TrimSpace(v))
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
