package slurm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// wrapHeader starts the batch script sbatch --wrap makes, as Slurm
// writes it.
const wrapHeader = "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n"

// wrapScript is the batch script sbatch --wrap makes of a command line.
func wrapScript(cmd string) string { return wrapHeader + cmd + "\n" }

// readScript reads the batch script sbatch was given: the file named by
// the first operand (relative to the submitting directory), or stdin when
// there is none. It returns the text and the job's default name.
func readScript(c *Ctx, operands []string, cwd string) (text, name string, err error) {
	if len(operands) == 0 {
		if c.Stdin == nil {
			return "", "sbatch", errorf(1, "Batch script is empty!")
		}
		data, err := io.ReadAll(c.Stdin)
		if err != nil {
			return "", "", errorf(1, "Unable to read batch script from standard input: %v", err)
		}
		return string(data), "sbatch", nil
	}
	path := operands[0]
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(cwd, full)
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return "", "", errorf(1, "Unable to open file %s", path)
	}
	return string(data), filepath.Base(path), nil
}

// checkScript refuses what Slurm refuses to run as a batch script.
func checkScript(text string) error {
	switch {
	case text == "":
		return errorf(1, "Batch script is empty!")
	case strings.TrimSpace(text) == "":
		return errorf(1, "Batch script contains only whitespace!")
	case !strings.HasPrefix(text, "#!"):
		return &exitError{RC: 1, Lines: []string{
			"This does not look like a batch script.  The first",
			"line must start with #! followed by the path to an interpreter.",
			"For instance: #!/bin/sh",
		}}
	case strings.Contains(text, "\r\n"):
		return &exitError{RC: 1, Lines: []string{
			"Batch script contains DOS line breaks (\\r\\n)",
			"instead of expected UNIX line breaks (\\n).",
		}}
	case strings.IndexByte(text, 0) >= 0:
		return errorf(1, "The Slurm controller does not allow scripts that contain a NULL character '\\0'.")
	}
	return nil
}

// scriptDirectives returns the words of a script's #SBATCH lines, read as
// Slurm reads them: from the top down to the first line that is neither
// blank nor a comment (the #! line is a comment); within a line, single
// and double quotes group words and an unquoted # starts a comment.
func scriptDirectives(text string) []string {
	var words []string
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, "#SBATCH")
		if !ok {
			t := strings.TrimLeft(line, " \t\r\v\f")
			if t == "" || t[0] == '#' {
				continue
			}
			break
		}
		words = append(words, directiveWords(rest)...)
	}
	return words
}

// directiveWords splits the text after "#SBATCH" into words.
func directiveWords(s string) []string {
	var words []string
	var w bytes.Buffer
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\''):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == '#':
			if inWord {
				words = append(words, w.String())
			}
			return words
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// directiveOpts parses a script's #SBATCH words with sbatch's options.
// --wrap has no meaning there and is dropped, as Slurm drops it.
func directiveOpts(text string) ([]Opt, error) {
	opts, operands, err := sbatchGetopt.Parse(scriptDirectives(text))
	if err != nil {
		return nil, err
	}
	if len(operands) > 0 {
		return nil, errorf(255, "Invalid directive found in batch script: %s", operands[0])
	}
	kept := opts[:0]
	for _, o := range opts {
		if o.Key != "wrap" {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

// quoteArgs joins a command line into one shell command, quoting each
// word that needs it (srun outside a job submits this as a script).
func quoteArgs(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// shellQuote quotes s for a POSIX shell, as Python's shlex.quote does.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
