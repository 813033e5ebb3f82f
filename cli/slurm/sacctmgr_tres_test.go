package slurm

import (
	"strings"
	"testing"
)

// TestAcctTRES: sacctmgr takes a TRES limit the controller can read and
// enforce (mem=1024MB is 1024 MiB, as in Slurm), and refuses, naming it,
// one it could not.
func TestAcctTRES(t *testing.T) {
	for in, want := range map[string]string{
		"cpu=1,mem=1024MB":    "cpu=1,mem=1024mb",
		"cpu=4,mem=8G,node=1": "cpu=4,mem=8g,node=1",
		"-1":                  "",
	} {
		got, err := acctTRES(acctOpt{key: "maxtres", raw: "maxtres", val: in})
		if err != nil || got != want {
			t.Errorf("maxtres=%s: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"cpu=1,mem=1.5G", "cpu=x", "mem=1GiB", "license/a=1"} {
		if got, err := acctTRES(acctOpt{key: "maxtres", raw: "maxtres", val: in}); err == nil || !strings.Contains(err.Error(), "maxtres="+in) {
			t.Errorf("maxtres=%s: %q, %v; want it refused, naming it", in, got, err)
		}
	}
}
