package raftfsm

import (
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// ended is what is known of an attempt when it ends: what the rules of a
// retry strategy are matched against.
type ended struct {
	exitCode     *int
	signal       int
	statusReason string
	reason       string // the container's reason
}

// exitText is the attempt's exit code in decimal as the rules see it: a
// process killed by a signal reads 128+signal (as a container's exit code
// does); "" when there is neither (a lost node).
func (e ended) exitText() string {
	switch {
	case e.exitCode != nil:
		return strconv.Itoa(*e.exitCode)
	case e.signal != 0:
		return strconv.Itoa(128 + e.signal)
	}
	return ""
}

// globMatch applies an AWS evaluateOnExit pattern: exact, or with a
// trailing * a prefix. An empty pattern is no condition.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

// RuleMatches reports whether every condition of r holds for an attempt
// that ended with exit code text exit, container reason and statusReason.
func RuleMatches(r api.RetryRule, exit, statusReason, reason string) bool {
	return globMatch(r.OnExitCode, exit) && globMatch(r.OnStatusReason, statusReason) && globMatch(r.OnReason, reason)
}

// rulesRetry applies a retry strategy's rules to a failed attempt: the
// first rule that matches decides; none matching means retry (AWS Batch).
func rulesRetry(rules []api.RetryRule, e ended) bool {
	exit := e.exitText()
	for _, r := range rules {
		if RuleMatches(r, exit, e.statusReason, e.reason) {
			return !strings.EqualFold(r.Action, api.RetryActionExit)
		}
	}
	return true
}

// retries decides whether j's failed attempt e runs again: never for an
// attempt stopped on request. After a node failure (nodeFail) a job
// submitted with --no-requeue ends NODE_FAIL, and one without a retry
// strategy (not from a job definition, no attempts) is requeued as Slurm
// requeues batch jobs (JobRequeue=1), up to MaxNodeFailRequeues times.
// Otherwise (AWS Batch jobs, and any with --retry) it runs again while
// attempts are left and its retry rules allow.
func retries(j *api.Job, e ended, nodeFail bool) bool {
	switch {
	case j.StopRequested:
		return false
	case nodeFail && j.NoRequeue:
		return false
	case nodeFail && j.JobDefinition == "" && j.RetryAttempts == 0:
		return j.Attempt <= MaxNodeFailRequeues
	case j.Attempt >= j.RetryAttempts:
		return false
	}
	return rulesRetry(j.RetryRules, e)
}

// keepAttempts returns attempts without the oldest beyond
// api.MaxJobAttempts: a job that runs again and again (a requeue loop)
// keeps its last ones, while its Attempt goes on counting them all. A
// trimmed list is a fresh slice (the stored job's may be shared with
// readers); one within the bound is returned as it is.
func keepAttempts(attempts []api.Attempt) []api.Attempt {
	if len(attempts) <= api.MaxJobAttempts {
		return attempts
	}
	return append([]api.Attempt(nil), attempts[len(attempts)-api.MaxJobAttempts:]...)
}
