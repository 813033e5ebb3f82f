package slurm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

var scancelOptions = []Option{
	{Long: "account", Short: 'A', Arg: RequiredArg},
	{Long: "batch", Short: 'b', Arg: NoArg},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "cluster", Arg: RequiredArg, Key: "ignore"},
	{Long: "ctld", Arg: NoArg, Key: "ignore"},
	{Long: "full", Short: 'f', Arg: NoArg},
	{Long: "help", Arg: NoArg},
	{Long: "hurry", Short: 'H', Arg: NoArg, Key: "ignore"},
	{Long: "interactive", Short: 'i', Arg: NoArg},
	{Long: "jobname", Short: 'n', Arg: RequiredArg, Key: "name"},
	{Long: "name", Arg: RequiredArg},
	{Long: "me", Arg: NoArg},
	{Long: "nodelist", Short: 'w', Arg: RequiredArg},
	{Long: "partition", Short: 'p', Arg: RequiredArg},
	{Long: "qos", Short: 'q', Arg: RequiredArg},
	{Long: "quiet", Short: 'Q', Arg: NoArg},
	{Long: "reservation", Short: 'R', Arg: RequiredArg},
	{Long: "sibling", Arg: RequiredArg, Key: "ignore"},
	{Long: "signal", Short: 's', Arg: RequiredArg},
	{Long: "state", Short: 't', Arg: RequiredArg},
	{Long: "usage", Arg: NoArg},
	{Long: "user", Short: 'u', Arg: RequiredArg},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "wckey", Arg: RequiredArg},
}

var scancelGetopt = &Getopt{Prog: "scancel", Options: scancelOptions}

// scancelEnv are scancel's input variables (the command line wins).
var scancelEnv = []struct{ Env, Key, Name string }{
	{"SCANCEL_ACCOUNT", "account", "--account"},
	{"SCANCEL_BATCH", "batch", "--batch"},
	{"SCANCEL_CTLD", "ignore", "--ctld"},
	{"SCANCEL_FULL", "full", "--full"},
	{"SCANCEL_HURRY", "ignore", "--hurry"},
	{"SCANCEL_INTERACTIVE", "interactive", "--interactive"},
	{"SCANCEL_NAME", "name", "--name"},
	{"SCANCEL_PARTITION", "partition", "--partition"},
	{"SCANCEL_QOS", "qos", "--qos"},
	{"SCANCEL_STATE", "state", "--state"},
	{"SCANCEL_USER", "user", "--user"},
	{"SCANCEL_VERBOSE", "verbose", "--verbose"},
	{"SCANCEL_WCKEY", "wckey", "--wckey"},
}

// scancelOpts are scancel's filters and switches.
type scancelOpts struct {
	account, name, partition, qos, user, nodelist string
	reservation, wckey                            string
	states                                        []State
	signal                                        int
	signalName                                    string // as given
	batch, full                                   bool   // -b, -f: the signal's scope
	quiet                                         bool
	interactive                                   bool // -i: ask before each job
	verbose                                       int
	help, usage, version                          bool
}

func (o *scancelOpts) apply(opt Opt) error {
	v := opt.Value
	switch opt.Key {
	case "ignore":
	case "account":
		o.account = v
	case "batch":
		o.batch = true
	case "full":
		o.full = true
	case "help":
		o.help = true
	case "usage":
		o.usage = true
	case "version":
		o.version = true
	case "interactive":
		o.interactive = true
	case "name":
		o.name = v
	case "me":
		o.user = "\x00me"
	case "nodelist":
		o.nodelist = v
	case "partition":
		o.partition = v
	case "qos":
		o.qos = v
	case "quiet":
		o.quiet = true
	case "reservation":
		o.reservation = v
	case "signal":
		n, ok := signalNumber(v)
		if !ok {
			return &exitError{RC: 1, Raw: fmt.Sprintf("Unknown job signal: %s\n", v)}
		}
		o.signal, o.signalName = n, v
	case "state":
		o.states = o.states[:0]
		for _, name := range strings.Split(v, ",") {
			st, ok := parseScancelState(name)
			if !ok {
				return &exitError{RC: 1, Raw: fmt.Sprintf("Invalid job state specified: %s\nValid job states are PENDING, RUNNING, and SUSPENDED\n", name)}
			}
			o.states = append(o.states, st)
		}
	case "user":
		o.user = v
	case "verbose":
		o.verbose++
	case "wckey":
		o.wckey = v
	default:
		return fmt.Errorf("internal error: option %s has no handler", opt.Name)
	}
	return nil
}

// parseScancelState reads a -t state: a long or short Slurm state name in
// any case (PENDING, PD, RUNNING, R, SUSPENDED, S, ...).
func parseScancelState(s string) (State, bool) {
	for _, st := range AllStates {
		if strings.EqualFold(s, st.Long) || strings.EqualFold(s, st.Short) {
			return st, true
		}
	}
	if strings.EqualFold(s, "SUSPENDED") || strings.EqualFold(s, "S") {
		return State{"SUSPENDED", "S"}, true
	}
	return State{}, false
}

// cancelTarget is one job id operand: a job (every task, for an array's
// id), an array's tasks, or all of them.
type cancelTarget struct {
	text  string // as given, for messages
	id    uint64
	tasks []int // nil: the job itself (all tasks if it is an array)
	step  *stepTarget
}

// parseCancelTarget reads "N", "A_i" or "A_[1-3,5]".
func parseCancelTarget(s string) (cancelTarget, error) {
	t := cancelTarget{text: s}
	bad := errorf(1, "Invalid job id %s", s)
	s, stepText, hasStep := strings.Cut(s, ".")
	if hasStep && stepText != batchStep { // JOB.batch is the job
		n, err := strconv.ParseUint(stepText, 10, 32)
		if err != nil {
			return t, bad
		}
		t.step = &stepTarget{step: uint32(n)}
	}
	job, task, isTask := strings.Cut(s, "_")
	id, err := strconv.ParseUint(job, 10, 64)
	if err != nil || id == 0 {
		return t, bad
	}
	t.id = id
	if !isTask {
		return t, nil
	}
	if inner, ok := strings.CutPrefix(task, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return t, bad
		}
		idx, _, err := parseArray(inner)
		if err != nil || strings.Contains(inner, "%") {
			return t, bad
		}
		t.tasks = idx
		return t, nil
	}
	i, err := strconv.Atoi(task)
	if err != nil || i < 0 {
		return t, bad
	}
	t.tasks = []int{i}
	return t, nil
}

// Scancel is scancel: it cancels pending jobs and terminates running ones
// (both end CANCELLED), or with --signal (other than KILL) signals running
// ones (-b: the batch script alone, -f: every process, neither: every
// process but the batch script), named by id or chosen by filters.
func Scancel(c *Ctx, args []string) int {
	o := &scancelOpts{}
	var envOpts []Opt
	for _, e := range scancelEnv {
		if v, ok := c.LookupEnv(e.Env); ok {
			envOpts = append(envOpts, Opt{Key: e.Key, Name: e.Name, Value: v, HasValue: true})
		}
	}
	cliOpts, operands, err := scancelGetopt.Parse(args)
	if err != nil {
		var u *UsageError
		if errors.As(err, &u) {
			u.Report(c, "scancel")
			return 1
		}
		return report(c, "scancel", err)
	}
	for _, opt := range append(envOpts, cliOpts...) {
		if err := o.apply(opt); err != nil {
			return report(c, "scancel", err)
		}
	}
	switch {
	case o.help, o.usage:
		fmt.Fprint(c.Stdout, scancelUsage)
		return 0
	case o.version:
		fmt.Fprintln(c.Stdout, VersionLine)
		return 0
	}
	if o.user == "\x00me" {
		o.user = c.userName()
	}
	// An array's 10,000 tasks are listed and all kept: the collector
	// would find nothing to free (see pauseGC).
	defer pauseGC()()
	var targets []cancelTarget
	for _, arg := range operands {
		for _, s := range splitList(arg) { // "1_[3,5-6]" is one
			t, err := parseCancelTarget(s)
			if err != nil {
				return report(c, "scancel", err)
			}
			targets = append(targets, t)
		}
	}
	filtered := o.account != "" || o.name != "" || o.partition != "" || o.qos != "" || o.user != "" ||
		o.nodelist != "" || len(o.states) > 0 || o.reservation != "" || o.wckey != ""
	if len(targets) == 0 && !filtered {
		return report(c, "scancel", errorf(1, "No job identification provided"))
	}
	ctx := context.Background()
	sc := &scancel{c: c, o: o, ctx: ctx, in: bufio.NewReader(c.Stdin)}
	if len(targets) == 0 {
		sc.byFilter()
	} else {
		sc.byID(targets)
	}
	sc.endAll()
	return sc.rc
}

// scancel carries one run of the command.
type scancel struct {
	c   *Ctx
	o   *scancelOpts
	ctx context.Context
	rc  int
	// ending are the jobs to end, by id: they end together in one
	// request (one commit), after the loop that picks them. endingJob
	// names each as it is reported (a failure's, rarely: made then).
	// Jobs come in id order, mostly (an array's 10,000 tasks): seen,
	// for the ones that do not, is made only then.
	ending    []uint64
	endingJob []endingJob
	seen      map[uint64]bool
	// arrays are the arrays asked whole (see plain).
	arrays []wholeArray
	in     *bufio.Reader // the answers to -i's questions
}

// wholeArray is an array asked whole: its tasks are ids [id, id+count).
type wholeArray struct{ id, count uint64 }

// endingJob is what JobID names a job to end by.
type endingJob struct {
	arrayID uint64 // 0: not an array's task
	index   int
}

// endingName is the name of the k-th job to end, as JobID gives it.
func (s *scancel) endingName(k int) string {
	if e := s.endingJob[k]; e.arrayID != 0 {
		return fmt.Sprintf("%d_%d", e.arrayID, e.index)
	}
	return api.FormatID(s.ending[k])
}

// matches reports whether j passes every filter given.
func (s *scancel) matches(j *api.Job) bool {
	o := s.o
	if j.State.Terminal() || j.StopRequested { // ended, or ending (COMPLETING)
		return false
	}
	if (o.account != "" && j.Account != o.account) || (o.name != "" && j.Name != o.name) ||
		(o.partition != "" && !j.InQueue(o.partition)) || (o.qos != "" && j.QOS != o.qos) ||
		(o.user != "" && j.User != o.user && strconv.FormatUint(uint64(j.UID), 10) != o.user) ||
		(o.nodelist != "" && !inCommaList(j.Node, o.nodelist)) || o.reservation != "" || o.wckey != "" {
		return false
	}
	if len(o.states) == 0 {
		return true
	}
	st := JobState(j)
	for _, want := range o.states {
		if want == st {
			return true
		}
	}
	return false
}

func inCommaList(name, list string) bool {
	for _, n := range strings.Split(list, ",") {
		if n == name {
			return true
		}
	}
	return false
}

// byFilter ends every unfinished job that matches the filters.
func (s *scancel) byFilter() int {
	req := api.ListJobsRequest{
		Fields: squeueLight, // what matches reads
		Queue:  s.o.partition,
		States: []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning},
	}
	if s.o.user != "" && !allDigits(s.o.user) {
		req.User = s.o.user
	}
	jobs, err := s.c.Client.ListJobs(s.ctx, req)
	if err != nil {
		return report(s.c, "scancel", errorf(1, "Unable to list jobs: %v", err))
	}
	matched := 0
	for i := range jobs {
		// A filter picks the started jobs to signal; pending ones have no
		// processes (named by id they are an error, see signal).
		if s.matches(&jobs[i]) && !(s.signalling() && jobs[i].State.Cancellable()) {
			matched++
			s.act(&jobs[i])
		}
	}
	if matched == 0 && s.o.verbose > 0 {
		// Slurm says so only with -v, and it is not a failure (rc 0).
		s.c.Errorf("scancel", "No active jobs match ALL job filters, including: %s", s.filterText())
	}
	return s.rc
}

// filterText lists the filters given as Slurm's scancel -v does:
// "account=a job_name=n ... " (each followed by a space; the QOS in
// lower case, as Slurm stores it).
func (s *scancel) filterText() string {
	o := s.o
	var b strings.Builder
	add := func(k, v string) {
		if v != "" {
			b.WriteString(k + "=" + v + " ")
		}
	}
	add("account", o.account)
	add("job_name", o.name)
	add("nodelist", o.nodelist)
	add("partition", o.partition)
	add("qos", strings.ToLower(o.qos))
	add("reservation", o.reservation)
	for _, st := range o.states {
		add("state", st.Long)
	}
	add("user_name", o.user)
	add("wckey", o.wckey)
	return b.String()
}

func allDigits(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// scancelIDFields are what scancel reads of a job it ends by id: over an
// array of 10,000 tasks, decoding every field of each was most of its
// time.
var scancelIDFields = []string{"jobId", "array", "status", "stopRequested"}

// pick ends jb if it passes the filters and has not ended (a finished
// one is reported, quietly).
func (s *scancel) pick(jb *api.Job) {
	if s.filtered() && !s.matches(jb) {
		return
	}
	if jb.State.Terminal() || jb.StopRequested { // Slurm's completing jobs are finished ones
		s.verboseTerminating(JobID(jb))
		s.fail(JobID(jb), api.Errorf(api.CodeConflict, "job %d has ended", jb.ID))
		return
	}
	s.act(jb)
}

// plain reports whether scancel ends what it is given and says nothing of
// each: no filter, question, verbose line or signal. Then an array named
// whole is asked whole (api.StopJobsRequest.ArrayJobIDs), as Slurm's
// scancel asks for the array's one job, and not listed task by task.
func (s *scancel) plain() bool {
	return !s.filtered() && !s.o.interactive && s.o.verbose == 0 && !s.signalling()
}

// fields are the job fields scancel lists: with a filter or -i, squeue's
// light ones, which hold what the filters, -i's question and Slurm's job
// state read; else scancelIDFields.
func (s *scancel) fields() []string {
	if s.filtered() || s.o.interactive {
		return squeueLight
	}
	return scancelIDFields
}

// byID ends the jobs the operands name (those that pass the filters).
func (s *scancel) byID(targets []cancelTarget) int {
	ids := make([]uint64, 0, len(targets))
	for _, t := range targets {
		ids = append(ids, t.id)
	}
	jobs, err := s.c.Client.ListJobs(s.ctx, api.ListJobsRequest{IDs: ids, Fields: s.fields()})
	if err != nil {
		return report(s.c, "scancel", errorf(1, "Unable to list jobs: %v", err))
	}
	byID := map[uint64]*api.Job{}
	for i := range jobs {
		byID[jobs[i].ID] = &jobs[i]
	}
	type arrayList struct {
		id      uint64
		grouped bool
	}
	arrays := map[arrayList][]api.Job{}
	// tasksOf lists an array's tasks; grouped, a run of waiting tasks
	// comes as one job (api.ArrayTask.Tasks): over 10,000 waiting tasks,
	// decoding a job apiece was most of scancel's time.
	tasksOf := func(id uint64, grouped bool) ([]api.Job, error) {
		key := arrayList{id, grouped}
		if list, ok := arrays[key]; ok {
			return list, nil
		}
		list, err := s.c.Client.ListJobs(s.ctx, api.ListJobsRequest{ArrayJobID: id, Fields: s.fields(), GroupTasks: grouped})
		if err == nil {
			arrays[key] = list
		}
		return list, err
	}
	pick := s.pick
	for _, t := range targets {
		j := byID[t.id]
		if t.step != nil {
			s.stepByID(t, j, func(id uint64) ([]api.Job, error) { return tasksOf(id, false) })
			continue
		}
		isArray := j != nil && j.Array != nil && j.Array.JobID == t.id
		if j == nil || (t.tasks != nil && !isArray) {
			s.verboseTerminating(t.text)
			s.fail(t.text, api.Errorf(api.CodeNotFound, "job %s does not exist", t.text))
			continue
		}
		if !isArray {
			pick(j)
			continue
		}
		if t.tasks == nil && s.plain() { // asked whole: the controller lists its tasks
			if !slices.ContainsFunc(s.arrays, func(a wholeArray) bool { return a.id == t.id }) {
				s.arrays = append(s.arrays, wholeArray{t.id, uint64(j.Array.Count)})
			}
			continue
		}
		list, err := tasksOf(t.id, true)
		if err != nil {
			return report(s.c, "scancel", errorf(1, "Unable to list the tasks of job %d: %v", t.id, err))
		}
		if t.tasks == nil {
			eachTask(list, pick) // in id order, as listed
			continue
		}
		var chosen []api.Job
		find := newTaskFinder(list)
		for _, want := range t.tasks {
			task, ok := find.taskAt(want)
			if !ok {
				name := fmt.Sprintf("%d_%d", t.id, want)
				s.verboseTerminating(name)
				s.fail(name, api.Errorf(api.CodeNotFound, "job %s does not exist", name))
				continue
			}
			chosen = append(chosen, task)
		}
		sort.Slice(chosen, func(a, b int) bool { return chosen[a].ID < chosen[b].ID })
		for i := range chosen {
			pick(&chosen[i])
		}
	}
	return s.rc
}

// eachTask calls fn with each task of an array's list, a run of waiting
// tasks listed as one job (api.ArrayTask.Tasks) task by task: its k-th
// index is the task with the k-th id from the job's. fn must not keep
// the job it is given.
func eachTask(list []api.Job, fn func(*api.Job)) {
	var task api.Job
	var place api.ArrayTask
	for i := range list {
		j := &list[i]
		if j.Array == nil || j.Array.Tasks == "" {
			fn(j)
			continue
		}
		for k, x := range groupedIndexes(j.Array) {
			if k == 0 {
				runTask(&task, &place, j, k, x)
			} else { // the run's tasks differ only in these
				task.ID, place.Index = j.ID+uint64(k), x
			}
			fn(&task)
		}
	}
}

// runTask makes *task the k-th task of the run j stands for, of index x,
// its place in the array *place.
func runTask(task *api.Job, place *api.ArrayTask, j *api.Job, k, x int) {
	*task, *place = *j, *j.Array
	place.Index, place.Tasks = x, ""
	task.ID, task.Array = j.ID+uint64(k), place
}

// taskFinder finds tasks by index in an array's list (taskAt).
type taskFinder struct {
	list []api.Job
	at   map[int][2]int // index: the job listed, and its place in the job's run
}

func newTaskFinder(list []api.Job) *taskFinder {
	f := &taskFinder{list: list, at: make(map[int][2]int, len(list))}
	for i := range list {
		a := list[i].Array
		if a == nil {
			continue
		}
		for k, x := range groupedIndexes(a) {
			f.at[x] = [2]int{i, k}
		}
	}
	return f
}

// taskAt is the task of index x (a copy of its own).
func (f *taskFinder) taskAt(x int) (api.Job, bool) {
	p, ok := f.at[x]
	if !ok {
		return api.Job{}, false
	}
	var task api.Job
	runTask(&task, new(api.ArrayTask), &f.list[p[0]], p[1], x)
	return task, true
}

// filtered reports whether any filter option was given.
func (s *scancel) filtered() bool {
	o := s.o
	return o.account != "" || o.name != "" || o.partition != "" || o.qos != "" || o.user != "" ||
		o.nodelist != "" || len(o.states) > 0 || o.reservation != "" || o.wckey != ""
}

func (s *scancel) verboseTerminating(id string) {
	if s.o.verbose == 0 {
		return
	}
	if s.o.signal != 0 {
		batch := ""
		if s.o.batch && !s.o.full {
			batch = "batch "
		}
		fmt.Fprintf(s.c.Stderr, "scancel: Signal %d to %sjob %s\n", s.o.signal, batch, termsafe.String(id))
		return
	}
	fmt.Fprintf(s.c.Stderr, "scancel: Terminating job %s\n", termsafe.String(id))
}

// cancelReason is the status reason a job scancel ends carries.
const cancelReason = "Cancelled by scancel"

// signalling reports whether scancel sends a signal rather than ending
// jobs: --signal other than KILL, as in Slurm (KILL, or no --signal, ends
// the job, batch script included, whatever -b or -f say).
func (s *scancel) signalling() bool { return s.o.signal != 0 && s.o.signal != 9 }

// scope is the signal's scope: -f (everything) wins over -b (the batch
// script alone); neither: every process but the batch script.
func (s *scancel) scope() api.SignalScope {
	switch {
	case s.o.full:
		return api.SignalFull
	case s.o.batch:
		return api.SignalBatch
	}
	return api.SignalSteps
}

// act signals j or ends it (with -i, if the user says so).
func (s *scancel) act(j *api.Job) {
	if !s.o.interactive && s.o.verbose == 0 && !s.signalling() {
		s.end(j) // named only if it fails: an array's 10,000 tasks
		return
	}
	id := JobID(j)
	if s.o.interactive && !s.confirm(j, id) {
		return
	}
	s.verboseTerminating(id)
	if s.signalling() {
		s.signal(j, id)
		return
	}
	s.end(j)
}

// confirm asks whether to act on j, as scancel -i does, until it gets y
// or n; no answer (end of input) is no.
func (s *scancel) confirm(j *api.Job, id string) bool {
	verb := "Cancel"
	if s.signalling() {
		verb = "Signal"
	}
	for {
		fmt.Fprintf(s.c.Stdout, "%s job_id=%s name=%s partition=%s [y/n]? ", verb, termsafe.String(id), termsafe.String(j.Name), termsafe.String(j.Queue))
		line, err := s.in.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true
		case "n", "no":
			return false
		}
		if err != nil {
			fmt.Fprintln(s.c.Stdout)
			return false
		}
	}
}

// signal sends the signal to a started job; a pending job has nothing to
// signal, which Slurm reports as an error.
func (s *scancel) signal(j *api.Job, id string) {
	if j.State.Cancellable() {
		s.c.Errorf("scancel", "Kill job error on job id %s: Job is pending execution", id)
		s.rc = 1
		return
	}
	if err := s.c.Client.Signal(s.ctx, j.ID, s.o.signal, s.scope()); err != nil {
		s.fail(id, err)
	}
}

// end picks j to be ended with the others (endAll).
func (s *scancel) end(j *api.Job) {
	// Ascending so far, a job above the last is new; once not, seen says.
	if n := len(s.ending); s.seen == nil && n > 0 && j.ID <= s.ending[n-1] {
		s.seen = make(map[uint64]bool, n)
		for _, id := range s.ending {
			s.seen[id] = true
		}
	}
	if s.seen != nil {
		if s.seen[j.ID] {
			return
		}
		s.seen[j.ID] = true
	}
	e := endingJob{}
	if j.Array != nil {
		e = endingJob{j.Array.JobID, j.Array.Index}
	}
	s.ending, s.endingJob = append(s.ending, j.ID), append(s.endingJob, e)
}

// stopChunk bounds the jobs of one stop request (the controller takes up
// to 100,000).
const stopChunk = 50_000

// endAll ends the picked jobs, each cancelled if it has not started and
// terminated if it has, in as few requests (and commits) as the chunk
// allows, and reports each that could not be ended.
func (s *scancel) endAll() {
	if len(s.arrays) > 0 && !s.endArrays() {
		return
	}
	for from := 0; from < len(s.ending); from += stopChunk {
		ids := s.ending[from:min(from+stopChunk, len(s.ending))]
		failed, err := s.c.Client.StopJobs(s.ctx, ids, cancelReason)
		if err != nil {
			for k := range ids {
				s.fail(s.endingName(from+k), err)
			}
			continue
		}
		s.reportFailed(ids, from, failed)
	}
}

// endArrays ends the arrays asked whole, with the jobs picked by id when
// they fit the same request, and reports whether endAll is to end the
// picked ones still. A task picked by id of an array asked whole is left
// to its array: it ends with it, and a refusal is the array's one. A
// controller from before arrays were asked whole refuses the request:
// their tasks are then listed and picked, and end with the others.
func (s *scancel) endArrays() bool {
	ids, names := s.ending[:0:0], s.endingJob[:0:0]
	for k, id := range s.ending {
		if !slices.ContainsFunc(s.arrays, func(a wholeArray) bool { return id >= a.id && id < a.id+a.count }) {
			ids, names = append(ids, id), append(names, s.endingJob[k])
		} else if s.seen != nil {
			delete(s.seen, id) // picked again, if the tasks are listed after all
		}
	}
	s.ending, s.endingJob = ids, names
	req := api.StopJobsRequest{Reason: cancelReason}
	for _, a := range s.arrays {
		req.ArrayJobIDs = append(req.ArrayJobIDs, a.id)
	}
	if len(s.ending) <= stopChunk {
		req.IDs = s.ending
	}
	failed, err := s.c.Client.Stop(s.ctx, req)
	var e *api.Error
	if errors.As(err, &e) && e.Code == api.CodeInvalid && strings.Contains(e.Message, "arrayJobIds") {
		for _, a := range s.arrays {
			list, err := s.c.Client.ListJobs(s.ctx, api.ListJobsRequest{ArrayJobID: a.id, Fields: s.fields(), GroupTasks: true})
			if err != nil {
				s.fail(api.FormatID(a.id), err)
				continue
			}
			eachTask(list, s.pick)
		}
		return true
	}
	if err != nil {
		for _, a := range s.arrays {
			s.fail(api.FormatID(a.id), err)
		}
		if req.IDs != nil {
			for k := range s.ending {
				s.fail(s.endingName(k), err)
			}
		}
		return req.IDs == nil
	}
	var arrayFailed []api.JobFailure
	for _, f := range failed {
		if slices.ContainsFunc(s.arrays, func(a wholeArray) bool { return a.id == f.ID }) {
			s.fail(api.FormatID(f.ID), f.Error) // the array's one refusal
		} else {
			arrayFailed = append(arrayFailed, f)
		}
	}
	s.reportFailed(req.IDs, 0, arrayFailed)
	return req.IDs == nil
}

// reportFailed reports the failures of a stop of ids, s.ending[from:] on,
// each by the name of the job picked.
func (s *scancel) reportFailed(ids []uint64, from int, failed []api.JobFailure) {
	find := func(id uint64) int { return slices.Index(ids, id) } // few fail: a scan each
	if len(failed) > 8 {
		at := make(map[uint64]int, len(ids))
		for k, id := range ids {
			at[id] = k
		}
		find = func(id uint64) int {
			if k, ok := at[id]; ok {
				return k
			}
			return -1
		}
	}
	for _, f := range failed {
		if k := find(f.ID); k >= 0 {
			s.fail(s.endingName(from+k), f.Error)
		}
	}
}

// fail reports a job scancel could not end, as Slurm does: an unknown or
// finished job only with -v and without changing the exit status (the
// anchor's scancel 999999 is silent, rc 0); anything else always, rc 1.
func (s *scancel) fail(id string, err error) {
	var e *api.Error
	why := err.Error()
	quietly := false
	if errors.As(err, &e) {
		switch e.Code {
		case api.CodeNotFound:
			why, quietly = "Invalid job id specified", true
		case api.CodeConflict:
			why, quietly = "Job/step already completing or completed", true
		case api.CodeForbidden:
			why = "Access/permission denied"
		}
	}
	if quietly && s.o.interactive {
		// -i names a job that is gone as an error (22.05: rc 1).
		why, quietly = "Invalid job id specified", false
	}
	if quietly {
		if s.o.verbose > 0 {
			s.c.Errorf("scancel", "Kill job error on job id %s: %s", id, why)
		}
		return
	}
	s.c.Errorf("scancel", "Kill job error on job id %s: %s", id, why)
	s.rc = 1
}

const scancelUsage = `Usage: scancel [-A account] [--batch] [--full] [--interactive] [-n job_name]
               [-p partition] [-Q] [-q qos] [-R reservation] [-s signal | integer]
               [-t PENDING | RUNNING | SUSPENDED] [--usage] [-u user_name]
               [--hurry] [-V] [-v] [-w hosts...] [--wckey=wckey]
               [job_id[_array_id]]
`
