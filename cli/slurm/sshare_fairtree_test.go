package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// sharesFake answers sshare's call with fixed rows.
type sharesFake struct {
	*ctlFake
	resp api.SharesResponse
}

func (f *sharesFake) Call(_ context.Context, path string, _, resp any) error {
	b, err := json.Marshal(f.resp) // through JSON, as over the wire
	if err != nil {
		return err
	}
	return json.Unmarshal(b, resp)
}

func lfs(v float64) *float64 { return &v }

// test244Rows are rows of Slurm 22.05's fair-tree test (testsuite/expect/
// test24.4) with the figures its expected output has.
func test244Rows() []api.ShareRow {
	inf := math.MaxFloat64
	return []api.ShareRow{
		{Account: "root", RawShares: -1, NormShares: 0, RawUsage: 240, EffectvUsage: 1},
		{Account: "root", User: "u1", Parent: "root", Depth: 1, RawShares: 10, NormShares: 0.048077, EffectvUsage: 0, FairShare: 1, LevelFS: lfs(inf)},
		{Account: "root", User: "u2", Parent: "root", Depth: 1, RawShares: 10, NormShares: 0.048077, RawUsage: 10, NormUsage: 0.041667, EffectvUsage: 0.041667, FairShare: 0.666667, LevelFS: lfs(1.153846)},
		{Account: "aA", Parent: "root", Depth: 1, RawShares: 40, NormShares: 0.192308, RawUsage: 45, NormUsage: 0.1875, EffectvUsage: 0.1875, LevelFS: lfs(1.025641)},
		{Account: "aAA", Parent: "aA", Depth: 2, RawShares: 30, NormShares: 0.75, RawUsage: 20, NormUsage: 0.083333, EffectvUsage: 0.444444, LevelFS: lfs(1.6875)},
		{Account: "aAA", User: "uAA1", Parent: "aAA", Depth: 3, RawShares: 1, NormShares: 1, RawUsage: 20, NormUsage: 0.083333, EffectvUsage: 1, FairShare: 0.619048, LevelFS: lfs(1)},
		{Account: "aC", Parent: "root", Depth: 1, RawShares: 0, NormShares: 0, RawUsage: 30, NormUsage: 0.125, EffectvUsage: 0.125, LevelFS: lfs(0)},
		{Account: "aC", User: "uC1", Parent: "aC", Depth: 2, RawShares: 0, NormShares: 0, RawUsage: 30, NormUsage: 0.125, EffectvUsage: 1, FairShare: 0.047619, LevelFS: lfs(0)},
	}
}

// TestSshareFairTree: under fair tree sshare prints what Slurm 22.05's
// does: test24.4's expected lines (up to the TRES columns, which shoal
// leaves blank) in parsable output; -l adds LevelFS ("inf" for no
// usage); accounts have no FairShare and root no NormUsage; a Level FS
// too wide for its column is printed as Slurm's %e.
func TestSshareFairTree(t *testing.T) {
	f := &sharesFake{ctlFake: newCtlFake(), resp: api.SharesResponse{FairTree: true, Rows: test244Rows()}}
	sshare := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		c := &Ctx{Client: f, Stdout: &out, Stderr: &errs, Stdin: strings.NewReader(""), User: "root"}
		if rc := Sshare(c, args); rc != 0 || errs.Len() > 0 {
			t.Fatalf("sshare %v: exit %d, stderr %q", args, rc, errs.String())
		}
		return out.String()
	}
	got := sshare("-a", "-n", "-p", "-o", "Account,User,RawShares,NormShares,RawUsage,NormUsage,EffectvUsage,FairShare,LevelFS")
	// Slurm's lines, less their GrpTRESMins and TRESRunMins fields.
	for i, line := range []string{
		"root|||0.000000|240||1.000000|||",
		"root|u1|10|0.048077|0|0.000000|0.000000|1.000000|inf|",
		"root|u2|10|0.048077|10|0.041667|0.041667|0.666667|1.153846|",
		"aA||40|0.192308|45|0.187500|0.187500||1.025641|",
		"aAA||30|0.750000|20|0.083333|0.444444||1.687500|",
		"aAA|uAA1|1|1.000000|20|0.083333|1.000000|0.619048|1.000000|",
		"aC||0|0.000000|30|0.125000|0.125000||0.000000|",
		"aC|uC1|0|0.000000|30|0.125000|1.000000|0.047619|0.000000|",
	} {
		lines := strings.Split(got, "\n")
		if i >= len(lines) || strings.TrimLeft(lines[i], " ") != line {
			t.Errorf("sshare -p line %d:\n%q\nwant (after the tree's indentation)\n%q\nall:\n%s", i, lines[min(i, len(lines)-1)], line, got)
		}
	}

	f.resp.Rows = f.resp.Rows[:4]
	f.resp.Rows[3].LevelFS = lfs(500000)
	want := `Account                    User  RawShares  NormShares    RawUsage   NormUsage  EffectvUsage  FairShare    LevelFS                    GrpTRESMins                    TRESRunMins 
-------------------- ---------- ---------- ----------- ----------- ----------- ------------- ---------- ---------- ------------------------------ ------------------------------ 
root                                          0.000000         240                  1.000000                                                                                     
 root                        u1         10    0.048077           0    0.000000      0.000000   1.000000        inf                                                               
 root                        u2         10    0.048077          10    0.041667      0.041667   0.666667   1.153846                                                               
 aA                                     40    0.192308          45    0.187500      0.187500            5.0000e+05                                                               
`
	if got := sshare("-a", "-l"); got != want {
		t.Errorf("sshare -a -l:\n%s\nwant\n%s", got, want)
	}
	// Classic: no LevelFS column, every row's FairShare.
	f.resp.FairTree = false
	if got := sshare("-a", "-l", "-n", "-P"); !strings.HasPrefix(got, "root|||0.000000|240|0.000000|1.000000|0.000000||\n") {
		t.Errorf("sshare -l under classic: %q, want root's FairShare and NormUsage, no LevelFS", got)
	}
}
