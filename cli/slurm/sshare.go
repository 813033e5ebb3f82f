package slurm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// sshare: the fair-share tree (api.PathShares) as Slurm 22.05's sshare
// prints it, for the controller's algorithm (the answer says which):
// fair tree (Slurm's default: -l adds LevelFS, an account has no
// FairShare, root no NormUsage) or classic (PriorityFlags=NO_FAIR_TREE:
// every row has a FairShare, there is no LevelFS).

var sshareGetopt = &Getopt{Prog: "sshare", Options: []Option{
	{Long: "all", Short: 'a', Arg: NoArg},
	{Long: "accounts", Short: 'A', Arg: RequiredArg},
	{Long: "noheader", Short: 'n', Arg: NoArg},
	{Long: "long", Short: 'l', Arg: NoArg},
	{Long: "partition", Short: 'm', Arg: NoArg},
	{Long: "clusters", Short: 'M', Arg: RequiredArg},
	{Long: "format", Short: 'o', Arg: RequiredArg},
	{Long: "parsable", Short: 'p', Arg: NoArg},
	{Long: "parsable2", Short: 'P', Arg: NoArg},
	{Long: "users", Short: 'u', Arg: RequiredArg},
	{Long: "Users", Short: 'U', Arg: NoArg, Key: "usersonly"},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "help", Short: 'h', Arg: NoArg},
	{Long: "usage", Arg: NoArg, Key: "help"},
}}

// sshareField is one of sshare's columns.
type sshareField struct {
	name  string
	width int
	kind  byte                                         // s string, d double, u integer
	value func(r api.ShareRow) (string, float64, bool) // ok false: blank
}

// sshareFairTree is how the fair-tree algorithm's rows differ: Slurm
// 22.05 prints no FairShare for an account, no NormUsage for root, and
// a LevelFS (infinite for no usage) for every association below root.
func sshareFairTree(name string, r api.ShareRow) (string, bool) {
	root := r.User == "" && r.Account == api.RootAccount && r.Depth == 0
	switch {
	case name == "FairShare" && r.User == "":
		return "", false
	case name == "NormUsage" && root:
		return "", false
	case name == "LevelFS" && r.LevelFS != nil && *r.LevelFS >= math.MaxFloat64:
		return "inf", true
	}
	return "", true
}

var sshareFields = []sshareField{
	{"Account", -20, 's', func(r api.ShareRow) (string, float64, bool) {
		return strings.Repeat(" ", r.Depth) + r.Account, 0, true
	}},
	{"Cluster", 10, 's', func(api.ShareRow) (string, float64, bool) { return shoalCluster, 0, true }},
	{"EffectvUsage", 13, 'd', func(r api.ShareRow) (string, float64, bool) { return "", r.EffectvUsage, true }},
	{"FairShare", 10, 'd', func(r api.ShareRow) (string, float64, bool) { return "", r.FairShare, true }},
	{"GrpTRESMins", 30, 's', func(api.ShareRow) (string, float64, bool) { return "", 0, true }},
	{"GrpTRESRaw", 30, 's', func(api.ShareRow) (string, float64, bool) { return "", 0, true }},
	{"ID", 6, 'u', func(api.ShareRow) (string, float64, bool) { return "", 0, false }},
	{"LevelFS", 10, 'd', func(r api.ShareRow) (string, float64, bool) {
		if r.LevelFS == nil {
			return "", 0, false
		}
		return "", *r.LevelFS, true
	}},
	{"NormShares", 11, 'd', func(r api.ShareRow) (string, float64, bool) { return "", r.NormShares, true }},
	{"NormUsage", 11, 'd', func(r api.ShareRow) (string, float64, bool) { return "", r.NormUsage, true }},
	{"Partition", 12, 's', func(api.ShareRow) (string, float64, bool) { return "", 0, true }},
	{"RawShares", 10, 'u', func(r api.ShareRow) (string, float64, bool) { return "", float64(r.RawShares), r.RawShares >= 0 }},
	{"RawUsage", 11, 'u', func(r api.ShareRow) (string, float64, bool) { return "", r.RawUsage, true }},
	{"TRESRunMins", 30, 's', func(api.ShareRow) (string, float64, bool) { return "", 0, true }},
	{"User", 10, 's', func(r api.ShareRow) (string, float64, bool) { return r.User, 0, true }},
}

// sshareColumn finds a field by a case-insensitive prefix (Slurm's
// xstrncasecmp over the field list, first match), with an optional %width.
func sshareColumn(spec string) (sshareField, error) {
	name, width, hasWidth := strings.Cut(spec, "%")
	for _, f := range sshareFields {
		if name != "" && len(name) <= len(f.name) && strings.EqualFold(f.name[:len(name)], name) {
			if hasWidth {
				n, err := strconv.Atoi(width)
				if err != nil {
					return f, fmt.Errorf("Invalid field width %q in %s", width, spec)
				}
				if n != 0 {
					f.width = n
				}
			}
			return f, nil
		}
	}
	return sshareField{}, fmt.Errorf("Invalid field requested: \"%s\"", name)
}

// sshareDouble prints v in a column of width as Slurm's
// print_fields_double does: %f, or where that does not fit, %e with as
// many decimals as leave it the column's width.
func sshareDouble(v float64, width int) string {
	w := acctAbs(width)
	s := fmt.Sprintf("%*f", w, v)
	if len(s) > w {
		p := w
		if n := len(fmt.Sprintf("%*.*e", w, w, v)); n > w {
			p = w - (n - w)
		}
		s = fmt.Sprintf("%*.*e", p, max(p, 0), v)
	}
	if width < 0 {
		return fmt.Sprintf("%-*s", w, s)
	}
	return s
}

// sshareColumns reads a format: comma-separated fields.
func sshareColumns(format string) ([]sshareField, error) {
	var cols []sshareField
	for _, spec := range splitList(format) {
		f, err := sshareColumn(spec)
		if err != nil {
			return nil, err
		}
		cols = append(cols, f)
	}
	return cols, nil
}

// Sshare is Slurm's sshare.
func Sshare(c *Ctx, args []string) int {
	opts, _, err := sshareGetopt.Parse(args)
	if err != nil {
		var u *UsageError
		if errors.As(err, &u) {
			u.Report(c, "sshare")
			return 1
		}
		return report(c, "sshare", err)
	}
	var all, long, noHeader, parsable, parsable2, usersOnly bool
	var users, accounts []string
	format := ""
	for _, o := range opts {
		switch o.Key {
		case "all":
			all = true
		case "accounts":
			accounts = splitList(strings.ToLower(o.Value))
		case "noheader":
			noHeader = true
		case "long":
			long = true
		case "format":
			format = o.Value
		case "parsable":
			parsable = true
		case "parsable2":
			parsable2 = true
		case "users":
			users = splitList(o.Value)
		case "usersonly":
			usersOnly = true
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		case "help":
			fmt.Fprint(c.Stdout, sshareUsage)
			return 0
		case "clusters":
			if !acctHas(splitList(o.Value), shoalCluster) {
				return report(c, "sshare", errorf(1, "Invalid cluster name: %s", o.Value))
			}
		}
	}
	if all {
		users = nil
	} else if len(users) == 0 {
		users = []string{c.userName()}
	}
	if format != "" {
		if _, err := sshareColumns(format); err != nil { // before asking, as Slurm
			fmt.Fprintf(c.Stderr, "sshare: error: %s\n", termsafe.String(err.Error()))
			return 1
		}
	}
	cl, ok := c.Client.(caller)
	if !ok {
		return report(c, "sshare", errorf(1, "this controller client cannot ask for shares"))
	}
	var resp api.SharesResponse
	if err := cl.Call(context.Background(), api.PathShares, api.SharesRequest{Users: users}, &resp); err != nil {
		return report(c, "sshare", errorf(1, "Problem with shares request: %v", err))
	}
	if format == "" {
		format = "A,User,RawShares,NormShares,RawUsage,Eff,Fairshare"
		switch {
		case long && resp.FairTree:
			format = "A,User,RawShares,NormShares,RawUsage,NormUsage,Eff,Fairshare,LevelFS,GrpTRESMins,TRESRunMins"
		case long:
			format = "A,User,RawShares,NormShares,RawUsage,NormUsage,Eff,Fairshare,GrpTRESMins,TRESRunMins"
		}
	}
	cols, err := sshareColumns(format)
	if err != nil {
		fmt.Fprintf(c.Stderr, "sshare: error: %s\n", termsafe.String(err.Error()))
		return 1
	}
	var b strings.Builder
	cell := func(i int, s string) {
		last := i == len(cols)-1
		switch {
		case parsable2:
			b.WriteString(s)
			if !last {
				b.WriteByte('|')
			}
		case parsable:
			b.WriteString(s + "|")
		default:
			b.WriteString(s + " ")
		}
	}
	if !noHeader {
		for i, f := range cols {
			if parsable || parsable2 {
				cell(i, f.name)
			} else {
				cell(i, acctFit(f.name, f.width))
			}
		}
		b.WriteByte('\n')
		if !parsable && !parsable2 {
			for i, f := range cols {
				cell(i, strings.Repeat("-", acctAbs(f.width)))
			}
			b.WriteByte('\n')
		}
	}
	for _, r := range resp.Rows {
		if (usersOnly && r.User == "") || (len(accounts) > 0 && !acctHas(accounts, r.Account)) {
			continue
		}
		for i, f := range cols {
			s, v, ok := f.value(r)
			if resp.FairTree && ok {
				if fs, show := sshareFairTree(f.name, r); !show {
					ok = false
				} else if fs != "" {
					s, v = fs, 0
				}
			}
			switch {
			case ok && s != "" && f.kind == 'd':
			case !ok:
				s = ""
			case f.kind == 'd':
				s = strconv.FormatFloat(v, 'f', 6, 64)
			case f.kind == 'u':
				s = strconv.FormatUint(uint64(v), 10)
			}
			switch {
			case !parsable && !parsable2 && ok && f.kind == 'd' && s != "inf":
				s = sshareDouble(v, f.width)
			case !parsable && !parsable2:
				s = acctFit(termsafe.String(s), f.width)
			default:
				s = termsafe.String(s)
			}
			cell(i, s)
		}
		b.WriteByte('\n')
	}
	fmt.Fprint(c.Stdout, b.String())
	return 0
}

const sshareUsage = `Usage:  sshare [OPTION]
  Valid OPTIONs are:
    -a or --all            list all users
    -A or --accounts=      display specific accounts (comma separated list)
    -l or --long           include normalized usage in output
    -M or --cluster=name   cluster to issue commands to (shoal: its own)
    -n or --noheader       omit header from output
    -o or --format=        Comma separated list of fields (use
                           "--helpformat" for a list of available fields).
    -p or --parsable       '|' delimited output with a trailing '|'
    -P or --parsable2      '|' delimited output without a trailing '|'
    -u or --users=         display specific users (comma separated list)
    -U or --Users          display only user information
    -v or --verbose        display more information
    -V or --version        display tool version number
          --help           display this usage description
          --usage          display this usage description

  shoal's fair share is Slurm's fair tree, or its classic algorithm where the
  controller runs with -priority-flags NO_FAIR_TREE.
`
