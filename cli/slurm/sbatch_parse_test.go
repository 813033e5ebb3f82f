package slurm

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

func TestParseTimeLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		secs int64
		bad  bool
	}{
		{in: "30", secs: 30 * 60},
		{in: "0", secs: 0},
		{in: "1:30", secs: 2 * 60}, // MM:SS, rounded up to whole minutes
		{in: "5:00", secs: 5 * 60},
		{in: "1:00:00", secs: 3600},
		{in: "01:02:03", secs: 3600 + 2*60 + 60},
		{in: "2-3", secs: 2*86400 + 3*3600},
		{in: "2-3:04", secs: 2*86400 + 3*3600 + 4*60},
		{in: "1-00:00:00", secs: 86400},
		{in: "0-0:0:59", secs: 60},
		{in: "UNLIMITED"}, {in: "unlimited"}, {in: "INFINITE"}, {in: "infinite"}, {in: "-1"},
		{in: "", bad: true},
		{in: "abc", bad: true},
		{in: "1-2:3:4:5", bad: true},
		{in: "1:2:3:4", bad: true},
		{in: "-5", bad: true},
		{in: "1-", bad: true},
		{in: "-1-2", bad: true},
		{in: "1h", bad: true},
		{in: "1::2", bad: true},
		{in: "+5", bad: true},
	} {
		secs, err := parseTimeLimit(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && secs != tc.secs) {
			t.Errorf("parseTimeLimit(%q) = %d, %v; want %d (bad %v)", tc.in, secs, err, tc.secs, tc.bad)
		}
	}
}

func TestParseArray(t *testing.T) {
	for _, tc := range []struct {
		in      string
		indexes []int
		max     int
		bad     bool
	}{
		{in: "0-3", indexes: []int{0, 1, 2, 3}},
		{in: "1,3,5", indexes: []int{1, 3, 5}},
		{in: "0-9%2", indexes: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, max: 2},
		{in: "1-9:2", indexes: []int{1, 3, 5, 7, 9}},
		{in: "1-10:4,0", indexes: []int{0, 1, 5, 9}},
		{in: "7", indexes: []int{7}},
		{in: "3,1,3,2-3", indexes: []int{1, 2, 3}},
		{in: "0-1%0", indexes: []int{0, 1}},
		{in: "", bad: true},
		{in: "abc", bad: true},
		{in: "5-1", bad: true},
		{in: "-1", bad: true},
		{in: "1-3:0", bad: true},
		{in: "1:2", bad: true},
		{in: "1-3%x", bad: true},
		{in: "1,,2", bad: true},
		{in: "0-99999999", bad: true},
	} {
		idx, max, err := parseArray(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (!reflect.DeepEqual(idx, tc.indexes) || max != tc.max)) {
			t.Errorf("parseArray(%q) = %v %d %v; want %v %d (bad %v)", tc.in, idx, max, err, tc.indexes, tc.max, tc.bad)
		}
	}
}

func TestParseDependency(t *testing.T) {
	dep := func(typ api.DependencyType, id uint64) depItem { return depItem{typ, depRef{JobID: id}} }
	task := func(typ api.DependencyType, id uint64, i int) depItem {
		return depItem{typ, depRef{JobID: id, Task: i, HasTask: true}}
	}
	for _, tc := range []struct {
		in   string
		want depSpec
		bad  bool
	}{
		{in: "afterok:5", want: depSpec{Deps: []depItem{dep(api.AfterOK, 5)}}},
		{in: "afterok:5:6", want: depSpec{Deps: []depItem{dep(api.AfterOK, 5), dep(api.AfterOK, 6)}}},
		{in: "afterok:20:21,afterany:23", want: depSpec{Deps: []depItem{dep(api.AfterOK, 20), dep(api.AfterOK, 21), dep(api.AfterAny, 23)}}},
		{in: "afterok:20?afterany:23", want: depSpec{Any: true, Deps: []depItem{dep(api.AfterOK, 20), dep(api.AfterAny, 23)}}},
		{in: "afternotok:7", want: depSpec{Deps: []depItem{dep(api.AfterNotOK, 7)}}},
		{in: "after:7", want: depSpec{Deps: []depItem{dep(api.After, 7)}}},
		{in: "after:7+0", want: depSpec{Deps: []depItem{dep(api.After, 7)}}},
		{in: "AFTEROK:7", want: depSpec{Deps: []depItem{dep(api.AfterOK, 7)}}},
		{in: "singleton", want: depSpec{Deps: []depItem{{Type: api.Singleton}}}},
		{in: "singleton,afterok:3", want: depSpec{Deps: []depItem{{Type: api.Singleton}, dep(api.AfterOK, 3)}}},
		{in: "12", want: depSpec{Deps: []depItem{dep(api.AfterAny, 12)}}},
		{in: "12:13", want: depSpec{Deps: []depItem{dep(api.AfterAny, 12), dep(api.AfterAny, 13)}}},
		{in: "afterok:10_3", want: depSpec{Deps: []depItem{task(api.AfterOK, 10, 3)}}},
		{in: "aftercorr:10", want: depSpec{Deps: []depItem{dep(api.AfterCorr, 10)}}},
		{in: "", want: depSpec{}},
		{in: "afterok", bad: true},
		{in: "afterok:", bad: true},
		{in: "afterok:x", bad: true},
		{in: "afterok:0", bad: true},
		{in: "bogus:5", bad: true},
		{in: "afterok:5,afterany:6?after:7", bad: true},
		{in: "singleton:5", bad: true},
		{in: "after:7+10", bad: true},
		{in: "afterok:7+0", bad: true},
		{in: "afterok:10_x", bad: true},
	} {
		got, err := parseDependency(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseDependency(%q) = %+v, %v; want %+v (bad %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestShellUnquote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"'a b'":            "a b",
		`"a b"`:            "a b",
		`'it'"'"'s'`:       "it's", // shlex.quote("it's")
		`a\ b`:             "a b",
		`"say \"hi\" \$x"`: `say "hi" $x`,
		`"back\slash"`:     `back\slash`,
		"x'y'z":            "xyz",
		"'unterminated":    "'unterminated",
		`"unterminated`:    `"unterminated`,
		"''":               "",
		"/a/b:/c'd e'":     "/a/b:/cd e",
		`'$HOME'`:          "$HOME",
	} {
		if got := shellUnquote(in); got != want {
			t.Errorf("shellUnquote(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestExportEnv(t *testing.T) {
	env := []string{"HOME=/h", "PATH=/bin", "SLURM_CONF=/etc/s", "EDITOR=vi", "PATH=/usr/bin"}
	for _, tc := range []struct {
		spec string
		want map[string]string
	}{
		{"", map[string]string{"HOME": "/h", "PATH": "/usr/bin", "SLURM_CONF": "/etc/s", "EDITOR": "vi"}},
		{"ALL", map[string]string{"HOME": "/h", "PATH": "/usr/bin", "SLURM_CONF": "/etc/s", "EDITOR": "vi"}},
		{"NONE", map[string]string{"SLURM_CONF": "/etc/s"}},
		{"none", map[string]string{"SLURM_CONF": "/etc/s"}},
		{"EDITOR,A=1", map[string]string{"SLURM_CONF": "/etc/s", "EDITOR": "vi", "A": "1"}},
		{"EDITOR,MISSING", map[string]string{"SLURM_CONF": "/etc/s", "EDITOR": "vi"}},
		{"ALL,EDITOR=emacs", map[string]string{"HOME": "/h", "PATH": "/usr/bin", "SLURM_CONF": "/etc/s", "EDITOR": "emacs"}},
		{"ALL,OMP_NUM_THREADS=1,X='a,b c'", map[string]string{"HOME": "/h", "PATH": "/usr/bin", "SLURM_CONF": "/etc/s",
			"EDITOR": "vi", "OMP_NUM_THREADS": "1", "X": "a,b c"}},
		{"A=x=y", map[string]string{"SLURM_CONF": "/etc/s", "A": "x=y"}},
		{"NONE,A=1", map[string]string{"SLURM_CONF": "/etc/s", "A": "1"}},
	} {
		if got := exportEnv(tc.spec, env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("exportEnv(%q) = %v; want %v", tc.spec, got, tc.want)
		}
	}
}

func TestParseBegin(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, loc)
	at := func(d, h, m, s int) time.Time { return time.Date(2026, 11, d, h, m, s, 0, loc) }
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "now", want: now},
		{in: "now+60", want: now.Add(time.Minute)},
		{in: "now+5minutes", want: now.Add(5 * time.Minute)},
		{in: "now+1hour", want: now.Add(time.Hour)},
		{in: "now+2days", want: now.Add(48 * time.Hour)},
		{in: "now+1week", want: now.Add(7 * 24 * time.Hour)},
		{in: "now+30s", want: now.Add(30 * time.Second)},
		{in: "16:00", want: at(24, 16, 0, 0)},
		{in: "16:00:30", want: at(24, 16, 0, 30)},
		{in: "09:00", want: at(25, 9, 0, 0)}, // past today: tomorrow
		{in: "today", want: at(24, 0, 0, 0)},
		{in: "tomorrow", want: at(25, 0, 0, 0)},
		{in: "midnight", want: at(25, 0, 0, 0)},
		{in: "noon", want: at(24, 12, 0, 0)},
		{in: "teatime", want: at(24, 16, 0, 0)},
		{in: "2026-12-01", want: time.Date(2026, 12, 1, 0, 0, 0, 0, loc)},
		{in: "2026-12-01T08:15", want: time.Date(2026, 12, 1, 8, 15, 0, 0, loc)},
		{in: "2026-12-01T08:15:09", want: time.Date(2026, 12, 1, 8, 15, 9, 0, loc)},
		{in: "12/01", want: time.Date(2026, 12, 1, 0, 0, 0, 0, loc)},
		{in: "01/05", want: time.Date(2027, 1, 5, 0, 0, 0, 0, loc)},
		{in: "12/01/27", want: time.Date(2027, 12, 1, 0, 0, 0, 0, loc)},
		{in: "xyz", bad: true},
		{in: "now+5parsecs", bad: true},
		{in: "25:00", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseBegin(tc.in, now)
		if (err != nil) != tc.bad || (!tc.bad && !got.Equal(tc.want)) {
			t.Errorf("parseBegin(%q) = %v, %v; want %v (bad %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in  string
		mib int64
		bad bool
	}{
		{in: "512", mib: 512}, {in: "512M", mib: 512}, {in: "2G", mib: 2048}, {in: "4g", mib: 4096},
		{in: "16GB", mib: 16384}, {in: "1T", mib: 1 << 20}, {in: "1024K", mib: 1}, {in: "1K", mib: 1},
		{in: "0", mib: 0},
		{in: "", bad: true}, {in: "x", bad: true}, {in: "1.5G", bad: true}, {in: "-1", bad: true}, {in: "12Q", bad: true},
		{in: "2B", bad: true}, // Slurm refuses a B without a unit (it took 2 MiB here before)
	} {
		mib, err := ParseMemoryMiB(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && mib != tc.mib) {
			t.Errorf("ParseMemoryMiB(%q) = %d, %v; want %d (bad %v)", tc.in, mib, err, tc.mib, tc.bad)
		}
	}
}

func TestParseGres(t *testing.T) {
	for _, tc := range []struct {
		in    string
		gpus  int
		typed api.GPUCounts
		bad   bool
	}{
		{in: "gpu", gpus: 1}, {in: "gpu:2", gpus: 2}, {in: "gpu:a100:4", gpus: 4, typed: "a100:4"},
		{in: "gpu:a100", gpus: 1, typed: "a100:1"}, {in: "gpu:H200:1", gpus: 1, typed: "h200:1"},
		{in: "none"}, {in: "gpu:1,gpu:a100:2", gpus: 3, typed: "a100:2"},
		{in: "gpu:a100:1,gpu:h200:2", gpus: 3, typed: "a100:1,h200:2"},
		{in: "gpu:1g.18gb:2", gpus: 2, typed: "1g.18gb:2"},
		{in: "tmp:10", bad: true}, {in: "gpu:a:b", bad: true}, {in: "gpu:1:2:3", bad: true}, {in: "gpu:a/b:1", bad: true},
	} {
		n, typed, err := parseGres(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (n != tc.gpus || typed != tc.typed)) {
			t.Errorf("parseGres(%q) = %d, %q, %v; want %d, %q (bad %v)", tc.in, n, typed, err, tc.gpus, tc.typed, tc.bad)
		}
	}
}

func TestParseGPUSpec(t *testing.T) {
	for _, tc := range []struct {
		in  string
		n   int
		typ string
		bad bool
	}{
		{in: "2", n: 2}, {in: "h200:1", n: 1, typ: "h200"}, {in: "A100:4", n: 4, typ: "a100"},
		{in: "gpu:h200:1", n: 1, typ: "h200"}, {in: "gpu:3", n: 3}, {in: "1g.18gb:1", n: 1, typ: "1g.18gb"},
		{in: "x", bad: true}, {in: "h200:", bad: true}, {in: "h 200:1", bad: true}, {in: "-1", bad: true},
	} {
		n, typ, err := parseGPUSpec(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (n != tc.n || typ != tc.typ)) {
			t.Errorf("parseGPUSpec(%q) = %d, %q, %v; want %d, %q (bad %v)", tc.in, n, typ, err, tc.n, tc.typ, tc.bad)
		}
	}
}

func TestParseSignalSpec(t *testing.T) {
	for in, want := range map[string]*warnSpec{
		"USR1":       {Signal: 10, Seconds: 60},
		"SIGUSR2@90": {Signal: 12, Seconds: 90},
		"B:USR2@30":  {Signal: 12, Seconds: 30, Batch: true},
		"R:10@60":    {Signal: 10, Seconds: 60},
		"RB:TERM@0":  {Signal: 15, Seconds: 0, Batch: true},
		"BR:HUP":     {Signal: 1, Seconds: 60, Batch: true},
		"TERM":       {Signal: 15, Seconds: 60},
		"15":         {Signal: 15, Seconds: 60},
		"64@65535":   {Signal: 64, Seconds: 65535},
		"FOO":        nil, "X:USR1": nil, "USR1@x": nil, "0": nil, "": nil,
		"USR1@-1": nil, "USR1@65536": nil, "65": nil, "B:": nil,
	} {
		got, ok := parseSignalSpec(in)
		switch {
		case want == nil && ok:
			t.Errorf("parseSignalSpec(%q) = %+v; want it refused", in, got)
		case want != nil && (!ok || got != *want):
			t.Errorf("parseSignalSpec(%q) = %+v, %v; want %+v", in, got, ok, *want)
		}
	}
}

func TestScriptDirectives(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   []string
	}{
		{"#!/bin/sh\n#SBATCH -J x\necho\n", []string{"-J", "x"}},
		{"#!/bin/sh\n#SBATCH -J x -p y\n#SBATCH --mem=1G\n", []string{"-J", "x", "-p", "y", "--mem=1G"}},
		// blank lines and comments (indented too) do not stop the scan
		{"#!/bin/sh\n\n   \n# c\n  #SBATCH -p ignored\n#SBATCH -J x\n", []string{"-J", "x"}},
		// the first command does
		{"#!/bin/sh\n#SBATCH -J x\necho\n#SBATCH -p late\n", []string{"-J", "x"}},
		{"#!/bin/sh\n  echo\n#SBATCH -p late\n", nil},
		// quotes group, an unquoted # starts a comment, \" is a quote
		{"#!/bin/sh\n#SBATCH -J \"a b\" # trailing\n", []string{"-J", "a b"}},
		{"#!/bin/sh\n#SBATCH -J a\"b c\"d\n", []string{"-J", "ab cd"}},
		{"#!/bin/sh\n#SBATCH --comment='x # y'\n", []string{"--comment=x # y"}},
		{"#!/bin/sh\n#SBATCH -J a\\\"b\n", []string{"-J", `a"b`}},
		{"#!/bin/sh\n#SBATCH\t-J\tx\r\n", []string{"-J", "x"}},
		// only #SBATCH at the start of a line is a directive
		{"#!/bin/sh\n# SBATCH -J no\n#SBATCH -J yes\n", []string{"-J", "yes"}},
	} {
		if got := scriptDirectives(tc.script); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("scriptDirectives(%q) = %q; want %q", tc.script, got, tc.want)
		}
	}
}

// TestPrecedence checks the order options apply in: #SBATCH, then SBATCH_*
// variables, then the command line.
func TestPrecedence(t *testing.T) {
	script := "#!/bin/sh\n#SBATCH -J script -p script -A script -t 10\n#SBATCH --qos=script\ntrue\n"
	for _, tc := range []struct {
		env  []string
		args []string
		want string // name partition account timeLimit qos
	}{
		{nil, nil, "script script script 600 script"},
		{[]string{"SBATCH_PARTITION=env", "SBATCH_TIMELIMIT=5"}, nil, "script env script 300 script"},
		{[]string{"SBATCH_PARTITION=env", "SBATCH_ACCOUNT=env"}, []string{"-p", "cli", "-J", "cli"}, "cli cli env 600 script"},
		{nil, []string{"--time=1", "--qos=cli"}, "script script script 60 cli"},
	} {
		f := newCtlFake()
		dir := t.TempDir()
		sbWriteFile(t, dir+"/job.sh", script)
		c, _, stderr := sbTestCtx(f, dir, tc.env, "")
		if rc := Sbatch(c, append(tc.args, "job.sh")); rc != 0 {
			t.Fatalf("sbatch %v: rc %d: %s", tc.args, rc, stderr)
		}
		req := sbLastSubmit(t, f)
		got := strings.Join([]string{req.Name, req.Queue, req.Account, strconv.FormatInt(req.TimeLimit, 10), req.QOS}, " ")
		if got != tc.want {
			t.Errorf("env %v args %v: got %q; want %q", tc.env, tc.args, got, tc.want)
		}
	}
}
