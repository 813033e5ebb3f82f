package slurm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// A QOS's preemption settings as sacctmgr add/modify qos takes them:
// Preempt=a,b (Preempt+=c, Preempt-=d, or +c,-d in the list), PreemptMode=
// (cluster, off, cancel, requeue), PreemptExemptTime= (Slurm's time
// format, a bare number being minutes) and GraceTime= (seconds).

// qosPreempt is what one command line sets; nil/unset fields are kept.
type qosPreempt struct {
	list        *[]string // Preempt=... (empty: clear)
	add, remove []string  // Preempt+=, Preempt-=
	mode        *string   // "" (the cluster's), CANCEL or REQUEUE
	grace       *int64
	exempt      **int64 // set: nil clears
}

// isPreemptKey reports whether key is one of a QOS's preemption settings.
func isPreemptKey(key string) bool {
	switch key {
	case "preempt", "preemptmode", "preemptexempt", "gracetime":
		return true
	}
	return false
}

// errPreemptMix is Slurm's refusal of Preempt= with += or -= together.
var errPreemptMix = &exitError{RC: 1, Lines: []string{"sacctmgr: error: You can't set qos equal to something and then add or subtract from it in the same line"}}

// parse reads one option.
func (p *qosPreempt) parse(o acctOpt) error {
	switch o.key {
	case "preempt":
		items := splitList(strings.ToLower(o.val))
		if o.op == 0 && len(items) == 0 {
			if len(p.add)+len(p.remove) > 0 {
				return errPreemptMix
			}
			p.list = &[]string{}
			return nil
		}
		for _, it := range items {
			op := o.op
			if it != "" && (it[0] == '+' || it[0] == '-') {
				op, it = it[0], it[1:]
			}
			switch {
			case it == "":
				continue
			case op == '+':
				p.add = append(p.add, it)
			case op == '-':
				p.remove = append(p.remove, it)
			default:
				if p.list == nil {
					p.list = &[]string{}
				}
				*p.list = append(*p.list, it)
			}
			if p.list != nil && len(p.add)+len(p.remove) > 0 {
				return errPreemptMix
			}
		}
	case "preemptmode":
		switch m := strings.ToLower(strings.TrimSpace(o.val)); m {
		case "off", "cluster":
			p.mode = new(string)
		case "cancel", "requeue":
			u := strings.ToUpper(m)
			p.mode = &u
		default:
			if strings.Contains(m, "suspend") || strings.Contains(m, "gang") {
				return errorf(1, " Bad Preempt Mode given: %s\n shoal's PreemptMode values are OFF (the cluster's mode), CANCEL and REQUEUE: it does not suspend or gang-schedule jobs", o.val)
			}
			return errorf(1, " Bad Preempt Mode given: %s\n Give OFF (the cluster's mode), CANCEL or REQUEUE", o.val)
		}
	case "gracetime":
		n, err := strconv.ParseInt(strings.TrimSpace(o.val), 10, 64)
		if err != nil {
			return errorf(1, "sacctmgr: error: Invalid value for GraceTime (%s)", o.val)
		}
		if n < 0 {
			n = 0 // Slurm's flag to clear
		}
		if n > api.MaxQOSGraceTime {
			return errorf(1, " Bad GraceTime value: %d (give 0 to %d seconds)", n, api.MaxQOSGraceTime)
		}
		p.grace = &n
	case "preemptexempt":
		v, err := acctSeconds(o.val)
		if err != nil {
			return errorf(1, " Bad PreemptExemptTime format: %s (give minutes, MM:SS, HH:MM:SS or D-HH:MM:SS; -1 clears it)", o.val)
		}
		p.exempt = &v
	}
	return nil
}

// acctSeconds reads a time as Slurm's time_str2secs: minutes, M:S,
// H:M:S, D-H, D-H:M, D-H:M:S; -1, INFINITE or UNLIMITED clear it (nil).
func acctSeconds(v string) (*int64, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "-1", "infinite", "unlimited":
		return nil, nil
	case "":
		return nil, fmt.Errorf("empty time")
	}
	days := int64(-1)
	if d, rest, ok := strings.Cut(v, "-"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad days %q", d)
		}
		days, v = n, rest
	}
	parts := strings.Split(v, ":")
	nums := make([]int64, len(parts))
	for i, s := range parts {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad number %q", s)
		}
		nums[i] = n
	}
	var secs int64
	switch {
	case days >= 0 && len(nums) == 1: // D-H
		secs = nums[0] * 3600
	case days >= 0 && len(nums) == 2: // D-H:M
		secs = nums[0]*3600 + nums[1]*60
	case len(nums) == 3: // [D-]H:M:S
		secs = nums[0]*3600 + nums[1]*60 + nums[2]
	case len(nums) == 1: // M
		secs = nums[0] * 60
	case len(nums) == 2: // M:S
		secs = nums[0]*60 + nums[1]
	default:
		return nil, fmt.Errorf("too many fields")
	}
	if days > 0 {
		secs += days * 24 * 3600
	}
	return &secs, nil
}

// secsString prints seconds as Slurm's secs2time_str: [D-]HH:MM:SS.
func secsString(s int64) string {
	d, h, m, sec := s/86400, (s/3600)%24, (s/60)%60, s%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

// apply sets q's preemption settings; the QOS the Preempt list names
// must be in the registry x (Slurm's "You gave a bad qos").
func (p *qosPreempt) apply(q *api.QOS, x regIndex) error {
	if p == nil {
		return nil
	}
	for _, name := range append(append(listOf(p.list), p.add...), p.remove...) {
		if _, ok := x.qos[name]; !ok {
			names := make([]string, 0, len(x.qos))
			for n := range x.qos {
				names = append(names, n)
			}
			sort.Strings(names)
			return errorf(1, "sacctmgr: error: You gave a bad qos '%s'. Valid QOS's are %s", name, strings.Join(names, ","))
		}
	}
	if p.list != nil {
		q.Preempt = nil
		for _, n := range *p.list {
			q.Preempt = addName(q.Preempt, n)
		}
	}
	if len(p.add)+len(p.remove) > 0 {
		list := append([]string(nil), q.Preempt...)
		for _, n := range p.add {
			list = addName(list, n)
		}
		for _, n := range p.remove {
			list = removeName(list, n)
		}
		q.Preempt = list
	}
	if len(q.Preempt) == 0 {
		q.Preempt = nil
	}
	sort.Strings(q.Preempt)
	if p.mode != nil {
		q.PreemptMode = *p.mode
	}
	if p.grace != nil {
		q.GraceTime = *p.grace
	}
	if p.exempt != nil {
		q.PreemptExemptTime = *p.exempt
	}
	return nil
}

func listOf(l *[]string) []string {
	if l == nil {
		return nil
	}
	return *l
}

func addName(list []string, n string) []string {
	for _, x := range list {
		if x == n {
			return list
		}
	}
	return append(list, n)
}

func removeName(list []string, n string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

// checkPreemptLoops refuses, before anything is sent, QOS that would
// preempt themselves, directly or through others, once changed is
// applied to x: slurmdbd's refusal, in sacctmgr's words.
func checkPreemptLoops(x regIndex, changed []api.QOS) error {
	all := map[string][]string{}
	for n, q := range x.qos {
		all[n] = q.Preempt
	}
	for _, q := range changed {
		all[q.Name] = q.Preempt
	}
	state := map[string]int{} // 1: on the path, 2: done
	var loops func(string) bool
	loops = func(n string) bool {
		state[n] = 1
		for _, next := range all[n] {
			if state[next] == 1 || (state[next] == 0 && loops(next)) {
				return true
			}
		}
		state[n] = 2
		return false
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if state[n] == 0 && loops(n) {
			return errorf(1, " Error with request: QOS Preemption loop detected")
		}
	}
	return nil
}

// printGrace and printPreempt print what add shows of the settings, as
// sacctmgr_print_qos_limits does: GraceTime first, then (after the
// limits) Preempt, PreemptMode and PreemptExemptTime.
func (p *qosPreempt) printGrace(b *strings.Builder) {
	if p != nil && p.grace != nil {
		fmt.Fprintf(b, "  %-25s= %d\n", "GraceTime", *p.grace)
	}
}

func (p *qosPreempt) printPreempt(b *strings.Builder) {
	if p == nil {
		return
	}
	var items []string
	items = append(items, listOf(p.list)...)
	for _, n := range p.add {
		items = append(items, "+"+n)
	}
	for _, n := range p.remove {
		items = append(items, "-"+n)
	}
	if len(items) > 0 {
		fmt.Fprintf(b, "  %-25s= %s\n", "Preempt", strings.Join(items, ","))
	}
	if p.mode != nil && *p.mode != "" {
		fmt.Fprintf(b, "  %-25s= %s\n", "PreemptMode", *p.mode)
	}
	if p.exempt != nil {
		if *p.exempt == nil {
			fmt.Fprintf(b, "  %-25s= NONE\n", "PreemptExemptTime")
		} else {
			fmt.Fprintf(b, "  %-25s= %s\n", "PreemptExemptTime", secsString(**p.exempt))
		}
	}
}

// qosPreemptMode is sacctmgr show qos's PreemptMode: the QOS's, lower
// case, or "cluster".
func qosPreemptMode(q *api.QOS) string {
	if q == nil || q.PreemptMode == "" || q.PreemptMode == api.PreemptOff {
		return "cluster" // Slurm's OFF on a QOS is the cluster's mode
	}
	return strings.ToLower(q.PreemptMode)
}
