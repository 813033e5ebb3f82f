package slurm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// Job steps (api/steps.go): srun inside a job registers its step with the
// controller and reports its end; squeue --steps, scontrol show step,
// sacct and scancel JOB.STEP read and act on them. The batch script is
// Slurm's JOB.batch step, shown from the job itself.

// stepController is what the step commands need of the controller beyond
// Controller; the real client has it (a test fake may not: srun then
// runs its step unrecorded, as step 0).
type stepController interface {
	StartStep(ctx context.Context, req api.StepStartRequest) (uint32, error)
	EndStep(ctx context.Context, req api.StepEndRequest) error
	SignalStep(ctx context.Context, req api.StepSignalRequest) error
}

// batchStep is the name (and id text) of a job's batch step.
const batchStep = "batch"

// stepRef is one JOB.STEP operand: STEP "" for the whole job (squeue -s
// J, scontrol show step J), "batch", or a number.
type stepRef struct {
	text string
	job  jobRef
	step string
}

// parseStepRef reads "J", "J.S", "A_T.S" or "J.batch".
func parseStepRef(s string) (stepRef, error) {
	job, step, hasStep := strings.Cut(s, ".")
	refs, err := parseJobRefs(job)
	if err != nil || len(refs) != 1 {
		return stepRef{}, fmt.Errorf("Invalid job id: %s", s)
	}
	r := stepRef{text: s, job: refs[0]}
	if hasStep {
		if step != batchStep {
			if _, err := strconv.ParseUint(step, 10, 32); err != nil {
				return stepRef{}, fmt.Errorf("Invalid job step id: %s", s)
			}
		}
		r.step = step
	}
	return r, nil
}

// matches reports whether the step row sr is one ref names.
func (r stepRef) matches(sr stepRow) bool {
	return r.job.matches(sr.j) && (r.step == "" || r.step == sr.id)
}

// stepRow is one step of a job as squeue, scontrol and sacct show it: the
// batch step (s nil) or a recorded one.
type stepRow struct {
	j  *api.Job
	id string // "batch" or the number
	s  *api.Step
}

// stepsOf lists a job's steps: its recorded ones (running only, unless
// all) in id order, then the batch step of a started job (running only
// while the job runs, unless all), as Slurm orders them (its batch step
// id is larger than any other).
func stepsOf(j *api.Job, all bool) []stepRow {
	var out []stepRow
	for i := range j.Steps {
		s := &j.Steps[i]
		if all || !s.Ended() {
			out = append(out, stepRow{j: j, id: strconv.FormatUint(uint64(s.ID), 10), s: s})
		}
	}
	if j.StartedAt > 0 && (all || j.State.Terminable()) {
		out = append(out, stepRow{j: j, id: batchStep})
	}
	return out
}

// fullID is the step's Slurm id: JOB.STEP, with the array task's id.
func (sr stepRow) fullID() string { return JobID(sr.j) + "." + sr.id }

func (sr stepRow) name() string {
	if sr.s == nil {
		return batchStep
	}
	return sr.s.Name
}

func (sr stepRow) startedAt() int64 {
	if sr.s == nil {
		return sr.j.StartedAt
	}
	return sr.s.StartedAt
}

func (sr stepRow) tasks() int {
	if sr.s == nil {
		return 1
	}
	return sr.s.NTasks
}

func (sr stepRow) cpus() int {
	if sr.s == nil || sr.s.CPUs <= 0 {
		return max(sr.j.Resources.CPUs, 1)
	}
	return sr.s.CPUs
}

func (sr stepRow) memMB() int64 {
	if sr.s == nil || sr.s.MemMB <= 0 {
		return sr.j.Resources.MemoryMB
	}
	return sr.s.MemMB
}

// state is the step's state in Slurm's words.
func (sr stepRow) state() string {
	if sr.s != nil {
		return string(sr.s.State)
	}
	return saStepState(sr.j)
}

// tres is the step's TRES= (scontrol show step).
func (sr stepRow) tres() string {
	s := fmt.Sprintf("cpu=%d", sr.cpus())
	if mem := sr.memMB(); mem > 0 {
		s += ",mem=" + memString(mem)
	}
	return s + ",node=1"
}

// stepJobFields are the job fields the step views read.
var stepJobFields = []string{"status", "steps", "user", "uid", "jobQueue", "node", "startedAt", "stoppedAt",
	"jobName", "array", "resources", "exitCode", "signal", "cause"}

// fetchStepJobs lists the jobs whose steps a step view shows: those refs
// name (any state), else every started job.
func fetchStepJobs(ctx context.Context, c *Ctx, refs []jobRef) ([]api.Job, error) {
	if len(refs) > 0 {
		return fetchRefs(ctx, c.Client, refs)
	}
	return c.Client.ListJobs(ctx, api.ListJobsRequest{States: []api.JobState{api.StateStarting, api.StateRunning}, Fields: stepJobFields})
}

// Step format letters of squeue --steps (Slurm 22.05's step_format_add_*).
var sqStepLetters = map[byte]struct {
	header string
	value  func(sr stepRow, now time.Time) string
}{
	'A': {"TASKS", func(sr stepRow, _ time.Time) string { return strconv.Itoa(sr.tasks()) }},
	'b': {"TRES_PER_NODE", func(stepRow, time.Time) string { return "N/A" }},
	'i': {"STEPID", func(sr stepRow, _ time.Time) string { return sr.fullID() }},
	'j': {"NAME", func(sr stepRow, _ time.Time) string { return sr.name() }},
	'l': {"TIME_LIMIT", func(stepRow, time.Time) string { return "UNLIMITED" }},
	'M': {"TIME", func(sr stepRow, now time.Time) string {
		return clockDuration(max(0, now.Unix()-sr.startedAt()/1000))
	}},
	'N': {"NODELIST", func(sr stepRow, _ time.Time) string { return sr.j.Node }},
	'P': {"PARTITION", func(sr stepRow, _ time.Time) string { return sr.j.Queue }},
	'S': {"START_TIME", func(sr stepRow, now time.Time) string {
		return stamp(epochTime(sr.startedAt(), now.Location()), "N/A")
	}},
	'U': {"UID", func(sr stepRow, _ time.Time) string { return strconv.FormatUint(uint64(sr.j.UID), 10) }},
	'u': {"USER", func(sr stepRow, _ time.Time) string {
		if sr.j.User != "" {
			return sr.j.User
		}
		return strconv.FormatUint(uint64(sr.j.UID), 10)
	}},
}

// runSteps is squeue --steps: the running steps of the jobs -j and the
// step list (-s LIST, or the operand) name, else of every running job,
// filtered by -u and -p.
func (o *squeueOpts) runSteps(c *Ctx) int {
	now := c.Now()
	format := o.format
	if format == "" {
		format = squeueStepsFormat
	}
	pf, bad := parsePercentFormat(format, func(l byte) bool { _, ok := sqStepLetters[l]; return ok })
	for _, l := range bad {
		c.Errorf("squeue", "Invalid job step format specification: %c", l)
	}
	var stepRefs []stepRef
	for _, s := range o.stepList {
		r, err := parseStepRef(s)
		if err != nil {
			c.Errorf("squeue", "Invalid job step id: %s", s)
			return 1
		}
		stepRefs = append(stepRefs, r)
	}
	refs := o.jobs
	for _, r := range stepRefs {
		refs = append(refs, r.job)
	}
	jobs, err := fetchStepJobs(context.Background(), c, refs)
	if err != nil {
		fmt.Fprintf(c.Stderr, "slurm_load_job_steps error: %s\n", safeErr(err))
		return 1
	}
	var rows []stepRow
	for i := range jobs {
		j := &jobs[i]
		if !j.State.Terminable() || !o.stepJobWanted(j) {
			continue
		}
		for _, sr := range stepsOf(j, false) {
			if len(stepRefs) > 0 && !anyStepRef(stepRefs, sr) {
				continue
			}
			rows = append(rows, sr)
		}
	}
	sort.SliceStable(rows, func(a, b int) bool {
		if rows[a].j.Queue != rows[b].j.Queue {
			return rows[a].j.Queue < rows[b].j.Queue
		}
		return rows[a].j.ID < rows[b].j.ID
	})
	var b strings.Builder
	if !o.noHeader {
		b.WriteString(pf.prefix)
		for _, col := range pf.cols {
			if col.invalid {
				b.WriteString(col.fit(""))
				continue
			}
			b.WriteString(col.fit(sqStepLetters[col.key[0]].header))
		}
		b.WriteByte('\n')
	}
	for _, sr := range rows {
		b.WriteString(pf.prefix)
		for _, col := range pf.cols {
			val := ""
			if !col.invalid {
				val = termsafe.String(sqStepLetters[col.key[0]].value(sr, now))
			}
			b.WriteString(col.fit(val))
		}
		b.WriteByte('\n')
	}
	fmt.Fprint(c.Stdout, b.String())
	return 0
}

// stepJobWanted applies squeue's -j, -u and -p to a job whose steps are listed.
func (o *squeueOpts) stepJobWanted(j *api.Job) bool {
	if len(o.jobs) > 0 {
		found := false
		for _, r := range o.jobs {
			found = found || r.matches(j)
		}
		if !found {
			return false
		}
	}
	if len(o.users) > 0 {
		found := false
		for _, u := range o.users {
			found = found || u == j.User || u == strconv.FormatUint(uint64(j.UID), 10)
		}
		if !found {
			return false
		}
	}
	if len(o.partitions) > 0 {
		found := false
		for _, p := range o.partitions {
			found = found || p == j.Queue
		}
		if !found {
			return false
		}
	}
	return true
}

func anyStepRef(refs []stepRef, sr stepRow) bool {
	for _, r := range refs {
		if r.matches(sr) {
			return true
		}
	}
	return false
}

// showStep is scontrol show step [JOB[.STEP]]: the running steps of one
// job or of all, in Slurm 22.05's layout.
func (r *scontrolRun) showStep(idText string) int {
	now := r.c.Now()
	var refs []jobRef
	var want stepRef
	if idText != "" {
		var err error
		if want, err = parseStepRef(idText); err != nil {
			fmt.Fprintln(r.c.Stderr, "slurm_get_job_steps error: Invalid job id specified")
			return 1
		}
		refs = []jobRef{want.job}
	}
	jobs, err := fetchStepJobs(r.ctx, r.c, refs)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "slurm_get_job_steps error: %s\n", safeErr(err))
		return 1
	}
	var found []api.Job
	for i := range jobs {
		if (idText == "" || want.job.matches(&jobs[i])) && visible(&jobs[i], now) {
			found = append(found, jobs[i])
		}
	}
	if idText != "" && len(found) == 0 {
		fmt.Fprintln(r.c.Stderr, "slurm_get_job_steps error: Invalid job id specified")
		return 1
	}
	sort.Slice(found, func(a, b int) bool { return found[a].ID < found[b].ID })
	var rows []stepRow
	for i := range found {
		for _, sr := range stepsOf(&found[i], false) {
			if idText == "" || want.matches(sr) {
				rows = append(rows, sr)
			}
		}
	}
	r.lastUpdate(len(rows))
	if len(rows) == 0 {
		switch {
		case idText == "":
			fmt.Fprintln(r.c.Stdout, "No job steps in the system")
			return 0
		case want.step == "":
			fmt.Fprintf(r.c.Stdout, "Job step %s.TBD not found\n", idText)
		default:
			fmt.Fprintf(r.c.Stdout, "Job step %s not found\n", idText)
		}
		return 1
	}
	var b strings.Builder
	for _, sr := range rows {
		first, lines := stepRecord(sr, now)
		r.record(&b, first, lines)
	}
	fmt.Fprint(r.c.Stdout, b.String())
	return 0
}

// stepRecord is one step's key=value block (slurm_sprint_job_step_info).
func stepRecord(sr stepRow, now time.Time) (string, []string) {
	j := sr.j
	first := fmt.Sprintf("StepId=%s UserId=%d StartTime=%s TimeLimit=UNLIMITED",
		sr.fullID(), j.UID, stamp(epochTime(sr.startedAt(), now.Location()), "Unknown"))
	freq := "CPUFreqReq=Default"
	srun := "SrunHost:Pid=(null):0"
	if sr.s != nil {
		freq += " Dist=Block"
		if sr.s.SrunHost != "" {
			srun = fmt.Sprintf("SrunHost:Pid=%s:%d", sr.s.SrunHost, sr.s.SrunPID)
		}
	}
	return first, []string{
		fmt.Sprintf("State=%s Partition=%s NodeList=%s", sr.state(), j.Queue, j.Node),
		fmt.Sprintf("Nodes=1 CPUs=%d Tasks=%d Name=%s Network=(null)", sr.cpus(), sr.tasks(), sr.name()),
		"TRES=" + sr.tres(),
		"ResvPorts=(null)",
		freq,
		srun,
	}
}

// stepJobView is the view sacct prints a recorded step's line from: the
// job with the step's name, times, CPUs and exit.
func stepJobView(v *jobView, s *api.Step) *jobView {
	j := *v.j
	j.Name, j.StartedAt, j.StoppedAt, j.Usage, j.Steps = s.Name, s.StartedAt, s.EndedAt, nil, nil
	code := s.ExitCode
	j.ExitCode, j.ExitSignal = &code, s.ExitSignal
	if s.CPUs > 0 {
		j.Resources.CPUs = s.CPUs
	}
	if s.MemMB > 0 {
		j.Resources.MemoryMB = s.MemMB
	}
	j.State = api.StateRunning
	if s.Ended() {
		j.State = api.StateSucceeded
	}
	sv := newJobView(&j, v.now, 0, v.group)
	sv.id, sv.rawID = v.id, v.rawID
	return sv
}

// stepTarget is the step part of a scancel operand (JOB.STEP).
type stepTarget struct {
	step uint32
}

// cancelStep cancels or signals one step of a running job (scancel
// JOB.STEP), with Slurm's words for what cannot be done.
func (s *scancel) cancelStep(j *api.Job, t cancelTarget) {
	id := fmt.Sprintf("%s.%d", JobID(j), t.step.step)
	if s.o.interactive && !s.confirmStep(j, id) {
		return
	}
	if s.o.verbose > 0 {
		if s.signalling() {
			fmt.Fprintf(s.c.Stderr, "scancel: Signal %d to step %s\n", s.o.signal, id)
		} else {
			fmt.Fprintf(s.c.Stderr, "scancel: Terminating step %s\n", id)
		}
	}
	sc, ok := s.c.Client.(stepController)
	if !ok {
		s.c.Errorf("scancel", "Kill job error on job step id %s: this controller keeps no job steps", id)
		s.rc = 1
		return
	}
	req := api.StepSignalRequest{JobID: j.ID, StepID: t.step.step, Cancel: !s.signalling(), Signal: s.o.signal}
	err := sc.SignalStep(s.ctx, req)
	if err == nil {
		return
	}
	var e *api.Error
	why, quietly := err.Error(), false
	if errors.As(err, &e) {
		switch e.Code {
		case api.CodeNotFound, api.CodeConflict:
			// ESLURM_ALREADY_DONE: said only with -v, and not a failure.
			why, quietly = "Job/step already completing or completed", true
		case api.CodeForbidden:
			why = "Access/permission denied"
		}
	}
	if quietly {
		if s.o.verbose > 0 {
			s.c.Errorf("scancel", "Kill job error on job step id %s: %s", id, why)
		}
		return
	}
	s.c.Errorf("scancel", "Kill job error on job step id %s: %s", id, why)
	s.rc = 1
}

// confirmStep asks, as scancel -i does for a step, until it gets y or n;
// no answer (end of input) is no.
func (s *scancel) confirmStep(j *api.Job, id string) bool {
	return s.askYesNo(fmt.Sprintf("Cancel step_id=%s name=%s partition=%s [y/n]? ", termsafe.String(id), termsafe.String(j.Name), termsafe.String(j.Queue)))
}

// registerStep records the step srun is about to run and returns its id
// and a function that records its end. A controller without steps (a
// test fake) gives step 0 and records nothing; a refusal (the job is not
// running, not the caller's) is an error, as in Slurm.
func registerStep(c *Ctx, job uint64, req api.StepStartRequest) (uint32, func(code, sig int), error) {
	sc, ok := c.Client.(stepController)
	if !ok {
		return 0, func(int, int) {}, nil
	}
	req.JobID = job
	id, err := sc.StartStep(context.Background(), req)
	var refused *api.Error
	if err != nil && !errors.As(err, &refused) {
		// No controller answered (a node that cannot reach it, a job
		// without SHOAL_ADDR): the step still runs, as step 0, unrecorded,
		// rather than fail the job's script over bookkeeping.
		c.Errorf("srun", "Unable to record the step of job %d with the controller: %v; running it unrecorded", job, err)
		return 0, func(int, int) {}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	end := func(code, sig int) {
		err := sc.EndStep(context.Background(), api.StepEndRequest{JobID: job, StepID: id, ExitCode: min(max(code, 0), 255), ExitSignal: sig})
		var e *api.Error
		if err != nil && !(errors.As(err, &e) && (e.Code == api.CodeConflict || e.Code == api.CodeNotFound)) {
			// Ended already (the job ended under it) is no news.
			c.Errorf("srun", "Unable to record the end of step %d.%d: %v", job, id, err)
		}
	}
	return id, end, nil
}

// stepByID cancels or signals the step a JOB.STEP operand names; j is the
// job by that id (nil: none), tasksOf lists an array's tasks.
func (s *scancel) stepByID(t cancelTarget, j *api.Job, tasksOf func(uint64) ([]api.Job, error)) {
	if t.tasks != nil {
		j = nil
		if len(t.tasks) == 1 {
			list, err := tasksOf(t.id)
			if err != nil {
				s.c.Errorf("scancel", "Unable to list the tasks of job %d: %v", t.id, err)
				s.rc = 1
				return
			}
			for i := range list {
				if list[i].Array != nil && list[i].Array.Index == t.tasks[0] {
					j = &list[i]
				}
			}
		}
	}
	if j == nil || j.State.Terminal() || j.StopRequested || j.State.Cancellable() {
		// Slurm's scancel finds no such running job: ESLURM_INVALID_JOB_ID.
		if !s.o.quiet {
			s.c.Errorf("scancel", "Kill job error on job step id %s: Invalid job id specified", t.text)
		}
		s.rc = 1
		return
	}
	if s.filtered() && !s.matches(j) {
		return
	}
	s.cancelStep(j, t)
}

// parseSacctJobs reads sacct -j's list: job refs, and the steps named as
// JOB.STEP (by the job's text).
func parseSacctJobs(list string) ([]jobRef, map[string][]string, error) {
	var refs []jobRef
	steps := map[string][]string{}
	for _, item := range splitList(list) {
		job, step, hasStep := strings.Cut(item, ".")
		r, err := parseJobRefs(job)
		if err != nil || len(r) != 1 {
			return nil, nil, fmt.Errorf("Invalid job id: %s", item)
		}
		if hasStep {
			if _, err := strconv.ParseUint(step, 10, 32); err != nil && step != batchStep {
				return nil, nil, fmt.Errorf("Invalid job id: %s", item)
			}
			steps[job] = append(steps[job], step)
		} else {
			steps[job] = append(steps[job], "") // the whole job
		}
		refs = append(refs, r[0])
	}
	return refs, steps, nil
}

// addSteps records -j's step selections: a job named whole shows whole.
func (o *sacctOpts) addSteps(steps map[string][]string) {
	if o.steps == nil {
		o.steps = map[string]map[string]bool{}
	}
	for job, list := range steps {
		if o.steps[job] == nil {
			o.steps[job] = map[string]bool{}
		}
		for _, s := range list {
			o.steps[job][s] = true
		}
	}
}

// jobRows are the sacct lines of run r of job view v: the job, its batch
// step and its recorded steps (the current run's), or with -j JOB.STEP
// only the steps named.
func (o *sacctOpts) jobRows(v, r *jobView) []*saRow {
	sel := o.steps[r.id]
	if sel == nil && r.j.Array != nil {
		sel = o.steps[api.FormatID(r.rawID)]
	}
	only := sel != nil && !sel[""]
	want := func(step string) bool { return !only || sel[step] }
	var rows []*saRow
	if !only {
		rows = append(rows, &saRow{v: r})
	}
	if (o.allocations || o.completion) && !only || r.j.StartedAt == 0 || r.tasks != nil {
		return rows
	}
	if want(batchStep) {
		rows = append(rows, &saRow{v: r, step: batchStep})
	}
	if r != v { // the steps are the current run's
		return rows
	}
	for i := range r.j.Steps {
		st := &r.j.Steps[i]
		id := strconv.FormatUint(uint64(st.ID), 10)
		if want(id) {
			rows = append(rows, &saRow{v: stepJobView(r, st), step: id, st: st})
		}
	}
	return rows
}
