package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags that follow its arguments in front
// of them, so that `shoal cancel 3 --reason why` works as it reads (urfave/cli
// stops parsing flags at the first argument). Commands whose arguments are
// a command line of their own (submit, agent) are left alone, as is
// everything after "--".
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	i, cmd := 1, (*cli.Command)(nil)
	for ; i < len(args); i++ { // skip global flags to find the command
		if cmd = app.Command(args[i]); cmd != nil || !strings.HasPrefix(args[i], "-") {
			break
		}
		if !strings.Contains(args[i], "=") && takesValue(app.Flags, args[i]) {
			i++
		}
	}
	for cmd != nil && i+1 < len(args) { // descend into subcommands (shoal queue create ...)
		sub := cmd.Command(args[i+1])
		if sub == nil {
			break
		}
		cmd, i = sub, i+1
	}
	if cmd == nil || cmd.SkipFlagParsing || cmd.Name == "submit" || cmd.Name == "agent" {
		return args
	}
	var flags, positional []string
	rest := args[i+1:]
	for k := 0; k < len(rest); k++ {
		a := rest[k]
		switch {
		case a == "--":
			positional = append(positional, rest[k:]...)
			k = len(rest)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd.Flags, a) && k+1 < len(rest) {
				k++
				flags = append(flags, rest[k])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append([]string{}, args[:i+1]...)
	return append(append(out, flags...), positional...)
}

// takesValue reports whether the flag named by arg (-x or --name) takes a value.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
