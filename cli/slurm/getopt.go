package slurm

import (
	"fmt"
	"iter"
	"sort"
	"strings"
)

// ArgMode says whether an option takes an argument, as getopt_long's
// has_arg does.
type ArgMode int

// Argument modes.
const (
	NoArg       ArgMode = iota // --hold, -H
	RequiredArg                // --job-name=NAME, --job-name NAME, -J NAME, -JNAME
	OptionalArg                // --nice[=N], -k[VALUE]: only an attached value counts
)

// Option is one option a command accepts: a long name, a short letter, or
// both.
type Option struct {
	Long  string // without the leading "--"; "" if none
	Short byte   // 0 if none
	Arg   ArgMode
	// Key identifies the option in parse results; "" means Long (or the
	// short letter when there is no long name). Aliases share a key.
	Key string
}

func (o *Option) key() string {
	switch {
	case o.Key != "":
		return o.Key
	case o.Long != "":
		return o.Long
	}
	return string(o.Short)
}

// Opt is one option found on a command line.
type Opt struct {
	Key      string // the Option's key
	Name     string // as the user spelled it: "--job-name" (in full) or "-J"
	Value    string
	HasValue bool // false for NoArg options and an absent optional value
}

// Getopt parses command lines the way glibc's getopt_long does, which is
// how every Slurm command reads its arguments: "-J name", "-Jname",
// bundled short options ("-HJname"), "--job-name=name", "--job-name name",
// unambiguous prefixes of long names ("--job=name"), and "--" to end the
// options.
type Getopt struct {
	Prog    string // the command name, for error messages
	Options []Option
	// Own are more options, after Options: sbatch's and srun's own, after
	// the table they share (one table each would be built at every start
	// of every command in this package).
	Own []Option
	// InOrder stops at the first operand, as an optstring starting with
	// "+" does (sbatch, srun: what follows the script is its arguments).
	// Otherwise options and operands may be mixed, as GNU getopt permutes
	// them (scancel 5 --signal=USR1).
	InOrder bool
}

// UsageError is a command line getopt refuses; its text is glibc's
// (without the program name).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Report prints the error as a Slurm command does: glibc's message, then
// a pointer to --help.
func (e *UsageError) Report(c *Ctx, prog string) {
	fmt.Fprintf(c.Stderr, "%s: %s\nTry \"%s --help\" for more information\n", prog, e.Msg, prog)
}

// Parse splits args (without the command name) into options, in the order
// given, and operands.
func (g *Getopt) Parse(args []string) (opts []Opt, operands []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return opts, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			o, consumed, err := g.long(a[2:], args[i+1:])
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, o)
			i += consumed
		case len(a) > 1 && a[0] == '-':
			shorts, consumed, err := g.short(a[1:], args[i+1:])
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, shorts...)
			i += consumed
		default:
			if g.InOrder {
				return opts, append(operands, args[i:]...), nil
			}
			operands = append(operands, a)
		}
	}
	return opts, operands, nil
}

// long parses one "--name[=value]"; next are the arguments after it. It
// returns how many of them it used.
func (g *Getopt) long(text string, next []string) (Opt, int, error) {
	name, value, hasValue := strings.Cut(text, "=")
	o, err := g.lookupLong(name, text)
	if err != nil {
		return Opt{}, 0, err
	}
	opt := Opt{Key: o.key(), Name: "--" + o.Long}
	switch o.Arg {
	case NoArg:
		if hasValue {
			return Opt{}, 0, &UsageError{fmt.Sprintf("option '--%s' doesn't allow an argument", o.Long)}
		}
	case RequiredArg:
		if !hasValue {
			if len(next) == 0 {
				return Opt{}, 0, &UsageError{fmt.Sprintf("option '--%s' requires an argument", o.Long)}
			}
			opt.Value, opt.HasValue = next[0], true
			return opt, 1, nil
		}
		opt.Value, opt.HasValue = value, true
	case OptionalArg:
		opt.Value, opt.HasValue = value, hasValue
	}
	return opt, 0, nil
}

// lookupLong finds the option a long name (or an unambiguous prefix of
// one) names.
func (g *Getopt) lookupLong(name, text string) (*Option, error) {
	var found *Option
	var possible []string
	ambiguous := false
	for o := range g.all() {
		if o.Long == "" || !strings.HasPrefix(o.Long, name) {
			continue
		}
		if o.Long == name {
			return o, nil
		}
		possible = append(possible, "'--"+o.Long+"'")
		switch {
		case found == nil:
			found = o
		case found.key() != o.key() || found.Arg != o.Arg:
			ambiguous = true
		}
	}
	if found == nil || name == "" {
		return nil, &UsageError{fmt.Sprintf("unrecognized option '--%s'", text)}
	}
	if ambiguous {
		sort.Strings(possible)
		return nil, &UsageError{fmt.Sprintf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(possible, " "))}
	}
	return found, nil
}

// short parses one bundle of short options ("-HJname" without the dash).
func (g *Getopt) short(text string, next []string) ([]Opt, int, error) {
	var opts []Opt
	for k := 0; k < len(text); k++ {
		c := text[k]
		o := g.lookupShort(c)
		if o == nil {
			return nil, 0, &UsageError{fmt.Sprintf("invalid option -- '%c'", c)}
		}
		opt := Opt{Key: o.key(), Name: "-" + string(c)}
		rest := text[k+1:]
		switch o.Arg {
		case NoArg:
			opts = append(opts, opt)
			continue
		case RequiredArg:
			switch {
			case rest != "":
				opt.Value, opt.HasValue = rest, true
			case len(next) > 0:
				opt.Value, opt.HasValue = next[0], true
				return append(opts, opt), 1, nil
			default:
				return nil, 0, &UsageError{fmt.Sprintf("option requires an argument -- '%c'", c)}
			}
		case OptionalArg:
			opt.Value, opt.HasValue = rest, rest != ""
		}
		return append(opts, opt), 0, nil
	}
	return opts, 0, nil
}

func (g *Getopt) lookupShort(c byte) *Option {
	for o := range g.all() {
		if o.Short == c {
			return o
		}
	}
	return nil
}

// all yields g's options: Options, then Own.
func (g *Getopt) all() iter.Seq[*Option] {
	return func(yield func(*Option) bool) {
		for _, table := range [2][]Option{g.Options, g.Own} {
			for i := range table {
				if !yield(&table[i]) {
					return
				}
			}
		}
	}
}
