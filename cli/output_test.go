package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// shoal queue and shoal nodes print through table; describe and --output
// json through printJSON. A hostile job name stays in its cell and no
// control character reaches the terminal.
func TestTableEscapesHostileCells(t *testing.T) {
	for _, name := range []string{"x\nFAKE bob RUNNING", "a\tb", "\x1b]0;owned\x07", "csi\u009b2J", "del\x7f", "bad\xff"} {
		var out bytes.Buffer
		tb := newTable(&out, "ID", "NAME", "USER")
		tb.row(7, name, "alice")
		if err := tb.flush(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "7 ") || !strings.HasSuffix(lines[1], "alice") {
			t.Errorf("table with name %q printed %q; want a header and one row for job 7", name, out.String())
		}
		for _, r := range out.String() {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xfffd {
				t.Errorf("table with name %q holds %U; want it escaped: %q", name, r, out.String())
			}
		}
	}
}

func TestPrintJSONEscapesAndKeepsValues(t *testing.T) {
	j := api.Job{ID: 7, JobSpec: api.JobSpec{Name: "csi\u009b2J\x7f\nx", Script: "#!/bin/sh\necho \x1b[31m\n"}}
	var out bytes.Buffer
	if err := printJSON(&out, j); err != nil {
		t.Fatal(err)
	}
	for _, r := range out.String() {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Errorf("describe output holds %U; want it escaped: %s", r, out.String())
		}
	}
	var back api.Job
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("printJSON output does not decode: %v", err)
	}
	if back.Name != j.Name || back.Script != j.Script {
		t.Errorf("decoded name %q script %q; want %q and %q", back.Name, back.Script, j.Name, j.Script)
	}
}
