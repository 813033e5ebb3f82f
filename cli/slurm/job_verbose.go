package slurm

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// define records an option as sbatch -v and srun -v list it under
// "defined options": by its long name, with the value as given ("set" for
// a switch), the last one given winning. --time and --verbose are printed
// from what they came to (see dumpOptions).
func (o *jobOpts) define(opt Opt) {
	name := strings.TrimPrefix(longName(opt), "--")
	if name == "" || opt.Key == "verbose" || opt.Key == "verbose-level" || opt.Key == "help" ||
		opt.Key == "usage" || opt.Key == "version" {
		return
	}
	if o.defined == nil {
		o.defined = map[string]string{}
	}
	v := opt.Value
	if !opt.HasValue {
		v = "set"
	}
	switch opt.Key {
	case "output", "error":
		if strings.EqualFold(v, "none") {
			v = "/dev/null"
		}
	case "time":
		if secs, err := parseTimeLimit(opt.Value); err == nil && secs > 0 {
			v = fullDuration(secs)
		}
	}
	o.defined[name] = v
}

// dumpOptions prints the options a command was given, as Slurm's sbatch
// and srun do from -v on:
//
//	sbatch: defined options
//	sbatch: -------------------- --------------------
//	sbatch: partition           : debug
//	...
//	sbatch: end of defined options
func (o *jobOpts) dumpOptions(w io.Writer) {
	if o.verbose == 0 {
		return
	}
	lines := map[string]string{}
	for k, v := range o.defined {
		lines[k] = v
	}
	lines["verbose"] = strconv.Itoa(o.verbose)
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rule := strings.Repeat("-", 20)
	fmt.Fprintf(w, "%s: defined options\n%s: %s %s\n", o.prog, o.prog, rule, rule)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %-20s: %s\n", o.prog, k, lines[k])
	}
	fmt.Fprintf(w, "%s: %s %s\n%s: end of defined options\n", o.prog, rule, rule, o.prog)
	for _, name := range o.ignored {
		fmt.Fprintf(w, "%s: option %s is accepted and ignored by shoal\n", o.prog, name)
	}
}

// debugf prints a debug line, as Slurm's commands do from -vv on.
func (o *jobOpts) debugf(w io.Writer, format string, args ...any) {
	if o.verbose >= 2 {
		fmt.Fprintf(w, "%s: debug:  %s\n", o.prog, fmt.Sprintf(format, args...))
	}
}
