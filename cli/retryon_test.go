package cli

import (
	"strings"
	"testing"
)

// --retry-on's exit:CODE takes exit codes 0 to 255 (and prefixes of them
// with *), and refuses any other, which could never match a job's exit:
// the huge number a reviewer gave was accepted and never retried.
func TestRetryOnExitCodeRange(t *testing.T) {
	for _, ok := range []string{"exit:0", "exit:3", "exit:255", "exit:137", "exit:1*", "exit:25*", "exit:*", "exit:3,oom"} {
		if _, err := RetryOnRules(ok); err != nil {
			t.Errorf("RetryOnRules(%q): %v, want it taken", ok, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"exit:99999999999", "99999999999 is not an exit code: exit codes are 0 to 255"},
		{"exit:256", "256 is not an exit code"},
		{"exit:1000", "1000 is not an exit code"},
		{"exit:007", "007 is not an exit code"},
		{"oom,exit:300", "300 is not an exit code"},
		{"exit:26*", ""}, // 26 itself: taken
		{"exit:30*", ""},
		{"exit:300*", "no exit code begins with 300"},
		{"exit:1234*", "no exit code begins with 1234"},
	} {
		_, err := RetryOnRules(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("RetryOnRules(%q): %v, want it taken", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("RetryOnRules(%q): %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}
