package slurm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

var sinfoGetopt = &Getopt{Prog: "sinfo", Options: []Option{
	{Long: "all", Short: 'a', Arg: NoArg},
	{Long: "bg", Short: 'b', Arg: NoArg, Key: "ignore"},
	{Long: "dead", Short: 'd', Arg: NoArg},
	{Long: "exact", Short: 'e', Arg: NoArg, Key: "ignore"},
	{Long: "federation", Arg: NoArg, Key: "ignore"},
	{Long: "future", Arg: NoArg, Key: "ignore"},
	{Long: "help", Arg: NoArg},
	{Long: "hide", Arg: NoArg, Key: "ignore"},
	{Long: "iterate", Short: 'i', Arg: RequiredArg},
	{Long: "json", Arg: NoArg},
	{Long: "local", Arg: NoArg, Key: "ignore"},
	{Long: "long", Short: 'l', Arg: NoArg},
	{Long: "cluster", Arg: RequiredArg, Key: "ignore"},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "nodes", Short: 'n', Arg: RequiredArg},
	{Long: "noconvert", Arg: NoArg, Key: "ignore"},
	{Long: "Node", Short: 'N', Arg: NoArg},
	{Long: "noheader", Short: 'h', Arg: NoArg},
	{Long: "format", Short: 'o', Arg: RequiredArg},
	{Long: "Format", Short: 'O', Arg: RequiredArg},
	{Long: "partition", Short: 'p', Arg: RequiredArg},
	{Long: "responding", Short: 'r', Arg: NoArg},
	{Long: "list-reasons", Short: 'R', Arg: NoArg},
	{Long: "summarize", Short: 's', Arg: NoArg},
	{Long: "sort", Short: 'S', Arg: RequiredArg},
	{Long: "states", Short: 't', Arg: RequiredArg},
	{Long: "reservation", Short: 'T', Arg: NoArg},
	{Long: "usage", Arg: NoArg},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "yaml", Arg: NoArg, Key: "json"},
}}

// sinfo's formats (Slurm 22.05). "%#X" is as wide as the widest value
// (at least the header), "%.#X" the same, right-justified.
const (
	sinfoDefaultFormat   = "%#P %.5a %.10l %.6D %.6t %N"
	sinfoLongFormat      = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
	sinfoNodeFormat      = "%#N %.6D %.#P %6t"
	sinfoNodeLongFormat  = "%#N %.6D %.#P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E"
	sinfoSummarizeFormat = "%#P %.5a %.10l %.16F %N"
	sinfoReasonFormat    = "%20E %9u %19H %N"
	sinfoReasonLong      = "%20E %12U %19H %6t %N"
)

// sinfoOpts is a parsed sinfo command line.
type sinfoOpts struct {
	format, formatLong, sort                  string
	long, node, reasons, summarize, noHeader  bool
	json, dead, responding, reservation       bool
	partitions, states, nodes                 []string
	partitionsSet, statesSet, nodesSet, quiet bool
	iterate                                   time.Duration
	verbose                                   int
}

// sinfoStateNames are the node states -t accepts (Slurm's list).
var sinfoStateNames = []string{"unknown", "down", "idle", "allocated", "?", "mixed", "future", "drain", "drained",
	"draining", "no_respond", "reserved", "perfctrs", "cloud", "completing", "powering_down", "powered_down",
	"power_down", "powering_up", "fail", "maint", "reboot", "reboot^", "unknown"}

// Sinfo is sinfo: it lists partitions and nodes in Slurm's formats.
func Sinfo(c *Ctx, args []string) int {
	staleReads(c)
	o := &sinfoOpts{}
	opts, operands, err := sinfoGetopt.Parse(args)
	if err != nil {
		fmt.Fprintf(c.Stderr, "sinfo: %v\nTry \"sinfo --help\" for more information\n", err)
		return 1
	}
	if len(operands) > 0 {
		c.Errorf("sinfo", "Unrecognized option: %s", operands[0])
		fmt.Fprint(c.Stderr, sinfoUsage)
		return 1
	}
	// SINFO_PARTITION is -p and SINFO_ALL -a, the command line's either
	// replacing both; one of each is refused, as Slurm's sinfo does.
	envAll, envPart := c.Getenv("SINFO_ALL") != "", c.Getenv("SINFO_PARTITION")
	if envAll && envPart != "" {
		c.Errorf("sinfo", "Conflicting options, SINFO_ALL and SINFO_PARTITION, specified. Please choose one or the other.")
		return 1
	}
	if envPart != "" {
		o.partitions, o.partitionsSet = splitList(envPart), true
	}
	optAll, optPart := false, false
	for _, opt := range opts {
		v := opt.Value
		switch opt.Key {
		case "all": // every partition: shoal hides none
			optAll = true
			o.partitions, o.partitionsSet = nil, false
		case "dead":
			o.dead = true
		case "help":
			fmt.Fprint(c.Stdout, sinfoHelp)
			return 0
		case "usage":
			fmt.Fprint(c.Stdout, sinfoUsage)
			return 0
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		case "json":
			o.json = true
		case "long":
			o.long = true
		case "nodes":
			hosts, err := expandHosts(v)
			if err != nil {
				c.Errorf("sinfo", "Invalid node name specified: %s", v)
				return 1
			}
			o.nodes, o.nodesSet = hosts, true
		case "Node":
			o.node = true
		case "noheader":
			o.noHeader = true
		case "format":
			o.format = v
		case "Format":
			o.formatLong = v
		case "partition":
			optPart = true
			o.partitions, o.partitionsSet = splitList(v), true
		case "responding":
			o.responding = true
		case "list-reasons":
			o.reasons = true
		case "summarize":
			o.summarize = true
		case "sort":
			o.sort = v
		case "states":
			for _, s := range splitList(v) {
				if !inList(sinfoStateNames, strings.ToLower(s)) && !inList([]string{"alloc", "mix", "drng", "comp", "all"}, strings.ToLower(s)) {
					c.Errorf("sinfo", "Bad state string: %q", s)
					c.Errorf("sinfo", "valid states: %s", strings.Join(sinfoStateNames, ","))
					return 1
				}
				o.states = append(o.states, strings.ToLower(s))
			}
			o.statesSet = true
		case "reservation":
			o.reservation = true
		case "iterate":
			if o.iterate, err = parseIterate("sinfo", v); err != nil {
				fmt.Fprintln(c.Stderr, err)
				return 1
			}
		case "verbose":
			o.verbose++
		}
	}
	if optAll && optPart {
		c.Errorf("sinfo", "Conflicting options, -a and -p, specified. Please choose one or the other.")
		return 1
	}
	if o.format == "" && o.formatLong == "" {
		o.format = c.Getenv("SINFO_FORMAT") // the command line wins
	}
	if o.verbose > 0 {
		o.dump(c.Stdout)
	}
	return iterate(c, o.iterate, func() int { return o.run(c) })
}

// dump prints sinfo -v's list of its options.
func (o *sinfoOpts) dump(w io.Writer) {
	tf := func(b bool) string { return strconv.FormatBool(b) }
	na := func(l []string) string {
		if len(l) == 0 {
			return "n/a"
		}
		return strings.Join(l, ",")
	}
	states := "(null)"
	if len(o.states) > 0 {
		states = strings.Join(o.states, ",")
	}
	format := o.format
	if format == "" {
		format = o.formatLong
	}
	optionDump(w, 11, [][2]string{
		{"dead", tf(o.dead)}, {"format", nullIfEmpty(format)},
		{"iterate", strconv.Itoa(int(o.iterate / time.Second))}, {"long", tf(o.long)},
		{"no_header", tf(o.noHeader)}, {"node_field", tf(o.node)}, {"nodes", na(o.nodes)},
		{"partition", na(o.partitions)}, {"responding", tf(o.responding)}, {"states", states},
		{"sort", nullIfEmpty(o.sort)}, {"summarize", tf(o.summarize)}, {"verbose", strconv.Itoa(o.verbose)},
	})
}

func (o *sinfoOpts) run(c *Ctx) int {
	ctx := context.Background()
	nodes, err := c.Client.Nodes(ctx)
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_node error: %s\n", safeErr(err))
		return 1
	}
	if o.reservation {
		// shoal has no reservations.
		if !o.noHeader {
			fmt.Fprintln(c.Stdout, "RESV_NAME     STATE           START_TIME             END_TIME     DURATION  NODELIST")
		}
		return 0
	}
	parts, err := loadPartitions(ctx, c, nodes)
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_partitions: %s\n", safeErr(err))
		return 1
	}
	if o.json {
		return sinfoJSON(c, nodes, parts)
	}
	format := o.format
	switch {
	case format != "" || o.formatLong != "":
	case o.reasons && o.long:
		format = sinfoReasonLong
	case o.reasons:
		format = sinfoReasonFormat
	case o.summarize:
		format = sinfoSummarizeFormat
	case o.node && o.long:
		format = sinfoNodeLongFormat
	case o.node:
		format = sinfoNodeFormat
	case o.long:
		format = sinfoLongFormat
	default:
		format = sinfoDefaultFormat
	}
	var cols []column
	var fields []siField
	prefix := ""
	if o.formatLong != "" {
		for _, col := range parseLongFormat(o.formatLong, 20) {
			f, ok := siNames()[col.key]
			if !ok {
				c.Errorf("sinfo", "Invalid job format specification: %s", col.key)
				continue
			}
			cols, fields = append(cols, col), append(fields, f)
		}
	} else {
		pf, bad := parsePercentFormat(format, func(l byte) bool { _, ok := siLetters()[l]; return ok })
		for _, l := range bad {
			fmt.Fprintf(c.Stderr, "Invalid node format specification: %c\n", l)
		}
		prefix, cols = pf.prefix, pf.cols
		fields = make([]siField, len(cols))
		for i, col := range cols {
			if !col.invalid {
				fields[i] = siLetters()[col.key[0]]
			}
		}
	}

	rows := o.rows(parts, fields, c.Now().Location())
	o.sortRows(rows, parts)

	vals := make([][]string, len(rows))
	for i, r := range rows {
		vals[i] = make([]string, len(cols))
		for k := range cols {
			if fields[k].known() {
				vals[i][k] = termsafe.String(fields[k].value(r)) // every sinfo cell, before widths are measured
			}
		}
	}
	// Auto-sized columns ("%#P"): as wide as every value, and at least 9
	// (Slurm's minimum, which fits PARTITION).
	for k := range cols {
		if cols[k].width != -1 {
			continue
		}
		w := max(len(fields[k].header), 9)
		for i := range rows {
			w = max(w, len(vals[i][k]))
		}
		cols[k].width = w
	}
	var b strings.Builder
	if !o.noHeader {
		if o.long {
			b.WriteString(ctimeLine(c.Now()) + "\n")
		}
		b.WriteString(prefix)
		for k, col := range cols {
			b.WriteString(col.fit(fields[k].header))
		}
		b.WriteByte('\n')
	}
	for i := range rows {
		b.WriteString(prefix)
		for k, col := range cols {
			b.WriteString(col.fit(vals[i][k]))
		}
		b.WriteByte('\n')
	}
	fmt.Fprint(c.Stdout, b.String())
	return 0
}

// matchNode applies the node filters.
func (o *sinfoOpts) matchNode(n *api.Node) bool {
	if o.nodesSet && !inList(o.nodes, n.Name) {
		return false
	}
	if o.dead && !n.NotResponding {
		return false
	}
	if o.responding && n.NotResponding {
		return false
	}
	if o.statesSet {
		st := stateOfNode(n)
		ok := false
		for _, s := range o.states {
			switch s {
			case "all":
				ok = true
			case "drain":
				ok = ok || st.drain
			case "drained":
				ok = ok || (st.drain && st.base == "idle")
			case "draining", "drng":
				ok = ok || (st.drain && st.base != "idle")
			case "alloc":
				ok = ok || st.base == "allocated"
			case "mix":
				ok = ok || st.base == "mixed"
			case "comp":
				ok = ok || st.base == "completing"
			default:
				ok = ok || st.base == s
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// rows groups the nodes of each partition into lines: nodes share a line
// when every per-node field of the format prints the same for them (one
// node a line with -N; the nodes with a reason, once each, with -R).
func (o *sinfoOpts) rows(parts []*partition, fields []siField, loc *time.Location) []*siRow {
	var rows []*siRow
	newRow := func(p *partition, nodes ...*api.Node) *siRow { return &siRow{part: p, nodes: nodes, loc: loc} }
	keyOf := func(p *partition, n *api.Node) string {
		r := newRow(p, n)
		var k strings.Builder
		for _, f := range fields {
			if f.known() && !f.aggregate {
				k.WriteString(f.value(r))
				k.WriteByte(0)
			}
		}
		return k.String()
	}
	if o.reasons {
		seen := map[string]bool{}
		groups := map[string]*siRow{}
		for _, p := range parts {
			for _, n := range p.nodes {
				if seen[n.Name] || !o.matchNode(n) || (n.State == api.NodeUp && n.Reason == "") {
					continue
				}
				seen[n.Name] = true
				k := keyOf(p, n)
				if g, ok := groups[k]; ok {
					g.nodes = append(g.nodes, n)
					continue
				}
				groups[k] = newRow(p, n)
				rows = append(rows, groups[k])
			}
		}
		return rows
	}
	for _, p := range parts {
		if o.partitionsSet && !inList(o.partitions, p.name) {
			continue
		}
		groups := map[string]*siRow{}
		matched := 0
		for _, n := range p.nodes {
			if !o.matchNode(n) {
				continue
			}
			matched++
			if o.node {
				rows = append(rows, newRow(p, n))
				continue
			}
			k := keyOf(p, n)
			if g, ok := groups[k]; ok {
				g.nodes = append(g.nodes, n)
				continue
			}
			groups[k] = newRow(p, n)
			rows = append(rows, groups[k])
		}
		if matched == 0 && !o.node {
			rows = append(rows, newRow(p))
		}
	}
	return rows
}

// sortRows orders lines as Slurm does: by partition (in the controller's
// order), then state (Slurm's number, drained ones first, down last);
// with -N by node name; -S replaces the order.
func (o *sinfoOpts) sortRows(rows []*siRow, parts []*partition) {
	order := map[*partition]int{}
	for i, p := range parts {
		order[p] = i
	}
	spec := o.sort
	if spec == "" {
		switch {
		case o.reasons:
			spec = "N"
		case o.node:
			spec = "N,P"
		default:
			spec = "P,-t"
		}
	}
	stateNum := func(r *siRow) int {
		if n := r.first(); n != nil {
			return stateOfNode(n).num
		}
		return -1
	}
	firstName := func(r *siRow) string {
		if n := r.first(); n != nil {
			return n.Name
		}
		return ""
	}
	cmp := func(a, b *siRow, letter byte) int {
		switch letter {
		case 'P', 'R', '#':
			return cmpOrdered(order[a.part], order[b.part])
		case 't', 'T':
			return cmpOrdered(stateNum(a), stateNum(b))
		case 'N', 'n':
			switch {
			case firstName(a) == firstName(b):
				return 0
			case hostLess(firstName(a), firstName(b)):
				return -1
			}
			return 1
		case 'D':
			return cmpOrdered(len(a.nodes), len(b.nodes))
		case 'c':
			ac, bc := 0, 0
			if n := a.first(); n != nil {
				ac = n.Capacity.CPUs
			}
			if n := b.first(); n != nil {
				bc = n.Capacity.CPUs
			}
			return cmpOrdered(ac, bc)
		case 'm':
			var am, bm int64
			if n := a.first(); n != nil {
				am = n.Capacity.MemoryMB
			}
			if n := b.first(); n != nil {
				bm = n.Capacity.MemoryMB
			}
			return cmpOrdered(am, bm)
		}
		return 0
	}
	var keys []struct {
		letter byte
		desc   bool
	}
	for _, item := range splitList(spec) {
		desc := false
		switch item[0] {
		case '-':
			desc, item = true, item[1:]
		case '+':
			item = item[1:]
		}
		if item == "" {
			continue
		}
		if item[0] == '#' && len(item) > 1 {
			item = item[1:]
		}
		keys = append(keys, struct {
			letter byte
			desc   bool
		}{item[0], desc})
	}
	sort.SliceStable(rows, func(x, y int) bool {
		a, b := rows[x], rows[y]
		for _, k := range keys {
			r := cmp(a, b, k.letter)
			if k.desc {
				r = -r
			}
			if r != 0 {
				return r < 0
			}
		}
		return cmp(a, b, 'N') < 0
	})
}

// siJSONNode is the subset of Slurm 22.05's sinfo --json node record
// shoal fills in, under the same keys.
type siJSONNode struct {
	Architecture string   `json:"architecture"`
	Boards       int      `json:"boards"`
	Cores        int      `json:"cores"`
	CPUs         int      `json:"cpus"`
	FreeMemory   int64    `json:"free_memory"`
	Features     string   `json:"features"`
	Gres         string   `json:"gres"`
	GresUsed     string   `json:"gres_used"`
	Name         string   `json:"name"`
	Address      string   `json:"address"`
	Hostname     string   `json:"hostname"`
	State        string   `json:"state"`
	StateFlags   []string `json:"state_flags"`
	Partitions   []string `json:"partitions"`
	RealMemory   int64    `json:"real_memory"`
	Reason       string   `json:"reason"`
	ReasonTime   int64    `json:"reason_changed_at"`
	ReasonUser   *string  `json:"reason_set_by_user"`
	Sockets      int      `json:"sockets"`
	Threads      int      `json:"threads"`
	Weight       int      `json:"weight"`
	Tres         string   `json:"tres"`
	AllocMemory  int64    `json:"alloc_memory"`
	AllocCPUs    int      `json:"alloc_cpus"`
	IdleCPUs     int      `json:"idle_cpus"`
	TresUsed     *string  `json:"tres_used"`
	LastBusy     int64    `json:"last_busy"`
}

// sinfoJSON prints the nodes as Slurm's sinfo --json does.
func sinfoJSON(c *Ctx, nodes []api.Node, parts []*partition) int {
	out := struct {
		Meta   slurmJSONMeta `json:"meta"`
		Errors []string      `json:"errors"`
		Nodes  []siJSONNode  `json:"nodes"`
	}{Meta: newJSONMeta("openapi/v0.0.38", "Slurm OpenAPI v0.0.38"), Errors: []string{}, Nodes: []siJSONNode{}}
	ptrs := make([]*api.Node, len(nodes))
	for i := range nodes {
		ptrs[i] = &nodes[i]
	}
	sortNodes(ptrs)
	for _, n := range ptrs {
		st := stateOfNode(n)
		rec := siJSONNode{Boards: 1, Cores: 1, CPUs: n.Capacity.CPUs,
			FreeMemory: n.Capacity.MemoryMB - n.Allocated.MemoryMB, Name: n.Name, Address: n.Name, Hostname: n.Name,
			State: st.base, StateFlags: []string{}, Partitions: []string{}, RealMemory: n.Capacity.MemoryMB,
			Reason: n.Reason, Sockets: n.Capacity.CPUs, Threads: 1, Weight: 1,
			Tres:        fmt.Sprintf("cpu=%d,mem=%s,billing=%d", n.Capacity.CPUs, memString(n.Capacity.MemoryMB), n.Capacity.CPUs),
			AllocMemory: n.Allocated.MemoryMB, AllocCPUs: n.Allocated.CPUs, IdleCPUs: max(n.Capacity.CPUs-n.Allocated.CPUs, 0),
			LastBusy: n.LastHeartbeat / 1000}
		if n.Labels != nil {
			rec.Features = labelsString(n.Labels)
		}
		if n.Capacity.GPUs > 0 {
			rec.Gres = gresString(n.Capacity)
			rec.GresUsed = gresUsed(n)
		}
		if st.drain {
			rec.StateFlags = append(rec.StateFlags, "DRAIN")
		}
		for _, p := range parts {
			for _, pn := range p.nodes {
				if pn.Name == n.Name {
					rec.Partitions = append(rec.Partitions, p.name)
				}
			}
		}
		if n.Allocated.CPUs > 0 {
			s := fmt.Sprintf("cpu=%d", n.Allocated.CPUs)
			rec.TresUsed = &s
		}
		out.Nodes = append(out.Nodes, rec)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		c.Errorf("sinfo", "encode JSON: %v", err)
		return 1
	}
	fmt.Fprintln(c.Stdout, string(termsafe.JSON(data)))
	return 0
}

const sinfoUsage = `Usage: sinfo [-abdelNRrsTv] [-i seconds] [-t states] [-p partition] [-n nodes]
             [-S fields] [-o format] [-O Format] [--federation] [--local]
             [--sibling] [--json=data_parser] [--yaml=data_parser]
`

const sinfoHelp = `Usage: sinfo [OPTIONS]
  -d, --dead                 show only non-responding nodes
  -h, --noheader             no headers on output
  --hide                     do not show hidden or non-accessible partitions
  --json                     Produce JSON output
  -l, --long                 long output - displays more information
  -n, --nodes=NODES          report on specific node(s)
  -N, --Node                 Node-centric format
  -o, --format=format        format specification
  -O, --Format=format        long format specification
  -p, --partition=PARTITION  report on specific partition
  -r, --responding           report only responding nodes
  -R, --list-reasons         list reason nodes are down or drained
  -s, --summarize            report state summary only
  -S, --sort=fields          comma separated list of fields to sort on
  -t, --states=node_state    specify the what states of nodes to view
  -T, --reservation          show only reservation information
  -V, --version              output version information and exit

Help options:
  --help                     show this help message
  --usage                    display brief usage message
`
