package slurm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// sprio: the priority factors of waiting jobs (api.PathPriority), as
// Slurm 22.05's sprio prints them. The controller computes them as its
// scheduler does; under priority/basic (no weight set) sprio says what
// Slurm's says.

var sprioGetopt = &Getopt{Prog: "sprio", Options: []Option{
	{Long: "noheader", Short: 'h', Arg: NoArg},
	{Long: "jobs", Short: 'j', Arg: OptionalArg},
	{Long: "long", Short: 'l', Arg: NoArg},
	{Long: "clusters", Short: 'M', Arg: RequiredArg},
	{Long: "cluster", Arg: RequiredArg, Key: "clusters"},
	{Long: "norm", Short: 'n', Arg: NoArg},
	{Long: "format", Short: 'o', Arg: RequiredArg},
	{Long: "sort", Short: 'S', Arg: RequiredArg},
	{Long: "partition", Short: 'p', Arg: RequiredArg},
	{Long: "user", Short: 'u', Arg: RequiredArg},
	{Long: "users", Arg: RequiredArg, Key: "user"},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "weights", Short: 'w', Arg: NoArg},
	{Long: "federation", Arg: NoArg},
	{Long: "local", Arg: NoArg},
	{Long: "sibling", Arg: NoArg},
	{Long: "help", Arg: NoArg},
	{Long: "usage", Arg: NoArg},
}}

// sprioItem is one piece of a format: literal text, or a field of width
// (right justified if right).
type sprioItem struct {
	text  string
	field byte
	width int
	right bool
}

// parseSprioFormat reads sprio's -o: "%[.][width]X" fields between text.
func parseSprioFormat(f string) ([]sprioItem, error) {
	var items []sprioItem
	for len(f) > 0 {
		i := strings.IndexByte(f, '%')
		if i < 0 {
			items = append(items, sprioItem{text: f})
			break
		}
		if i > 0 {
			items = append(items, sprioItem{text: f[:i]})
		}
		f = f[i+1:]
		it := sprioItem{}
		if strings.HasPrefix(f, ".") {
			it.right, f = true, f[1:]
		}
		k := 0
		for k < len(f) && f[k] >= '0' && f[k] <= '9' {
			k++
		}
		if k > 0 {
			it.width, _ = strconv.Atoi(f[:k])
		}
		f = f[k:]
		if f == "" {
			return nil, fmt.Errorf("format ends in the middle of a field")
		}
		it.field, f = f[0], f[1:]
		if !strings.ContainsRune("aAbBcfFijJNpPqQrStTuyY", rune(it.field)) {
			return nil, fmt.Errorf("Invalid job format specification: %c", it.field)
		}
		items = append(items, it)
	}
	return items, nil
}

// sprioStr pads or cuts s as sprio's _print_str.
func sprioStr(s string, width int, right bool) string {
	if width == 0 {
		return s
	}
	if len(s) > width {
		s = s[:width]
	}
	if right {
		return fmt.Sprintf("%*s", width, s)
	}
	return fmt.Sprintf("%-*s", width, s)
}

// Sprio is Slurm's sprio.
func Sprio(c *Ctx, args []string) int {
	opts, _, err := sprioGetopt.Parse(args)
	if err != nil {
		var u *UsageError
		if errors.As(err, &u) {
			u.Report(c, "sprio")
			return 1
		}
		return report(c, "sprio", err)
	}
	var req api.PriorityRequest
	var noHeader, long, norm, weights, users bool
	format := ""
	for _, o := range opts {
		switch o.Key {
		case "noheader":
			noHeader = true
		case "jobs":
			for _, s := range splitList(o.Value) {
				id, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return report(c, "sprio", errorf(1, "Invalid job id: %s", s))
				}
				req.Jobs = append(req.Jobs, id)
			}
		case "long":
			long = true
		case "norm":
			norm = true
		case "format":
			format = o.Value
		case "partition":
			req.Queues = splitList(o.Value)
		case "user":
			req.Users, users = splitList(o.Value), true
		case "weights":
			weights = true
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		case "help", "usage":
			fmt.Fprint(c.Stdout, sprioUsage)
			return 0
		case "clusters":
			if !acctHas(splitList(o.Value), shoalCluster) {
				return report(c, "sprio", errorf(1, "Invalid cluster name: %s", o.Value))
			}
		}
	}
	cl, ok := c.Client.(caller)
	if !ok {
		return report(c, "sprio", errorf(1, "this controller client cannot ask for priorities"))
	}
	var resp api.PriorityResponse
	if err := cl.Call(context.Background(), api.PathPriority, req, &resp); err != nil {
		fmt.Fprintf(c.Stderr, "Couldn't get priority factors from controller: %s\n", termsafe.String(err.Error()))
		return 1
	}
	if !resp.Multifactor {
		fmt.Fprint(c.Stderr, "You are not running a supported priority plugin\n(priority/basic).\nOnly 'priority/multifactor' is supported.\n")
		return 1
	}
	w := resp.Weights
	if format == "" {
		switch {
		case norm && long:
			format = "%.15i %9r %.8u %10y %10a %10b %10f %10j %10p %10q %20t"
		case long:
			format = "%.15i %9r %.8u %.10Y %.10S %.10A %.10B %.10F %.10J %.10P %.10Q %.11N %.20T"
		default:
			f := "%.15i %9r"
			if users {
				f += " %.8u"
			}
			letter := func(weighted, normal string) string {
				if norm {
					return " %10" + normal
				}
				return " %.10" + weighted
			}
			if norm {
				f += " %10y"
			} else {
				f += " %.10Y %.10S"
			}
			for _, x := range []struct {
				weight int64
				w, n   string
			}{{w.Age, "A", "a"}, {w.FairShare, "F", "f"}, {w.JobSize, "J", "j"}, {w.Partition, "P", "p"}, {w.QOS, "Q", "q"}} {
				if x.weight > 0 {
					f += letter(x.w, x.n)
				}
			}
			format = f
		}
	}
	items, err := parseSprioFormat(format)
	if err != nil {
		return report(c, "sprio", err)
	}
	var b strings.Builder
	if !noHeader {
		sprioLine(&b, items, nil, w, false)
	}
	if weights {
		sprioLine(&b, items, nil, w, true)
		fmt.Fprint(c.Stdout, b.String())
		return 0
	}
	if len(req.Jobs) > 0 && len(resp.Jobs) == 0 {
		fmt.Fprint(c.Stdout, b.String())
		fmt.Fprintln(c.Stdout, "Unable to find jobs matching user/id(s) specified")
		return 0
	}
	sort.SliceStable(resp.Jobs, func(i, k int) bool { return resp.Jobs[i].JobID < resp.Jobs[k].JobID })
	for i := range resp.Jobs {
		sprioLine(&b, items, &resp.Jobs[i], w, false)
	}
	fmt.Fprint(c.Stdout, b.String())
	return 0
}

// sprioLine writes one line: the header (j nil, !weights), the weights
// (-w), or a job's factors.
func sprioLine(b *strings.Builder, items []sprioItem, j *api.JobPriority, w api.PriorityWeights, weights bool) {
	weightOf := map[byte]int64{'a': w.Age, 'f': w.FairShare, 'j': w.JobSize, 'p': w.Partition, 'q': w.QOS, 'b': 0}
	headers := map[byte]string{'a': "AGE", 'b': "ASSOC", 'c': "CLUSTER", 'f': "FAIRSHARE", 'i': "JOBID", 'j': "JOBSIZE", 'N': "NICE",
		'p': "PARTITION", 'q': "QOS", 'r': "PARTITION", 'S': "SITE", 't': "TRES", 'u': "USER", 'y': "PRIORITY"}
	for _, it := range items {
		if it.field == 0 {
			b.WriteString(it.text)
			continue
		}
		lower := it.field | 0x20
		if it.field == 'N' || it.field == 'S' {
			lower = it.field
		}
		var v string
		switch {
		case j == nil && !weights:
			v = headers[lower]
		case weights:
			switch it.field {
			case 'i':
				v = "Weights"
			case 'S':
				v = "1"
			case 'a', 'A', 'b', 'B', 'f', 'F', 'j', 'J', 'p', 'P', 'q', 'Q':
				v = strconv.FormatInt(weightOf[lower], 10)
			}
		default:
			v = sprioValue(it.field, j, weightOf)
		}
		b.WriteString(sprioStr(termsafe.String(v), it.width, it.right))
	}
	b.WriteByte('\n')
}

// sprioValue is a job's value of field f.
func sprioValue(f byte, j *api.JobPriority, weightOf map[byte]int64) string {
	factor := map[byte]float64{'a': j.Age, 'f': j.FairShare, 'j': j.JobSize, 'p': j.Partition, 'q': j.QOS, 'b': 0}
	switch f {
	case 'i':
		return strconv.FormatUint(j.JobID, 10)
	case 'r':
		return j.Queue
	case 'u':
		return j.User
	case 'c':
		return shoalCluster
	case 'Y':
		return strconv.FormatInt(j.Priority, 10)
	case 'y':
		return fmt.Sprintf("%16.14f", float64(j.Priority)/float64(uint32(0xffffffff)))
	case 'S':
		return "0"
	case 'N':
		if j.Fixed {
			return "0"
		}
		return strconv.FormatInt(j.Nice, 10)
	case 't', 'T':
		return ""
	case 'A', 'B', 'F', 'J', 'P', 'Q':
		return fmt.Sprintf("%.0f", factor[f|0x20])
	default: // a normalized factor: weighted over its weight
		n := 0.0
		if wt := weightOf[f]; wt > 0 {
			n = factor[f] / float64(wt)
		}
		return fmt.Sprintf("%.7f", n)
	}
}

const sprioUsage = `Usage: sprio [OPTIONS]
  -h, --noheader                  no headers on output
  -j, --jobs                      comma separated list of jobs
                                  to view, default is all
  -l, --long                      long report
  -M, --cluster=cluster_name      cluster to issue commands to (shoal: its own)
  -n, --norm                      display normalized values
  -o, --format=format             format specification
  -p, --partition=partition_name  comma separated list of partitions
                                  to view, default is all partitions
  -S, --sort=fields               comma separated list of fields to sort on
                                  (shoal: by job id)
  -u, --user=user_name            comma separated list of users to view
  -w, --weights                   show the weights for each priority factor
  -v, --verbose                   display more information
  -V, --version                   output version information and exit

Help options:
  --help                          show this help message
  --usage                         display a brief summary of sprio options
`
