package slurm

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestGetopt(t *testing.T) {
	opts := []Option{
		{Long: "job-name", Short: 'J', Arg: RequiredArg},
		{Long: "hold", Short: 'H', Arg: NoArg},
		{Long: "nice", Arg: OptionalArg},
		{Long: "no-kill", Short: 'k', Arg: OptionalArg},
		{Long: "nodes", Short: 'N', Arg: RequiredArg},
		{Long: "name", Arg: RequiredArg, Key: "job-name"}, // an alias
		{Long: "jobname", Arg: RequiredArg, Key: "job-name"},
	}
	type want struct {
		opts     []string // key=value, or key for no value
		operands []string
		err      string
	}
	show := func(os []Opt) []string {
		var out []string
		for _, o := range os {
			if o.HasValue {
				out = append(out, o.Key+"="+o.Value)
			} else {
				out = append(out, o.Key)
			}
		}
		return out
	}
	for _, tc := range []struct {
		args    string
		inOrder bool
		want    want
	}{
		{"-J x", true, want{opts: []string{"job-name=x"}}},
		{"-Jx", true, want{opts: []string{"job-name=x"}}},
		{"--job-name=x", true, want{opts: []string{"job-name=x"}}},
		{"--job-name x", true, want{opts: []string{"job-name=x"}}},
		{"--job-name=", true, want{opts: []string{"job-name="}}},
		{"--job-name -H", true, want{opts: []string{"job-name=-H"}}}, // a required value is taken as is
		{"-HJx", true, want{opts: []string{"hold", "job-name=x"}}},
		{"-HJ x y", true, want{opts: []string{"hold", "job-name=x"}, operands: []string{"y"}}},
		{"--job=x", true, want{opts: []string{"job-name=x"}}}, // unique prefix
		{"--nam=x", true, want{opts: []string{"job-name=x"}}}, // exact-key aliases are not ambiguous
		{"--nice", true, want{opts: []string{"nice"}}},
		{"--nice=5", true, want{opts: []string{"nice=5"}}},
		{"--nice 5", true, want{opts: []string{"nice"}, operands: []string{"5"}}}, // optional values attach
		{"-k", true, want{opts: []string{"no-kill"}}},
		{"-koff", true, want{opts: []string{"no-kill=off"}}},
		{"script.sh -H", true, want{operands: []string{"script.sh", "-H"}}},
		{"script.sh -H", false, want{opts: []string{"hold"}, operands: []string{"script.sh"}}},
		{"-- -H", false, want{operands: []string{"-H"}}},
		{"-H -- -J x", true, want{opts: []string{"hold"}, operands: []string{"-J", "x"}}},
		{"- -H", false, want{opts: []string{"hold"}, operands: []string{"-"}}},
		{"--foo", true, want{err: "unrecognized option '--foo'"}},
		{"--foo=bar", true, want{err: "unrecognized option '--foo=bar'"}},
		{"-Z", true, want{err: "invalid option -- 'Z'"}},
		{"-HZ", true, want{err: "invalid option -- 'Z'"}},
		{"--job-name", true, want{err: "option '--job-name' requires an argument"}},
		{"--job", true, want{err: "option '--job-name' requires an argument"}},
		{"-J", true, want{err: "option requires an argument -- 'J'"}},
		{"--hold=1", true, want{err: "option '--hold' doesn't allow an argument"}},
		{"--no", true, want{err: "option '--no' is ambiguous; possibilities: '--no-kill' '--nodes'"}},
		{"--", true, want{}},
	} {
		g := &Getopt{Prog: "t", Options: opts, InOrder: tc.inOrder}
		got, operands, err := g.Parse(strings.Fields(tc.args))
		var gotErr string
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tc.want.err || !reflect.DeepEqual(show(got), tc.want.opts) || !reflect.DeepEqual(operands, tc.want.operands) {
			t.Errorf("Parse(%q, inOrder %v) = %q %q %q; want %q %q %q", tc.args, tc.inOrder,
				show(got), operands, gotErr, tc.want.opts, tc.want.operands, tc.want.err)
		}
	}
}

// TestOptionTables checks every command's table: no long name or short
// letter twice, and every key handled.
func TestOptionTables(t *testing.T) {
	for name, table := range map[string][]Option{
		"sbatch": slices.Concat(jobOptions, sbatchOnlyOptions), "srun": slices.Concat(jobOptions, srunOnlyOptions),
		"scancel": scancelOptions, "sacctmgr": sacctmgrOptions,
	} {
		longs, shorts := map[string]bool{}, map[byte]bool{}
		for _, o := range table {
			if o.Long != "" && longs[o.Long] {
				t.Errorf("%s: --%s twice", name, o.Long)
			}
			if o.Short != 0 && shorts[o.Short] {
				t.Errorf("%s: -%c twice", name, o.Short)
			}
			longs[o.Long], shorts[o.Short] = true, true
		}
	}
	// Every sbatch and srun option reaches a handler (no "internal error").
	for _, g := range []*Getopt{sbatchGetopt, srunGetopt} {
		for o := range g.all() {
			if strings.HasPrefix(o.key(), "srun-") {
				continue
			}
			opt := Opt{Key: o.key(), Name: "--" + o.Long, Value: "1", HasValue: o.Arg != NoArg}
			err := (&jobOpts{}).apply(opt, levelCLI)
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Errorf("--%s: %v", o.Long, err)
			}
		}
	}
}
