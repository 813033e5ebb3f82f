package daemon

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// Bounds on a job record, checked at submit by newJob for both front
// doors (shoal's own and AWS Batch's). Slurm's own limits are the guide
// where it has one (slurmctld's _test_job_desc_fields: 1024 bytes for a
// name, account, qos or comment; PATH_MAX for the working directory and
// output paths; SchedulerParameters max_script_size, 4 MB by default);
// the kernel's execve limits where the field ends up in one.
const (
	// MaxNameBytes bounds a job name (slurmctld's limit).
	MaxNameBytes = 1024
	// MaxTextBytes bounds the other free-text fields shown in listings:
	// account, qos, comment, submit host, image (slurmctld's limit).
	MaxTextBytes = 1024
	// MaxScriptBytes bounds a batch script (Slurm's max_script_size default).
	MaxScriptBytes = 4 << 20
	// MaxPathBytes bounds the working directory, output paths and mount
	// paths (PATH_MAX).
	MaxPathBytes = 4096
	// MaxStringBytes bounds one argument or one NAME=value of the
	// environment (the kernel's MAX_ARG_STRLEN: execve refuses longer).
	MaxStringBytes = 128 << 10
	// MaxArgs and MaxArgsBytes bound the command and its arguments.
	MaxArgs      = 32768
	MaxArgsBytes = 1 << 20
	// MaxEnvVars and MaxEnvBytes bound the environment (NAME=value bytes
	// summed). With MaxArgsBytes they stay under the 2 MiB that execve
	// takes with the default 8 MiB stack limit.
	MaxEnvVars  = 4096
	MaxEnvBytes = 1 << 20
	// MaxDependencies bounds a job's dependencies, after duplicates are folded.
	MaxDependencies = 1000
	// MaxMounts bounds a job's host mounts.
	MaxMounts = 256
	// MaxTags and MaxParameters bound the AWS side's maps (AWS Batch
	// allows 50 tags of 128-byte keys and 256-byte values).
	MaxTags, MaxTagKeyBytes, MaxTagValueBytes = 50, 128, 256
	MaxParameters, MaxParametersBytes         = 1000, 1 << 20
	// MaxBatchJobs bounds the jobs of one submit-batch (one raft entry).
	MaxBatchJobs = 1000
)

// checkBounds refuses a job spec that is over a bound above, has a NUL
// byte where the kernel cannot take one, or a control character in a
// field that terminals show (a newline in a name forges squeue rows; an
// escape sequence changes the reader's terminal). It folds duplicate
// dependencies in place first.
func checkBounds(spec *api.JobSpec) error {
	name := spec.Name
	bad := func(field, format string, args ...any) error {
		return api.Errorf(api.CodeInvalid, "job %q: %s", clip(name), fmt.Sprintf(format, args...)).WithField(field)
	}
	if err := checkText("job name", name, MaxNameBytes); err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err).WithField("jobName")
	}
	for _, f := range []struct{ field, what, v string }{
		{"account", "account", spec.Account}, {"qos", "qos", spec.QOS}, {"comment", "comment", spec.Comment},
		{"submitHost", "submit host", spec.SubmitHost}, {"image", "image", spec.Image}, {"jobQueue", "queue", spec.Queue},
		{"jobDefinition", "job definition", spec.JobDefinition},
	} {
		if err := checkText(f.what, f.v, MaxTextBytes); err != nil {
			return bad(f.field, "%v", err)
		}
	}
	if n := len(spec.Script); n > MaxScriptBytes {
		return bad("script", "the batch script is %s; at most %s (Slurm's max_script_size)", sizeString(int64(n)), sizeString(MaxScriptBytes))
	}
	if i := strings.IndexByte(spec.Script, 0); i >= 0 {
		return bad("script", "the batch script has a NUL byte at offset %d: a script is text", i)
	}
	if err := checkStrings("command", "argument", spec.Command, MaxArgs, MaxArgsBytes); err != nil {
		return bad("command", "%v", err)
	}
	if err := checkEnv(spec.Env); err != nil {
		return bad("environment", "%v", err)
	}
	for _, p := range []struct{ field, what, v string }{
		{"workingDir", "working directory", spec.Dir}, {"stdout", "output path", spec.Stdout}, {"stderr", "error path", spec.Stderr},
		{"stdin", "input path", spec.Stdin},
	} {
		if err := checkPath(p.what, p.v); err != nil {
			return bad(p.field, "%v", err)
		}
	}
	if len(spec.Mounts) > MaxMounts {
		return bad("mounts", "%d mounts; at most %d", len(spec.Mounts), MaxMounts)
	}
	for _, m := range spec.Mounts {
		if err := checkPath("mount source", m.Source); err != nil {
			return bad("mounts", "%v", err)
		}
		if err := checkPath("mount target", m.Target); err != nil {
			return bad("mounts", "%v", err)
		}
	}
	spec.DependsOn = foldDependencies(spec.DependsOn)
	if n := len(spec.DependsOn); n > MaxDependencies {
		return bad("dependsOn", "%d distinct dependencies; at most %d (depend on an array's id to wait for all its tasks)", n, MaxDependencies)
	}
	if err := checkMap("tags", spec.Tags, MaxTags, MaxTagKeyBytes, MaxTagValueBytes, 0); err != nil {
		return bad("tags", "%v", err)
	}
	if err := checkMap("parameters", spec.Parameters, MaxParameters, MaxStringBytes, MaxStringBytes, MaxParametersBytes); err != nil {
		return bad("parameters", "%v", err)
	}
	return nil
}

// checkText refuses a shown string that is too long, is not UTF-8, or
// has a control character (NUL, newline, tab and escape among them).
func checkText(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("the %s is %d bytes; at most %d", what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("the %s %q is not valid UTF-8", what, clip(s))
	}
	for i, r := range s {
		if unicode.IsControl(r) || reordersText(r) {
			return fmt.Errorf("the %s %q has a control character (U+%04X) at byte %d: use printable characters", what, clip(s), r, i)
		}
	}
	return nil
}

// reordersText reports whether r reorders the text around it where a
// terminal shows it: a bidirectional embedding, override or isolate (a
// name or reason that shows as another, "gnp.exe" as "exe.png").
func reordersText(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// checkReason refuses a cancel or terminate reason that is over
// MaxTextBytes or has a control character: it becomes the job's
// statusReason, which every user's listing carries.
func checkReason(reason string) error {
	if err := checkText("reason", reason, MaxTextBytes); err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err).WithField("reason")
	}
	return nil
}

// checkPath refuses a path longer than PATH_MAX or with a NUL byte.
func checkPath(what, p string) error {
	if len(p) > MaxPathBytes {
		return fmt.Errorf("the %s is %d bytes; at most %d (PATH_MAX)", what, len(p), MaxPathBytes)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("the %s %q has a NUL byte", what, clip(p))
	}
	return nil
}

// checkStrings bounds a list of exec strings: count, total bytes, each
// string's bytes, and no NUL (execve cannot pass one).
func checkStrings(what, one string, list []string, maxCount, maxBytes int) error {
	if len(list) > maxCount {
		return fmt.Errorf("%d %ss in the %s; at most %d", len(list), one, what, maxCount)
	}
	total := 0
	for i, s := range list {
		if len(s) > MaxStringBytes {
			return fmt.Errorf("%s %d of the %s is %s; at most %s each", one, i, what, sizeString(int64(len(s))), sizeString(MaxStringBytes))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%s %d of the %s has a NUL byte", one, i, what)
		}
		total += len(s) + 1
	}
	if total > maxBytes {
		return fmt.Errorf("the %s is %s in all; at most %s", what, sizeString(int64(total)), sizeString(int64(maxBytes)))
	}
	return nil
}

// checkEnv bounds the environment: variables, bytes, and names that a
// process environment can hold (not empty, no '=', no NUL).
func checkEnv(env map[string]string) error {
	if len(env) > MaxEnvVars {
		return fmt.Errorf("%d variables; at most %d", len(env), MaxEnvVars)
	}
	total := 0
	for k, v := range env {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return fmt.Errorf("variable name %q: a name must be non-empty and have no '=' or NUL", clip(k))
		case strings.IndexByte(v, 0) >= 0:
			return fmt.Errorf("variable %s has a NUL byte in its value", clip(k))
		case len(k)+1+len(v) > MaxStringBytes:
			return fmt.Errorf("variable %s is %s; at most %s each", clip(k), sizeString(int64(len(k)+1+len(v))), sizeString(MaxStringBytes))
		}
		total += len(k) + 1 + len(v) + 1
	}
	if total > MaxEnvBytes {
		return fmt.Errorf("the environment is %s; at most %s (export less: sbatch --export=NONE or a list)", sizeString(int64(total)), sizeString(MaxEnvBytes))
	}
	return nil
}

// checkMap bounds a string map: entries, key and value bytes, total bytes
// (maxTotal 0: no bound beyond the others).
func checkMap(what string, m map[string]string, maxCount, maxKey, maxValue, maxTotal int) error {
	if len(m) > maxCount {
		return fmt.Errorf("%d %s; at most %d", len(m), what, maxCount)
	}
	total := 0
	for k, v := range m {
		if len(k) > maxKey || len(v) > maxValue {
			return fmt.Errorf("%s entry %q: keys take at most %d bytes and values %d", what, clip(k), maxKey, maxValue)
		}
		total += len(k) + len(v)
	}
	if maxTotal > 0 && total > maxTotal {
		return fmt.Errorf("the %s are %s in all; at most %s", what, sizeString(int64(total)), sizeString(int64(maxTotal)))
	}
	return nil
}

// foldDependencies drops repeats of the same dependency, keeping the first
// of each in order.
func foldDependencies(deps []api.Dependency) []api.Dependency {
	if len(deps) < 2 {
		return deps
	}
	seen := make(map[api.Dependency]bool, len(deps))
	out := deps[:0:0]
	for _, d := range deps {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// clip shortens s for an error message (a refused field may be megabytes).
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return cutUTF8(s, most) + "..."
}

// cutUTF8 is s cut to at most n bytes, not inside a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
