package slurm

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// jobOperand is one job operand as the controller has it: a job, or
// tasks of an array.
type jobOperand struct {
	id    uint64 // the job's, or the array's
	array bool   // it names tasks of array id: all of them (want nil) or those of want
	want  []int  // the task indexes named ("A_i", "A_[...]"); nil: the job itself
	// tasks are the array's tasks it names, as listed (operandFields),
	// and missing the indexes named that the job does not have (all of
	// them when it is no array).
	tasks   []api.Job
	missing []int
}

// operandFields are the fields listed of the jobs operands name.
var operandFields = []string{"jobId", "array", "status", "noRequeue"}

// operands reads job operands (each a comma separated list of "N", "A_i"
// or "A_[1-3,5]") into the jobs they name, as Slurm's scontrol does: an
// array's id names every task of it, "A_i" and "A_[...]" those tasks.
// bad are the operands that do not read. An id of no job at all is kept
// (a job operand with no tasks), for the controller to refuse in its
// words.
func (r *scontrolRun) operands(args []string) (ops []jobOperand, bad []string, err error) {
	var targets []cancelTarget
	var look []uint64
	for _, a := range args {
		for _, s := range splitList(a) {
			t, perr := parseCancelTarget(s)
			if perr != nil || t.step != nil {
				bad = append(bad, s)
				continue
			}
			targets = append(targets, t)
			look = append(look, t.id)
		}
	}
	if len(targets) == 0 {
		return nil, bad, nil
	}
	found, err := r.c.Client.ListJobs(r.ctx, api.ListJobsRequest{IDs: look, Fields: operandFields})
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[uint64]*api.Job, len(found))
	for i := range found {
		byID[found[i].ID] = &found[i]
	}
	arrays := map[uint64][]api.Job{}
	for _, t := range targets {
		j := byID[t.id]
		op := jobOperand{id: t.id, want: t.tasks}
		if j == nil || j.Array == nil || j.Array.JobID != t.id {
			op.missing = t.tasks
			ops = append(ops, op)
			continue
		}
		op.array = true
		tasks, ok := arrays[t.id]
		if !ok {
			if tasks, err = r.c.Client.ListJobs(r.ctx, api.ListJobsRequest{ArrayJobID: t.id, Fields: operandFields}); err != nil {
				return nil, nil, err
			}
			arrays[t.id] = tasks
		}
		if t.tasks == nil {
			op.tasks = tasks
		}
		for _, want := range t.tasks {
			i := slices.IndexFunc(tasks, func(task api.Job) bool { return task.Array != nil && task.Array.Index == want })
			if i < 0 {
				op.missing = append(op.missing, want)
				continue
			}
			op.tasks = append(op.tasks, tasks[i])
		}
		ops = append(ops, op)
	}
	return ops, bad, nil
}

// jobTargets reads job operands (see operands) into the ids of the jobs
// they name: an array's id names every task of it that has not ended
// (with waiting, those that wait: a hold or release of an array leaves
// its running tasks be), "A_i" and "A_[...]" those tasks. bad are the
// operands that do not read, missing the tasks there are not ("A_i");
// an id of no job at all is kept, for the controller to refuse in its
// words.
func (r *scontrolRun) jobTargets(args []string, waiting bool) (ids []uint64, bad, missing []string, err error) {
	ops, bad, err := r.operands(args)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, op := range ops {
		for _, x := range op.missing {
			missing = append(missing, fmt.Sprintf("%d_%d", op.id, x))
		}
		if !op.array {
			if op.want == nil {
				ids = append(ids, op.id)
			}
			continue
		}
		for i := range op.tasks {
			task := &op.tasks[i]
			if op.want == nil && !(waiting && task.State.Cancellable() || !waiting && !task.State.Terminal()) {
				continue
			}
			r.nameTask(task)
			ids = append(ids, task.ID)
		}
	}
	return ids, bad, missing, nil
}

// nameTask has messages about array task j name it as Slurm does
// ("12_4").
func (r *scontrolRun) nameTask(j *api.Job) {
	if r.taskNames == nil {
		r.taskNames = map[uint64]string{}
	}
	r.taskNames[j.ID] = JobID(j)
}

// jobError words an API error about job id as Slurm does ("Invalid job
// id specified", "Job has already finished", ...), looking the job up
// when the error alone does not say.
func (r *scontrolRun) jobError(id uint64, err error) string {
	if api.IsCode(err, api.CodeNotFound) {
		var e *api.Error
		if errors.As(err, &e) && (e.Field == "queue" || e.Field == "jobQueue") {
			return "Invalid partition name specified"
		}
		return "Invalid job id specified"
	}
	if api.IsCode(err, api.CodeConflict) {
		if j, jerr := r.c.Client.Job(r.ctx, id); jerr == nil {
			switch {
			case j.State.Terminal():
				return "Job has already finished"
			case j.State.Terminable():
				return "Job is no longer pending execution"
			}
		}
	}
	if api.IsCode(err, api.CodeForbidden) {
		return "Access/permission denied"
	}
	return err.Error()
}

// jobOperands reads the job ids a keyword acts on, reporting each bad one
// as Slurm does (then also extra, if given): rc is 1 if any was bad; ok is
// false when there were none at all.
func (r *scontrolRun) jobOperands(kw string, args []string, extra string, waiting bool) (ids []uint64, rc int, ok bool) {
	if len(args) == 0 {
		fmt.Fprintf(r.c.Stderr, "too few arguments for keyword:%s\n", kw)
		return nil, 1, false
	}
	ids, bad, missing, err := r.jobTargets(args, waiting)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: Could not load state information: %s\n", safeErr(err))
		return nil, 1, false
	}
	for _, b := range bad {
		fmt.Fprintf(r.c.Stderr, "Invalid job id specified for job %s\n", b)
		if extra != "" {
			fmt.Fprintln(r.c.Stderr, extra)
		}
		rc = 1
	}
	r.reportMissing(missing)
	if len(missing) > 0 {
		rc = 1
	}
	return ids, rc, true
}

// reportMissing says of each array task named that the array does not
// have, as Slurm's answer for an array does.
func (r *scontrolRun) reportMissing(missing []string) {
	for _, m := range missing {
		fmt.Fprintf(r.c.Stderr, "%s: Invalid job id specified\n", m)
	}
}

// hold holds (hold, uhold) or releases jobs: one call for all, and on a
// refusal one call a job, to say which ones failed (Slurm treats each job
// on its own).
func (r *scontrolRun) hold(kw string, args []string, hold bool) int {
	ids, rc, ok := r.jobOperands(kw, args, "slurm_suspend error: Invalid job id specified", true)
	if !ok {
		return 1
	}
	if len(ids) == 0 {
		return rc
	}
	if err := r.c.Client.Hold(r.ctx, ids, hold); err == nil {
		return rc
	} else if len(ids) == 1 {
		r.holdFailed(ids[0], err)
		return 1
	}
	for _, id := range ids {
		if err := r.c.Client.Hold(r.ctx, []uint64{id}, hold); err != nil {
			r.holdFailed(id, err)
			rc = 1
		}
	}
	return rc
}

func (r *scontrolRun) holdFailed(id uint64, err error) {
	msg := r.jobError(id, err)
	if r.jobFailed(id, msg) {
		fmt.Fprintf(r.c.Stderr, "slurm_suspend error: %s\n", msg)
	}
}

// Slurm's words for how the requeue of an array's task went
// (slurm_strerror of its answer).
const (
	requeueOK       = "No error"
	requeueWaiting  = "Job is pending execution"
	requeueDisabled = "Requested operation is presently disabled"
)

// requeue queues jobs again: running ones once they have stopped, finished
// ones (COMPLETED, FAILED, CANCELLED, ...) at once, as Slurm does with batch
// jobs; requeuehold holds them too. The tasks of arrays (the array's id:
// every task; "A_[...]": those) are asked in one request, a few for a
// huge array, and each array operand is answered as Slurm's scontrol
// answers it: one line per outcome with its tasks' indexes ("12_0-2: No
// error", "12_3: Job is pending execution"; a task that waits is queued
// already, as in Slurm), nothing when every task was requeued.
func (r *scontrolRun) requeue(kw string, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(r.c.Stderr, "too few arguments for keyword:%s\n", kw)
		return 1
	}
	ops, bad, err := r.operands(args)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: Could not load state information: %s\n", safeErr(err))
		return 1
	}
	rc := 0
	for _, b := range bad {
		fmt.Fprintf(r.c.Stderr, "Invalid job id specified for job %s\n", b)
		rc = 1
	}
	hold := kw == "requeuehold"
	// Each task's answer, in Slurm's words ("": requeued).
	answer := map[uint64]string{}
	var ask []uint64
	for _, op := range ops {
		for i := range op.tasks {
			t := &op.tasks[i]
			if _, seen := answer[t.ID]; seen {
				continue
			}
			switch {
			case t.State.Cancellable():
				answer[t.ID] = requeueWaiting
			case t.NoRequeue: // submitted with --no-requeue
				answer[t.ID] = requeueDisabled
			default:
				answer[t.ID] = ""
				ask = append(ask, t.ID)
			}
		}
	}
	r.requeueTasks(ask, hold, answer)
	for _, op := range ops {
		switch {
		case op.array:
			if !r.reportArray(op, answer) {
				rc = 1
			}
		case op.want != nil: // tasks of a job that is no array
			for _, x := range op.missing {
				fmt.Fprintf(r.c.Stderr, "%d_%d: Invalid job id specified\n", op.id, x)
			}
			rc = 1
		case !r.requeueJob(op.id, hold):
			rc = 1
		}
	}
	return rc
}

// requeueTasks asks the controller to requeue array tasks ids (in
// requests of at most stopChunk) and writes how each went into answer.
// A controller that does not requeue many jobs at once (from before
// api.StopJobsRequest.Requeue) is asked task by task.
func (r *scontrolRun) requeueTasks(ids []uint64, hold bool, answer map[uint64]string) {
	for from := 0; from < len(ids); from += stopChunk {
		part := ids[from:min(from+stopChunk, len(ids))]
		failed, err := r.c.Client.Stop(r.ctx, api.StopJobsRequest{IDs: part, Reason: requeueReason, Requeue: true, Hold: hold})
		var e *api.Error
		switch {
		case errors.As(err, &e) && e.Code == api.CodeInvalid && strings.Contains(e.Message, `"requeue"`):
			for _, id := range part {
				if err := r.requeueCall(hold)(r.ctx, id, requeueReason); err != nil {
					answer[id] = r.jobError(id, err)
				}
			}
		case err != nil:
			for _, id := range part {
				answer[id] = safeErr(err)
			}
		}
		for _, f := range failed {
			answer[f.ID] = requeueWords(f.Error)
		}
	}
}

// requeueWords is Slurm's word for why the controller did not requeue a
// task.
func requeueWords(e *api.Error) string {
	switch {
	case e == nil:
		return ""
	case e.Code == api.CodeNotFound:
		return "Invalid job id specified"
	case e.Code == api.CodeForbidden:
		return "Access/permission denied"
	case e.Code == api.CodeConflict && e.Field == api.RequeueFieldWaiting:
		return requeueWaiting
	case e.Code == api.CodeConflict && e.Field == api.RequeueFieldNoRequeue:
		return requeueDisabled
	}
	return safeErr(e)
}

// reportArray says how the requeue of array operand op went, as Slurm's
// scontrol prints an array's answer: nothing when every task named was
// requeued (then true), else a line for each outcome, its tasks'
// indexes as ranges, in the order of their first index.
func (r *scontrolRun) reportArray(op jobOperand, answer map[uint64]string) bool {
	type outcome struct {
		words string
		idx   []int
	}
	var outs []outcome
	add := func(words string, x int) {
		if words == "" {
			words = requeueOK
		}
		for i := range outs {
			if outs[i].words == words {
				outs[i].idx = append(outs[i].idx, x)
				return
			}
		}
		outs = append(outs, outcome{words, []int{x}})
	}
	for i := range op.tasks {
		add(answer[op.tasks[i].ID], op.tasks[i].Array.Index)
	}
	for _, x := range op.missing {
		add("Invalid job id specified", x)
	}
	if len(outs) == 0 || len(outs) == 1 && outs[0].words == requeueOK {
		return true
	}
	slices.SortFunc(outs, func(a, b outcome) int { return slices.Min(a.idx) - slices.Min(b.idx) })
	for _, o := range outs {
		fmt.Fprintf(r.c.Stderr, "%d_%s: %s\n", op.id, api.IndexRanges(o.idx), o.words)
	}
	return false
}

// requeueReason is the reason scontrol's requeues give.
const requeueReason = "Requeued by scontrol"

// requeueCall is the client's call that requeues one job (and holds it).
func (r *scontrolRun) requeueCall(hold bool) func(ctx context.Context, id uint64, reason string) error {
	if hold {
		return r.c.Client.RequeueHold
	}
	return r.c.Client.Requeue
}

// requeueJob requeues job id, no array's task, and says why not as
// Slurm's scontrol does (then false).
func (r *scontrolRun) requeueJob(id uint64, hold bool) bool {
	j, err := r.c.Client.Job(r.ctx, id)
	if err != nil {
		r.jobFailed(id, r.jobError(id, err))
		return false
	}
	switch {
	case j.State.Cancellable():
		r.jobFailed(id, requeueWaiting)
		return false
	case j.NoRequeue: // submitted with --no-requeue
		r.jobFailed(id, requeueDisabled)
		return false
	}
	if err := r.requeueCall(hold)(r.ctx, id, requeueReason); err != nil {
		if api.IsCode(err, api.CodeConflict) {
			// shoal requeues running jobs only: say why, in its words.
			fmt.Fprintf(r.c.Stderr, "scontrol: error: %s\n", safeErr(err))
		} else {
			r.jobFailed(id, r.jobError(id, err))
		}
		return false
	}
	return true
}

// updatePair is one KEY=VALUE of scontrol update: key lower case, text
// as given.
type updatePair struct{ key, val, text string }

// isJobTag says whether key names the job an update is for: JobId= or
// JobName=, or a prefix of three letters or more of either (Slurm's
// scontrol reads "job" as both).
func isJobTag(key string) bool {
	return len(key) >= 3 && (strings.HasPrefix("jobid", key) || strings.HasPrefix("jobname", key))
}

// update changes jobs (JobId=... or JobName=..., anywhere on the line, as
// Slurm looks for them first), a partition or a node (NodeName=...).
func (r *scontrolRun) update(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(r.c.Stderr, "too few arguments for keyword:update")
		return 1
	}
	var pairs []updatePair
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// "Reason=dead fan" given unquoted: the words after belong to
			// the previous value.
			if len(pairs) > 0 {
				pairs[len(pairs)-1].val += " " + a
				pairs[len(pairs)-1].text += " " + a
				continue
			}
			fmt.Fprintf(r.c.Stderr, "Invalid input: %s\nRequest aborted\n", a)
			return 1
		}
		pairs = append(pairs, updatePair{strings.ToLower(k), v, a})
	}
	if slices.ContainsFunc(pairs, func(p updatePair) bool { return isJobTag(p.key) }) {
		return r.updateJobs(pairs)
	}
	if isPartitionKey(pairs[0].key) {
		return r.updatePartition(args)
	}
	switch pairs[0].key {
	case "nodename", "node":
		return r.updateNode(pairs[0].val, func() (state, reason string, text string, ok bool) {
			for _, p := range pairs[1:] {
				switch p.key {
				case "state":
					state, text = p.val, p.text
				case "reason":
					reason = p.val
				default:
					fmt.Fprintf(r.c.Stderr, "Update of this parameter is not supported: %s\nRequest aborted\n", p.text)
					return "", "", "", false
				}
			}
			return state, reason, text, true
		})
	}
	fmt.Fprintf(r.c.Stderr, "Invalid input: %s\nRequest aborted\n", pairs[0].text)
	return 1
}

// updateJobs is scontrol update of jobs: those JobId= names, or, without
// one, every job named JobName= (of the user UserID= names, if given), as
// Slurm's scontrol finds them.
func (r *scontrolRun) updateJobs(pairs []updatePair) int {
	var idText *string
	uid, byUID := uint32(0), false
	req := api.UpdateJobRequest{}
	changes := 0
	var delta int64 // TimeLimit=+N / -N: relative to each job's limit
	for _, p := range pairs {
		switch p.key {
		case "job", "jobi", "jobid":
			v := p.val
			idText = &v
			continue
		case "use", "user", "useri", "userid":
			n, ok := uidFromString(p.val)
			if !ok {
				fmt.Fprintf(r.c.Stderr, "Invalid UserID: %s\nRequest aborted\n", p.val)
				return 1
			}
			uid, byUID = n, true
			continue
		case "timelimit":
			v := strings.TrimLeft(p.val, "+-")
			secs, err := parseTimeLimit(v)
			if err != nil || (v != p.val && secs == 0) {
				fmt.Fprintf(r.c.Stderr, "Invalid TimeLimit value: %s\nRequest aborted\n", p.val)
				return 1
			}
			switch p.val[0] {
			case '+':
				delta = secs
			case '-':
				delta = -secs
			}
			req.TimeLimit = &secs
		case "partition":
			q := p.val
			req.Queue = &q
			if parts := splitList(p.val); len(parts) > 1 { // any of them (Slurm's Partition=a,b)
				req.Queue, req.Queues = &parts[0], parts
			}
		case "name", "jobn", "jobna", "jobnam", "jobname":
			n := p.val
			req.Name = &n
		case "nice":
			n, err := strconv.ParseInt(p.val, 10, 64)
			if err != nil || n < -api.MaxNice || n > api.MaxNice {
				fmt.Fprintf(r.c.Stderr, "Invalid nice value: %s\nRequest aborted\n", p.val)
				return 1
			}
			req.Nice = &n
		case "priority":
			n, err := strconv.ParseInt(p.val, 10, 64)
			if err != nil {
				fmt.Fprintf(r.c.Stderr, "Invalid Priority value: %s\nRequest aborted\n", p.val)
				return 1
			}
			req.Priority = &n
		case "starttime", "begintime":
			at, err := parseSlurmTime(p.val, r.c.Now(), false)
			if err != nil {
				fmt.Fprintf(r.c.Stderr, "Invalid StartTime value: %s\nRequest aborted\n", p.val)
				return 1
			}
			ms := at.UnixMilli()
			req.BeginAt = &ms
		default:
			fmt.Fprintf(r.c.Stderr, "Update of this parameter is not supported: %s\nRequest aborted\n", p.text)
			return 1
		}
		changes++
	}
	if changes == 0 {
		fmt.Fprintln(r.c.Stderr, "No changes specified")
		return 1
	}
	var ids []uint64
	switch {
	case idText != nil:
		var bad, missing []string
		var err error
		if ids, bad, missing, err = r.jobTargets([]string{*idText}, false); err != nil {
			fmt.Fprintf(r.c.Stderr, "scontrol: error: Could not load state information: %s\n", safeErr(err))
			return 1
		}
		if len(bad) > 0 {
			fmt.Fprintf(r.c.Stderr, "Invalid job id specified for job %s\n", bad[0])
			return 1
		}
		if len(missing) > 0 {
			r.reportMissing(missing)
			return 1
		}
	case req.Name != nil: // JobName= without JobId=: the jobs of that name
		var ok bool
		if ids, ok = r.jobsNamed(*req.Name, uid, byUID); !ok {
			return 1
		}
	default:
		fmt.Fprintln(r.c.Stderr, "scontrol: error: No job ID specified")
		return 1
	}
	rc := 0
	for _, id := range ids {
		j, err := r.c.Client.Job(r.ctx, id)
		if err != nil {
			r.jobFailed(id, r.jobError(id, err))
			rc = 1
			continue
		}
		// Slurm changes a running job's priority (and nice), not its
		// partition or begin time.
		if (req.Queue != nil || req.BeginAt != nil) && !j.State.Cancellable() {
			r.jobFailed(id, "Job is no longer pending execution")
			rc = 1
			continue
		}
		one := req
		one.ID = id
		if delta != 0 {
			if j.TimeLimit <= 0 {
				r.jobFailed(id, "Job has no time limit to change")
				rc = 1
				continue
			}
			limit := max(j.TimeLimit+delta, 60)
			one.TimeLimit = &limit
		}
		if err := r.c.Client.UpdateJob(r.ctx, one); err != nil {
			r.jobFailed(id, r.jobError(id, err))
			rc = 1
		}
	}
	return rc
}

// jobsNamed finds the ids of the jobs named name (of uid, if byUID), as
// Slurm's scontrol update JobName= does, saying so when there are none.
func (r *scontrolRun) jobsNamed(name string, uid uint32, byUID bool) ([]uint64, bool) {
	jobs, err := r.c.Client.ListJobs(r.ctx, api.ListJobsRequest{Fields: []string{"jobName", "uid"}})
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: Could not load state information: %s\n", safeErr(err))
		return nil, false
	}
	if len(jobs) == 0 {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: JobName %s not found\n", name)
		return nil, false
	}
	var ids []uint64
	for _, j := range jobs {
		if j.Name == name && (!byUID || j.UID == uid) {
			ids = append(ids, j.ID)
		}
	}
	switch {
	case len(ids) > 0:
		return ids, true
	case byUID:
		fmt.Fprintf(r.c.Stderr, "scontrol: error: No jobs with user ID %d and name '%s'\n", uid, name)
	default:
		fmt.Fprintf(r.c.Stderr, "scontrol: error: No jobs with name '%s'\n", name)
	}
	return nil, false
}

// uidFromString reads a user as Slurm's uid_from_string does: a name, or
// the number of a user the host knows.
func uidFromString(s string) (uint32, bool) {
	u, err := user.Lookup(s)
	if err != nil {
		if _, perr := strconv.ParseUint(s, 10, 32); perr != nil {
			return 0, false
		}
		if u, err = user.LookupId(s); err != nil {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(n), err == nil
}

// updateNode drains, downs or resumes nodes (a hostlist).
func (r *scontrolRun) updateNode(list string, parse func() (string, string, string, bool)) int {
	stateText, reason, text, ok := parse()
	if !ok {
		return 1
	}
	var state api.NodeState
	switch strings.ToUpper(stateText) {
	case "DRAIN", "FAIL":
		state = api.NodeDrain
	case "DOWN":
		state = api.NodeDown
	case "RESUME", "UNDRAIN", "IDLE":
		state = api.NodeUp
	case "":
		fmt.Fprintln(r.c.Stderr, "No changes specified")
		return 1
	default:
		fmt.Fprintf(r.c.Stderr, "Invalid input: %s\nRequest aborted\n", text)
		fmt.Fprintln(r.c.Stderr, "Valid states are: NoResp DRAIN FAIL FUTURE RESUME POWER_DOWN POWER_UP UNDRAIN")
		fmt.Fprintln(r.c.Stderr, "Not all states are valid given a node's prior state")
		return 1
	}
	if state != api.NodeUp && strings.TrimSpace(reason) == "" {
		fmt.Fprintln(r.c.Stderr, "You must specify a reason when DOWNING or DRAINING a node. Request denied")
		return 1
	}
	names, err := expandHosts(list)
	if err != nil || len(names) == 0 {
		fmt.Fprintln(r.c.Stderr, "slurm_update error: Invalid node name specified")
		return 1
	}
	rc := 0
	for _, n := range names {
		err := r.c.Client.UpdateNode(r.ctx, api.UpdateNodeRequest{Name: n, State: state, Reason: reason})
		switch {
		case err == nil:
		case api.IsCode(err, api.CodeNotFound):
			fmt.Fprintln(r.c.Stderr, "slurm_update error: Invalid node name specified")
			rc = 1
		case api.IsCode(err, api.CodeForbidden):
			fmt.Fprintln(r.c.Stderr, "slurm_update error: Access/permission denied")
			rc = 1
		default:
			fmt.Fprintf(r.c.Stderr, "slurm_update error: %s\n", safeErr(err))
			rc = 1
		}
	}
	return rc
}
