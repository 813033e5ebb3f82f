package slurm

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// licFake is ctlFake that also answers ListConsumableResources.
type licFake struct {
	*ctlFake
	lics []api.ConsumableResourceSummary
}

func (f *licFake) Call(_ context.Context, path string, _, resp any) error {
	if path != "/v1/listconsumableresources" {
		return fmt.Errorf("licFake: unexpected call %s", path)
	}
	raw, err := json.Marshal(api.AWSListConsumableResourcesResponse{ConsumableResources: f.lics})
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, resp)
}

func TestSbatchLicenses(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want []api.LicenseUse
	}{
		{"-Ldb:1,matlab:2", []api.LicenseUse{{Name: "db", Quantity: 1}, {Name: "matlab", Quantity: 2}}},
		{"--licenses=db", []api.LicenseUse{{Name: "db", Quantity: 1}}},
		{"--licenses=db*3,db:1", []api.LicenseUse{{Name: "db", Quantity: 4}}},
	} {
		f := newCtlFake()
		c, _, stderr := sbTestCtx(f, "/home/alice", sbEnv, "")
		if rc := Sbatch(c, []string{tt.arg, "--wrap", "true"}); rc != 0 {
			t.Fatalf("sbatch %s: exit %d %s", tt.arg, rc, stderr)
		}
		if got := sbLastSubmit(t, f).Licenses; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("sbatch %s asked for %v, want %v", tt.arg, got, tt.want)
		}
	}
	for _, arg := range []string{"-Ldb:x", "-Ldb:0", "-L:2", "-Ldb,,x"} {
		f := newCtlFake()
		c, _, stderr := sbTestCtx(f, "/home/alice", sbEnv, "")
		if rc := Sbatch(c, []string{arg, "--wrap", "true"}); rc != 1 || stderr.String() != "sbatch: error: Batch job submission failed: Invalid license specification\n" {
			t.Errorf("sbatch %s: exit %d %q, want Slurm's refusal", arg, rc, stderr)
		}
	}
	// The controller's refusal (an unknown license) in the same words.
	f := newCtlFake()
	f.submitErr = api.Errorf(api.CodeInvalid, "Invalid license specification: job \"x\" asks for nosuch").WithField("licenses")
	c, _, stderr := sbTestCtx(f, "/home/alice", sbEnv, "")
	if rc := Sbatch(c, []string{"-Lnosuch", "--wrap", "true"}); rc != 1 || stderr.String() != "sbatch: error: Batch job submission failed: Invalid license specification\n" {
		t.Errorf("sbatch -Lnosuch refused by the controller: exit %d %q, want Slurm's words", rc, stderr)
	}
}

func TestScontrolShowLicenses(t *testing.T) {
	f := &licFake{ctlFake: newCtlFake(), lics: []api.ConsumableResourceSummary{
		{Name: "db", Total: 4, InUse: 1, Available: 3, Type: api.Replenishable},
		{Name: "matlab", Total: 2, InUse: 0, Available: 2, Type: api.Replenishable},
	}}
	for _, tt := range []struct {
		args   []string
		rc     int
		stdout string
		stderr string
	}{
		{[]string{"show", "licenses"}, 0, "LicenseName=db\n    Total=4 Used=1 Free=3 Reserved=0 Remote=no\nLicenseName=matlab\n    Total=2 Used=0 Free=2 Reserved=0 Remote=no\n", ""},
		{[]string{"-o", "show", "licenses", "matlab"}, 0, "LicenseName=matlab Total=2 Used=0 Free=2 Reserved=0 Remote=no\n", ""},
		{[]string{"show", "licenses", "nosuch"}, 1, "", "scontrol: error: query \"nosuch\" matched zero licenses.\n"},
	} {
		c, stdout, stderr := sbTestCtx(f.ctlFake, "/", sbEnv, "")
		c.Client = f
		if rc := Scontrol(c, tt.args); rc != tt.rc || stdout.String() != tt.stdout || stderr.String() != tt.stderr {
			t.Errorf("scontrol %v: exit %d\n%q\n%q\nwant exit %d\n%q\n%q", tt.args, rc, stdout, stderr, tt.rc, tt.stdout, tt.stderr)
		}
	}
	f.lics = nil
	c, stdout, _ := sbTestCtx(f.ctlFake, "/", sbEnv, "")
	c.Client = f
	if rc := Scontrol(c, []string{"show", "licenses"}); rc != 0 || stdout.String() != "No licenses configured in Slurm.\n" {
		t.Errorf("scontrol show licenses with none: exit %d %q", rc, stdout)
	}
}
