package slurm

import (
	"fmt"
	"strconv"
	"strings"
)

// taskIO is how the script srun submits routes its tasks' output when srun
// cannot do it from the job's logs: per-task files (-o with %t), labels
// (-l) written into -o's file, or labels on several tasks' lines.
type taskIO struct {
	out, err string // -o / -e patterns, "" for the job's own stdout/stderr
	label    bool
	append   bool // --open-mode=append
}

// needsTaskIO reports whether the tasks' output must be routed by the
// script itself.
func needsTaskIO(io taskIO, ntasks int) bool {
	perTask := strings.Contains(io.out, "%t") || strings.Contains(io.err, "%t")
	return perTask || (io.label && (ntasks > 1 || io.out != ""))
}

// shellPattern is an -o/-e pattern for task t as a double-quoted shell
// word: Slurm's %-escapes become the task's numbers or the job's
// variables, the rest is quoted.
func shellPattern(p string, t int) string {
	var b strings.Builder
	b.WriteByte('"')
	lit := func(s string) {
		for _, r := range s {
			if strings.ContainsRune("\"\\$`", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			lit(p[i : i+1])
			continue
		}
		k := i + 1
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		if k == len(p) {
			lit(p[i:])
			break
		}
		width, _ := strconv.Atoi(p[i+1 : k])
		pad := func(n int) string { return fmt.Sprintf("%0*d", width, n) }
		switch p[k] {
		case 't':
			b.WriteString(pad(t))
		case 'n', 's':
			b.WriteString(pad(0))
		case 'j':
			b.WriteString("${SLURM_JOB_ID}")
		case 'J':
			b.WriteString("${SLURM_JOB_ID}.0")
		case 'N':
			b.WriteString("${SLURMD_NODENAME}")
		case 'x':
			b.WriteString("${SLURM_JOB_NAME}")
		case 'u':
			b.WriteString("${USER}")
		case 'A':
			b.WriteString("${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}")
		case 'a':
			b.WriteString("${SLURM_ARRAY_TASK_ID:-4294967294}")
		case '%':
			b.WriteByte('%')
		default:
			lit(p[i : k+1])
		}
		i = k
	}
	b.WriteByte('"')
	return b.String()
}

// srunTaskScript is srunScript's form for taskIO: each task's output to
// its file or through its label, statuses kept in a private directory,
// failures reported as srun does, the highest status the job's.
func srunTaskScript(argv []string, ntasks int, input string, io taskIO) string {
	cmd := quoteArgs(argv)
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# This script was created by srun: %d tasks, output routed per task.\n\n", ntasks)
	fmt.Fprintf(&b, "SLURM_NTASKS=%d SLURM_NPROCS=%d SLURM_STEP_ID=0 SLURM_STEPID=0\nexport SLURM_NTASKS SLURM_NPROCS SLURM_STEP_ID SLURM_STEPID\n", ntasks, ntasks)
	b.WriteString("st=$(mktemp -d) || exit 1\npids=\n")
	sameFile := io.err == io.out
	// A file every task writes is truncated once, then appended to.
	for _, p := range []string{io.out, io.err} {
		if p != "" && !strings.Contains(p, "%t") && !io.append {
			fmt.Fprintf(&b, ": > %s\n", shellPattern(p, 0))
		}
		if sameFile {
			break
		}
	}
	redirect := func(p string, t int) string {
		if strings.Contains(p, "%t") && !io.append {
			return "> " + shellPattern(p, t)
		}
		return ">> " + shellPattern(p, t)
	}
	label := "while IFS= read -r l || [ -n \"$l\" ]; do printf '%s%s\\n' " // + label + ` "$l"; done`
	for t := range ntasks {
		in := ""
		switch {
		case input != "":
			in = " < " + shellQuote(input)
		case t > 0:
			in = " < /dev/null"
		}
		task := fmt.Sprintf("( SLURM_PROCID=%d SLURM_LOCALID=%d %s%s; echo $? > \"$st/%d\" )", t, t, cmd, in, t)
		var line string
		switch {
		case io.label:
			errTo := " 2>&1"
			if !sameFile && io.err != "" {
				errTo = " 2" + redirect(io.err, t)
			}
			line = task + errTo + " | " + label + shellQuote(labelFor(t, ntasks)) + " \"$l\"; done"
			if io.out != "" {
				line = "{ " + line + "; } " + redirect(io.out, t)
			}
		case io.out != "" && sameFile:
			line = task + " " + redirect(io.out, t) + " 2>&1"
		default:
			line = task
			if io.out != "" {
				line += " " + redirect(io.out, t)
			}
			if io.err != "" {
				line += " 2" + redirect(io.err, t)
			}
		}
		fmt.Fprintf(&b, "%s &\npids=\"$pids $!\"\n", line)
	}
	fmt.Fprintf(&b, "for p in $pids; do wait \"$p\"; done\nrc=0 t=0\nwhile [ \"$t\" -lt %d ]; do\n", ntasks)
	b.WriteString("  s=$(cat \"$st/$t\" 2>/dev/null) || s=1\n" +
		"  if [ \"$s\" -gt 0 ] && [ \"$s\" -lt 128 ]; then echo \"srun: error: ${SLURMD_NODENAME:-$(hostname)}: task $t: Exited with exit code $s\" >&2; fi\n" +
		"  [ \"$s\" -gt \"$rc\" ] && rc=$s; t=$((t+1))\n" +
		"done\nrm -rf \"$st\"\nexit \"$rc\"\n")
	return b.String()
}
