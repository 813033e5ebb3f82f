package slurm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

var squeueGetopt = &Getopt{Prog: "squeue", Options: []Option{
	{Long: "accounts", Short: 'A', Arg: RequiredArg, Key: "account"},
	{Long: "account", Arg: RequiredArg, Key: "account"},
	{Long: "all", Short: 'a', Arg: NoArg, Key: "ignore"},
	{Long: "array", Short: 'r', Arg: NoArg},
	{Long: "array-unique", Arg: NoArg, Key: "ignore"},
	{Long: "Format", Short: 'O', Arg: RequiredArg},
	{Long: "format", Short: 'o', Arg: RequiredArg},
	{Long: "federation", Arg: NoArg, Key: "ignore"},
	{Long: "help", Arg: NoArg},
	{Long: "hide", Arg: NoArg, Key: "ignore"},
	{Long: "iterate", Short: 'i', Arg: RequiredArg},
	{Long: "jobs", Short: 'j', Arg: OptionalArg},
	{Long: "json", Arg: NoArg},
	{Long: "local", Arg: NoArg, Key: "ignore"},
	{Long: "long", Short: 'l', Arg: NoArg},
	{Long: "licenses", Short: 'L', Arg: RequiredArg, Key: "licenses"},
	{Long: "cluster", Arg: RequiredArg, Key: "ignore"},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "me", Arg: NoArg},
	{Long: "name", Short: 'n', Arg: RequiredArg},
	{Long: "noconvert", Arg: NoArg, Key: "ignore"},
	{Long: "node", Arg: RequiredArg, Key: "nodelist"},
	{Long: "nodes", Arg: RequiredArg, Key: "nodelist"},
	{Long: "nodelist", Short: 'w', Arg: RequiredArg},
	{Long: "noheader", Short: 'h', Arg: NoArg},
	{Long: "partitions", Short: 'p', Arg: RequiredArg, Key: "partition"},
	{Long: "partition", Arg: RequiredArg, Key: "partition"},
	{Long: "priority", Short: 'P', Arg: NoArg, Key: "ignore"},
	{Long: "qos", Short: 'q', Arg: RequiredArg},
	{Long: "reservation", Short: 'R', Arg: RequiredArg},
	{Long: "sib", Arg: NoArg, Key: "ignore"},
	{Long: "sibling", Arg: NoArg, Key: "ignore"},
	{Long: "sort", Short: 'S', Arg: RequiredArg},
	{Long: "start", Arg: NoArg},
	{Long: "steps", Short: 's', Arg: OptionalArg},
	{Long: "states", Short: 't', Arg: RequiredArg},
	{Long: "usage", Arg: NoArg},
	{Long: "user", Short: 'u', Arg: RequiredArg, Key: "user"},
	{Long: "users", Arg: RequiredArg, Key: "user"},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "yaml", Arg: NoArg, Key: "json"},
}}

// Squeue's default formats (Slurm 22.05).
const (
	squeueDefaultFormat = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
	squeueLongFormat    = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
	squeueStartFormat   = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"
	squeueStepsFormat   = "%.15i %.8j %.9P %.8u %.9M %N"
	squeueDefaultSort   = "P,t,-p"
)

// squeueOpts is a parsed squeue command line.
type squeueOpts struct {
	accounts, names, partitions, qos, users, nodes []string
	licenses                                       []string // -L: jobs that ask for one of these
	states                                         []State
	allStates                                      bool
	jobFlag                                        bool
	jobs                                           []jobRef
	format, formatLong, sort                       string
	long, start, steps, noHeader, array, json      bool
	// stepList is --steps=LIST (or the operand with -s): JOB.STEP ids.
	stepList []string
	// none: a filter nothing in shoal can match (licenses, reservations).
	none    bool
	iterate time.Duration
	verbose int
}

// jobRef is one entry of a -j list: a job id, an array's id, or one task
// of an array ("A_i").
type jobRef struct {
	text   string
	id     uint64
	task   int
	isTask bool
}

// parseJobRefs reads a comma separated job list ("4,8_3,9").
func parseJobRefs(list string) ([]jobRef, error) {
	var refs []jobRef
	for _, s := range splitList(list) {
		r := jobRef{text: s}
		base, task, isTask := strings.Cut(s, "_")
		id, err := strconv.ParseUint(base, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("Invalid job id: %s", s)
		}
		r.id = id
		if isTask {
			n, err := strconv.Atoi(task)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("Invalid job id: %s", s)
			}
			r.task, r.isTask = n, true
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// parseStates reads a -t list: the states, whether "all" was given, and
// the first unknown name ("" when every name is known).
func parseStates(list string) (states []State, all bool, bad string) {
	for _, s := range splitList(list) {
		if strings.EqualFold(s, "all") {
			all = true
			continue
		}
		st, ok := ParseState(s)
		if !ok {
			return nil, false, s
		}
		states = append(states, st)
	}
	return states, all, ""
}

// Squeue is squeue: it lists jobs (pending, running, and those that ended
// less than MinJobAge ago with -t) in Slurm's formats.
func Squeue(c *Ctx, args []string) int {
	staleReads(c)
	o := &squeueOpts{}
	for _, e := range []struct{ env, key string }{
		{"SQUEUE_ACCOUNT", "account"}, {"SQUEUE_NAMES", "name"}, {"SQUEUE_PARTITION", "partition"},
		{"SQUEUE_QOS", "qos"}, {"SQUEUE_SORT", "sort"}, {"SQUEUE_STATES", "states"}, {"SQUEUE_USERS", "user"},
	} {
		if v, ok := c.LookupEnv(e.env); ok && v != "" {
			if rc := o.apply(c, Opt{Key: e.key, Value: v, HasValue: true}); rc >= 0 {
				return rc
			}
		}
	}
	if _, ok := c.LookupEnv("SQUEUE_ARRAY"); ok {
		o.array = true
	}
	opts, operands, err := squeueGetopt.Parse(args)
	if err != nil {
		fmt.Fprintf(c.Stderr, "squeue: %v\nTry \"squeue --help\" for more information\n", err)
		return 1
	}
	formatGiven := false
	for _, opt := range opts {
		switch opt.Key {
		case "format", "Format", "long", "start", "steps":
			formatGiven = true
		}
		if rc := o.apply(c, opt); rc >= 0 {
			return rc
		}
	}
	if len(operands) > 0 {
		if o.jobFlag && o.jobs == nil {
			refs, err := parseJobRefs(operands[0])
			if err != nil {
				c.Errorf("squeue", "%v", err)
				return 1
			}
			o.jobs, operands = refs, operands[1:]
		} else if o.steps && o.stepList == nil {
			o.stepList, operands = splitList(operands[0]), operands[1:]
		}
		if len(operands) > 0 {
			c.Errorf("squeue", "Unrecognized option: %s", operands[0])
			fmt.Fprint(c.Stderr, squeueUsage)
			return 1
		}
	}
	if !formatGiven {
		if v := c.Getenv("SQUEUE_FORMAT"); v != "" {
			o.format = v
		} else if v := c.Getenv("SQUEUE_FORMAT2"); v != "" {
			o.formatLong = v
		}
	}
	if o.start && o.states == nil && !o.allStates {
		o.states = []State{Pending}
	}
	if o.long && o.format != "" {
		fmt.Fprintln(c.Stderr, "squeue: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")
		return 1
	}
	if o.verbose > 0 {
		o.dump(c.Stdout)
	}
	if len(o.nodes) > 0 {
		if rc := checkNodeNames(c, "squeue", o.nodes); rc != 0 {
			return rc
		}
	}
	return iterate(c, o.iterate, func() int { return o.run(c) })
}

// checkNodeNames refuses a node list that names a node the cluster does
// not have, as Slurm's squeue -w does ("Invalid node name X", rc 1).
func checkNodeNames(c *Ctx, prog string, names []string) int {
	nodes, err := c.Client.Nodes(context.Background())
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_node error: %s\n", safeErr(err))
		return 1
	}
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	for _, name := range names {
		if !known[name] {
			c.Errorf(prog, "Invalid node name %s", name)
			return 1
		}
	}
	return 0
}

// dump prints squeue -v's list of its options.
func (o *squeueOpts) dump(w io.Writer) {
	tf := func(b bool) string { return strconv.FormatBool(b) }
	list := func(l []string) string {
		if len(l) == 0 {
			return "(null)"
		}
		return strings.Join(l, ",")
	}
	var jobs, states []string
	for _, r := range o.jobs {
		jobs = append(jobs, r.text)
	}
	for _, st := range o.states {
		states = append(states, st.Long)
	}
	format := o.format
	if format == "" {
		format = o.formatLong
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	optionDump(w, 11, [][2]string{
		{"all", "false"}, {"array", tf(o.array)}, {"format", nullIfEmpty(format)},
		{"iterate", strconv.Itoa(int(o.iterate / time.Second))}, {"job_flag", flag(o.jobFlag)},
		{"jobs", list(jobs)}, {"names", list(o.names)}, {"nodes", strings.Join(o.nodes, ",")},
		{"partitions", list(o.partitions)}, {"sort", nullIfEmpty(o.sort)}, {"start_flag", flag(o.start)},
		{"states", list(states)}, {"step_flag", flag(o.steps)}, {"users", list(o.users)},
		{"verbose", strconv.Itoa(o.verbose)},
	})
}

// apply takes one option; it returns an exit status to stop with, or -1.
func (o *squeueOpts) apply(c *Ctx, opt Opt) int {
	v := opt.Value
	switch opt.Key {
	case "account":
		o.accounts = splitList(v)
	case "array":
		o.array = true
	case "Format":
		if o.format != "" {
			c.Errorf("squeue", "-O (--Format) is incompatible with -o (--format)")
			return 1
		}
		o.formatLong = v
	case "format":
		if o.formatLong != "" {
			c.Errorf("squeue", "-o (--format) is incompatible with -O (--Format)")
			return 1
		}
		o.format = v
	case "help":
		fmt.Fprint(c.Stdout, squeueHelp)
		return 0
	case "usage":
		fmt.Fprint(c.Stdout, squeueUsage)
		return 0
	case "version":
		fmt.Fprintln(c.Stdout, VersionLine)
		return 0
	case "jobs":
		o.jobFlag = true
		if opt.HasValue {
			refs, err := parseJobRefs(v)
			if err != nil {
				c.Errorf("squeue", "%v", err)
				return 1
			}
			o.jobs = refs
		}
	case "json":
		o.json = true
	case "long":
		o.long = true
	case "licenses":
		o.licenses = splitList(v)
	case "reservation":
		o.none = true // nor reservations
	case "me":
		o.users = []string{c.userName()}
	case "name":
		o.names = splitList(v)
	case "nodelist":
		hosts, err := expandHosts(v)
		if err != nil {
			c.Errorf("squeue", "'%s' invalid entry for --nodelist", v)
			return 1
		}
		o.nodes = hosts
	case "noheader":
		o.noHeader = true
	case "partition":
		o.partitions = splitList(v)
	case "qos":
		o.qos = splitList(v)
	case "sort":
		o.sort = v
	case "start":
		o.start = true
	case "steps":
		o.steps = true
		if v != "" {
			o.stepList = splitList(v)
		}
	case "states":
		states, all, bad := parseStates(v)
		if bad != "" {
			c.Errorf("squeue", "Invalid job state specified: %s", bad)
			names := make([]string, len(slurmStates))
			for i, s := range slurmStates {
				names[i] = s.Long
			}
			c.Errorf("squeue", "Valid job states include: %s\n", strings.Join(names, ","))
			return 1
		}
		o.states, o.allStates = states, all
	case "user":
		o.users = splitList(v)
	case "iterate":
		var err error
		if o.iterate, err = parseIterate("squeue", v); err != nil {
			fmt.Fprintln(c.Stderr, err)
			return 1
		}
	case "verbose":
		o.verbose++
	}
	return -1
}

// run fetches, filters, sorts and prints.
func (o *squeueOpts) run(c *Ctx) int {
	defer pauseGC()()
	now := c.Now()
	if o.steps {
		return o.runSteps(c)
	}
	if o.json {
		return o.runJSON(c, now)
	}
	prefix, cols, fields, bad := o.columns()
	sortSpec := o.sort
	if sortSpec == "" {
		sortSpec = squeueDefaultSort
		if o.start {
			sortSpec = "S"
		}
	}
	env := &sqEnv{now: now}
	lines := &lineSet{fields: fields, cols: cols, noCut: make([]bool, len(cols)), prefix: prefix, env: env, sort: parseSortSpec(sortSpec)}
	for i, col := range cols { // looked up once, not once a cell
		lines.noCut[i] = sqNoCut()[col.key] && col.right
	}
	// A job's line is made as it is read (see squeue_lines.go), but an
	// array's tasks are kept until all are read: in blocks that are
	// never moved, as lines are. Grown by append, a slice of 944-byte
	// jobs was copied and cleared over and over (a large slice grows by
	// a quarter): an array split by cancelling every other task (each
	// waiting task a row of its own) had squeue touch 5 KB a task, 1.2 s
	// and 260 MB for 50,000 tasks.
	var tasks chunks[api.Job]
	// Collapsed, a list's alike waiting tasks are folded as they are read
	// (squeue_fold.go), where no -j picks tasks by id or index.
	var fold *taskFold
	var view jobView
	oneRef := o.jobFlag && len(o.jobs) == 1
	named := false // the one job -j names was read
	add := func(j *api.Job) error {
		if !visible(j, now) {
			return nil
		}
		named = named || (oneRef && o.jobs[0].matches(j))
		if j.Array != nil {
			if fold != nil && fold.takes(j) {
				return nil
			}
			t := tasks.next()
			*t = *j
			if fold != nil {
				fold.open(t)
			}
			return nil
		}
		initJobView(&view, j, now, 0, c.groupName)
		if o.keep(&view) {
			lines.add(&view)
		}
		return nil
	}
	var err error
	if o.jobFlag && len(o.jobs) > 0 || needsEveryJob(cols, o.formatLong != "") {
		// Jobs named by id are fetched as a list; a dependency
		// names jobs that may not be shown, so it reads them all.
		env.jobs, err = o.fetch(context.Background(), c)
		for i := range env.jobs {
			add(&env.jobs[i])
		}
	} else {
		if !o.array && foldTasks {
			fold = &taskFold{}
		}
		err = eachJob(context.Background(), c.Client, o.request(), add)
		if fold != nil {
			fold.close()
		}
	}
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_jobs error: %s\n", safeErr(err))
		return 1
	}
	if oneRef && !named {
		fmt.Fprintln(c.Stderr, "slurm_load_jobs error: Invalid job id specified")
		return 1
	}
	for _, key := range bad {
		c.Errorf("squeue", "Invalid job format specification: %s", key)
	}
	views := o.filter(viewChunks(&tasks, now, c.groupName))
	if !o.array {
		views = collapseArrays(views)
	}
	for _, v := range views {
		lines.add(v)
	}

	// One buffered writer for the whole report: thousands of lines
	// built in one string were a tenth of squeue's time (its growing
	// copies) and a fifth of the memory it touched.
	b := bufio.NewWriterSize(c.Stdout, 64<<10)
	defer b.Flush()
	if !o.noHeader {
		if o.long {
			b.WriteString(ctimeLine(now) + "\n")
		}
		b.WriteString(prefix)
		for i, col := range cols {
			b.WriteString(col.fit(fields[i].header))
		}
		b.WriteByte('\n')
	}
	lines.write(b, lines.sorted())
	return 0
}

// runJSON prints squeue --json: every job fetched, as Slurm's REST API
// has them.
func (o *squeueOpts) runJSON(c *Ctx, now time.Time) int {
	jobs, err := o.fetch(context.Background(), c)
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_jobs error: %s\n", safeErr(err))
		return 1
	}
	shown := shownJobs(jobs, now)
	if o.jobFlag && len(o.jobs) == 1 && !o.refMatches(o.jobs[0], shown) {
		fmt.Fprintln(c.Stderr, "slurm_load_jobs error: Invalid job id specified")
		return 1
	}
	return squeueJSON(c, viewJobs(shown, now, c.groupName), indexJobs(jobs))
}

// columns reads the format: the line's prefix, its columns and their
// fields, and the keys of those it does not know (left out).
func (o *squeueOpts) columns() (prefix string, cols []column, fields []sqField, bad []string) {
	if o.formatLong != "" {
		cols = parseLongFormat(o.formatLong, 20)
		kept := cols[:0]
		for _, col := range cols {
			f, ok := sqNames()[col.key]
			if !ok {
				bad = append(bad, col.key)
				continue
			}
			kept = append(kept, col)
			fields = append(fields, f)
		}
		return "", kept, fields, bad
	}
	pf, badLetters := parsePercentFormat(o.percentFormat(), func(l byte) bool { _, ok := sqLetters()[l]; return ok })
	for _, l := range badLetters {
		bad = append(bad, string(l))
	}
	fields = make([]sqField, len(pf.cols))
	for i, col := range pf.cols {
		if !col.invalid {
			fields[i] = sqLetters()[col.key[0]]
		}
	}
	return pf.prefix, pf.cols, fields, bad
}

// needsEveryJob reports whether a column shows a dependency, which names
// jobs whether or not they are shown.
func needsEveryJob(cols []column, long bool) bool {
	for _, col := range cols {
		if long && col.key == "dependency" || !long && !col.invalid && col.key[0] == 'E' {
			return true
		}
	}
	return false
}

// eachJob calls fn with each job of the list req asks for, as it is read
// where the controller's client can, else from the whole list.
func eachJob(ctx context.Context, cl Controller, req api.ListJobsRequest, fn func(*api.Job) error) error {
	if s, ok := cl.(interface {
		ListJobsEach(context.Context, api.ListJobsRequest, func(*api.Job) error) error
	}); ok {
		return s.ListJobsEach(ctx, req, fn)
	}
	jobs, err := cl.ListJobs(ctx, req)
	if err != nil {
		return err
	}
	for i := range jobs {
		if err := fn(&jobs[i]); err != nil {
			return err
		}
	}
	return nil
}

// wantsFinished reports whether the state filter can match ended jobs.
func (o *squeueOpts) wantsFinished() bool {
	if o.allStates {
		return true
	}
	for _, s := range o.states {
		if s.Finished() {
			return true
		}
	}
	return false
}

// fetch asks the controller for the jobs squeue may show, narrowing the
// request as far as the API allows; the rest is filtered here.
func (o *squeueOpts) fetch(ctx context.Context, c *Ctx) ([]api.Job, error) {
	if o.jobFlag && len(o.jobs) > 0 {
		return fetchRefs(ctx, c.Client, o.jobs)
	}
	return c.Client.ListJobs(ctx, o.request())
}

// request is the list of jobs squeue asks for, narrowed as far as the API
// allows; the rest is filtered here.
func (o *squeueOpts) request() api.ListJobsRequest {
	req := api.ListJobsRequest{}
	if !o.wantsFinished() && !o.json {
		req.States = []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning}
	}
	if len(o.users) == 1 && !allDigits(o.users[0]) {
		req.User = o.users[0]
	}
	if len(o.partitions) == 1 {
		req.Queue = o.partitions[0]
	}
	req.Fields = o.wantedFields() // projected on the controller
	// Collapsed, an array's waiting tasks are one line: the controller
	// may send them as one job (Array.Tasks), which collapseArrays reads.
	req.GroupTasks = !o.array && !o.json
	return req
}

// fetchRefs fetches the jobs a -j list names: jobs by id, and every task
// of an array named by its id or one of its tasks.
func fetchRefs(ctx context.Context, cl Controller, refs []jobRef) ([]api.Job, error) {
	var ids []uint64
	arrays := map[uint64]bool{}
	for _, r := range refs {
		if r.isTask {
			arrays[r.id] = true
		} else {
			ids = append(ids, r.id)
		}
	}
	var out []api.Job
	have := map[uint64]bool{}
	add := func(js []api.Job) {
		for _, j := range js {
			if !have[j.ID] {
				have[j.ID] = true
				out = append(out, j)
			}
		}
	}
	if len(ids) > 0 {
		js, err := cl.ListJobs(ctx, api.ListJobsRequest{IDs: ids})
		if err != nil {
			return nil, err
		}
		add(js)
		for _, j := range js {
			if j.Array != nil && j.Array.JobID == j.ID {
				arrays[j.ID] = true
			}
		}
	}
	var arrayIDs []uint64
	for id := range arrays {
		arrayIDs = append(arrayIDs, id)
	}
	sort.Slice(arrayIDs, func(a, b int) bool { return arrayIDs[a] < arrayIDs[b] })
	for _, id := range arrayIDs {
		js, err := cl.ListJobs(ctx, api.ListJobsRequest{ArrayJobID: id})
		if err != nil {
			return nil, err
		}
		add(js)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// matches reports whether a job list entry names j (an array's id names
// every task of it).
func (r jobRef) matches(j *api.Job) bool {
	if r.isTask {
		return j.Array != nil && j.Array.JobID == r.id && j.Array.Index == r.task
	}
	return j.ID == r.id || (j.Array != nil && j.Array.JobID == r.id)
}

// refMatches reports whether a job list entry names one of jobs.
func (o *squeueOpts) refMatches(r jobRef, jobs []api.Job) bool {
	for i := range jobs {
		if r.matches(&jobs[i]) {
			return true
		}
	}
	return false
}

// filter keeps the views the options select.
func (o *squeueOpts) filter(views []*jobView) []*jobView {
	out := views[:0]
	for _, v := range views {
		if o.keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// keep reports whether the options select a job.
func (o *squeueOpts) keep(v *jobView) bool {
	j := v.j
	if o.jobFlag && len(o.jobs) > 0 {
		ok := false
		for _, r := range o.jobs {
			ok = ok || r.matches(j)
		}
		if !ok {
			return false
		}
	}
	switch {
	case o.allStates:
	case len(o.states) > 0:
		ok := false
		for _, s := range o.states {
			ok = ok || s == v.state
		}
		if !ok {
			return false
		}
	default:
		if v.state.Finished() {
			return false
		}
	}
	if len(o.users) > 0 && !inList(o.users, j.User) && !inList(o.users, strconv.FormatUint(uint64(j.UID), 10)) {
		return false
	}
	if len(o.partitions) > 0 && !inPartitions(o.partitions, j) {
		return false
	}
	if len(o.names) > 0 && !inList(o.names, j.Name) {
		return false
	}
	if len(o.accounts) > 0 && !inList(o.accounts, j.Account) {
		return false
	}
	if len(o.qos) > 0 && !inList(o.qos, j.QOS) {
		return false
	}
	if len(o.nodes) > 0 && !inList(o.nodes, v.nodeList()) {
		return false
	}
	if len(o.licenses) > 0 && !asksLicense(j, o.licenses) {
		return false
	}
	return !o.none
}

// inList reports whether s is one of list.
func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cmpOrdered compares two numbers.
func cmpOrdered[T int | int64 | uint32 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const squeueUsage = `Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]
              [-n name] [-o format] [--only-job-state] [-p partitions]
              [--qos qos] [--reservation reservation] [--sort fields] [--start]
              [--step step_id] [-t states] [-u user_name] [--usage]
              [-L licenses] [-w nodes] [--federation] [--local] [--sibling]
              [--json=data_parser] [--yaml=data_parser]
              [-ahjlrsv]
`

const squeueHelp = `Usage: squeue [OPTIONS]
  -A, --account=account(s)        comma separated list of accounts
                                  to view, default is all accounts
  -a, --all                       display jobs in hidden partitions
  -h, --noheader                  no headers on output
  -j, --job=job(s)                comma separated list of jobs IDs
                                  to view, default is all
      --json                      Produce JSON output
  -l, --long                      long report
      --me                        equivalent to --user=<my username>
  -n, --name=job_name(s)          comma separated list of job names to view
  -o, --format=format             format specification
  -O, --Format=format             format specification
  -p, --partition=partition(s)    comma separated list of partitions
                                  to view, default is all partitions
  -q, --qos=qos(s)                comma separated list of qos's
                                  to view, default is all qos's
  -r, --array                     display one job array element per line
  -S, --sort=fields               comma separated list of fields to sort on
      --start                     print expected start times of pending jobs
  -t, --states=states             comma separated list of states to view,
                                  default is pending and running,
                                  '--states=all' reports all states
  -u, --user=user_name(s)         comma separated list of users to view
  -w, --nodelist=hostlist         list of nodes to view, default is
                                  all nodes
  -V, --version                   output version information and exit

Help options:
  --help                          show this help message
  --usage                         display a brief summary of squeue options
`
