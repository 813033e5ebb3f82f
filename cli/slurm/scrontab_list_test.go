package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// crontabServer answers scrontab -l with a crontab's text (it is called
// for nothing else).
type crontabServer struct {
	Controller
	text string
}

func (s crontabServer) Call(_ context.Context, _ string, _, resp any) error {
	raw, _ := json.Marshal(api.Crontab{User: "alice", Text: s.text})
	return json.Unmarshal(raw, resp)
}

// TestScrontabListIsSafe: -l prints a crontab as installed, tabs and
// all, but a control character in it (one a controller took before it
// refused them) is shown escaped, not sent to the terminal.
func TestScrontabListIsSafe(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"# mine\n0 3 * * *\techo hi\n", "# mine\n0 3 * * *\techo hi\n"},
		{"# \x1b]0;owned\x07\n0 3 * * * true\r\n", "# \\x1b]0;owned\\x07\n0 3 * * * true\\r\n"},
	} {
		var out, errs bytes.Buffer
		c := &Ctx{Client: crontabServer{text: tc.text}, Stdout: &out, Stderr: &errs}
		if code := Scrontab(c, []string{"-l"}); code != 0 || out.String() != tc.want {
			t.Errorf("scrontab -l of %q: exit %d, printed %q (%s), want %q", tc.text, code, out.String(), errs.String(), tc.want)
		}
	}
}
