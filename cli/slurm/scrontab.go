package slurm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
	"github.com/shoal-batch/shoal/internal/cron"
	"github.com/shoal-batch/shoal/internal/crontab"
)

// scrontabUsage is Slurm's scrontab usage text.
const scrontabUsage = `usage:	scrontab [-u user] file
	scrontab [-u user] [ -e | -l | -r | -v]
	-e	Edit user's crontab (default action if stdin is a TTY)
	-l	List user's crontab
	-r	Delete user's crontab
	-u	User to edit crontab for
`

// scrontabTemplate is what -e opens when there is no crontab yet (Slurm's).
const scrontabTemplate = `# Welcome to scrontab, Slurm's cron-like interface.
#
# Edit this file to submit recurring jobs to be run by Slurm.
#
# Note that jobs will be run based on the Slurm controller's
# time and timezone.
#
# Lines must either be valid entries, comments (start with '#'),
# or blank.
#
# Lines starting with #SCRON will be parsed for options to use
# with the next cron line. E.g., "#SCRON --time 1" would request
# a one minute timelimit be applied. See the sbatch man page for
# options, although note that not all options are supported here.
#
# For example, the following line (when uncommented) would request
# a job be run at 5am each day.
# 0 5 * * * /my/script/to/run
#
# min hour day-of-month month day-of-week command
`

// caller is the part of api.Client scrontab needs beyond Controller.
type caller interface {
	Call(ctx context.Context, path string, req, resp any) error
}

// Scrontab is Slurm's scrontab: it installs (FILE, or - for stdin),
// edits (-e, with $VISUAL, $EDITOR or vi), lists (-l) or removes (-r) the
// user's crontab, or with -u (root) another user's. Each cron line with
// the #SCRON option lines before it becomes a schedule whose firings are
// ordinary jobs of the user.
func Scrontab(c *Ctx, args []string) int {
	var edit, list, remove bool
	var target, file string
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case a == "-" || !strings.HasPrefix(a, "-"):
			operands = append(operands, a)
		case a == "-u":
			if i+1 >= len(args) {
				fmt.Fprint(c.Stderr, scrontabUsage)
				return 1
			}
			i++
			target = args[i]
		case strings.HasPrefix(a, "-u"):
			target = a[2:]
		default:
			for _, f := range a[1:] {
				switch f {
				case 'e':
					edit = true
				case 'l':
					list = true
				case 'r':
					remove = true
				case 'v':
				default:
					fmt.Fprint(c.Stderr, scrontabUsage)
					return 1
				}
			}
		}
	}
	if (edit || list || remove) && len(operands) > 0 || len(operands) > 1 {
		fmt.Fprint(c.Stderr, scrontabUsage)
		return 1
	}
	cl, ok := c.Client.(caller)
	if !ok {
		c.Errorf("scrontab", "this client cannot reach crontabs")
		return 1
	}
	if target != "" {
		if _, err := user.Lookup(target); err != nil {
			if _, err := user.LookupId(target); err != nil {
				fmt.Fprintf(c.Stderr, "scrontab: fatal: Could not find user %s\n", target)
				return 1
			}
		}
	}
	ctx := context.Background()
	switch {
	case remove:
		if err := cl.Call(ctx, api.PathCrontabPut, api.CrontabPutRequest{User: target, Remove: true}, nil); err != nil {
			fmt.Fprintf(c.Stderr, "scrontab: fatal: slurm_remove_crontab failed: %s\n", safeErr(err))
			return 1
		}
		return 0
	case list:
		text, err := getCrontab(ctx, cl, target)
		if err != nil {
			fmt.Fprintf(c.Stderr, "scrontab: fatal: slurm_request_crontab failed: %s\n", safeErr(err))
			return 1
		}
		if text == "" {
			name := target
			if name == "" {
				name = c.userName()
			}
			fmt.Fprintf(c.Stdout, "no crontab for %s\n", name)
			return 1
		}
		fmt.Fprint(c.Stdout, printableCrontab(text))
		return 0
	}
	if len(operands) == 0 && !edit {
		if isTerminal(c.Stdin) {
			edit = true
		} else {
			operands = []string{"-"}
		}
	}
	home, name := crontabHome(c, target)
	if !edit {
		file = operands[0]
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(c.Stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "scrontab: fatal: failed to open %s\n", file)
			return 1
		}
		entries, bad := parseCrontab(c, string(data), home, name)
		if bad != nil {
			c.Errorf("scrontab", "%v", bad)
			fmt.Fprintln(c.Stdout, "There are errors in your crontab.")
			return 1
		}
		if err := cl.Call(ctx, api.PathCrontabPut, api.CrontabPutRequest{User: target, Text: string(data), Entries: entries}, nil); err != nil {
			fmt.Fprintf(c.Stdout, "There was an issue with the job submission on lines %s\nThe error code return was: %s\nThe error message was: %s\n",
				failedLine(err), errCode(err), safeErr(err))
			return 1
		}
		return 0
	}
	return editCrontab(ctx, c, cl, target, home, name)
}

// getCrontab returns the installed crontab's text ("" if none).
func getCrontab(ctx context.Context, cl caller, target string) (string, error) {
	var ct api.Crontab
	err := cl.Call(ctx, api.PathCrontabGet, api.CrontabRequest{User: target}, &ct)
	if api.IsCode(err, api.CodeNotFound) {
		return "", nil
	}
	return ct.Text, err
}

// editCrontab runs the editor on the crontab until it is installed, the
// user gives up, or (stdin not a terminal) it has a bad line.
func editCrontab(ctx context.Context, c *Ctx, cl caller, target, home, name string) int {
	text, err := getCrontab(ctx, cl, target)
	if err != nil {
		fmt.Fprintf(c.Stderr, "scrontab: fatal: slurm_request_crontab failed: %s\n", safeErr(err))
		return 1
	}
	installed := text
	if text == "" {
		text = scrontabTemplate
	}
	tty := isTerminal(c.Stdin)
	in := bufio.NewReader(c.Stdin)
	for {
		edited, err := runEditor(c, text)
		if err != nil {
			fmt.Fprintf(c.Stderr, "scrontab: fatal: %v\n", err)
			return 1
		}
		if installed != "" && edited == installed {
			fmt.Fprintln(c.Stderr, "scrontab: No modification made")
			return 0
		}
		entries, bad := parseCrontab(c, edited, home, name)
		line := 0
		var msg string
		if bad != nil {
			c.Errorf("scrontab", "%v", bad)
			line, msg = bad.line, "There are errors in your crontab.\nThe failed line(s) is commented out with #BAD:\n"
		} else if err := cl.Call(ctx, api.PathCrontabPut, api.CrontabPutRequest{User: target, Text: edited, Entries: entries}, nil); err != nil {
			line, _ = strconv.Atoi(failedLine(err))
			msg = fmt.Sprintf("There was an issue with the job submission on lines %s\nThe error code return was: %s\nThe error message was: %s\nThe failed lines are commented out with #BAD:\n",
				failedLine(err), errCode(err), safeErr(err))
		} else {
			return 0
		}
		if !tty {
			// No one to ask whether to edit again.
			fmt.Fprint(c.Stdout, strings.SplitAfter(msg, "\n")[0])
			return 1
		}
		answer := ""
		for answer != "y" && answer != "n" {
			fmt.Fprint(c.Stdout, msg+"Do you want to retry the edit? (y/n) ")
			b, err := in.ReadByte()
			if err != nil {
				return 1
			}
			answer = strings.ToLower(string(b))
		}
		if answer == "n" {
			return 0
		}
		text = markBad(edited, line)
	}
}

// markBad comments out line n (1-based) with "#BAD: ", as Slurm does.
func markBad(text string, n int) string {
	lines := strings.Split(text, "\n")
	if n >= 1 && n <= len(lines) {
		lines[n-1] = "#BAD: " + lines[n-1]
	}
	return strings.Join(lines, "\n")
}

// runEditor writes text to a temporary file, runs $VISUAL, $EDITOR or vi
// on it (through the shell, so an editor may carry arguments) and returns
// what the file holds then.
func runEditor(c *Ctx, text string) (string, error) {
	dir := c.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	f, err := os.CreateTemp(dir, "scrontab-")
	if err != nil {
		return "", fmt.Errorf("error creating temp crontab file '%s/scrontab-*': %v", dir, err)
	}
	path := f.Name()
	defer os.Remove(path)
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("error writing to temp crontab file '%s': %v", path, err)
	}
	editor := c.Getenv("VISUAL")
	if editor == "" {
		editor = c.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.Env = c.Env
	if f, ok := c.Stdin.(*os.File); ok {
		cmd.Stdin = f
	}
	if err := cmd.Run(); err != nil {
		return "", errors.New("editor returned non-zero exit code")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("error reopening temp crontab file '%s': %v", path, err)
	}
	return string(data), nil
}

// crontabError is a bad line of a crontab.
type crontabError struct {
	line int
	msg  string
}

func (e *crontabError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseCrontab reads a crontab as Slurm's scrontab does: blank lines and
// comments are skipped, "#SCRON OPTIONS" lines collect sbatch options for
// the next cron line only, NAME=VALUE lines set variables for the
// commands after them, and every other line is a cron entry, "MIN HOUR
// DOM MON DOW COMMAND" or "@ALIAS COMMAND". Each entry's job runs its
// command with /bin/sh as the user, in their home directory unless
// --chdir says otherwise, with a login-like environment (not the
// environment scrontab runs in).
func parseCrontab(c *Ctx, text, home, name string) ([]api.CrontabEntry, *crontabError) {
	var entries []api.CrontabEntry
	var scron []Opt
	var scronLines, vars []string
	env := &Ctx{Client: c.Client, Stdout: c.Stdout, Stderr: c.Stderr, Now: c.Now, Getwd: c.Getwd, Hostname: c.Hostname, User: name,
		Env: []string{"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "PATH=/usr/local/bin:/usr/bin:/bin", "SHELL=/bin/sh"}}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		pos := strings.TrimLeft(line, " \t")
		switch {
		case strings.TrimSpace(pos) == "":
			continue
		case strings.HasPrefix(pos, "#SCRON"):
			opts, operands, err := sbatchGetopt.Parse(directiveWords(pos[len("#SCRON"):]))
			if err != nil {
				return nil, &crontabError{n, err.Error()}
			}
			if len(operands) > 0 {
				return nil, &crontabError{n, "Invalid option found in #SCRON line: " + operands[0]}
			}
			scron = append(scron, opts...)
			scronLines = append(scronLines, line)
			continue
		case pos[0] == '#':
			continue
		case crontab.IsVariable(pos):
			vars = append(vars, strings.TrimSpace(pos))
			continue
		}
		spec, command := crontab.SplitLine(pos)
		if command == "" {
			return nil, &crontabError{n, fmt.Sprintf("no command after the schedule %q: give MIN HOUR DAY MONTH WEEKDAY COMMAND", spec)}
		}
		if _, err := cron.Parse(spec); err != nil {
			return nil, &crontabError{n, err.Error()}
		}
		o := &jobOpts{prog: "scrontab"}
		for _, opt := range scron {
			if err := o.apply(opt, levelScript); err != nil {
				return nil, &crontabError{n, err.Error()}
			}
		}
		req, err := o.request(context.Background(), env, home)
		if err != nil {
			return nil, &crontabError{n, err.Error()}
		}
		if req.Name == "" {
			req.Name, _, _ = strings.Cut(command, " ")
		}
		var script strings.Builder
		script.WriteString("#!/bin/sh\n# This job was submitted through scrontab\n")
		for _, l := range scronLines {
			script.WriteString(l + "\n")
		}
		for _, v := range vars {
			script.WriteString(v + "\n")
		}
		fmt.Fprintf(&script, "# crontab time request was: '%s'\n%s\n", spec, command)
		req.Script, req.Command = script.String(), nil
		if req.Stdout == "" {
			req.Stdout = "slurm-%j.out"
		}
		if req.Stderr == "" {
			req.Stderr = req.Stdout
		}
		req.Env["SLURM_GET_USER_ENV"] = "1"
		entries = append(entries, api.CrontabEntry{Line: n, Schedule: spec, Job: req})
		scron, scronLines = nil, nil
	}
	return entries, nil
}

// printableCrontab is a crontab's text as -l prints it: as installed,
// except that a control character other than a newline or a tab, or
// a bidirectional override, is shown escaped (termsafe). The controller
// refuses them in a crontab; one installed before it did must not reach
// the terminal of root's scrontab -u USER -l raw.
func printableCrontab(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		cells := strings.Split(l, "\t")
		for k, s := range cells {
			cells[k] = termsafe.String(s)
		}
		lines[i] = strings.Join(cells, "\t")
	}
	return strings.Join(lines, "\n")
}

// crontabHome returns the home directory and name of the crontab's user.
func crontabHome(c *Ctx, target string) (home, name string) {
	var u *user.User
	var err error
	if target == "" {
		u, err = user.Current()
	} else if u, err = user.Lookup(target); err != nil {
		u, err = user.LookupId(target)
	}
	if err != nil || u.HomeDir == "" {
		if h := c.Getenv("HOME"); h != "" && target == "" {
			return h, c.userName()
		}
		return "/", target
	}
	return u.HomeDir, u.Username
}

// failedLine is the crontab line a controller's refusal names ("?" if none).
func failedLine(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		if n, ok := strings.CutPrefix(e.Field, "line:"); ok {
			return n
		}
	}
	return "?"
}

// errCode is a refusal's code, as Slurm prints its error code's name.
func errCode(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "Unexpected error"
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
