package slurm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
	"github.com/shoal-batch/shoal/internal/units"
)

// exitError is a refusal worded as Slurm words it: Raw (if any) printed as
// is, then each line as "PROG: error: LINE", and the command exits with RC.
type exitError struct {
	RC    int
	Raw   string
	Lines []string
	// Fatal prints "PROG: fatal: " instead of "PROG: error: ".
	Fatal bool
}

func (e *exitError) Error() string { return strings.Join(e.Lines, "; ") }

// errorf builds a one-line exitError.
func errorf(rc int, format string, args ...any) *exitError {
	return &exitError{RC: rc, Lines: []string{fmt.Sprintf(format, args...)}}
}

// report prints err for command prog and returns the exit status: Slurm's
// wording for an exitError or a UsageError, "PROG: error: ERR" otherwise.
func report(c *Ctx, prog string, err error) int {
	var u *UsageError
	if errors.As(err, &u) {
		u.Report(c, prog)
		return 255
	}
	var e *exitError
	if !errors.As(err, &e) {
		c.Errorf(prog, "%v", err)
		return 1
	}
	if e.Raw != "" {
		fmt.Fprint(c.Stderr, e.Raw)
	}
	kind := "error"
	if e.Fatal {
		kind = "fatal"
	}
	for _, l := range e.Lines {
		// A line may quote a script's directive or the controller:
		// one line, no escape sequences.
		fmt.Fprintf(c.Stderr, "%s: %s: %s\n", prog, kind, termsafe.String(l))
	}
	return e.RC
}

// ParseMemoryMiB reads a memory size as Slurm's sbatch --mem does: see
// units.ParseMemoryMiB, the one parser of sizes (shoal submit uses it too).
func ParseMemoryMiB(s string) (int64, error) { return units.ParseMemoryMiB(s) }

// parseGPUSpec reads --gpus' "[type:]count": the count and the type, ""
// for any. Types are lower-cased, as shoal names them (h200, 1g.18gb).
func parseGPUSpec(s string) (int, string, error) {
	typ, count := "", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		typ, count = strings.ToLower(s[:i]), s[i+1:]
		if strings.HasPrefix(typ, "gpu:") { // --gpus=gpu:h200:1, as some scripts write it
			typ = typ[len("gpu:"):]
		}
		if typ == "gpu" {
			typ = ""
		}
		if typ != "" && api.CheckGPUType(typ) != nil {
			return 0, "", fmt.Errorf("invalid GPU type %q", typ)
		}
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return 0, "", fmt.Errorf("invalid GPU count %q", s)
	}
	return n, typ, nil
}

// parseGres reads --gres's "name[:type][:count][,...]" and returns how many
// GPUs it asks for in all, and how many of those of each type (lower-cased);
// shoal knows no other generic resource.
func parseGres(s string) (int, api.GPUCounts, error) {
	if strings.EqualFold(s, "none") {
		return 0, "", nil
	}
	gpus := 0
	typed := map[string]int{}
	invalid := errorf(1, "Invalid generic resource (gres) specification")
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(item, ":")
		if len(parts) > 3 {
			return 0, "", invalid
		}
		if parts[0] != "gpu" && !strings.HasPrefix(parts[0], "gres/gpu") {
			// Nothing of a resource shoal does not have is no request
			// (22.05 takes --gres=craynetwork:0); any more is refused.
			if len(parts) > 1 && parts[len(parts)-1] == "0" {
				continue
			}
			return 0, "", invalid
		}
		n, typ := 1, ""
		switch len(parts) {
		case 2:
			if c, err := strconv.Atoi(parts[1]); err == nil {
				n = c
			} else {
				typ = parts[1]
			}
		case 3:
			c, err := strconv.Atoi(parts[2])
			if err != nil {
				return 0, "", invalid
			}
			n, typ = c, parts[1]
		}
		if n < 0 {
			return 0, "", invalid
		}
		if typ != "" {
			typ = strings.ToLower(typ)
			if api.CheckGPUType(typ) != nil {
				return 0, "", invalid
			}
			typed[typ] += n
		}
		gpus += n
	}
	return gpus, api.MakeGPUCounts(typed), nil
}

// warnSpec is a parsed --signal: send Signal Seconds before the time
// limit, to the batch shell alone if Batch.
type warnSpec struct {
	Signal, Seconds int
	Batch           bool
}

// defaultWarnSeconds is --signal's sig_time when none is given.
const defaultWarnSeconds = 60

// parseSignalSpec reads --signal's "[{R|B}:]SIG[@sig_time]": SIG a number
// or name, sig_time 0..65535 seconds (default 60). "R" (may overlap a
// reservation) has no effect in shoal.
func parseSignalSpec(s string) (warnSpec, bool) {
	var w warnSpec
	if p, rest, ok := strings.Cut(s, ":"); ok {
		switch p {
		case "R":
		case "B", "RB", "BR":
			w.Batch = true
		default:
			return w, false
		}
		s = rest
	}
	sig, at, hasAt := strings.Cut(s, "@")
	w.Seconds = defaultWarnSeconds
	if hasAt {
		n, err := strconv.Atoi(at)
		if err != nil || n < 0 || n > 65535 {
			return w, false
		}
		w.Seconds = n
	}
	n, ok := signalNumber(sig)
	w.Signal = n
	return w, ok
}

// signalNames are the signals Slurm accepts by name, with their Linux
// numbers.
var signalNames = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"HUP": 1, "INT": 2, "QUIT": 3, "ABRT": 6, "KILL": 9, "USR1": 10, "SEGV": 11,
		"USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "CHLD": 17, "CONT": 18,
		"STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24,
		"XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
	}
})

// signalNumber reads a signal given as a number, "TERM" or "SIGTERM".
func signalNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n > 0 && n < 65
	}
	n, ok := signalNames()[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return n, ok
}

// parseTimeLimit reads a Slurm time limit ("minutes", "minutes:seconds",
// "hours:minutes:seconds", "days-hours", "days-hours:minutes",
// "days-hours:minutes:seconds"; "UNLIMITED", "INFINITE" or -1 for none) and
// returns seconds, rounded up to whole minutes as Slurm keeps limits; 0
// means no limit.
func parseTimeLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "-1", "INFINITE", "UNLIMITED":
		return 0, nil
	}
	bad := fmt.Errorf("invalid time limit %q: give minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS", s)
	var days int64
	hasDays := false
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || d == "" || strings.ContainsAny(d, "+-") {
			return 0, bad
		}
		days, s, hasDays = n, rest, true
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, bad
	}
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || p == "" || strings.ContainsAny(p, "+-") {
			return 0, bad
		}
		nums[i] = n
	}
	var secs int64
	switch {
	case hasDays && len(nums) == 1: // days-hours
		secs = nums[0] * 3600
	case hasDays && len(nums) == 2: // days-hours:minutes
		secs = nums[0]*3600 + nums[1]*60
	case len(nums) == 3: // [days-]hours:minutes:seconds
		secs = nums[0]*3600 + nums[1]*60 + nums[2]
	case len(nums) == 2: // minutes:seconds
		secs = nums[0]*60 + nums[1]
	default: // minutes
		secs = nums[0] * 60
	}
	secs += days * 86400
	return (secs + 59) / 60 * 60, nil
}

// maxArrayTasks bounds what one --array spec may expand to before the
// controller sees it (it enforces its own, smaller, limit).
const maxArrayTasks = 1_000_000

// parseArray reads --array's "0-15", "1,3,5", "1-9:2", "0-99%10" into sorted,
// distinct indexes and the throttle (0 = none).
func parseArray(s string) (indexes []int, maxRunning int, err error) {
	bad := errorf(1, "Batch job submission failed: Invalid job array specification")
	spec, throttle, hasThrottle := strings.Cut(s, "%")
	if hasThrottle {
		n, perr := strconv.Atoi(throttle)
		if perr != nil || n < 0 {
			return nil, 0, bad
		}
		maxRunning = n
	}
	for _, item := range strings.Split(spec, ",") {
		rng, stepText, hasStep := strings.Cut(item, ":")
		lo, hi, isRange := strings.Cut(rng, "-")
		a, aerr := strconv.Atoi(lo)
		b := a
		var berr error
		if isRange {
			b, berr = strconv.Atoi(hi)
		}
		step := 1
		var serr error
		if hasStep {
			step, serr = strconv.Atoi(stepText)
		}
		if aerr != nil || berr != nil || serr != nil || a < 0 || b < a || step <= 0 || (hasStep && !isRange) ||
			strings.HasPrefix(lo, "+") || strings.HasPrefix(hi, "+") {
			return nil, 0, bad
		}
		if (b-a)/step >= maxArrayTasks-len(indexes) { // counted before anything is built
			return nil, 0, bad
		}
		for x := a; x <= b; x += step {
			indexes = append(indexes, x)
		}
	}
	// Sorted, then repeats dropped: a map of what was seen cost a
	// 10,000-task sbatch a millisecond.
	slices.Sort(indexes)
	return slices.Compact(indexes), maxRunning, nil
}

// depRef is one job a dependency names: an id, or an array task A_i.
type depRef struct {
	JobID   uint64
	Task    int
	HasTask bool
}

// depItem is one condition of a --dependency.
type depItem struct {
	Type api.DependencyType
	Ref  depRef // zero for singleton
}

// depSpec is a parsed --dependency.
type depSpec struct {
	Any  bool // "?" separated: any one suffices
	Deps []depItem
}

var dependencyTypes = sync.OnceValue(func() map[string]api.DependencyType {
	return map[string]api.DependencyType{
		"after": api.After, "afterany": api.AfterAny, "afterok": api.AfterOK,
		"afternotok": api.AfterNotOK, "singleton": api.Singleton,
		"aftercorr": api.AfterCorr, "afterburstbuffer": api.AfterAny,
	}
})

var errDependency = &exitError{RC: 1, Lines: []string{"Batch job submission failed: Job dependency problem"}}

// parseDependency reads --dependency: "type:id[:id...]" items separated by
// "," (all must hold) or "?" (any may), "singleton", or bare ids (afterany).
// Ids may be array tasks "A_i".
func parseDependency(s string) (depSpec, error) {
	var spec depSpec
	if strings.TrimSpace(s) == "" {
		return spec, nil
	}
	sep := ","
	if strings.Contains(s, "?") {
		if strings.Contains(s, ",") {
			return spec, errDependency // only one kind of separator
		}
		sep, spec.Any = "?", true
	}
	for _, item := range strings.Split(s, sep) {
		fields := strings.Split(item, ":")
		typ, ok := dependencyTypes()[strings.ToLower(fields[0])]
		ids := fields[1:]
		if !ok {
			if _, err := parseDepRef(fields[0]); err != nil {
				return spec, errDependency
			}
			typ, ids = api.AfterAny, fields // bare ids
		}
		if typ == api.Singleton {
			if len(ids) > 0 {
				return spec, errDependency
			}
			spec.Deps = append(spec.Deps, depItem{Type: typ})
			continue
		}
		if len(ids) == 0 {
			return spec, errDependency
		}
		for _, id := range ids {
			if t, delay, ok := strings.Cut(id, "+"); ok { // after:ID+minutes
				if n, err := strconv.Atoi(delay); err != nil || n != 0 || typ != api.After {
					return spec, &exitError{RC: 1, Lines: []string{
						fmt.Sprintf("dependency %s: shoal supports no delay after a dependency (+minutes)", id),
						"Batch job submission failed: Job dependency problem"}}
				}
				id = t
			}
			ref, err := parseDepRef(id)
			if err != nil {
				return spec, errDependency
			}
			spec.Deps = append(spec.Deps, depItem{typ, ref})
		}
	}
	return spec, nil
}

// parseDepRef reads "N" or "A_i".
func parseDepRef(s string) (depRef, error) {
	job, task, isTask := strings.Cut(s, "_")
	id, err := strconv.ParseUint(job, 10, 64)
	if err != nil || id == 0 {
		return depRef{}, fmt.Errorf("invalid job id %q", s)
	}
	ref := depRef{JobID: id}
	if isTask {
		i, err := strconv.Atoi(task)
		if err != nil || i < 0 {
			return depRef{}, fmt.Errorf("invalid array task %q", s)
		}
		ref.Task, ref.HasTask = i, true
	}
	return ref, nil
}

// splitQuoted splits s at sep, except inside single or double quotes (as
// Slurm's find_quote_token does for --export).
func splitQuoted(s string, sep byte) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// shellUnquote removes one level of POSIX shell quoting from a word:
// 'single quotes', "double quotes" (where \ escapes $ ` " \ and newline)
// and backslashes outside quotes. toil writes --export=K='a b' with
// Python's shlex.quote. A word with an unterminated quote is returned as
// it is.
func shellUnquote(s string) string {
	if !strings.ContainsAny(s, `'"\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return s
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return s
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// exportEnv builds a job's environment from --export's value: "ALL" (the
// default) is the submitting environment, "NONE" only its SLURM_*
// variables, and a list adds NAME (its current value) or NAME=VALUE items,
// later ones winning. SLURM_* variables always pass.
func exportEnv(spec string, env []string) map[string]string {
	out := map[string]string{}
	merge := func(all bool) {
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if ok && k != "" && (all || strings.HasPrefix(k, "SLURM_")) {
				out[k] = v
			}
		}
	}
	merge(false)
	if spec == "" {
		spec = "ALL"
	}
	lookup := func(key string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
				return v, true
			}
		}
		return "", false
	}
	for _, tok := range splitQuoted(spec, ',') {
		switch {
		case strings.EqualFold(tok, "ALL"):
			merge(true)
		case strings.EqualFold(tok, "NONE"), strings.EqualFold(tok, "NIL"), tok == "":
		case strings.Contains(tok, "="):
			k, v, _ := strings.Cut(tok, "=")
			out[k] = shellUnquote(v)
		default:
			if v, ok := lookup(tok); ok {
				out[tok] = v
			}
		}
	}
	return out
}

// parseDeadline reads --deadline (Slurm's parse_time; a time already
// past is the controller's to refuse), with sbatch's error.
func parseDeadline(s string, now time.Time) (time.Time, error) {
	at, err := parseSlurmTime(s, now, false)
	if err != nil {
		return time.Time{}, &exitError{RC: 255, Raw: err.Error() + "\n", Lines: []string{"Invalid --deadline specification"}}
	}
	return at, nil
}

// parseBegin reads --begin (Slurm's parse_time, times to come), with
// sbatch's error.
func parseBegin(s string, now time.Time) (time.Time, error) {
	at, err := parseSlurmTime(s, now, false)
	if err != nil {
		return time.Time{}, &exitError{RC: 255, Raw: err.Error() + "\n", Lines: []string{"Invalid --begin specification"}}
	}
	return at, nil
}
