package slurm

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
)

var sacctGetopt = &Getopt{Prog: "sacct", Options: []Option{
	{Long: "allusers", Short: 'a', Arg: NoArg},
	{Long: "accounts", Short: 'A', Arg: RequiredArg},
	{Long: "brief", Short: 'b', Arg: NoArg},
	{Long: "completion", Short: 'c', Arg: NoArg},
	{Long: "constraints", Short: 'C', Arg: RequiredArg, Key: "ignore"},
	{Long: "delimiter", Arg: RequiredArg},
	{Long: "duplicates", Short: 'D', Arg: NoArg},
	{Long: "helpformat", Short: 'e', Arg: NoArg},
	{Long: "endtime", Short: 'E', Arg: RequiredArg},
	{Long: "env-vars", Arg: NoArg, Key: "ignore"},
	{Long: "federation", Arg: NoArg, Key: "ignore"},
	{Long: "file", Short: 'f', Arg: RequiredArg, Key: "ignore"},
	{Long: "gid", Short: 'g', Arg: RequiredArg, Key: "group"},
	{Long: "group", Arg: RequiredArg, Key: "group"},
	{Long: "help", Short: 'h', Arg: NoArg},
	{Long: "nnodes", Short: 'i', Arg: RequiredArg, Key: "ignore"},
	{Long: "ncpus", Short: 'I', Arg: RequiredArg, Key: "ignore"},
	{Long: "jobs", Short: 'j', Arg: RequiredArg},
	{Long: "json", Arg: NoArg},
	{Long: "timelimit-min", Short: 'k', Arg: RequiredArg, Key: "ignore"},
	{Long: "timelimit-max", Short: 'K', Arg: RequiredArg, Key: "ignore"},
	{Long: "long", Short: 'l', Arg: NoArg},
	{Long: "allclusters", Short: 'L', Arg: NoArg, Key: "ignore"},
	{Long: "local", Arg: NoArg, Key: "ignore"},
	{Long: "cluster", Arg: RequiredArg, Key: "ignore"},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "noheader", Short: 'n', Arg: NoArg},
	{Long: "name", Arg: RequiredArg},
	{Long: "nodelist", Short: 'N', Arg: RequiredArg},
	{Long: "noconvert", Arg: NoArg, Key: "ignore"},
	{Long: "format", Short: 'o', Arg: RequiredArg},
	{Long: "parsable", Short: 'p', Arg: NoArg},
	{Long: "parsable2", Short: 'P', Arg: NoArg},
	{Long: "qos", Short: 'q', Arg: RequiredArg},
	{Long: "partition", Short: 'r', Arg: RequiredArg},
	{Long: "reason", Short: 'R', Arg: RequiredArg},
	{Long: "state", Short: 's', Arg: RequiredArg},
	{Long: "starttime", Short: 'S', Arg: RequiredArg},
	{Long: "truncate", Short: 'T', Arg: NoArg, Key: "ignore"},
	{Long: "uid", Arg: RequiredArg, Key: "user"},
	{Long: "user", Short: 'u', Arg: RequiredArg, Key: "user"},
	{Long: "units", Arg: RequiredArg, Key: "ignore"},
	{Long: "usage", Arg: NoArg},
	{Long: "verbose", Short: 'v', Arg: NoArg, Key: "ignore"},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "wckeys", Short: 'W', Arg: RequiredArg, Key: "ignore"},
	{Long: "whole-hetjob", Arg: OptionalArg, Key: "ignore"},
	{Long: "allocations", Short: 'X', Arg: NoArg},
	{Long: "yaml", Arg: NoArg, Key: "json"},
}}

// sacct's field lists (Slurm 22.05's sacct.h).
const (
	sacctDefaultFields     = "jobid,jobname,partition,account,alloccpus,state,exitcode"
	sacctBriefFields       = "jobid,state,exitcode"
	sacctDefaultCompFields = "jobid,uid,jobname,partition,nnodes,nodelist,state,end"
	sacctBriefCompFields   = "jobid,uid,state"
	sacctLongCompFields    = "jobid,uid,jobname,partition,nnodes,nodelist,state,start,end,timelimit"
	sacctLongFields        = "jobid,jobidraw,jobname,partition,maxvmsize,maxvmsizenode,maxvmsizetask,avevmsize," +
		"maxrss,maxrssnode,maxrsstask,averss,maxpages,maxpagesnode,maxpagestask,avepages,mincpu,mincpunode," +
		"mincputask,avecpu,ntasks,alloccpus,elapsed,state,exitcode,avecpufreq,reqcpufreqmin,reqcpufreqmax," +
		"reqcpufreqgov,reqmem,consumedenergy,maxdiskread,maxdiskreadnode,maxdiskreadtask,avediskread," +
		"maxdiskwrite,maxdiskwritenode,maxdiskwritetask,avediskwrite,reqtres,alloctres,tresusageinave," +
		"tresusageinmax,tresusageinmaxn,tresusageinmaxt,tresusageinmin,tresusageinminn,tresusageinmint," +
		"tresusageintot,tresusageoutmax,tresusageoutmaxn,tresusageoutmaxt,tresusageoutave,tresusageouttot"
)

// sacctOpts is a parsed sacct command line.
type sacctOpts struct {
	allUsers, brief, completion, long, noHeader, allocations, json bool
	parsable, parsable2                                            bool
	duplicates                                                     bool // -D: every run of a requeued job
	delimiter                                                      string
	format                                                         []string
	jobs                                                           []jobRef
	accounts, names, nodes, qos, partitions, users, groups         []string
	states                                                         []State
	start, end                                                     string

	// steps are the steps -j JOB.STEP names, by job id text: that job
	// shows those step lines alone.
	steps map[string]map[string]bool
}

// Sacct is sacct: the accounting view of every job shoal ever ran (the
// live state, and the controller's archive of the jobs that have left it,
// so it survives restarts). A
// cancelled job's state is plain CANCELLED, never Slurm's "CANCELLED by
// <uid>" (clients compare the exact word).
func Sacct(c *Ctx, args []string) int {
	o := &sacctOpts{delimiter: "|"}
	opts, operands, err := sacctGetopt.Parse(args)
	if err != nil {
		fmt.Fprintf(c.Stderr, "sacct: %v\nTry \"sacct --help\" for more information\n", err)
		return 1
	}
	if len(operands) > 0 {
		c.Errorf("sacct", "Unknown arguments: %s", strings.Join(operands, " "))
		return 1
	}
	for _, opt := range opts {
		v := opt.Value
		switch opt.Key {
		case "allusers":
			o.allUsers = true
		case "accounts":
			o.accounts = splitList(v)
		case "brief":
			o.brief = true
		case "completion":
			o.completion = true
		case "delimiter":
			o.delimiter = v
		case "duplicates":
			o.duplicates = true
		case "helpformat":
			printHelpFormat(c)
			return 0
		case "endtime":
			o.end = v
		case "group":
			o.groups = splitList(v)
		case "help":
			fmt.Fprint(c.Stdout, sacctHelp)
			return 0
		case "usage":
			fmt.Fprint(c.Stdout, sacctUsage)
			return 0
		case "jobs":
			refs, steps, err := parseSacctJobs(v)
			if err != nil {
				c.Errorf("sacct", "Invalid job id: %s", v)
				return 1
			}
			o.jobs = append(o.jobs, refs...)
			o.addSteps(steps)
		case "json":
			o.json = true
		case "long":
			o.long = true
		case "noheader":
			o.noHeader = true
		case "name":
			o.names = splitList(v)
		case "nodelist":
			hosts, err := expandHosts(v)
			if err != nil {
				c.Errorf("sacct", "Invalid node list: %s", v)
				return 1
			}
			o.nodes = hosts
		case "format":
			o.format = append(o.format, splitList(v)...)
		case "parsable":
			o.parsable = true
		case "parsable2":
			o.parsable2 = true
		case "qos":
			o.qos = splitList(v)
		case "partition":
			o.partitions = splitList(v)
		case "state":
			for _, s := range splitList(v) {
				st, ok := ParseState(s)
				if !ok {
					fmt.Fprintf(c.Stderr, "sacct: fatal: unrecognized job state value '%s'\n", s)
					return 1
				}
				o.states = append(o.states, st)
			}
		case "starttime":
			o.start = v
		case "user":
			o.users = splitList(v)
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		case "allocations":
			o.allocations = true
		}
	}
	return o.run(c)
}

// fields resolves the columns: -o, else -b/-l/-c's lists, else the
// default; "name%N" sets a width (negative: left-justified).
func (o *sacctOpts) fields(c *Ctx) ([]saField, bool) {
	spec := o.format
	if len(spec) == 0 {
		list := sacctDefaultFields
		switch {
		case o.brief && o.completion:
			list = sacctBriefCompFields
		case o.brief:
			list = sacctBriefFields
		case o.long && o.completion:
			list = sacctLongCompFields
		case o.long:
			list = sacctLongFields
		case o.completion:
			list = sacctDefaultCompFields
		}
		spec = strings.Split(list, ",")
	}
	var out []saField
	for _, item := range spec {
		name, width, hasWidth := strings.Cut(item, "%")
		f, ok := saLookup(name)
		if !ok {
			c.Errorf("sacct", "Invalid field requested: %q", name)
			return nil, false
		}
		if hasWidth {
			if w, err := strconv.Atoi(width); err == nil && w != 0 {
				f.width = w
			}
		}
		out = append(out, f)
	}
	return out, true
}

func (o *sacctOpts) run(c *Ctx) int {
	resumeGC := pauseGC()
	defer resumeGC()
	ctx := context.Background()
	now := c.Now()
	fields, ok := o.fields(c)
	if !ok {
		return 1
	}
	start, end, rc := o.window(c, now)
	if rc >= 0 {
		return rc
	}
	if len(o.users) == 0 && !o.allUsers && c.userName() != "root" && len(o.jobs) == 0 {
		o.users = []string{c.userName()}
	}
	rep := newSacctReport(o, fields)
	if o.json || len(o.jobs) > 0 {
		// By id, or JSON (one document): the jobs first, then the report.
		kept, err := o.fetch(ctx, c, start, end, now)
		if err != nil {
			c.Errorf("sacct", "Problem talking to the database: %v", err)
			return 1
		}
		views := sacctOrder(collapseArrays(kept))
		if o.json {
			return sacctJSON(c, views, !o.allocations && !o.completion)
		}
		key := sacctKey(views, nil)
		for _, v := range views {
			rep.add(v, key(v))
		}
	} else if err := o.stream(ctx, c, rep, start, end, now, resumeGC); err != nil {
		c.Errorf("sacct", "Problem talking to the database: %v", err)
		return 1
	}
	rep.write(c)
	return 0
}

// sacctPage is how many jobs sacct asks for at a time: a history of
// hundreds of thousands of jobs is never one answer in memory, at the
// controller or here; only the report's text stays (and arrays' pending
// tasks, and every job for --json). Each page costs the
// controller a walk of its live jobs: 20,000 (some 18 MB of jobs here,
// 1-2 MB of rows on the wire) lists a day's queue in one or two. (A
// variable: tests page by a few jobs.)
var sacctPage = 20000

// fetch gets the jobs sacct shows: by id (-j; archived jobs too), else
// the history list a page at a time, each page filtered by keep as it
// comes.
func (o *sacctOpts) fetch(ctx context.Context, c *Ctx, start, end, now time.Time) ([]*jobView, error) {
	if len(o.jobs) > 0 {
		jobs, err := fetchRefs(ctx, c.Client, o.jobs)
		if err != nil {
			return nil, err
		}
		var kept []*jobView
		for _, v := range viewJobs(jobs, now, c.groupName) {
			if o.keep(v, start, end) {
				kept = append(kept, v)
			}
		}
		return kept, nil
	}
	var jobs []api.Job
	var later []bool
	running, err := o.history(ctx, c, start, end, now, nil, func(j *api.Job, _ *jobView, l bool) {
		jobs, later = append(jobs, *j), append(later, l)
	})
	if err != nil {
		return nil, err
	}
	views := historyViews(jobs, running, now, c.groupName)
	kept := views[:0]
	for i, v := range views {
		if !later[i] || o.keep(v, start, end) {
			kept = append(kept, v)
		}
	}
	return kept, nil
}

// historyViews are the views of jobs from the history, running counting
// the running tasks of each array over all its pages.
func historyViews(jobs []api.Job, running map[uint64]int, now time.Time, group func(uint32) string) []*jobView {
	views := make([]jobView, len(jobs)) // one allocation, not one a job
	return fillViews(make([]*jobView, len(jobs)), views, jobs, running, now, group)
}

// history gets the history list a page at a time and calls use with each
// job keep selects and its view (made in memory the next page reuses),
// later false; and with each of an array's pending tasks, later true,
// whether kept or not: its reason, and so keep, depends on how many of
// the array's tasks run, which history returns once all the pages are in.
// next, if not nil, is called before every page but the first.
func (o *sacctOpts) history(ctx context.Context, c *Ctx, start, end, now time.Time, next func(), use func(j *api.Job, v *jobView, later bool)) (map[uint64]int, error) {
	running := map[uint64]int{}
	req := o.listRequest(start, end)
	req.Limit = sacctPage
	var scratch pageViews // a page's views, made in the same memory each page
	// A page's jobs, read into the same memory each page: room for a
	// full page from the start, as the controller's hint counts only its
	// live jobs (a slice grown to a page's 20,000 jobs allocated three
	// times their memory, with the collector paused). Room not filled is
	// never touched.
	page := make([]api.Job, 0, sacctPage)
	for {
		var err error
		page, err = c.Client.ListJobsInto(ctx, req, page)
		if err != nil {
			return nil, err
		}
		for i, v := range scratch.views(page, now, c.groupName) {
			j := &page[i]
			if j.Array != nil && j.State.Terminable() {
				running[j.Array.JobID]++
			}
			switch {
			case j.Array != nil && v.state == Pending:
				use(j, v, true)
			case o.keep(v, start, end):
				use(j, v, false)
			}
		}
		if len(page) < sacctPage {
			return running, nil
		}
		req.AfterID = page[len(page)-1].ID
		if next != nil {
			next()
		}
	}
}

// listRequest asks the controller for the jobs sacct may show, history
// included (the jobs that have left the live state after its retention
// window), with as much of the filtering as the controller's archive can
// do as queries: a superset of what keep then selects exactly.
func (o *sacctOpts) listRequest(start, end time.Time) api.ListJobsRequest {
	req := api.ListJobsRequest{History: true, Accounts: o.accounts}
	if len(o.users) == 1 && !allDigits(o.users[0]) {
		req.User = o.users[0]
	}
	if len(o.partitions) == 1 {
		req.Queue = o.partitions[0]
	}
	// keep counts a job that ended from start on and was eligible (so
	// submitted) by end; with states, a finished one that ended within
	// the window, a live one started or eligible by end.
	req.EndedAfter, req.SubmittedBefore = start.UnixMilli(), end.UnixMilli()
	req.Fields = SacctFields()
	if len(o.states) > 0 {
		finished := false
		for _, st := range o.states {
			finished = finished || st.Finished()
		}
		req.History = finished // nothing archived is running or pending
	}
	return req
}

// sacctHeavy are the job fields sacct never reads, and the heaviest on
// the wire: a batch job's script, its command and what it was given.
var sacctHeavy = map[string]bool{"script": true, "environment": true, "command": true, "parameters": true, "mounts": true, "tags": true}

// SacctFields is what sacct asks the controller for (ListJobsRequest
// Fields): every field of a job but sacctHeavy, made once. The benchmarks
// ask the same.
var SacctFields = sync.OnceValue(func() []string {
	var names []string
	for _, f := range api.JobFields() {
		if !sacctHeavy[f.Name] {
			names = append(names, f.Name)
		}
	}
	return names
})

// sacctHeaderCell is a header name cut (without "+") and justified to a
// column.
func sacctHeaderCell(name string, width int) string {
	w := max(width, -width)
	if len(name) > w {
		name = name[:w]
	}
	if width < 0 {
		return fmt.Sprintf("%-*s ", w, name)
	}
	return fmt.Sprintf("%*s ", w, name)
}

// window resolves -S/-E. Without -j the window defaults to today (from
// midnight) to now, or to now alone with -s; with -j it is unbounded.
func (o *sacctOpts) window(c *Ctx, now time.Time) (start, end time.Time, rc int) {
	rc = -1
	end = now
	switch {
	case len(o.jobs) > 0:
		start = time.Unix(0, 0)
	case len(o.states) > 0:
		start = now
	default:
		start = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	}
	var err error
	if o.start != "" {
		if start, err = parseSlurmTime(o.start, now, true); err != nil {
			fmt.Fprintln(c.Stderr, err)
			return start, end, 1
		}
	}
	if o.end != "" {
		if end, err = parseSlurmTime(o.end, now, true); err != nil {
			fmt.Fprintln(c.Stderr, err)
			return start, end, 1
		}
	}
	if start.After(end) {
		c.Errorf("sacct", "Start time (%s) requested is after end time (%s).", stamp(start, ""), stamp(end, ""))
		return start, end, 1
	}
	return start, end, -1
}

// keep applies the filters and the time window: without states a job
// counts if it was eligible before the window ended and had not ended
// before it began; a state counts if the job was in it during the window.
func (o *sacctOpts) keep(v *jobView, start, end time.Time) bool {
	j := v.j
	if len(o.jobs) > 0 {
		ok := false
		for _, r := range o.jobs {
			ok = ok || r.matches(j)
		}
		if !ok {
			return false
		}
	}
	if len(o.users) > 0 && !inList(o.users, j.User) && !inList(o.users, strconv.FormatUint(uint64(j.UID), 10)) {
		return false
	}
	if len(o.groups) > 0 && !inList(o.groups, v.groupName()) && !inList(o.groups, strconv.FormatUint(uint64(j.GID), 10)) {
		return false
	}
	if len(o.accounts) > 0 && !inList(o.accounts, (&saRow{v: v}).account()) {
		return false
	}
	if len(o.names) > 0 && !inList(o.names, j.Name) {
		return false
	}
	if len(o.partitions) > 0 && !inPartitions(o.partitions, j) {
		return false
	}
	if len(o.qos) > 0 && !inList(o.qos, j.QOS) {
		return false
	}
	if len(o.nodes) > 0 && !inList(o.nodes, v.nodeList()) {
		return false
	}
	ended := v.ended()
	if len(o.jobs) > 0 && len(o.states) == 0 {
		// Jobs asked for by id show whatever their state, unless they
		// ended before the window or were submitted after it (toil asks
		// with -S 1970-01-01 and waits for ever on a missing line).
		return (ended.IsZero() || !ended.Before(start)) && !v.submitted().After(end)
	}
	if len(o.states) > 0 {
		for _, s := range o.states {
			if s != v.state {
				continue
			}
			if len(o.jobs) > 0 && o.start == "" && o.end == "" {
				return true
			}
			switch {
			case s.Finished():
				if !ended.Before(start) && !ended.After(end) {
					return true
				}
			case s == Pending:
				// Slurm counts a pending job once it is eligible to run.
				if el := saEligible(v); !el.IsZero() && !el.After(end) {
					return true
				}
			default:
				if st := v.started(); !st.IsZero() && !st.After(end) {
					return true
				}
			}
		}
		return false
	}
	el := saEligible(v)
	if el.IsZero() || el.After(end) {
		return false
	}
	return ended.IsZero() || !ended.Before(start)
}

// sacctOrder sorts lines by job id, an array's collapsed pending tasks
// after its other tasks.
func sacctOrder(views []*jobView) []*jobView {
	key := sacctKey(views, nil)
	sort.SliceStable(views, func(a, b int) bool {
		x, y := views[a], views[b]
		if kx, ky := key(x), key(y); kx != ky {
			return kx < ky
		}
		return x.tasks == nil && y.tasks != nil
	})
	return views
}

// sacctKey is what sacct sorts a job's lines by among views: its id;
// for an array's collapsed pending tasks, the highest id shown of its
// other tasks (among views, and top: the highest of those shown
// elsewhere), or the array's.
func sacctKey(views []*jobView, top map[uint64]uint64) func(*jobView) uint64 {
	if top == nil {
		top = map[uint64]uint64{}
	}
	for _, v := range views {
		if v.tasks == nil && v.j.Array != nil && v.rawID > top[v.arrayID] {
			top[v.arrayID] = v.rawID
		}
	}
	return func(v *jobView) uint64 {
		if v.tasks != nil {
			return max(top[v.arrayID], v.arrayID)
		}
		return v.rawID
	}
}

// printHelpFormat lists the fields sacct knows, four a line, each
// padded to 19 characters, as Slurm prints them.
func printHelpFormat(c *Ctx) {
	var b strings.Builder
	fields := saFieldList()
	for i, f := range fields {
		if i%4 != 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%-19s", f.name)
		if i%4 == 3 || i == len(fields)-1 {
			b.WriteByte('\n')
		}
	}
	fmt.Fprint(c.Stdout, b.String())
}

const sacctUsage = `Usage: sacct [-a] [-A account_list] [-b] [-c] [-E end_time] [-j job_list]
             [-l] [-n] [--name name_list] [-N node_list] [-o format] [-p] [-P]
             [-r partition_list] [-s state_list] [-S start_time] [-u user_list] [-X]
             [--json] [--helpformat] [--help] [--usage] [-V]
`

const sacctHelp = `sacct [<OPTION>]
    Valid <OPTION> values are:
     -a, --allusers:
	           Display jobs for all users. By default, only the
	           current user's jobs are displayed.  If ran by user root
	           this is the default.
     -A, --accounts:
	           Use this comma separated list of accounts to select jobs
	           to display.  By default, all accounts are selected.
     -b, --brief:
	           Equivalent to '--format=jobstep,state,error'.
     -c, --completion: Use job completion instead of accounting data.
     -E, --endtime:
	           Select jobs eligible before this time.  If states are
	           given with the -s option then return jobs in this state
	           before this period.
     -e, --helpformat:
	           Print a list of fields that can be specified with the
	           '--format' option
     -j, --jobs:
	           Format is <job(.step)>. Display information about this
                   job or comma-separated list of jobs.
     --json:
                   Produce JSON output
     -l, --long:
	           Equivalent to specifying
	           '--format=jobid,jobidraw,jobname,partition,maxvmsize,...'
     -n, --noheader:
	           No header will be added to the beginning of output.
	           The default is to print a header.
     --name:
                   Display jobs that have any of these name(s).
     -N, --nodelist:
	           Display jobs that ran on any of these nodes.
     -o, --format:
	           Comma separated list of fields. (use "--helpformat"
                   for a list of available fields).
     -p, --parsable: output will be '|' delimited with a '|' at the end
     -P, --parsable2: output will be '|' delimited without a '|' at the end
     -r, --partition:
	           Comma separated list of partitions to select jobs and
                   job steps from. The default is all partitions.
     -s, --state:
	           Select jobs based on their current state or the state
                   they were in during the time period given: running (r),
                   completed (cd), failed (f), timeout (to), resizing (rs),
                   deadline (dl) and node_fail (nf).
     -S, --starttime:
                   Select jobs eligible after this time.  Default is
                   00:00:00 of the current day, unless '-s' is set then
                   the default is 'now'.
     -u, --uid, --user:
	           Use this comma separated list of uids or user names
                   to select jobs to display.  By default, the running
                   user's uid is used.
     -V, --version: Print version.
     -X, --allocations:
	           Only show statistics relevant to the job allocation
	           itself, not taking steps into consideration.
`
