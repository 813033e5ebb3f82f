package cli

import (
	"strconv"
	"strings"
)

// retryExitCode checks the CODE of --retry-on's exit:CODE (digits, with an
// optional trailing *): a job's exit code is 0 to 255 (128+N after signal
// N), written without leading zeros, so CODE must be one, or with a * the
// beginning of one; any other could never match and the job would not be
// retried.
func retryExitCode(item, code string) error {
	prefix, glob := strings.CutSuffix(code, "*")
	for n := 0; n <= 255; n++ {
		if s := strconv.Itoa(n); s == prefix || glob && strings.HasPrefix(s, prefix) {
			return nil
		}
	}
	if glob {
		return usagef("--retry-on %s: no exit code begins with %s: exit codes are 0 to 255 (128+N after signal N)", item, prefix)
	}
	return usagef("--retry-on %s: %s is not an exit code: exit codes are 0 to 255 (128+N after signal N), without leading zeros", item, code)
}
