package daemon

import (
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// MaxRetryPattern is the longest evaluateOnExit pattern AWS Batch takes.
const MaxRetryPattern = 512

// checkRetryStrategy validates an AWS retryStrategy (of a job definition
// or a submit-job override) as AWS Batch does, in its words: attempts 1 to
// 10, at most five evaluateOnExit rules, each with a condition and an
// action RETRY or EXIT (any case), patterns it accepts.
func checkRetryStrategy(rs *api.RetryStrategy) error {
	if rs == nil {
		return nil
	}
	if rs.Attempts == 0 && len(rs.EvaluateOnExit) > 0 {
		return api.Errorf(api.CodeInvalid, "RetryAttempts must be provided with retry strategy.").WithField("retryStrategy.attempts")
	}
	if rs.Attempts < 1 || rs.Attempts > 10 {
		return api.Errorf(api.CodeInvalid, "RetryAttempts must be between 1 and 10.").WithField("retryStrategy.attempts")
	}
	return checkRetryRules(rs.EvaluateOnExit)
}

// checkRetryRules validates evaluateOnExit rules (AWS Batch's checks and
// messages; shoal's own submit uses them too).
func checkRetryRules(rules []api.RetryRule) error {
	if len(rules) > api.MaxRetryRules {
		return api.Errorf(api.CodeInvalid, "EvaluateOnExit can contain at most %d entries, got %d.", api.MaxRetryRules, len(rules)).WithField("retryStrategy.evaluateOnExit")
	}
	for _, r := range rules {
		if r.OnExitCode == "" && r.OnReason == "" && r.OnStatusReason == "" {
			return api.Errorf(api.CodeInvalid, "EvaluateOnExit should contain at least one of onExitCode, onReason or onStatusReason").WithField("retryStrategy.evaluateOnExit")
		}
		if !strings.EqualFold(r.Action, api.RetryActionRetry) && !strings.EqualFold(r.Action, api.RetryActionExit) {
			return api.Errorf(api.CodeInvalid, "EvaluateOnExit action %q is not valid: use RETRY or EXIT.", r.Action).WithField("retryStrategy.evaluateOnExit.action")
		}
		for _, p := range []struct {
			field, value string
			exit         bool
		}{{"onExitCode", r.OnExitCode, true}, {"onReason", r.OnReason, false}, {"onStatusReason", r.OnStatusReason, false}} {
			if len(p.value) > MaxRetryPattern {
				return api.Errorf(api.CodeInvalid, "Evaluate on exit condition cannot exceed %d characters.", MaxRetryPattern).WithField("retryStrategy.evaluateOnExit." + p.field)
			}
			if !retryPatternOK(p.value, p.exit) {
				return api.Errorf(api.CodeInvalid, "Evaluate on exit condition contains restricted characters.").WithField("retryStrategy.evaluateOnExit." + p.field)
			}
		}
	}
	return nil
}

// retryPatternOK reports whether p is a pattern AWS Batch accepts: for an
// exit code digits only, for a reason letters, digits, periods, colons and
// white space; either may end in one *.
func retryPatternOK(p string, exit bool) bool {
	body := strings.TrimSuffix(p, "*")
	for _, c := range body {
		switch {
		case c >= '0' && c <= '9':
		case exit:
			return false
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == ':', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}
