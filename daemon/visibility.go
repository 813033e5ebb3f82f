package daemon

import (
	"context"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// What a caller may see of a job, decided here for every read path (the
// native list and wait, AWS describe-jobs and list-jobs, logs):
//
//   - its owner and operators see all of it;
//   - other users see its public fields (id, name, user, state, queue,
//     times, resources, node, exit code, array, dependencies, and the kind
//     of its reasons), as Slurm shows them, and Redacted set: never its
//     command, script, environment, working directory, output paths,
//     parameters, mounts or the details of its reasons (a failed start's
//     quotes its paths);
//   - with Config.PrivateJobs (Slurm's PrivateData=jobs) other users do not
//     see it at all: it is left out of lists and is "not found" by id.

// ownsOrOperates reports whether who may see all of j and read its logs:
// its owner, an operator, or uid 0 (root however it is known; the
// controller's own loops act as caller{known: true}, uid 0).
func ownsOrOperates(who caller, j *api.Job) bool {
	return who.operator || (who.known && (who.uid == 0 || who.uid == j.UID))
}

// visible reports whether who may see j at all.
func (c *Controller) visible(who caller, j *api.Job) bool {
	return !c.cfg.PrivateJobs || ownsOrOperates(who, j)
}

// visibleTo finds in src only the jobs who may see: with PrivateJobs,
// another user's job is as if it did not exist, so that a dependency on
// it (its existence, its state, how it ends) tells who nothing.
func (c *Controller) visibleTo(who caller, src jobSource) jobSource {
	if !c.cfg.PrivateJobs {
		return src
	}
	return visibleSource{src, who, c}
}

type visibleSource struct {
	src jobSource
	who caller
	c   *Controller
}

func (v visibleSource) Job(id uint64) *api.Job {
	if j := v.src.Job(id); j != nil && v.c.visible(v.who, j) {
		return j
	}
	return nil
}

// jobFor returns j as who may see it, and false if who may not see it at
// all. The copy is who's to change; the stored job is never touched.
func (c *Controller) jobFor(who caller, j *api.Job) (api.Job, bool) {
	if !c.visible(who, j) {
		return api.Job{}, false
	}
	out := *j
	if !ownsOrOperates(who, j) {
		redact(&out)
	}
	return out, true
}

// redact clears the fields of j only its owner and operators may see.
// Reasons keep their kind alone ("CannotStartContainerError"): what
// follows may quote the job's paths, program or mounts.
func redact(j *api.Job) {
	j.Command, j.Script, j.Env = nil, "", nil
	j.Dir, j.Stdout, j.Stderr, j.Stdin = "", "", "", ""
	j.Parameters, j.Mounts = nil, nil
	j.StatusReason, j.StopReason = reasonKind(j.StatusReason), reasonKind(j.StopReason)
	if len(j.Attempts) > 0 {
		attempts := make([]api.Attempt, len(j.Attempts)) // the stored job's are shared
		for i, a := range j.Attempts {
			a.StatusReason, a.Reason = reasonKind(a.StatusReason), reasonKind(a.Reason)
			attempts[i] = a
		}
		j.Attempts = attempts
	}
	j.Redacted = true
}

// reasonKind is a reason up to its first ": ", where shoal's reasons end
// their kind and begin the details, and at most MaxTextBytes of it (a
// stop reason stored before they were bounded could be megabytes).
func reasonKind(reason string) string {
	kind, _, _ := strings.Cut(reason, ": ")
	return cutUTF8(kind, MaxTextBytes)
}

// errNoJob is the answer for a job that does not exist, or that who may
// not see (the same words: a hidden job's existence is not confirmed).
func errNoJob(id uint64) *api.Error {
	return api.Errorf(api.CodeNotFound, "job %d does not exist", id)
}

// checkJobCommand refuses, before anything is proposed, a job command
// that the FSM would refuse now (raftfsm.FSM.Check: not the job's owner,
// no such job, a state that does not allow it) and, with PrivateJobs, one
// that names a job who may not see (as if it did not exist).
func (c *Controller) checkJobCommand(who caller, ids []uint64, op raftfsm.Op, cmd any) error {
	if c.cfg.PrivateJobs {
		state := c.fsm.State()
		for _, id := range ids {
			if j := state.Job(id); j != nil && !c.visible(who, j) {
				return errNoJob(id)
			}
		}
	}
	if res := c.fsm.Check(op, cmd); res.Err != nil {
		return res.Err
	}
	return nil
}

// propose commits a user's job command that checkJobCommand lets through:
// a refused one never becomes a raft log entry. The FSM checks again when
// it applies (the state may have moved in between).
func (c *Controller) propose(ctx context.Context, who caller, ids []uint64, op raftfsm.Op, cmd any) (raftfsm.Result, error) {
	if err := c.checkJobCommand(who, ids, op, cmd); err != nil {
		return raftfsm.Result{}, err
	}
	return c.applier.Apply(ctx, op, cmd)
}

// PrivateData parses Slurm's PrivateData list (the agent's -private-data
// flag): "jobs" hides other users' jobs from everyone but root and the
// controller's own user. It returns the Config.PrivateJobs setting.
func PrivateData(list string) (privateJobs bool, err error) {
	for _, item := range strings.Split(list, ",") {
		switch strings.ToLower(strings.TrimSpace(item)) {
		case "":
		case "jobs":
			privateJobs = true
		default:
			return false, api.Errorf(api.CodeInvalid, "private data %q: shoal can hide jobs (give -private-data jobs); other users' environments, scripts and paths are always hidden", item)
		}
	}
	return privateJobs, nil
}
